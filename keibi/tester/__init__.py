"""Realistic attack-scenario log generator: AWS logs in AWS's own delivery layouts.

``generate(outdir)`` writes two hours of one account's CloudTrail, VPC Flow Logs and Route 53
Resolver query logs: one scenario per implemented finding type, buried in benign background
that must raise nothing, plus the threat and trusted lists and the Tor and malicious-address
feeds the scenarios rely on, and a ``manifest.json`` saying what a scan should find.

``generate_history(outdir)`` writes a month of CloudTrail and VPC flow logs for behaviour
baselines: dozens of principals and instances at work, then one anomaly per behaviour finding
type after day 21, and their look-alikes inside the baseline.
"""

from keibi.tester.generate import DEFAULT_START, MANIFEST_FILE, generate
from keibi.tester.history import generate_history
from keibi.tester.manifest import Background, HistoryManifest, Manifest, Scenario

__all__ = [
    "DEFAULT_START",
    "MANIFEST_FILE",
    "Background",
    "HistoryManifest",
    "Manifest",
    "Scenario",
    "generate",
    "generate_history",
]
