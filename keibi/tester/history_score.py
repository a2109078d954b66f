"""How a scan did on a generated month: which attacks it found, and what it raised on benign activity.

Shared by ``tests/tester/test_history_detected.py`` and ``benchmarks/behavior.py``, so the
false-positive count the README reports is the one the test asserts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from keibi.tester.history_scenarios import BEHAVIOR_TYPES
from keibi.tester.manifest import HistoryManifest, Scenario


@dataclass(frozen=True, slots=True)
class HistoryScore:
    """``missed``: scenarios with no finding of their type on their resource; ``false_positives``:
    behaviour findings on no scenario's resource; ``twins``: findings of a look-alike's type on
    its resource (also false positives); ``others``: findings of other detectors on no
    scenario's resource. Each entry is a one-line description."""

    scenarios: int
    missed: list[str] = field(default_factory=list)
    false_positives: list[str] = field(default_factory=list)
    twins: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)

    @property
    def found(self) -> int:
        return self.scenarios - len(self.missed)


def resource_ids(finding: dict[str, Any]) -> set[str]:
    """Every identifier a finding's resource names: instance, access key, principal, user, buckets."""
    resource = finding["resource"]
    instance = resource.get("instanceDetails", {})
    keys = resource.get("accessKeyDetails", {})
    return {
        str(v)
        for v in (
            instance.get("instanceId"),
            keys.get("accessKeyId"),
            keys.get("principalId"),
            keys.get("userName"),
            *(bucket.get("name") for bucket in resource.get("s3BucketDetails", [])),
        )
        if v
    }


def on(scenario: Scenario, finding: dict[str, Any]) -> bool:
    """The finding is on the scenario's resource. A bucket is shared by benign callers, so an S3
    finding must also name the scenario's principal when it names one."""
    ids = resource_ids(finding)
    if scenario.resource_type == "S3Bucket":
        principal = finding["resource"].get("accessKeyDetails", {}).get("principalId")
        return scenario.resource_id in ids and (
            principal is None or principal == scenario.key.get("principal_id")
        )
    return bool(
        ids & ({scenario.resource_id} | set(scenario.key.values()) - {scenario.key.get("remote_ip", "")})
    )


def describe(finding: dict[str, Any]) -> str:
    info = orjson.loads(finding["service"].get("additionalInfo", {}).get("value") or "{}")
    why = "; ".join(info.get("explanation") or [])[:300]
    return f"{finding['type']} on {sorted(resource_ids(finding))} at {finding['service'].get('eventFirstSeen')}: {why}"


def score(manifest: HistoryManifest, findings: Sequence[dict[str, Any]]) -> HistoryScore:
    attacked = manifest.scenarios
    behaviour = [f for f in findings if f["type"] in BEHAVIOR_TYPES]
    return HistoryScore(
        scenarios=len(attacked),
        missed=[
            f"{s.finding_type} ({s.name}: {s.description})"
            for s in attacked
            if not any(f["type"] == s.finding_type and on(s, f) for f in findings)
        ],
        false_positives=[describe(f) for f in behaviour if not any(on(s, f) for s in attacked)],
        twins=[
            f"{t.name}: {describe(f)}"
            for t in manifest.twins
            for f in behaviour
            if f["type"] == t.finding_type and on(t, f) and not any(on(s, f) for s in attacked)
        ],
        others=[
            describe(f)
            for f in findings
            if f["type"] not in BEHAVIOR_TYPES and not any(on(s, f) for s in attacked)
        ],
    )
