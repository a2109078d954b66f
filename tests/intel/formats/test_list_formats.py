"""Every list format on a realistic sample, a malformed one (problems name file and line, the
good entries still load), and the edge cases: IPv6 forms, CIDR host bits, BOM, CRLF, UTF-16,
empty and header-only files, quoted CSV fields, URL hosts."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from keibi.errors import ConfigError
from keibi.intel import LIST_FORMATS, IntelList, load_list, parse_list

SAMPLES = Path(__file__).parent / "samples"
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def entries(lst: IntelList) -> set[str]:
    """The list's tables written back as text, computed with ``ipaddress`` independently."""
    v4 = {str(ipaddress.IPv4Network((net, plen))) for net, plen in lst.ipv4.iter_rows()}
    v6 = {str(ipaddress.IPv6Network(((hi << 64) | lo, plen))) for hi, lo, plen in lst.ipv6.iter_rows()}
    return v4 | v6 | set(lst.domains["domain"].to_list())


def problems(lst: IntelList) -> list[tuple[int | None, str]]:
    return [(p.line, p.reason) for p in lst.problems]


VALID = [
    (
        "txt_entity_list.txt",
        "TXT",
        {
            "192.0.2.1/32",
            "192.0.2.0/24",
            "198.51.100.23/32",
            "203.0.113.77/32",
            "10.0.0.0/8",
            "2001:db8:bad::/48",
            "2001:db8::1:0:0:5/128",
            "example.com",
            "example.org",
            "login-update.example",
        },
    ),
    (
        "stix21_bundle.json",
        "STIX",
        {
            "198.51.100.23/32",
            "203.0.113.0/25",
            "2001:db8:bad::/48",
            "login-update.example",
            "secure-billing.example.net",
            "dl.payload.example",  # url:value → its host
            "192.0.2.77/32",  # network-traffic:dst_ref.value
        },
    ),
    ("stix20_bundle.json", "STIX", {"pivy-c2.example.com", "203.0.113.42/32", "203.0.113.43/32"}),
    (
        "stix1_package.xml",
        "STIX",
        {"192.0.2.0/24", "198.51.100.1/32", "203.0.113.1/32", "bad.example.com", "cdn.malware-host.example"},
    ),
    (
        "otx_pulse.csv",
        "OTX_CSV",
        {
            "198.51.100.23/32",
            "203.0.113.17/32",
            "2001:db8:85a3::8a2e:370:7334/128",
            "192.0.2.0/26",
            "login-update.example",
            "cdn3.malware-host.example",
            "198.51.100.80/32",  # quoted URL with a comma
            "dl.payload.example",  # user:pass@ and port dropped
            "2001:db8::bad/128",  # [IPv6] URL host
        },
    ),
    (
        "alienvault_reputation.data",
        "ALIEN_VAULT",
        {
            "198.51.100.1/32",
            "203.0.113.1/32",
            "192.0.2.1/32",
            "192.0.2.2/32",
            "192.0.2.3/32",
            "198.51.100.77/32",
            "www.test.org",
            "www.example.com",
        },
    ),
    (
        "proofpoint_iprep.csv",
        "PROOF_POINT",
        {"198.51.100.1/32", "203.0.113.1/32", "192.0.2.14/32", "2001:db8::dead:beef/128"},
    ),
    (
        "proofpoint_domains.csv",
        "PROOF_POINT",
        {"login-update.example", "c2.evil.example", "198.51.100.9/32"},
    ),
    ("proofpoint_iprepdata_noheader.csv", "PROOF_POINT", {"198.51.100.1/32", "203.0.113.1/32"}),
    (
        "fireeye_isight.csv",
        "FIRE_EYE",
        {
            "192.0.2.0/24",
            "198.51.100.1/32",
            "203.0.113.0/24",
            "203.0.113.0/32",
            "example.com",
            "dl.payload.example",
            "2001:db8:bad::5/128",
        },
    ),
    (
        "hosts_blocklist.txt",
        "HOSTS",
        {
            "ck.getcookiestxt.example",
            "eu1.clevertap-prod.example",
            "wizhumpgyros.example",
            "tracking.adserver.example",
            "tracking2.adserver.example",
            "xn--80ak6aa92e.example",
            "ipv6-sinkholed.example",
        },
    ),
    (
        "urlhaus_urls.txt",
        "URL_LIST",
        {
            "198.51.100.34/32",
            "203.0.113.8/32",
            "dl.payload.example",
            "drive-share.example",
            "2001:db8::7/128",
            "cdn.malware-host.example",
            "defanged.example",
        },
    ),
    (
        "spamhaus_drop.txt",
        "SPAMHAUS_DROP",
        {"1.10.16.0/20", "1.19.0.0/16", "1.32.128.0/18", "2.56.192.0/22", "5.134.128.0/19"},
    ),
    ("spamhaus_drop_v6.json", "SPAMHAUS_DROP", {"2001:678:738::/48", "2404:c0::/32", "2a06:e480::/29"}),
]


@pytest.mark.parametrize(("sample", "fmt", "expected"), VALID, ids=[v[0] for v in VALID])
def test_realistic_sample(sample: str, fmt: str, expected: set[str]) -> None:
    lst = load_list(SAMPLES / sample, fmt, now=NOW)
    assert lst.problems == ()
    assert entries(lst) == expected
    assert len(lst) == len(expected)
    assert (lst.name, lst.source, lst.version) == (Path(sample).stem, str(SAMPLES / sample), None)


MALFORMED = [
    (
        "txt_malformed.txt",
        "TXT",
        {"198.51.100.23/32", "203.0.113.0/24", "evil.example", "c2.evil.example"},
        [
            (3, "not an IP, CIDR or domain: '198.51.100.23 203.0.113.9'"),
            (5, "not an IP, CIDR or domain: '300.1.2.3'"),
            (7, "not an IP, CIDR or domain: 'http://phish.example/login'"),
            (8, "not an IP, CIDR or domain: '2001:db8::g'"),
        ],
    ),
    (
        "stix21_malformed.json",
        "STIX",
        {"198.51.100.23/32", "c2.evil.example", "drop.evil.example"},
        [
            (
                None,
                "objects[1] indicator--1d4c6b8e-0a53-4c1e-9b7a-2f3e5d6c7b8a: not a valid STIX indicator "
                "(Invalid value for Indicator 'pattern': FAIL: Error found at line 1:34. missing ']' at '<EOF>')",
            ),
            (None, "objects[3]: not a STIX object: 'indicator--not-an-object'"),
            (
                None,
                "objects[4] indicator--9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d: "
                "not an IP address or CIDR: '198.51.100.999'",
            ),
            (
                None,
                "objects[5] indicator--2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f: not a valid STIX indicator "
                "(Invalid value for Indicator 'created': must be a datetime object, date object, or "
                "timestamp string in a recognizable format.)",
            ),
        ],
    ),
    (
        "otx_malformed.csv",
        "OTX_CSV",
        {"198.51.100.23/32", "c2.evil.example"},
        [
            (3, "IPv4: not an IP address or CIDR: '198.51.100.300'"),
            (4, "domain: not a domain name: 'not a domain'"),
            (5, "no indicator type: '203.0.113.5'"),
            (6, "CIDR: not an IP address or CIDR: '10.0.0.0/40'"),
            (7, "URL: not a URL with an IP address or domain as host: 'mailto:someone'"),
        ],
    ),
    (
        "alienvault_malformed.data",
        "ALIEN_VAULT",
        {"198.51.100.1/32", "203.0.113.1/32"},
        [
            (2, "not an IP, CIDR or domain: '198.51.100.256#4#2#Malicious Host#US##0.0,0.0#3'"),
            (
                3,
                "not an AlienVault reputation line (ENTRY#reliability#risk#activity#…): "
                "'just some text without fields'",
            ),
            (4, "not an IP, CIDR or domain: 'evil..example#4#2#Malicious Host#US##0.0,0.0#3'"),
        ],
    ),
    (
        "proofpoint_malformed.csv",
        "PROOF_POINT",
        {"198.51.100.1/32", "203.0.113.1/32"},
        [(3, "not an IP, CIDR or domain: '198.51.100'"), (4, "not an IP, CIDR or domain: ''")],
    ),
    (
        "fireeye_malformed.csv",
        "FIRE_EYE",
        {"198.51.100.1/32", "203.0.113.0/24", "c2.evil.example"},
        [
            (3, "ip: not an IP address or CIDR: '198.51.100.x'"),
            (4, "domain: not a domain name: 'evil.example/path'"),
            (5, "cidr: not an IP address or CIDR: '203.0.113.0/33'"),
        ],
    ),
    (
        "hosts_malformed.txt",
        "HOSTS",
        {"good-one.example", "good-two.example"},
        [
            (2, "not a hosts-file line (ADDRESS NAME …): 'bare-domain.example'"),
            (3, "no host name after the address: '0.0.0.0'"),
            (4, "not a domain name: 'bad_domain!.example'"),
        ],
    ),
    (
        "url_malformed.txt",
        "URL_LIST",
        {"good.example", "still-good.example"},
        [
            (2, "not a URL with an IP address or domain as host: 'mailto:abuse@example.com'"),
            (3, "not a URL with an IP address or domain as host: 'http://exa mple.example/space-in-host'"),
            (4, "not a URL with an IP address or domain as host: 'http://'"),
            (5, "not a URL with an IP address or domain as host: 'https://198.51.100.300/bad-ip'"),
        ],
    ),
    (
        "spamhaus_malformed.txt",
        "SPAMHAUS_DROP",
        {"1.10.16.0/20", "2.56.192.0/22"},
        [
            (3, "not an IP address or CIDR: '1.19.0.0/33 ; SBL434604'"),
            (4, "not an IP address or CIDR: 'not-a-network ; SBL000001'"),
            (5, 'JSON line without a cidr: \'{"sblid":"SBL1","rir":"arin"}\''),
        ],
    ),
]


@pytest.mark.parametrize(("sample", "fmt", "expected", "bad"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_sample(
    sample: str, fmt: str, expected: set[str], bad: list[tuple[int | None, str]]
) -> None:
    path = SAMPLES / sample
    lst = load_list(path, fmt, now=NOW)
    assert entries(lst) == expected
    assert problems(lst) == bad
    assert {p.path for p in lst.problems} == {str(path)}
    first_line, first_reason = bad[0]
    where = f"{path}:{first_line}" if first_line is not None else str(path)
    assert str(lst.problems[0]) == f"{where}: {first_reason}"


def test_every_format_has_samples() -> None:
    assert {v[1] for v in VALID} == set(LIST_FORMATS)
    assert {m[1] for m in MALFORMED} == set(LIST_FORMATS)


def test_stix_revoked_expired_and_other_pattern_types() -> None:
    path = SAMPLES / "stix21_bundle.json"
    now = load_list(path, "STIX", now=NOW)
    # revoked, expired (valid_until 2023-03-01), Snort-typed, negated/LIKE-only: none listed
    assert not {"198.51.100.200/32", "expired-campaign.example", "192.0.2.99/32", "192.0.2.1/32"} & entries(
        now
    )
    # a bare ipv4-addr SCO in the bundle is not an indicator
    assert "192.0.2.250/32" not in entries(now)
    before_expiry = load_list(path, "STIX", now=datetime(2023, 2, 1, tzinfo=UTC))
    assert entries(before_expiry) - entries(now) == {"expired-campaign.example"}
    # the phishing indicator is valid until 2099
    assert "login-update.example" in entries(load_list(path, "STIX", now=datetime(2098, 1, 1, tzinfo=UTC)))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"type": "bundle", "objects": [\n  {"type": "indicator",\n', "not a STIX bundle: invalid JSON"),
        (b'{"hello": "world"}', "not a STIX bundle: expected"),
        (b"<stix:STIX_Package><unclosed></stix:STIX_Package>", "not a STIX document: invalid XML"),
    ],
)
def test_unreadable_stix_names_the_file(data: bytes, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_list(data, "STIX", where="s3://intel/feed.json", name="feed")
    assert str(err.value).startswith(f"cannot read threat list s3://intel/feed.json: {message}")


def test_stix_single_indicator_and_taxii_envelope() -> None:
    indicator = (
        b'{"type": "indicator", "spec_version": "2.1",'
        b' "id": "indicator--ec8a40c8-9a72-434b-a482-bee507c08db0",'
        b' "created": "2024-02-01T09:00:00Z", "modified": "2024-02-01T09:00:00Z",'
        b' "pattern": "[ipv6-addr:value = \'2001:db8::1\']", "pattern_type": "stix",'
        b' "valid_from": "2024-02-01T09:00:00Z"}'
    )
    single = parse_list(indicator, "stix", where="one.json", name="one", now=NOW)
    envelope = parse_list(
        b'{"more": false, "objects": [' + indicator + b"]}", "STIX", where="t", name="t", now=NOW
    )
    assert entries(single) == entries(envelope) == {"2001:db8::1/128"}


def test_unknown_format() -> None:
    with pytest.raises(
        ConfigError, match=r"^list\.xml: unknown list format 'MISP' \(expected one of: TXT, STIX"
    ):
        parse_list(b"1.2.3.4\n", "MISP", where="list.xml", name="x")


def test_missing_file_and_not_text(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"^cannot read trusted list .*nope\.csv: No such file or directory$"
    ):
        load_list(tmp_path / "nope.csv", "OTX_CSV", kind="trusted")
    path = tmp_path / "list.bin"
    path.write_bytes(b"\x00\x8b\x08\x00\xff\xfe")
    with pytest.raises(
        ConfigError, match=r"^cannot read threat list .*list\.bin: not UTF-8 text \(invalid start byte"
    ):
        load_list(path, "HOSTS")
    path = tmp_path / "list.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00\xff\xfe")  # gzip, broken off
    with pytest.raises(ConfigError, match=r"^cannot read threat list .*list\.gz: truncated gzip data$"):
        load_list(path, "HOSTS")


def test_ipv6_forms_and_cidr_host_bits() -> None:
    lst = IntelList.from_entries(
        "v6",
        [
            "2001:db8::1",
            "2001:0DB8:0000:0000:0000:0000:0000:0001",  # the same address written out
            "::",
            "::1",
            "1::",
            "fe80::1%eth0",  # zone id dropped
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "2001:db8::1/32",  # host bits masked
            "10.1.2.3/8",
            "198.51.100.7/31",
            "1::2::3",
            "1:2:3:4:5:6:7:8:9",
            ":1::",
            "2001:db8::/129",
            "::ffff:192.0.2.1",  # IPv4-embedded: not taken
        ],
    )
    assert entries(lst) == {
        "2001:db8::1/128",
        "::/128",
        "::1/128",
        "1::/128",
        "fe80::1/128",
        "1:2:3:4:5:6:7:0/128",
        "0:2:3:4:5:6:7:8/128",
        "2001:db8::/32",
        "10.0.0.0/8",
        "198.51.100.6/31",
    }
    assert [line for line, _ in problems(lst)] == [12, 13, 14, 15, 16]


def test_domains_wildcards_idn_and_defanged() -> None:
    lst = IntelList.from_entries(
        "d",
        ["*.Evil.Example", "evil.example.", "bücher.example", "c2[.]evil[.]example", "a..b", "-x.example"],
    )
    assert lst.domains.rows() == [("evil.example", 2), ("xn--bcher-kva.example", 2), ("c2.evil.example", 3)]
    assert [line for line, _ in problems(lst)] == [5, 6]


@pytest.mark.parametrize(
    ("fmt", "body"),
    [
        ("TXT", "198.51.100.7\nevil.example\n"),
        ("OTX_CSV", "Indicator type,Indicator,Description\nIPv4,198.51.100.7,x\ndomain,evil.example,y\n"),
        ("ALIEN_VAULT", "198.51.100.7#4#2#Malicious Host#US##0.0,0.0#3\nevil.example#4#2#x#US##0.0,0.0#3\n"),
        ("PROOF_POINT", "ip, category, score\n198.51.100.7, 1, 100\nevil.example, 1, 100\n"),
        ("HOSTS", "198.51.100.7 evil.example\n0.0.0.0 evil.example\n"),
        ("URL_LIST", "http://198.51.100.7/x\nhttps://evil.example/y\n"),
    ],
)
def test_bom_crlf_and_utf16(fmt: str, body: str) -> None:
    expected = {"evil.example"} if fmt == "HOSTS" else {"198.51.100.7/32", "evil.example"}
    for data in (
        b"\xef\xbb\xbf" + body.replace("\n", "\r\n").encode(),
        body.replace("\n", "\r\n").encode("utf-16"),  # with its BOM, as Windows tools write it
    ):
        lst = parse_list(data, fmt, where="f", name="f")
        assert (entries(lst), lst.problems) == (expected, ())


@pytest.mark.parametrize("fmt", LIST_FORMATS)
def test_empty_file(fmt: str) -> None:
    for data in (b"", b"\n\r\n  \n", b"\xef\xbb\xbf"):
        lst = parse_list(data, fmt, where="empty", name="empty", category="Tor", kind="trusted")
        assert (len(lst), lst.problems, lst.kind, lst.category) == (0, (), "trusted", "Tor")


@pytest.mark.parametrize(
    ("fmt", "header"),
    [
        ("OTX_CSV", "Indicator type,Indicator,Description\n"),
        ("PROOF_POINT", "domain, category, score, first_seen, last_seen, ports (|)\n"),
        ("FIRE_EYE", (SAMPLES / "fireeye_isight.csv").read_text().splitlines()[0] + "\r\n"),
    ],
)
def test_header_only_csv(fmt: str, header: str) -> None:
    lst = parse_list(header.encode(), fmt, where="h.csv", name="h")
    assert (len(lst), lst.problems) == (0, ())


def test_fire_eye_without_network_columns() -> None:
    lst = parse_list(
        b"reportId,title,md5\n01-1,x,44d88612fea8a8f36de82e1278abb02f\n", "FIRE_EYE", where="f.csv", name="f"
    )
    assert [str(p) for p in lst.problems] == [
        "f.csv:1: no ip, cidr, domain or url column in the FireEye header: 'reportId'"
    ]


def test_otx_quoted_fields_and_no_header() -> None:
    data = b'URL,"http://198.51.100.9/a,b",  "C2, stage 2"\ndomain , "evil.example" ,x\n'
    lst = parse_list(data, "OTX_CSV", where="o.csv", name="o")
    assert (entries(lst), lst.problems) == ({"198.51.100.9/32", "evil.example"}, ())


def test_version_and_names_pass_through() -> None:
    lst = parse_list(
        b"198.51.100.7\n", "txt", where="https://intel.example/l.txt", name="partner", version="3f2a9c0d1e4b"
    )
    assert (lst.name, lst.source, lst.version, lst.kind, lst.category) == (
        "partner",
        "https://intel.example/l.txt",
        "3f2a9c0d1e4b",
        "threat",
        "custom",
    )


def test_a_million_line_txt_loads_whole(tmp_path: Path) -> None:
    """Every entry of a big list loads and the one bad line is named (speed: benchmarks/intel.py)."""
    n = 1_000_000
    i = pl.int_range(n, eager=True)
    lines = (
        pl.DataFrame({"i": i})
        .select(
            pl.when(pl.col("i") % 10 == 0)
            .then(pl.format("host{}.evil.example", pl.col("i")))
            .when(pl.col("i") % 10 == 1)
            .then(pl.format("2001:db8::{}", (pl.col("i") % 9999) + 1))
            .otherwise(
                pl.format(
                    "{}.{}.{}.0/24",
                    pl.col("i") // 65536 % 223 + 1,
                    pl.col("i") // 256 % 256,
                    pl.col("i") % 256,
                )
            )
        )
        .to_series()
    )
    path = tmp_path / "big.txt"
    path.write_text("\n".join(lines.to_list()) + "\nnot an entry\n")
    lst = load_list(path)
    assert lst.domains.height == n // 10
    assert lst.ipv6.height == 9999
    assert [p.line for p in lst.problems] == [n + 1]
