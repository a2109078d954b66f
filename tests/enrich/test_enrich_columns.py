"""``enrich`` adds exactly the documented columns, for each source, on real parsed samples."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from keibi.enrich import enrich
from keibi.intel import Intel, IntelList
from keibi.sources import SCHEMAS, Report, SourceName, plan, read

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
INTEL_COLS = ["trusted", "custom_list", "feed", "feed_category"]


def _batch(path: Path) -> pl.DataFrame:
    report = Report()
    planned = plan([str(path)], report)
    return pl.concat(list(read(planned[0], report)))


def _added(source: SourceName, out: pl.DataFrame) -> dict[str, pl.DataType]:
    return {c: t for c, t in out.schema.items() if c not in SCHEMAS[source]}


def test_vpc_flow_columns() -> None:
    flows = _batch(
        DATASETS / "panther-analysis/test-scenarios/compromised-root-creds/attacker_vpc.vpc_flow.log"
    )
    intel = Intel.with_builtin_feeds(threat=[IntelList.from_entries("threat", ["92.55.146.245"])])
    out = enrich(flows, "vpc_flow", intel)
    assert _added("vpc_flow", out) == {
        "local_ip": pl.String(),
        "local_port": pl.Int32(),
        "remote_ip": pl.String(),
        "remote_port": pl.Int32(),
        "remote_private": pl.Boolean(),
        "direction": pl.String(),
        **{f"remote_{c}": pl.Boolean() if c == "trusted" else pl.String() for c in INTEL_COLS},
        "first_of_interface": pl.Boolean(),
    }
    firsts = out.filter("first_of_interface")
    assert firsts["interface_id"].n_unique() == firsts.height == out["interface_id"].n_unique()
    assert out["remote_custom_list"].to_list() == ["threat", "threat", None, None, "threat", "threat"]
    assert out["direction"].to_list() == ["INBOUND", "INBOUND", "INBOUND", "INBOUND", "OUTBOUND", "OUTBOUND"]


def test_cloudtrail_remote_ip_only_for_addresses() -> None:
    events = _batch(DATASETS / "otrf-security-datasets/ec2_proxy_s3_exfiltration.cloudtrail_records.json")
    intel = Intel.with_builtin_feeds(trusted=[IntelList.from_entries("ours", ["1.2.3.4"], kind="trusted")])
    out = enrich(events, "cloudtrail", intel)
    assert list(_added("cloudtrail", out)) == [
        "remote_ip",
        *[f"remote_{c}" for c in INTEL_COLS],
        *[f"remote_aws_{c}" for c in ("prefix", "region", "service")],
        *[f"remote_{c}" for c in ("country", "asn", "lat", "lon")],
    ]
    assert out.filter(pl.col("remote_ip") == "1.2.3.4")["remote_country"].to_list() != [None]
    services = out.filter(pl.col("source_ip").str.ends_with(".amazonaws.com"))
    assert not services.is_empty() and services["remote_ip"].null_count() == services.height
    assert out.filter(pl.col("remote_ip") == "1.2.3.4")["remote_trusted"].all()


def test_dns_domain_columns() -> None:
    queries = _batch(DATASETS / "aws-docs-examples/route53_resolver_query_log_example.json")
    out = enrich(queries, "dns", Intel.with_builtin_feeds())
    answer = ["answer_ip", "answer_feed", "answer_feed_category"]
    assert list(_added("dns", out)) == ["domain", *[f"domain_{c}" for c in INTEL_COLS], *answer]
    assert out["domain"].to_list() == ["15.3.4.32.in-addr.arpa"]
    assert out["domain_feed"].to_list() == [None]
