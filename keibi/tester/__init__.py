"""Realistic attack-scenario log generator: AWS logs in AWS's own delivery layouts.

``generate(outdir)`` writes two hours of one account's CloudTrail, VPC Flow Logs and Route 53
Resolver query logs: one scenario per implemented finding type, buried in benign background
that must raise nothing, plus the threat and trusted lists and the Tor and malicious-address
feeds the scenarios rely on, and a ``manifest.json`` saying what a scan should find.
"""

from keibi.tester.generate import DEFAULT_START, MANIFEST_FILE, generate
from keibi.tester.manifest import Background, Manifest, Scenario

__all__ = ["DEFAULT_START", "MANIFEST_FILE", "Background", "Manifest", "Scenario", "generate"]
