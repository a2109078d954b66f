"""GetUsageStatistics through boto3 after a real scan: events and GB per data source equal what
the scan read, per account and region, and nobody else sees them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from keibi.tester import generate
from tests.api.server import KeibiServer
from tests.helpers import scan_result

GB = Decimal(1 << 30)


@pytest.fixture(scope="module")
def scanned(api: KeibiServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any]:
    """The tester's logs (one account, two regions) scanned into the server's store: the account
    id and the scan's report."""
    out: Path = tmp_path_factory.mktemp("usage-logs")
    manifest = generate(out, seed=23, scale=0.1)
    report = scan_result([out / "AWSLogs"], store=api.store).report
    return manifest.account_id, report


def _sums(gd: Any, did: str, kind: str, unit: str | None = None, **criteria: Any) -> dict[str, Decimal]:
    args: dict[str, Any] = {"DetectorId": did, "UsageStatisticType": kind, "UsageCriteria": criteria}
    if unit:
        args["Unit"] = unit
    stats = gd.get_usage_statistics(**args)["UsageStatistics"]
    (entries,) = stats.values()
    key = {"SUM_BY_DATA_SOURCE": "DataSource", "SUM_BY_ACCOUNT": "AccountId", "SUM_BY_FEATURES": "Feature"}[
        kind
    ]
    return {e[key]: Decimal(e["Total"]["Amount"]) for e in entries}


def test_usage_matches_what_was_scanned(api: KeibiServer, scanned: tuple[str, Any]) -> None:
    account, report = scanned
    key = api.account(account)
    east, west = api.client(key, "us-east-1"), api.client(key, "eu-west-1")
    east_did = east.create_detector(Enable=True)["DetectorId"]
    west_did = west.create_detector(Enable=True)["DetectorId"]
    sources = ["CLOUD_TRAIL", "S3_LOGS", "FLOW_LOGS", "DNS_LOGS"]

    def both(kind: str, unit: str | None = None) -> dict[str, Decimal]:
        total: dict[str, Decimal] = {}
        for gd, did in ((east, east_did), (west, west_did)):
            for name, amount in _sums(gd, did, kind, unit, DataSources=sources).items():
                total[name] = total.get(name, Decimal(0)) + amount
        return total

    events = both("SUM_BY_DATA_SOURCE", "EVENTS")
    assert events["CLOUD_TRAIL"] + events["S3_LOGS"] == report.records["cloudtrail"]
    assert events["FLOW_LOGS"] == report.records["vpc_flow"]
    assert events["DNS_LOGS"] == report.records["dns"]
    gigabytes = both("SUM_BY_DATA_SOURCE")
    for names, source in (
        (("CLOUD_TRAIL", "S3_LOGS"), "cloudtrail"),
        (("FLOW_LOGS",), "vpc_flow"),
        (("DNS_LOGS",), "dns"),
    ):
        assert abs(sum(gigabytes[n] for n in names) - Decimal(report.bytes[source]) / GB) < Decimal("0.00001")
    by_account = both("SUM_BY_ACCOUNT", "EVENTS")
    assert by_account == {account: Decimal(sum(report.records.values()))}
    features = _sums(east, east_did, "SUM_BY_FEATURES", "EVENTS", DataSources=sources)
    assert set(features) <= {"CLOUD_TRAIL", "S3_DATA_EVENTS", "FLOW_LOGS", "DNS_LOGS"}


def test_other_accounts_see_no_usage(api: KeibiServer, scanned: tuple[str, Any]) -> None:
    gd = api.client(api.account())
    did = gd.create_detector(Enable=True)["DetectorId"]
    assert (
        _sums(
            gd,
            did,
            "SUM_BY_ACCOUNT",
            "EVENTS",
            DataSources=["CLOUD_TRAIL", "FLOW_LOGS", "DNS_LOGS", "S3_LOGS"],
        )
        == {}
    )
    with pytest.raises(gd.exceptions.BadRequestException):
        gd.get_usage_statistics(
            DetectorId=did,
            UsageStatisticType="SUM_BY_ACCOUNT",
            UsageCriteria={"DataSources": ["FLOW_LOGS"]},
            Unit="EUR",
        )
