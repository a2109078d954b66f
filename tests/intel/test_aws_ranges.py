"""AWS's IP ranges: the shipped snapshot, longest-prefix matching, service choice, bad files."""

from __future__ import annotations

import gzip
import ipaddress
import json
import random
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from keibi.errors import ConfigError
from keibi.intel import AwsRanges, Intel, address_table, builtin_aws_ranges

SNAPSHOT = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "aws-ip-ranges" / "ip-ranges.json"
Answer = tuple[str, str, str, str] | None  # aws_prefix, region, service, network_border_group


def _match(ranges: AwsRanges, values: list[str | None]) -> dict[str, Answer]:
    found = ranges.match(address_table(pl.Series(values, dtype=pl.String)))
    answers: dict[str, Answer] = {r[0]: (r[1], r[2], r[3], r[4]) for r in found.iter_rows()}
    return {v: answers.get(v) for v in values if v is not None}


def _doc(prefixes: list[dict[str, Any]], ipv6: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "syncToken": "1",
        "createDate": "2026-01-01-00-00-00",
        "prefixes": prefixes,
        "ipv6_prefixes": ipv6 or [],
    }


def _v4(prefix: str, service: str, region: str = "us-east-1") -> dict[str, str]:
    return {"ip_prefix": prefix, "region": region, "service": service, "network_border_group": region}


def test_the_shipped_snapshot_is_the_dataset_file() -> None:
    shipped = builtin_aws_ranges()
    assert builtin_aws_ranges() is shipped  # loaded once per process
    assert (shipped.sync_token, shipped.create_date) == ("1787411825", "2026-08-22-15-17-05")
    raw = json.loads(SNAPSHOT.read_bytes())
    distinct = {p["ip_prefix"] for p in raw["prefixes"]} | {p["ipv6_prefix"] for p in raw["ipv6_prefixes"]}
    assert len(shipped) == len(distinct)
    assert_frame_equal(AwsRanges.load(SNAPSHOT).entries, shipped.entries)


@pytest.mark.parametrize(
    ("address", "answer"),
    [
        # Panther's IMDS-exfiltration rule test: an EC2 address in us-west-2.
        ("52.42.146.205", ("52.40.0.0/14", "us-west-2", "EC2", "us-west-2")),
        ("52.216.10.20", ("52.216.0.0/15", "us-east-1", "S3", "us-east-1")),
        # Listed only under AMAZON.
        ("3.4.12.4", ("3.4.12.4/32", "eu-west-1", "AMAZON", "eu-west-1")),
        # Listed under AMAZON, S3 and EC2: EC2 first.
        ("3.5.140.77", ("3.5.140.0/22", "ap-northeast-2", "EC2", "ap-northeast-2")),
        ("23.228.249.10", ("23.228.249.0/24", "GLOBAL", "CLOUDFRONT", "GLOBAL")),
        ("2600:1f18:4000::17", ("2600:1f18::/33", "us-east-1", "EC2", "us-east-1")),
        # Longest prefix: an AMAZON /26 inside an EC2 /16 wins over it, the rest of the /16 is EC2.
        ("140.179.15.10", ("140.179.15.0/26", "cn-north-1", "AMAZON", "cn-north-1")),
        ("140.179.200.1", ("140.179.0.0/16", "cn-north-1", "EC2", "cn-north-1")),
        ("45.33.32.156", None),
        ("1.2.3.4", None),
        ("10.0.1.50", None),
        ("fd00::1", None),
        ("ec2.amazonaws.com", None),
        ("AWS Internal", None),
        ("", None),
    ],
)
def test_known_addresses(address: str, answer: Answer) -> None:
    assert _match(builtin_aws_ranges(), [address, None]) == {address: answer}


def test_agrees_with_a_plain_python_longest_prefix_search() -> None:
    """Every answer on a sample of the snapshot (and random IPv4s) equals an independent search."""
    raw = json.loads(SNAPSHOT.read_bytes())
    listed = [(ipaddress.ip_network(p["ip_prefix"]), p) for p in raw["prefixes"]]
    listed += [(ipaddress.ip_network(p["ipv6_prefix"]), p) for p in raw["ipv6_prefixes"]]
    by_length: dict[tuple[int, int], dict[int, list[dict[str, str]]]] = {}
    for net, entry in listed:
        by_length.setdefault((net.version, net.prefixlen), {}).setdefault(
            int(net.network_address), []
        ).append(entry)

    def rank(entry: dict[str, str]) -> tuple[int, str]:
        service = entry["service"]
        return (0 if service == "EC2" else 2 if service == "AMAZON" else 1, service)

    def search(text: str) -> Answer:
        address = ipaddress.ip_address(text)
        bits = address.max_prefixlen
        for plen in range(bits, -1, -1):
            network = int(address) >> (bits - plen) << (bits - plen)
            entries = by_length.get((address.version, plen), {}).get(network)
            if entries:
                best = min(entries, key=rank)
                prefix = best.get("ip_prefix") or best["ipv6_prefix"]
                return (prefix, best["region"], best["service"], best["network_border_group"])
        return None

    rng = random.Random(7)
    sample = [str(net[rng.randrange(net.num_addresses)]) for net, _ in rng.sample(listed, 400)]
    sample += [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(400)]
    got = _match(builtin_aws_ranges(), list(sample))
    want = {text: search(text) for text in sample}
    assert got == want
    assert sum(a is not None for a in got.values()) >= 400


def test_nested_prefixes_and_service_order() -> None:
    doc = _doc(
        [
            _v4("10.0.0.0/8", "AMAZON"),
            _v4("10.0.0.0/8", "EC2"),
            _v4("10.1.0.0/16", "AMAZON", "eu-west-1"),
            _v4("10.1.2.0/24", "AMAZON"),
            _v4("10.1.2.0/24", "S3"),
            _v4("10.1.2.0/24", "DYNAMODB"),
            _v4("10.1.2.3/32", "ROUTE53"),
        ],
        [
            {
                "ipv6_prefix": "2001:db8::/32",
                "region": "us-east-1",
                "service": "S3",
                "network_border_group": "x",
            }
        ],
    )
    ranges = AwsRanges.from_document(doc, source="test")
    got = _match(ranges, ["10.9.9.9", "10.1.9.9", "10.1.2.9", "10.1.2.3", "11.0.0.1", "2001:db8::1"])
    assert {k: v and v[:3] for k, v in got.items()} == {
        "10.9.9.9": ("10.0.0.0/8", "us-east-1", "EC2"),
        "10.1.9.9": ("10.1.0.0/16", "eu-west-1", "AMAZON"),
        "10.1.2.9": ("10.1.2.0/24", "us-east-1", "DYNAMODB"),  # named services alphabetically
        "10.1.2.3": ("10.1.2.3/32", "us-east-1", "ROUTE53"),
        "11.0.0.1": None,
        "2001:db8::1": ("2001:db8::/32", "us-east-1", "S3"),
    }


def test_plain_and_gzipped_files_read_alike(tmp_path: Path) -> None:
    doc = _doc([_v4("203.0.113.0/24", "EC2")])
    plain = tmp_path / "ip-ranges.json"
    plain.write_text(json.dumps(doc))
    zipped = tmp_path / "ranges.json"  # gzip told by content, not by name
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, zipped):
        ranges = AwsRanges.load(path)
        assert ranges.source == str(path)
        assert _match(ranges, ["203.0.113.5"])["203.0.113.5"] == (
            "203.0.113.0/24",
            "us-east-1",
            "EC2",
            "us-east-1",
        )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not an AWS ip-ranges.json"),
        (gzip.compress(b'{"syncToken": "1"}', mtime=0)[:12], "not an AWS ip-ranges.json"),
        (b"[]", "expected a JSON object"),
        (b'{"createDate": "x", "prefixes": []}', "no 'syncToken'"),
        (b'{"syncToken": "1", "createDate": "x"}', "'prefixes' must be a list"),
        (b'{"syncToken": "1", "createDate": "x", "prefixes": ["3.4.12.4/32"]}', "prefixes"),
        (json.dumps(_doc([_v4("3.4.12.4", "EC2")])).encode(), r"prefixes\[0\].*'3.4.12.4'"),
        (json.dumps(_doc([_v4("3.4.12.0/33", "EC2")])).encode(), r"prefixes\[0\]"),
        (
            json.dumps(_doc([_v4("10.0.0.0/8", "EC2"), _v4("2001:db8::/32", "EC2")])).encode(),
            r"prefixes\[1\]",
        ),
        (json.dumps(_doc([{"ip_prefix": "10.0.0.0/8", "region": "us-east-1"}])).encode(), "needs a CIDR"),
        (
            json.dumps(_doc([], [{"ipv6_prefix": "10.0.0.0/8", "region": "r", "service": "S3"}])).encode(),
            "ipv6",
        ),
    ],
)
def test_a_malformed_file_is_a_config_error_naming_it(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "ip-ranges.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message) as err:
        AwsRanges.load(path)
    assert err.value.path == str(path)
    assert str(path) in str(err.value)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read AWS IP ranges") as err:
        AwsRanges.load(tmp_path / "nope.json")
    assert err.value.path == str(tmp_path / "nope.json")


def test_aws_lookup_is_aligned_with_its_values() -> None:
    values = pl.Series("ip", ["52.42.146.205", None, "45.33.32.156", "52.42.146.205", "ec2.amazonaws.com"])
    intel = Intel.with_builtin_feeds()
    assert intel.aws_ranges is builtin_aws_ranges()
    found = intel.aws_lookup(values, prefix="remote")
    assert found.columns == ["remote_aws_prefix", "remote_aws_region", "remote_aws_service"]
    assert found.schema == dict.fromkeys(found.columns, pl.String())
    assert found.rows() == [
        ("52.40.0.0/14", "us-west-2", "EC2"),
        (None, None, None),
        (None, None, None),
        ("52.40.0.0/14", "us-west-2", "EC2"),
        (None, None, None),
    ]
    # A table the caller parsed from a superset gives the same answer.
    table = address_table(pl.concat([values, pl.Series(["3.4.12.4", "10.0.0.1"])]))
    assert_frame_equal(intel.aws_lookup(values, prefix="remote", table=table), found)


def test_without_ranges_nothing_is_aws() -> None:
    found = Intel().aws_lookup(pl.Series(["52.42.146.205", None]), prefix="remote")
    assert found.rows() == [(None, None, None), (None, None, None)]
    assert found.schema == dict.fromkeys(found.columns, pl.String())


def test_an_operator_file_replaces_the_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "ip-ranges.json"
    path.write_text(json.dumps(_doc([_v4("45.33.32.0/24", "EC2", "eu-north-1")])))
    intel = Intel.with_builtin_feeds(aws_ranges=AwsRanges.load(path))
    found = intel.aws_lookup(pl.Series(["45.33.32.156", "52.42.146.205"]), prefix="remote")
    assert found["remote_aws_region"].to_list() == ["eu-north-1", None]
