"""Many realistic findings for an account, written straight into the store: copies of keibi's
sample findings (one per GuardDuty type) with their own ids, severities and times, so list,
filter and pagination tests (and ``benchmarks/api_load.py``) have volume without a long scan."""

from __future__ import annotations

import copy
import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from keibi.findings.build import detector_id
from keibi.findings.samples import sample_findings
from keibi.store import Store
from keibi.store._rows import finding_row, resource_ids
from keibi.store.tables import finding_resources, findings

SEVERITIES = (2.0, 5.0, 5.0, 8.0, 8.0, 9.0)
CHUNK = 5000


def add_findings(
    store: Store,
    accounts: Sequence[str],
    count: int,
    *,
    region: str = "us-east-1",
    now: datetime,
    seed: int = 7,
    archived_share: float = 0.2,
) -> list[dict[str, Any]]:
    """``count`` findings spread round-robin over ``accounts``, updated over the 30 days before
    ``now``; returns them as stored."""
    rng = random.Random(f"{seed}:{','.join(accounts)}:{region}")  # ids differ between accounts
    templates = sample_findings(accounts[0], region, None, now=now)
    made: list[dict[str, Any]] = []
    for i in range(count):
        finding = copy.deepcopy(templates[i % len(templates)])
        account = accounts[i % len(accounts)]
        fid = uuid.UUID(int=rng.getrandbits(128)).hex
        when = now - timedelta(seconds=rng.randrange(30 * 24 * 3600))
        stamp = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        finding.update(
            id=fid,
            accountId=account,
            region=region,
            arn=f"arn:aws:guardduty:{region}:{account}:detector/{detector_id(account, region)}/finding/{fid}",
            severity=rng.choice(SEVERITIES),
            updatedAt=stamp,
        )
        finding["service"]["detectorId"] = detector_id(account, region)
        finding["service"]["archived"] = rng.random() < archived_share
        finding["service"]["count"] = rng.randrange(1, 50)
        made.append(finding)
    with store.transaction("add findings") as conn:
        for start in range(0, len(made), CHUNK):
            part = made[start : start + CHUNK]
            conn.execute(sa.insert(findings), [finding_row(f) for f in part])
            owned = [
                {"finding_id": f["id"], "resource_id": r}
                for f in part
                for r in resource_ids(f.get("resource", {}))
            ]
            if owned:
                conn.execute(sa.insert(finding_resources), owned)
    return made
