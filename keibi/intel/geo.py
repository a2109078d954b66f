"""Where a remote address is: country, city, coordinates, ASN and organisation, offline.

GuardDuty fills a finding's ``remoteIpDetails`` from GeoIP and ASN data; keibi does the same
without calling out, from two sources:

- **Country** of every public address from ``iptocc``, which ships its own country database
  (built from the regional registries' delegations): no configuration needed.
- **City, coordinates, ASN and organisation** from MaxMind-format databases the operator
  supplies: ``[intel] geoip_city`` (GeoLite2-City, GeoIP2-City or DB-IP Lite City: ``city.names.en``,
  ``location.latitude``/``longitude``, ``country.iso_code``) and ``[intel] geoip_asn``
  (GeoLite2-ASN or DB-IP Lite ASN: ``autonomous_system_number``,
  ``autonomous_system_organization``). Neither database names an ISP or an organisation
  beyond the AS's owner, so ``isp`` and ``org`` are filled only from a database that has them
  (GeoIP2-ISP's ``isp``/``organization``, or ``traits.*`` in GeoIP2-Enterprise), never copied
  from the AS name. Read with ``maxminddb`` (``MODE_AUTO``: the C reader, memory-mapped).

Which country wins: the City database's, when it has one for the address. It comes from the
same record as the city and coordinates, so the three agree, and an operator who configures a
City database usually refreshes it more often than keibi's release cycle refreshes iptocc.
Without one (or when its record has no country) iptocc's country is used.
``countryName`` always comes from the table shipped as ``keibi/intel/data/countries.csv`` (ISO
3166-1 alpha-2 codes with short English names, from Debian's iso-codes 4.15 with the long
official forms shortened as GeoNames and GeoLite2 write them: Russia, South Korea, DR Congo;
plus XK Kosovo), so one country has one spelling whichever source named it and filters on
``countryName`` stay reliable. A code the table lacks takes the City record's English name, or
no name.

Addresses that are not public get nothing, as in GuardDuty: private (RFC 1918, fc00::/7),
shared (100.64.0.0/10), loopback, link-local (including the instance metadata service,
169.254.169.254 and fd00:ec2::254), multicast, reserved and documentation ranges. Host names
(``ec2.amazonaws.com`` as a CloudTrail caller) and text such as ``AWS Internal`` are not
addresses and get nothing either. Whatever a source does not know is left out, never guessed.

Cost: unlike the rest of ``keibi.intel`` this is a Python loop, one C-reader call per address,
over the DISTINCT addresses it is given. It runs when findings are built, on the few addresses
findings name, never in detectors. Results are kept in a per-instance LRU cache of
:data:`CACHE_SIZE` addresses; a run holds one ``GeoIP`` (``Intel.geo``), so repeats of the same
attacker across batches cost one dictionary lookup.
"""

from __future__ import annotations

import csv
import ipaddress
import math
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Final, Literal

import iptocc
import maxminddb
import polars as pl

from keibi.errors import ConfigError

CACHE_SIZE: Final = 100_000  # addresses kept per GeoIP (a few hundred bytes each)

GEO_SCHEMA: Final = pl.Schema(
    {
        "value": pl.String(),
        "country_code": pl.String(),
        "country_name": pl.String(),
        "city": pl.String(),
        "lat": pl.Float64(),
        "lon": pl.Float64(),
        "asn": pl.Int64(),
        "asn_org": pl.String(),
        "isp": pl.String(),
        "org": pl.String(),
    }
)

_Kind = Literal["City", "ASN"]


@dataclass(frozen=True, slots=True)
class GeoRecord:
    """What is known about one address; ``None`` where nothing is."""

    country_code: str | None = None
    country_name: str | None = None
    city: str | None = None
    lat: float | None = None
    lon: float | None = None
    asn: int | None = None
    asn_org: str | None = None
    isp: str | None = None
    org: str | None = None


_NOTHING: Final = GeoRecord()


class GeoIP:
    """Country (iptocc) and, when configured, City and ASN databases, with a bounded cache.

    >>> geo = GeoIP()  # country only
    >>> geo.remote_ip_details("8.8.8.8")
    {'ipAddressV4': '8.8.8.8', 'country': {'countryCode': 'US', 'countryName': 'United States'}}
    >>> geo.remote_ip_details("10.0.0.5")
    {'ipAddressV4': '10.0.0.5'}
    """

    def __init__(
        self,
        *,
        city: maxminddb.Reader | None = None,
        asn: maxminddb.Reader | None = None,
        city_path: str | None = None,
        asn_path: str | None = None,
    ) -> None:
        """Prefer :meth:`open`; ``city``/``asn`` are open ``maxminddb`` readers (or None)."""
        self._city = city
        self._asn = asn
        self.city_path = city_path
        self.asn_path = asn_path
        self._cache: OrderedDict[str, GeoRecord] = OrderedDict()

    @classmethod
    def open(cls, city: str | Path | None = None, asn: str | Path | None = None) -> GeoIP:
        """Open the operator's databases (either may be None).

        Raises ``ConfigError`` naming the file when it is missing, not a MaxMind DB, or
        plainly the other kind (an ASN database given as the City one, or the reverse).
        """
        city_reader = _open(city, "City") if city is not None else None
        try:
            asn_reader = _open(asn, "ASN") if asn is not None else None
        except ConfigError:
            if city_reader is not None:
                city_reader.close()
            raise
        return cls(
            city=city_reader,
            asn=asn_reader,
            city_path=None if city is None else str(city),
            asn_path=None if asn is None else str(asn),
        )

    def close(self) -> None:
        """Release the database files (the cache stays usable)."""
        for reader in (self._city, self._asn):
            if reader is not None:
                reader.close()
        self._city = self._asn = None

    def __enter__(self) -> GeoIP:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lookup(self, values: pl.Series) -> pl.DataFrame:
        """One row per distinct non-null value (first-seen order), columns :data:`GEO_SCHEMA`.

        Values that are not public IP addresses get a row of nulls, so the result joins back
        on ``value`` without losing rows.
        """
        distinct = values.cast(pl.String).drop_nulls().unique(maintain_order=True).to_list()
        records = self._records(distinct)
        columns: dict[str, list[Any]] = {name: [] for name in GEO_SCHEMA.names()}
        for value, rec in zip(distinct, records, strict=True):
            columns["value"].append(value)
            for name in GEO_SCHEMA.names()[1:]:
                columns[name].append(getattr(rec, name))
        return pl.DataFrame(columns, schema=GEO_SCHEMA)

    def record(self, address: str) -> GeoRecord:
        """What is known about one address (all ``None`` for one that is not public)."""
        return self._records([address])[0]

    def remote_ip_details(self, address: str | None) -> dict[str, Any] | None:
        """GuardDuty's ``RemoteIpDetails`` for ``address``; None when it is not an IP address.

        ``ipAddressV4``/``ipAddressV6``, then ``country``, ``city``, ``geoLocation`` and
        ``organization`` (``asn`` as a string, as GuardDuty writes it), each only when known.
        """
        ip = _parse(address)
        if ip is None or address is None:
            return None
        out: dict[str, Any] = {"ipAddressV4": str(ip)} if ip.version == 4 else {"ipAddressV6": str(ip)}
        rec = self.record(address)
        country = _clean({"countryCode": rec.country_code, "countryName": rec.country_name})
        if country:
            out["country"] = country
        if rec.city:
            out["city"] = {"cityName": rec.city}
        if rec.lat is not None and rec.lon is not None:
            out["geoLocation"] = {"lat": rec.lat, "lon": rec.lon}
        organization = _clean(
            {
                "asn": None if rec.asn is None else str(rec.asn),
                "asnOrg": rec.asn_org,
                "isp": rec.isp,
                "org": rec.org,
            }
        )
        if organization:
            out["organization"] = organization
        return out

    def _records(self, addresses: list[str]) -> list[GeoRecord]:
        """Records for ``addresses`` (distinct or not), resolving the uncached ones in one batch."""
        missing = list(dict.fromkeys(a for a in addresses if a not in self._cache))
        found = dict(zip(missing, self._resolve(missing), strict=True)) if missing else {}
        out = []
        for address in addresses:
            rec = found.get(address)
            if rec is None:
                rec = self._cache[address]
                self._cache.move_to_end(address)
            out.append(rec)
        self._cache.update(found)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return out

    def _resolve(self, addresses: list[str]) -> list[GeoRecord]:
        public: list[tuple[int, str]] = []  # (position, address as the readers take it)
        for i, address in enumerate(addresses):
            ip = _parse(address)
            if ip is None:
                continue
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            if ip.is_global and not ip.is_multicast:
                public.append((i, str(ip)))
        out = [_NOTHING] * len(addresses)
        if not public:
            return out
        codes = iptocc.country_code([text for _, text in public])
        for (i, text), code in zip(public, codes, strict=True):
            out[i] = self._record(text, code)
        return out

    def _record(self, address: str, registry_code: str | None) -> GeoRecord:
        city = _get(self._city, address, self.city_path)
        asn = _get(self._asn, address, self.asn_path)
        city_code = (_text(city, "country", "iso_code") or "").upper() or None
        code = city_code or registry_code
        name = country_names().get(code) if code else None
        if name is None and city_code:
            name = _text(city, "country", "names", "en")
        lat = _number(city, "location", "latitude", bound=90.0)
        lon = _number(city, "location", "longitude", bound=180.0)
        if lat is None or lon is None:
            lat = lon = None
        number = _integer(asn, "autonomous_system_number")
        if number is None:
            number = _integer(asn, "traits", "autonomous_system_number")
        return GeoRecord(
            country_code=code,
            country_name=name,
            city=_text(city, "city", "names", "en"),
            lat=lat,
            lon=lon,
            asn=number,
            asn_org=_text(asn, "autonomous_system_organization")
            or _text(asn, "traits", "autonomous_system_organization"),
            isp=_text(asn, "isp") or _text(asn, "traits", "isp"),
            org=_text(asn, "organization") or _text(asn, "traits", "organization"),
        )


@cache
def country_names() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code → short English name (the shipped ``data/countries.csv``)."""
    text = files("keibi.intel").joinpath("data/countries.csv").read_text(encoding="utf-8")
    return {row["code"]: row["name"] for row in csv.DictReader(text.splitlines())}


def _open(path: str | Path, kind: _Kind) -> maxminddb.Reader:
    where = str(path)
    try:
        reader = maxminddb.open_database(path, maxminddb.MODE_AUTO)
    except OSError as exc:
        raise ConfigError(f"cannot read GeoIP {kind} database: {exc.strerror or exc}", where) from None
    except (maxminddb.InvalidDatabaseError, ValueError):
        raise ConfigError(f"not a MaxMind DB file (a GeoIP {kind} database was expected)", where) from None
    db_type = str(reader.metadata().database_type)
    lowered = db_type.lower()
    wrong = (
        "asn" in lowered and "city" not in lowered
        if kind == "City"
        else "city" in lowered and "asn" not in lowered and "isp" not in lowered
    )
    if wrong:
        reader.close()
        expected = (
            "a City database (GeoLite2-City, DB-IP Lite City)"
            if kind == "City"
            else "an ASN database (GeoLite2-ASN, DB-IP Lite ASN)"
        )
        raise ConfigError(f"is a {db_type} database; expected {expected}", where)
    return reader


def _get(reader: maxminddb.Reader | None, address: str, where: str | None) -> object:
    if reader is None:
        return None
    try:
        return reader.get(address)
    except (maxminddb.InvalidDatabaseError, ValueError) as exc:
        raise ConfigError(f"corrupt GeoIP database: {exc}", where) from None


def _parse(address: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not address:
        return None
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None


def _dig(record: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record


def _text(record: Any, *keys: str) -> str | None:
    value = _dig(record, *keys)
    return value.strip() or None if isinstance(value, str) else None


def _number(record: Any, *keys: str, bound: float) -> float | None:
    value = _dig(record, *keys)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) and -bound <= value <= bound else None


def _integer(record: Any, *keys: str) -> int | None:
    value = _dig(record, *keys)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if v is not None}


__all__ = ["CACHE_SIZE", "GEO_SCHEMA", "GeoIP", "GeoRecord", "country_names"]
