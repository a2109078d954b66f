"""``vpcEndpointAccountId`` (logged since 2024 on calls through a VPC endpoint) → ``vpc_endpoint_account_id``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from keibi.sources import CLOUDTRAIL


def _event(**extra: Any) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "eventTime": "2024-09-11T14:02:10Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "ListBuckets",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "10.200.3.17",
        "recipientAccountId": "111122223333",
        "userIdentity": {"type": "AssumedRole", "accountId": "111122223333"},
        **extra,
    }


def test_endpoint_owner_is_kept(tmp_path: Path, read_all: Any) -> None:
    events = [
        _event(vpcEndpointId="vpce-0f1e2d3c4b5a69788", vpcEndpointAccountId="444455556666"),
        _event(vpcEndpointId="vpce-0a1b2c3d4e5f60718"),  # before 2024: no owner logged
        _event(),
        _event(vpcEndpointAccountId=444455556666),  # wrong JSON type: kept as text, not a crash
    ]
    path = tmp_path / "trail.json"
    path.write_bytes(orjson.dumps({"Records": events}))
    frames, report = read_all([path])
    got = frames["cloudtrail"].sort("_line")
    assert report.ok
    assert CLOUDTRAIL["vpc_endpoint_account_id"] == CLOUDTRAIL["vpc_endpoint_id"]
    assert got["vpc_endpoint_account_id"].to_list() == ["444455556666", None, None, "444455556666"]
    assert got["vpc_endpoint_id"].to_list() == [
        "vpce-0f1e2d3c4b5a69788",
        "vpce-0a1b2c3d4e5f60718",
        None,
        None,
    ]
