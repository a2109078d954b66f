"""Detector thresholds: the ``[detect]`` section of ``keibi.toml``.

Every window is event time. Defaults are chosen so benign traffic stays quiet: the tester's
background (web servers hit by thousands of clients, monitoring hosts polling one port,
health checks) never crosses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class DetectSettings:
    """Thresholds of the built-in detectors.

    portscan_window / portscan_min_ports: an instance that tries at least this many distinct
        destination ports on one remote host inside one window is scanning it.
    ssh_window / ssh_min_attempts: this many TCP/22 flow records between one instance and
        one remote host inside one window is brute force (flow records are per 5-tuple, so
        every new source port of a guessing tool is a new record).
    """

    portscan_window: timedelta = timedelta(minutes=10)
    portscan_min_ports: int = 25
    ssh_window: timedelta = timedelta(minutes=10)
    ssh_min_attempts: int = 20
