"""``remoteIpDetails`` placed by ``keibi.intel.GeoIP`` in every action that has one, end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import iptocc
import polars as pl
import pytest
from typer.testing import CliRunner

from keibi.cli import app
from keibi.detect import hits
from keibi.findings import build_findings, validate
from keibi.intel import GeoIP
from tests.findings._batches import BAD_IP, NOW, PROBE, ROOT_CALL, T0, TYPES, batch, trail_row
from tests.helpers import scan_findings
from tests.intel._geo_dbs import ATTACKER, ATTACKER_V6, asn_db, city_db

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
ROOT_SCENARIO = DATASETS / "panther-analysis/test-scenarios/compromised-root-creds/attacker_cloudtrail.json"

PLACED = {
    "ipAddressV4": ATTACKER,
    "country": {"countryCode": "RO", "countryName": "Romania"},
    "city": {"cityName": "Bucharest"},
    "geoLocation": {"lat": 44.4323, "lon": 26.1063},
    "organization": {"asn": "64500", "asnOrg": "EXAMPLE-TRANSIT"},
}
COUNTRY_ONLY = {"ipAddressV4": ATTACKER, "country": {"countryCode": "RO", "countryName": "Romania"}}


@pytest.fixture
def geo(tmp_path: Path) -> Iterator[GeoIP]:
    with GeoIP.open(city=city_db(tmp_path), asn=asn_db(tmp_path)) as opened:
        yield opened


def _flow(minutes: int, **fields: Any) -> dict[str, Any]:
    """An inbound VPC flow record (v5) from ``srcaddr`` to an instance's private address."""
    return {
        "event_time": T0 + timedelta(minutes=minutes),
        "version": 5,
        "interface_id": "eni-0a1b2c3d",
        "srcaddr": ATTACKER,
        "dstaddr": "10.0.1.15",
        "srcport": 51000 + minutes,
        "dstport": 9200,
        "protocol": 6,
        "packets": 1,
        "bytes": 44,
        "action": "REJECT",
        "log_status": "OK",
        "vpc_id": "vpc-0123",
        "subnet_id": "subnet-0456",
        "instance_id": "i-0abc",
        "flow_direction": "ingress",
        **fields,
    }


def _action(source: Any, rows: list[dict[str, Any]], ftype: Any, geo: GeoIP | None) -> dict[str, Any]:
    frame = batch(source, rows)
    (record,) = build_findings(
        hits(frame, ftype, key=("account_id",)), frame, source, TYPES, now=NOW, geo=geo
    )
    validate(record.finding)
    action: dict[str, Any] = record.finding["service"]["action"]
    return action


def test_aws_api_call(geo: GeoIP) -> None:
    call = _action("cloudtrail", [trail_row(0, source_ip=ATTACKER)], ROOT_CALL, geo)["awsApiCallAction"]
    assert call["callerType"] == "Remote IP"
    assert call["remoteIpDetails"] == PLACED


def test_aws_api_call_over_ipv6(geo: GeoIP) -> None:
    call = _action("cloudtrail", [trail_row(0, source_ip=ATTACKER_V6)], ROOT_CALL, geo)["awsApiCallAction"]
    assert call["remoteIpDetails"] == {
        "ipAddressV6": ATTACKER_V6,
        "country": {"countryCode": "GB", "countryName": "United Kingdom"},
        "city": {"cityName": "London"},
        "geoLocation": {"lat": 51.5085, "lon": -0.1257},
        "organization": {"asn": "64501", "asnOrg": "EXAMPLE-V6-NET"},
    }


def test_aws_service_caller_is_a_domain_and_not_placed(geo: GeoIP) -> None:
    row = trail_row(0, source_ip="cloudtrail.amazonaws.com")
    call = _action("cloudtrail", [row], ROOT_CALL, geo)["awsApiCallAction"]
    assert call["callerType"] == "Domain"
    assert "remoteIpDetails" not in call


def test_network_connection(geo: GeoIP) -> None:
    conn = _action("vpc_flow", [_flow(0, dstport=22)], BAD_IP, geo)["networkConnectionAction"]
    assert conn["connectionDirection"] == "INBOUND"
    assert conn["remoteIpDetails"] == PLACED
    assert conn["localIpDetails"] == {"ipAddressV4": "10.0.1.15"}  # the local side is never placed


def test_network_connection_to_a_private_peer_is_not_placed(geo: GeoIP) -> None:
    peer = _flow(0, srcaddr="10.0.7.7", dstport=22)
    conn = _action("vpc_flow", [peer], BAD_IP, geo)["networkConnectionAction"]
    assert conn["remoteIpDetails"] == {"ipAddressV4": "10.0.7.7"}


def test_port_probe(geo: GeoIP) -> None:
    probe = _action("vpc_flow", [_flow(0)], PROBE, geo)["portProbeAction"]
    assert probe["portProbeDetails"][0]["remoteIpDetails"] == PLACED


def test_without_geo_the_address_alone_and_with_iptocc_the_country() -> None:
    rows = [trail_row(0, source_ip=ATTACKER)]
    assert _action("cloudtrail", rows, ROOT_CALL, None)["awsApiCallAction"]["remoteIpDetails"] == {
        "ipAddressV4": ATTACKER
    }
    placed = _action("cloudtrail", rows, ROOT_CALL, GeoIP())["awsApiCallAction"]["remoteIpDetails"]
    assert placed == COUNTRY_ONLY


def test_one_country_lookup_per_build(geo: GeoIP, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hits' distinct remote addresses are placed together, then read from the cache."""
    calls: list[list[str]] = []
    real = iptocc.country_code

    def counting(addresses: Any) -> Any:
        calls.append(list(addresses))
        return real(addresses)

    addresses = [ATTACKER, ATTACKER_V6, ATTACKER, "45.33.32.156"]
    frame = batch("cloudtrail", [trail_row(i, source_ip=a) for i, a in enumerate(addresses)])
    monkeypatch.setattr(iptocc, "country_code", counting)
    found = hits(frame.with_columns(pl.col("source_ip").alias("_key")), ROOT_CALL, key=("_key",))
    records = build_findings(found, frame, "cloudtrail", TYPES, now=NOW, geo=geo)
    assert len(records) == 3
    assert len(calls) == 1
    assert sorted(calls[0]) == sorted([ATTACKER, ATTACKER_V6, "45.33.32.156"])


def test_scan_of_a_real_dataset_fills_remote_ip_details(tmp_path: Path) -> None:
    city, asn = city_db(tmp_path), asn_db(tmp_path)
    placed = scan_findings([ROOT_SCENARIO], geoip_city=city, geoip_asn=asn)
    plain = scan_findings([ROOT_SCENARIO])
    assert [f["type"] for f in placed] == [f["type"] for f in plain] == ["Policy:IAMUser/RootCredentialUsage"]
    for finding in placed + plain:
        validate(finding)
    assert placed[0]["service"]["action"]["awsApiCallAction"]["remoteIpDetails"] == PLACED
    assert plain[0]["service"]["action"]["awsApiCallAction"]["remoteIpDetails"] == COUNTRY_ONLY


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("KEIBI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KEIBI_DATABASE_URL", raising=False)
    monkeypatch.delenv("KEIBI_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def test_cli_scan_reads_the_configured_databases(runner: CliRunner, tmp_path: Path) -> None:
    geo_dir = tmp_path / "geo"
    geo_dir.mkdir()
    city_db(geo_dir)
    asn_db(geo_dir)
    config = tmp_path / "keibi.toml"
    config.write_text('[intel]\ngeoip_city = "geo/GeoLite2-City.mmdb"\ngeoip_asn = "geo/GeoLite2-ASN.mmdb"\n')
    result = runner.invoke(app, ["scan", str(ROOT_SCENARIO), "--format", "json", "--config", str(config)])
    assert result.exit_code == 0, result.output
    (finding,) = json.loads(result.stdout)
    assert finding["service"]["action"]["awsApiCallAction"]["remoteIpDetails"] == PLACED


def test_cli_names_a_broken_database_in_one_line(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "keibi.toml"
    config.write_text('[intel]\ngeoip_asn = "geo/GeoLite2-ASN.mmdb"\n')
    result = runner.invoke(app, ["scan", str(ROOT_SCENARIO), "--config", str(config)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"{tmp_path / 'geo' / 'GeoLite2-ASN.mmdb'}: cannot read GeoIP ASN database" in lines[0]
    assert "Traceback" not in result.output
