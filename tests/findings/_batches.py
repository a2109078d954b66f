"""Small hand-built batches in the documented source schemas, enriched as the engine does.

Shared by ``tests/findings`` and ``tests/store``: ``batch`` makes a frame of a source's
schema from a few records (missing columns are null), runs the real ``keibi.enrich`` with
optional threat lists, and numbers rows (``_row``) as the engine does before detecting.
``record`` turns one hand-made hit into a ``FindingRecord`` through the real builder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import polars as pl

from keibi.detect import ROW, FindingType, Severity, hits
from keibi.enrich import enrich
from keibi.findings import FindingRecord, build_findings
from keibi.intel import Intel, IntelList
from keibi.sources.schema import SCHEMAS, SourceName

NOW: Final = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
T0: Final = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
ACCOUNT: Final = "111122223333"
REGION: Final = "us-east-1"

ROOT_CALL = FindingType(
    type="Policy:IAMUser/RootCredentialUsage",
    severity=Severity.LOW,
    data_sources=("cloudtrail_management",),
    resource_type="AccessKey",
    detection="policy",
    action_type="AWS_API_CALL",
    title="The API {api} was invoked using root credentials.",
    description="The API {api} was invoked using root credentials from IP address {remote_ip}.",
)
BUCKET_CALL = FindingType(
    type="Discovery:S3/MaliciousIPCaller.Custom",
    severity=Severity.HIGH,
    data_sources=("cloudtrail_s3_data",),
    resource_type="S3Bucket",
    detection="threat_intel",
    action_type="AWS_API_CALL",
    title="S3 API {api} was invoked on {bucket} by {user_name}.",
    description="{principal_id} called {api} on bucket {bucket} from {remote_ip} ({threat_list}); {nothing}.",
)
BAD_IP = FindingType(
    type="UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
    severity=Severity.MEDIUM,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="threat_intel",
    action_type="NETWORK_CONNECTION",
    title="EC2 instance {resource_id} is communicating with {remote_ip} on port {port}.",
    description="{direction} {protocol} connection; list {threat_list}; {count} flows.",
)
PROBE = FindingType(
    type="Recon:EC2/PortProbeUnprotectedPort",
    severity=Severity.LOW,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="threat_intel",
    action_type="PORT_PROBE",
    title="Unprotected port on EC2 instance {resource_id} is being probed.",
)
MINING = FindingType(
    type="CryptoCurrency:EC2/BitcoinTool.B!DNS",
    severity=Severity.HIGH,
    data_sources=("dns",),
    resource_type="Instance",
    detection="threat_intel",
    action_type="DNS_REQUEST",
    title="Bitcoin-related domain name queried by EC2 instance {resource_id}.",
    description="EC2 instance {resource_id} is querying the domain name {domain} ({threat_names}).",
)
TYPES: Final = {t.type: t for t in (ROOT_CALL, BUCKET_CALL, BAD_IP, PROBE, MINING)}


def batch(
    source: SourceName, rows: Sequence[Mapping[str, Any]], *, threat: Sequence[str] = ()
) -> pl.DataFrame:
    """``rows`` as an enriched batch of ``source`` with ``_row``; ``threat`` entries form list ``bad-list``."""
    lists = [IntelList.from_entries("bad-list", threat)] if threat else []
    defaults = {"account_id": ACCOUNT, "region": REGION, "_file": f"{source}.log"}
    frame = pl.DataFrame(
        [{**defaults, "_line": i + 1, **r} for i, r in enumerate(rows)], schema=SCHEMAS[source]
    )
    return enrich(frame, source, Intel.with_builtin_feeds(threat=lists)).with_row_index(ROW)


def trail_row(minutes: int = 0, **fields: Any) -> dict[str, Any]:
    """A CloudTrail record: root calls StopLogging from 203.0.113.9, ``minutes`` after T0."""
    return {
        "event_time": T0 + timedelta(minutes=minutes),
        "event_id": f"ev-{minutes:04d}",
        "event_source": "cloudtrail.amazonaws.com",
        "event_name": "StopLogging",
        "event_type": "AwsApiCall",
        "event_category": "Management",
        "source_ip": "203.0.113.9",
        "user_agent": "aws-cli/2.15.0",
        "user_type": "Root",
        "principal_id": ACCOUNT,
        "user_arn": f"arn:aws:iam::{ACCOUNT}:root",
        "access_key_id": "ASIAEXAMPLEROOT",
        "request_parameters": '{"name": "main-trail"}',
        **fields,
    }


def record(
    key: str = "k1",
    *,
    minutes: int = 0,
    count: int = 1,
    severity: float | None = None,
    account: str = ACCOUNT,
    **fields: Any,
) -> FindingRecord:
    """One root-credential finding for aggregation key ``key``: ``count`` calls ending ``minutes`` after T0."""
    rows = [trail_row(minutes - count + 1 + i, account_id=account, **fields) for i in range(count)]
    frame = batch("cloudtrail", rows)
    found = hits(frame.with_columns(pl.lit(key).alias("_key")), ROOT_CALL, key=("_key",), severity=severity)
    (built,) = build_findings(found, frame, "cloudtrail", TYPES, now=NOW + timedelta(minutes=minutes))
    return built
