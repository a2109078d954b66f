"""Small MaxMind-format databases the geo tests write themselves (no GeoLite2 download).

They use the record layouts of GeoLite2-City / DB-IP Lite City and GeoLite2-ASN / DB-IP Lite
ASN, in an IPv6 tree holding IPv4 under ``::/96`` as the real files do. The ASNs are from the
documentation range (RFC 5398) and the organisations are invented: only the layout is real.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from mmdb_writer import MmdbF64, MmdbU32, MMDBWriter
from netaddr import IPSet  # type: ignore[import-untyped]

ATTACKER: Final = "92.55.146.245"  # sourceIPAddress of the compromised-root-creds scenario
ATTACKER_V6: Final = "2a02:c7f:d0b2::7"

CITY: Final[dict[str, dict[str, Any]]] = {
    "92.55.146.0/24": {
        "city": {"geoname_id": 683506, "names": {"en": "Bucharest", "ro": "București"}},
        "continent": {"code": "EU", "names": {"en": "Europe"}},
        "country": {"iso_code": "RO", "names": {"en": "Romania"}},
        "location": {
            "accuracy_radius": 20,
            "latitude": MmdbF64(44.4323),
            "longitude": MmdbF64(26.1063),
            "time_zone": "Europe/Bucharest",
        },
    },
    "2a02:c7f::/32": {
        "city": {"names": {"en": "London"}},
        "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
        "location": {"latitude": MmdbF64(51.5085), "longitude": MmdbF64(-0.1257)},
    },
    # A private range the database (wrongly) places: keibi must not even ask.
    "10.0.0.0/8": {
        "city": {"names": {"en": "Nowhere"}},
        "country": {"iso_code": "US", "names": {"en": "United States"}},
        "location": {"latitude": MmdbF64(1.0), "longitude": MmdbF64(1.0)},
    },
}

ASN: Final[dict[str, dict[str, Any]]] = {
    "92.55.128.0/17": {
        "autonomous_system_number": MmdbU32(64500),
        "autonomous_system_organization": "EXAMPLE-TRANSIT",
    },
    "2a02:c7f::/32": {
        "autonomous_system_number": MmdbU32(64501),
        "autonomous_system_organization": "EXAMPLE-V6-NET",
    },
    "10.0.0.0/8": {"autonomous_system_number": MmdbU32(64502), "autonomous_system_organization": "PRIVATE"},
}


def write_db(path: Path, networks: Mapping[str, Any], *, database_type: str = "GeoLite2-City") -> Path:
    """``networks`` (CIDR → record, usually a map) as a MaxMind DB at ``path``."""
    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type=database_type,
        languages=["en"],
        description="keibi test database",
    )
    for cidr, record in networks.items():
        writer.insert_network(IPSet([cidr]), record)
    writer.to_db_file(str(path))
    return path


def city_db(folder: Path, networks: Mapping[str, Any] = CITY) -> Path:
    return write_db(folder / "GeoLite2-City.mmdb", networks, database_type="GeoLite2-City")


def asn_db(folder: Path, networks: Mapping[str, Any] = ASN) -> Path:
    return write_db(folder / "GeoLite2-ASN.mmdb", networks, database_type="GeoLite2-ASN")
