"""GeoIP: country from iptocc, city/coordinates/ASN from MaxMind-format databases the tests build."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import iptocc
import maxminddb
import polars as pl
import pytest
from mmdb_writer import MmdbF64, MmdbU32
from polars.testing import assert_frame_equal

from keibi.config import load_config
from keibi.errors import ConfigError
from keibi.intel import GeoIP, Intel
from keibi.intel import geo as geo_module
from keibi.intel.geo import GEO_SCHEMA, country_names
from tests.intel._geo_dbs import ASN, ATTACKER, ATTACKER_V6, CITY, asn_db, city_db, write_db


@pytest.fixture
def both(tmp_path: Path) -> Iterator[GeoIP]:
    with GeoIP.open(city=city_db(tmp_path), asn=asn_db(tmp_path)) as geo:
        yield geo


def test_public_ip_with_both_databases(both: GeoIP) -> None:
    assert both.remote_ip_details(ATTACKER) == {
        "ipAddressV4": ATTACKER,
        "country": {"countryCode": "RO", "countryName": "Romania"},
        "city": {"cityName": "Bucharest"},
        "geoLocation": {"lat": 44.4323, "lon": 26.1063},
        "organization": {"asn": "64500", "asnOrg": "EXAMPLE-TRANSIT"},
    }


def test_ipv6_with_both_databases(both: GeoIP) -> None:
    assert both.remote_ip_details(ATTACKER_V6) == {
        "ipAddressV6": ATTACKER_V6,
        "country": {"countryCode": "GB", "countryName": "United Kingdom"},
        "city": {"cityName": "London"},
        "geoLocation": {"lat": 51.5085, "lon": -0.1257},
        "organization": {"asn": "64501", "asnOrg": "EXAMPLE-V6-NET"},
    }


def test_country_only_without_databases() -> None:
    geo = GeoIP()
    assert geo.remote_ip_details(ATTACKER) == {
        "ipAddressV4": ATTACKER,
        "country": {"countryCode": "RO", "countryName": "Romania"},
    }
    assert geo.remote_ip_details("2001:67c:2e8::1") == {
        "ipAddressV6": "2001:67c:2e8::1",
        "country": {"countryCode": "NL", "countryName": "Netherlands"},
    }
    # An IPv4-mapped address is written as IPv6 (as ip_details does) but placed as IPv4.
    assert geo.remote_ip_details(f"::ffff:{ATTACKER}") == {
        "ipAddressV6": str(ipaddress.ip_address(f"::ffff:{ATTACKER}")),
        "country": {"countryCode": "RO", "countryName": "Romania"},
    }


def test_address_missing_from_the_databases_gets_the_country_only(both: GeoIP) -> None:
    assert both.remote_ip_details("45.33.32.156") == {
        "ipAddressV4": "45.33.32.156",
        "country": {"countryCode": "US", "countryName": "United States"},
    }


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.5",  # RFC 1918, and in the test databases: still nothing
        "172.16.4.4",
        "192.168.1.1",
        "100.64.0.1",  # shared address space
        "127.0.0.1",
        "169.254.169.254",  # instance metadata service
        "fd00:ec2::254",  # its IPv6 address
        "fe80::1",
        "::1",
        "224.0.0.251",  # multicast
        "240.0.0.1",  # reserved
        "192.0.2.44",  # documentation
        "2001:db8::7",
    ],
)
def test_non_public_addresses_get_nothing(both: GeoIP, address: str) -> None:
    details = both.remote_ip_details(address)
    assert details is not None
    assert set(details) == {"ipAddressV4" if ":" not in address else "ipAddressV6"}
    row = both.lookup(pl.Series([address])).row(0, named=True)
    assert row["value"] == address
    assert all(v is None for k, v in row.items() if k != "value")


@pytest.mark.parametrize("value", [None, "", "ec2.amazonaws.com", "AWS Internal", "999.1.1.1"])
def test_what_is_not_an_address_has_no_details(both: GeoIP, value: str | None) -> None:
    assert both.remote_ip_details(value) is None


def test_lookup_is_one_row_per_distinct_value_in_first_seen_order(both: GeoIP) -> None:
    values = pl.Series([ATTACKER, None, "10.0.0.5", ATTACKER, "ec2.amazonaws.com", "45.33.32.156"])
    expected = pl.DataFrame(
        {
            "value": [ATTACKER, "10.0.0.5", "ec2.amazonaws.com", "45.33.32.156"],
            "country_code": ["RO", None, None, "US"],
            "country_name": ["Romania", None, None, "United States"],
            "city": ["Bucharest", None, None, None],
            "lat": [44.4323, None, None, None],
            "lon": [26.1063, None, None, None],
            "asn": [64500, None, None, None],
            "asn_org": ["EXAMPLE-TRANSIT", None, None, None],
            "isp": [None, None, None, None],
            "org": [None, None, None, None],
        },
        schema=GEO_SCHEMA,
    )
    assert_frame_equal(both.lookup(values), expected)
    assert both.lookup(pl.Series([], dtype=pl.String)).schema == GEO_SCHEMA


def test_city_database_country_wins_over_iptocc(tmp_path: Path) -> None:
    """The City record's country agrees with its city and coordinates, so it is preferred."""
    moved = {"92.55.146.0/24": {**CITY["92.55.146.0/24"], "country": {"iso_code": "MD"}}}
    with GeoIP.open(city=city_db(tmp_path, moved)) as geo:
        details = geo.remote_ip_details(ATTACKER)
    assert details is not None
    assert details["country"] == {"countryCode": "MD", "countryName": "Moldova"}
    assert GeoIP().remote_ip_details(ATTACKER)["country"]["countryCode"] == "RO"  # type: ignore[index]


def test_country_name_comes_from_the_shipped_table_else_the_city_record(tmp_path: Path) -> None:
    networks = {
        "92.55.146.0/24": {"country": {"iso_code": "RU", "names": {"en": "Russian Federation"}}},
        "81.2.69.0/24": {"country": {"iso_code": "EU", "names": {"en": "Europe"}}},
        "45.33.32.0/24": {"country": {"iso_code": "ZZ"}},
    }
    with GeoIP.open(city=city_db(tmp_path, networks)) as geo:
        assert geo.record(ATTACKER).country_name == "Russia"  # one spelling, whatever the source
        assert (geo.record("81.2.69.142").country_code, geo.record("81.2.69.142").country_name) == (
            "EU",
            "Europe",
        )
        assert geo.remote_ip_details("45.33.32.156")["country"] == {"countryCode": "ZZ"}  # type: ignore[index]
    names = country_names()
    assert len(names) == 250
    assert (names["US"], names["KR"], names["CD"], names["XK"]) == (
        "United States",
        "South Korea",
        "DR Congo",
        "Kosovo",
    )


def test_isp_and_org_only_from_a_database_that_has_them(tmp_path: Path) -> None:
    """GeoIP2-ISP's layout names ISP and organisation; GeoLite2-ASN's does not (no copying)."""
    isp = {
        "92.55.128.0/17": {
            "autonomous_system_number": MmdbU32(64500),
            "autonomous_system_organization": "EXAMPLE-TRANSIT",
            "isp": "Example Telecom",
            "organization": "Example Hosting",
        }
    }
    path = write_db(tmp_path / "isp.mmdb", isp, database_type="GeoIP2-ISP")
    with GeoIP.open(asn=path) as geo:
        assert geo.remote_ip_details(ATTACKER)["organization"] == {  # type: ignore[index]
            "asn": "64500",
            "asnOrg": "EXAMPLE-TRANSIT",
            "isp": "Example Telecom",
            "org": "Example Hosting",
        }


def test_partial_or_odd_records_leave_members_out(tmp_path: Path) -> None:
    city = {
        "92.55.146.0/24": {"city": {"names": {"de": "Bukarest"}}, "location": {"latitude": MmdbF64(44.4)}},
        "81.2.69.0/24": {"location": {"latitude": MmdbF64(123.0), "longitude": MmdbF64(1.0)}},
        "45.33.32.0/24": {"city": "Fremont", "location": ["x"]},
    }
    asn = {"92.55.128.0/17": {"autonomous_system_organization": "NO-NUMBER"}, "81.2.69.0/24": "junk"}
    with GeoIP.open(city=city_db(tmp_path, city), asn=asn_db(tmp_path, asn)) as geo:
        assert geo.remote_ip_details(ATTACKER) == {
            "ipAddressV4": ATTACKER,
            "country": {"countryCode": "RO", "countryName": "Romania"},
            "organization": {"asnOrg": "NO-NUMBER"},
        }
        for address in ("81.2.69.142", "45.33.32.156"):
            details = geo.remote_ip_details(address)
            assert details is not None
            assert set(details) == {"ipAddressV4", "country"}


def test_databases_in_the_wrong_slot_or_broken_are_config_errors(tmp_path: Path) -> None:
    city, asn = city_db(tmp_path), asn_db(tmp_path)
    missing = tmp_path / "GeoLite2-City-missing.mmdb"
    with pytest.raises(ConfigError, match=f"^{missing}: cannot read GeoIP City database: "):
        GeoIP.open(city=missing)
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"not a database\n" * 10)
    with pytest.raises(ConfigError, match=f"^{junk}: not a MaxMind DB"):
        GeoIP.open(asn=junk)
    with pytest.raises(ConfigError, match=f"^{asn}: is a GeoLite2-ASN database; expected a City database"):
        GeoIP.open(city=asn)
    with pytest.raises(ConfigError, match=f"^{city}: is a GeoLite2-City database; expected an ASN database"):
        GeoIP.open(city=city, asn=city)


def test_results_are_cached_and_the_cache_is_bounded(both: GeoIP, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    real = iptocc.country_code

    def counting(addresses: Any) -> Any:
        calls.append(list(addresses))
        return real(addresses)

    monkeypatch.setattr(iptocc, "country_code", counting)
    monkeypatch.setattr(geo_module, "CACHE_SIZE", 2)
    both.lookup(pl.Series([ATTACKER, ATTACKER_V6, ATTACKER]))
    assert calls == [[ATTACKER, ATTACKER_V6]]  # one batch over the distinct public addresses
    assert both.record(ATTACKER).city == "Bucharest"  # cached: no new call
    assert len(calls) == 1
    both.lookup(pl.Series(["45.33.32.156"]))  # evicts the least recently used (ATTACKER_V6)
    assert both.record(ATTACKER_V6).city == "London"
    assert calls[1:] == [["45.33.32.156"], ["2a02:c7f:d0b2::7"]]


def test_intel_places_by_country_unless_given_databases(tmp_path: Path) -> None:
    default = Intel.with_builtin_feeds()
    assert default.geo is not None
    assert default.geo.city_path is None and default.geo.asn_path is None
    with GeoIP.open(city=city_db(tmp_path)) as geo:
        assert Intel.with_builtin_feeds(geo=geo).geo is geo
    assert Intel().geo is None


def test_config_paths_are_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "etc" / "keibi.toml"
    path.parent.mkdir()
    path.write_text('[intel]\ngeoip_city = "geo/GeoLite2-City.mmdb"\ngeoip_asn = "/srv/GeoLite2-ASN.mmdb"\n')
    cfg = load_config(path, environ={})
    assert cfg.intel.geoip_city == str(tmp_path / "etc" / "geo" / "GeoLite2-City.mmdb")
    assert cfg.intel.geoip_asn == "/srv/GeoLite2-ASN.mmdb"
    assert load_config(None, environ={}).intel.geoip_city is None
    path.write_text("[intel]\ngeoip_asn = 3\n")
    with pytest.raises(ConfigError, match=r"keibi\.toml:intel\.geoip_asn: must be a file path"):
        load_config(path, environ={})


def test_the_test_databases_hold_what_the_tests_expect(tmp_path: Path) -> None:
    """Guards the fixtures themselves: maxminddb reads back the records written."""
    with maxminddb.open_database(city_db(tmp_path)) as reader:
        assert reader.metadata().database_type == "GeoLite2-City"
        assert reader.get(ATTACKER)["city"]["names"]["en"] == "Bucharest"  # type: ignore[index,call-overload]


def test_db_ip_lite_databases_are_read_the_same_way(tmp_path: Path) -> None:
    """DB-IP Lite City/ASN use GeoLite2's record layout under their own database types."""
    city = write_db(tmp_path / "dbip-city-lite.mmdb", CITY, database_type="DBIP-City-Lite")
    asn = write_db(tmp_path / "dbip-asn-lite.mmdb", ASN, database_type="DBIP-ASN-Lite (compat=GeoLite2-ASN)")
    with GeoIP.open(city=city, asn=asn) as geo:
        details = geo.remote_ip_details(ATTACKER)
    assert details is not None
    assert (details["city"], details["organization"]) == (
        {"cityName": "Bucharest"},
        {"asn": "64500", "asnOrg": "EXAMPLE-TRANSIT"},
    )


def test_corrupt_data_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = city_db(tmp_path)
    with maxminddb.open_database(path) as reader:
        meta = reader.metadata()
        data_start = meta.node_count * meta.record_size * 2 // 8 + 16
    raw = bytearray(path.read_bytes())
    end = raw.rfind(b"\xab\xcd\xefMaxMind.com")
    raw[data_start:end] = bytes(0xFF if i % 2 else 0 for i in range(end - data_start))
    path.write_bytes(bytes(raw))
    with (
        GeoIP.open(city=path) as geo,
        pytest.raises(ConfigError, match=f"^{path}: corrupt GeoIP database: "),
    ):
        geo.record(ATTACKER)
