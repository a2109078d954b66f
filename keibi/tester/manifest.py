"""What the tester wrote: the attack scenarios (one or more per finding type) and the background.

``manifest.json`` in the output directory is the same data; end-to-end tests compare a scan's
findings with it: every scenario found (type and resource), nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Scenario:
    """One attack (``name``, its log records tagged ``scenario:<name>``) that must raise ``finding_type`` on ``resource_id``.

    ``key`` holds hints a test can match on (``instance_id``, ``interface_id``, ``access_key_id``,
    ``principal_id``, ``user_name``, ``remote_ip``, ``domain``, ``direction``); ``files`` are
    the log files (relative to the output directory) holding its ``records``.
    """

    name: str
    finding_type: str
    source: str
    resource_type: str
    resource_id: str
    key: Mapping[str, str]
    description: str
    files: tuple[str, ...] = ()
    records: int = 0


@dataclass(frozen=True, slots=True)
class Background:
    """Benign activity that must raise nothing; ``records`` log records in ``files`` files."""

    name: str
    source: str
    description: str
    records: int = 0
    files: int = 0


@dataclass(frozen=True, slots=True)
class Manifest:
    """Everything ``generate`` wrote; see the module docstring."""

    seed: int
    scale: float
    start: str
    end: str
    account_id: str
    regions: tuple[str, ...]
    vpc_id: str
    threat_list: str
    trusted_list: str
    scenarios: tuple[Scenario, ...]
    background: tuple[Background, ...]
    records: Mapping[str, int] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    feeds: tuple[tuple[str, str], ...] = ()
    """(category, path) of each feed written, e.g. ``("Tor", "lists/tor-exits.txt")``."""

    def finding_types(self) -> set[str]:
        return {s.finding_type for s in self.scenarios}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


@dataclass(frozen=True, slots=True)
class HistoryManifest:
    """Everything ``generate_history`` wrote: a month of benign activity, the anomalies after
    day 21 (``scenarios``: the type each must raise on its resource) and their look-alikes
    inside the baseline (``twins``: the type each resembles and must not raise).

    ``entities`` counts what the baselines learn (``principals``, ``instances``, ``buckets``, …);
    ``records`` and ``files`` count what was written per source.
    """

    seed: int
    start: str
    end: str
    days: int
    account_id: str
    regions: tuple[str, ...]
    vpc_id: str
    scenarios: tuple[Scenario, ...]
    twins: tuple[Scenario, ...]
    background: tuple[Background, ...]
    entities: Mapping[str, int] = field(default_factory=dict)
    records: Mapping[str, int] = field(default_factory=dict)
    files: Mapping[str, int] = field(default_factory=dict)

    def finding_types(self) -> set[str]:
        return {s.finding_type for s in self.scenarios}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
