"""Threat and trusted lists in every format keibi reads, held as join tables.

A list holds IPv4 and IPv6 addresses and CIDRs, and domains. ``*.example.org`` is taken as
``example.org``; a domain always covers its subdomains, as in GuardDuty's entity lists, so
the two mean the same. A CIDR with host bits set is masked to its network (``10.1.2.3/8`` is
``10.0.0.0/8``). Domains are compared lower-case without the root dot; an internationalised
name is stored in its ``xn--`` form, the one DNS logs carry. ``evil[.]example`` (a "defanged"
entry, common in shared indicators) is read as ``evil.example``.

Formats (:data:`LIST_FORMATS`, readers in ``keibi.intel.formats``): GuardDuty's ``TXT``,
``STIX``, ``OTX_CSV``, ``ALIEN_VAULT``, ``PROOF_POINT``, ``FIRE_EYE``, and the feed layouts
``HOSTS``, ``URL_LIST`` and ``SPAMHAUS_DROP``. Files are UTF-8 (a BOM is fine) or UTF-16 with
a BOM; line ends may be CRLF.

A bad entry does not stop the load: it is skipped and recorded in :attr:`IntelList.problems`
as an ``InputError`` naming the file and line (``list.txt:12: not an IP, CIDR or domain:
'foo bar'``), and the good entries load. Only a file that cannot be read at all (missing,
not text, not JSON for STIX, an unknown format) raises ``ConfigError``. At most
:data:`MAX_PROBLEMS` problems are itemised, then one line says how many more were skipped.

Parsing is vectorised: each address family is parsed in its own pass over only the rows that
look like it, so a list of millions of entries loads in seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

import polars as pl

from keibi.errors import ConfigError, InputError
from keibi.intel.addresses import v4_mask, v6_masks
from keibi.intel.fetch import ungzipped
from keibi.intel.formats import LIST_FORMATS, UnreadableListError, read_candidates
from keibi.intel.formats.txt import read_txt

ListKind = Literal["threat", "trusted"]
# The (account_id, region) pairs whose records a list applies to; ``None`` on a list: every record.
Scope = frozenset[tuple[str, str]]

MAX_PROBLEMS: Final = 100

_V4: Final = r"^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$"
_V6_FULL: Final = r"^([0-9a-f]{1,4}:){7}[0-9a-f]{1,4}$"
_DOMAIN: Final = r"^([a-z0-9_]([a-z0-9_-]*[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$"
_V6_ZEROS: Final = {k: ":".join(["0"] * k) for k in range(1, 9)}
_V4_MASKS: Final = {p: v4_mask(p) for p in range(33)}
_HI_MASKS: Final = {p: v6_masks(p)[0] for p in range(129)}
_LO_MASKS: Final = {p: v6_masks(p)[1] for p in range(129)}

# What a candidate had to be (its ``want``) → the problem message when it is not.
_NOT_WANTED: Final = {
    None: "not an IP, CIDR or domain",
    "ip": "not an IP address or CIDR",
    "domain": "not a domain name",
    "host": "not a URL with an IP address or domain as host",
}

IPV4_SCHEMA: Final = pl.Schema({"net": pl.UInt32(), "prefix_len": pl.UInt8()})
IPV6_SCHEMA: Final = pl.Schema({"hi": pl.UInt64(), "lo": pl.UInt64(), "prefix_len": pl.UInt8()})
DOMAIN_SCHEMA: Final = pl.Schema({"domain": pl.String(), "labels": pl.UInt32()})


@dataclass(frozen=True, eq=False)
class IntelList:
    """One threat or trusted list, held as tables ready for joins.

    ``ipv4``: (``net`` UInt32, ``prefix_len`` UInt8), a single address being ``/32``;
    ``ipv6``: (``hi``, ``lo`` UInt64, ``prefix_len``); ``domains``: (``domain``, ``labels``
    = how many dot-separated labels). ``category`` is ``"custom"`` for a user's list and the
    threat family (``"CryptoCurrency"``) for a feed. ``version`` is the store's id of the
    content the tables came from (None for a file read directly); ``problems`` are the
    entries that were skipped, each naming its file and line. ``scope``: the (account, region)
    pairs the list belongs to (a list made through the API applies to its own account and
    Region and its administrator's members, as GuardDuty's do); ``None``, every record's.

    >>> bad = IntelList.from_entries("bad-actors", ["203.0.113.0/24", "*.evil.example"])
    >>> len(bad)
    2
    """

    name: str
    kind: ListKind = "threat"
    category: str = "custom"
    builtin: bool = False
    ipv4: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=IPV4_SCHEMA))
    ipv6: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=IPV6_SCHEMA))
    domains: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=DOMAIN_SCHEMA))
    source: str | None = None
    version: str | None = None
    problems: tuple[InputError, ...] = ()
    scope: Scope | None = None

    def __len__(self) -> int:
        return self.ipv4.height + self.ipv6.height + self.domains.height

    @classmethod
    def from_entries(
        cls,
        name: str,
        entries: Iterable[str],
        *,
        kind: ListKind = "threat",
        category: str = "custom",
        builtin: bool = False,
    ) -> IntelList:
        """A list from entries in TXT syntax (for lists built in code and for tests)."""
        return _build(
            read_txt("\n".join(entries)),
            where=name,
            name=name,
            kind=kind,
            category=category,
            builtin=builtin,
            version=None,
        )


def parse_list(
    data: bytes,
    fmt: str,
    *,
    where: str,
    name: str,
    kind: ListKind = "threat",
    category: str = "custom",
    builtin: bool = False,
    version: str | None = None,
    now: datetime | None = None,
) -> IntelList:
    """A list from the bytes of a file in ``fmt`` (one of :data:`LIST_FORMATS`, any case).

    ``where`` names the file in problems and errors (a path or URL). ``now`` (default: the
    current time) decides which STIX indicators have expired. Gzipped bytes (a ``.gz`` list
    on disk) are undone first. Raises ``ConfigError`` for an unknown format or a file that
    cannot be read as a whole; bad entries become problems.
    """
    fmt_name = fmt.strip().upper()
    if fmt_name not in LIST_FORMATS:
        raise ConfigError(f"unknown list format {fmt!r} (expected one of: {', '.join(LIST_FORMATS)})", where)
    try:
        data = ungzipped(data, where)
    except ConfigError as exc:
        raise ConfigError(f"cannot read {kind} list {where}: {exc.reason}") from None
    text = _decode(data, where=where, kind=kind)
    if not text.strip():  # an empty file is an empty list in every format, STIX included
        return IntelList(
            name=name, kind=kind, category=category, builtin=builtin, source=where, version=version
        )
    try:
        found = read_candidates(text, fmt_name, now=now or datetime.now(UTC))
    except UnreadableListError as exc:
        raise ConfigError(f"cannot read {kind} list {where}: {exc}") from None
    return _build(
        found, where=where, name=name, kind=kind, category=category, builtin=builtin, version=version
    )


def load_list(
    path: str | Path,
    fmt: str = "TXT",
    *,
    name: str | None = None,
    kind: ListKind = "threat",
    category: str = "custom",
    builtin: bool = False,
    now: datetime | None = None,
) -> IntelList:
    """Read a list file in ``fmt``; its name defaults to the file name without extension.

    Raises ``ConfigError`` when the file cannot be read (``cannot read threat list …``);
    entries that are not valid are in the result's ``problems``.
    """
    where = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {kind} list {where}: {exc.strerror or exc}") from None
    list_name = name if name is not None else Path(path).stem
    return parse_list(
        data, fmt, where=where, name=list_name, kind=kind, category=category, builtin=builtin, now=now
    )


def load_txt(
    path: str | Path,
    *,
    name: str | None = None,
    kind: ListKind = "threat",
    category: str = "custom",
    builtin: bool = False,
) -> IntelList:
    """Read a list in GuardDuty's TXT format (:func:`load_list` with ``"TXT"``)."""
    return load_list(path, "TXT", name=name, kind=kind, category=category, builtin=builtin)


def _decode(data: bytes, *, where: str, kind: str) -> str:
    codec = "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"cannot read {kind} list {where}: not {codec.upper().removesuffix('-SIG')} text "
            f"({exc.reason} at byte {exc.start})"
        ) from None


def _build(
    found: pl.DataFrame,
    *,
    where: str,
    name: str,
    kind: ListKind,
    category: str,
    builtin: bool,
    version: str | None,
) -> IntelList:
    """Classify candidates (``keibi.intel.formats``) into the join tables and the problems."""
    rows = found.lazy().with_row_index("_i")
    text = pl.col("entry").str.strip_chars().str.replace_all("[.]", ".", literal=True)
    parts = text.str.splitn("/", 2)
    rows = rows.with_columns(
        addr=parts.struct.field("field_0"), plen_text=parts.struct.field("field_1")
    ).with_columns(
        plen=pl.when(pl.col("plen_text").str.contains(r"^[0-9]{1,3}$"))
        .then(pl.col("plen_text").cast(pl.Int64, strict=False))
        .otherwise(None),
        has_slash=pl.col("plen_text").is_not_null(),
        family=pl.when(pl.col("reason").is_not_null() | pl.col("addr").is_null())
        .then(pl.lit("bad"))
        .when(pl.col("addr").str.contains(_V4))
        .then(pl.lit("v4"))
        .when(pl.col("addr").str.contains(":", literal=True))
        .then(pl.lit("v6"))
        .otherwise(pl.lit("name")),
    )
    rows = rows.collect().lazy()  # shared by the three family passes below
    want = pl.col("want")
    # A prefix length, when there is a slash, must be there and fit the family.
    plen_ok = [(~pl.col("has_slash") | (pl.col("plen") <= bits)).fill_null(False) for bits in (32, 128)]
    ip_wanted = want.is_null() | (want == "ip") | ((want == "host") & ~pl.col("has_slash"))

    v4 = _ipv4(rows.filter(pl.col("family") == "v4")).with_columns(
        ok=(pl.col("v4").is_not_null() & plen_ok[0] & ip_wanted).fill_null(False)
    )
    v6 = _ipv6(rows.filter(pl.col("family") == "v6")).with_columns(
        ok=(pl.col("hi").is_not_null() & plen_ok[1] & ip_wanted).fill_null(False)
    )
    names = _names(rows.filter(pl.col("family") == "name"))
    names = names.with_columns(
        ok=(
            ~pl.col("has_slash")
            & pl.col("host").str.contains(_DOMAIN)
            & ~pl.col("host").str.contains(r"(^|\.)[0-9]+$")  # a numeric last label is a broken IP
            & (want.is_null() | want.is_in(["domain", "host"]))
        ).fill_null(False)
    )

    ipv4 = v4.filter("ok").select(
        (pl.col("v4") & pl.col("plen").fill_null(32).replace_strict(_V4_MASKS, return_dtype=pl.UInt32)).alias(
            "net"
        ),
        pl.col("plen").fill_null(32).cast(pl.UInt8).alias("prefix_len"),
    )
    plen6 = pl.col("plen").fill_null(128)
    ipv6 = v6.filter("ok").select(
        (pl.col("hi") & plen6.replace_strict(_HI_MASKS, return_dtype=pl.UInt64)).alias("hi"),
        (pl.col("lo") & plen6.replace_strict(_LO_MASKS, return_dtype=pl.UInt64)).alias("lo"),
        plen6.cast(pl.UInt8).alias("prefix_len"),
    )
    domains = names.filter("ok").select(
        pl.col("host").alias("domain"),
        (pl.col("host").str.count_matches(".", literal=True) + 1).alias("labels"),
    )
    problem_columns = ["_i", "line", "shown", "want", "label", "reason"]
    bad = pl.concat(
        [
            rows.filter(pl.col("family") == "bad").select(problem_columns),
            *(part.filter(~pl.col("ok")).select(problem_columns) for part in (v4, v6, names)),
        ]
    ).sort("_i")
    ipv4_df, ipv6_df, domains_df, bad_df = pl.collect_all(
        [
            ipv4.unique(maintain_order=True).cast(IPV4_SCHEMA),
            ipv6.unique(maintain_order=True).cast(IPV6_SCHEMA),
            domains.unique(maintain_order=True).cast(DOMAIN_SCHEMA),
            bad,
        ]
    )
    return IntelList(
        name=name,
        kind=kind,
        category=category,
        builtin=builtin,
        ipv4=ipv4_df,
        ipv6=ipv6_df,
        domains=domains_df,
        source=where,
        version=version,
        problems=_problems(bad_df, where),
    )


def _ipv4(rows: pl.LazyFrame) -> pl.LazyFrame:
    """``v4`` (UInt32) from ``addr`` already shaped like ``a.b.c.d``; null when an octet is over 255."""
    octets = pl.col("addr").str.split_exact(".", 3)
    rows = rows.with_columns(
        octets.struct.field(f"field_{i}").cast(pl.UInt32, strict=False).alias(f"_o{i}") for i in range(4)
    )
    o = [pl.col(f"_o{i}") for i in range(4)]
    value = o[0] * 16777216 + o[1] * 65536 + o[2] * 256 + o[3]
    return rows.with_columns(
        v4=pl.when(pl.all_horizontal([x <= 255 for x in o])).then(value).otherwise(None).cast(pl.UInt32)
    )


def _ipv6(rows: pl.LazyFrame) -> pl.LazyFrame:
    """``hi``, ``lo`` (UInt64 halves) from ``addr`` holding a ``:``; null when not IPv6.

    ``::`` is expanded by counting the groups on each side (no per-value lists), a zone id
    (``%eth0``) dropped. IPv4-embedded forms (``::ffff:192.0.2.1``) are not taken.
    """
    text = pl.col("addr").str.to_lowercase().str.replace(r"%.*$", "")
    rows = rows.with_columns(_t=text)
    halves = pl.col("_t").str.splitn("::", 2)
    rows = rows.with_columns(_left=halves.struct.field("field_0"), _right=halves.struct.field("field_1"))

    def groups(side: pl.Expr) -> pl.Expr:
        return pl.when(side == "").then(0).otherwise(side.str.count_matches(":", literal=True) + 1)

    missing = pl.lit(8) - groups(pl.col("_left")) - groups(pl.col("_right").fill_null(""))
    zeros = missing.replace_strict(_V6_ZEROS, default=None, return_dtype=pl.String)
    left_sep = pl.when(pl.col("_left") != "").then(pl.lit(":")).otherwise(pl.lit(""))
    right_sep = pl.when(pl.col("_right") != "").then(pl.lit(":")).otherwise(pl.lit(""))
    full = (
        pl.when(pl.col("_right").is_not_null())
        .then(pl.concat_str([pl.col("_left"), left_sep, zeros, right_sep, pl.col("_right")]))
        .otherwise(pl.col("_t"))
    )
    rows = rows.with_columns(_full=full).with_columns(_valid=pl.col("_full").str.contains(_V6_FULL))
    parts = pl.col("_full").str.split_exact(":", 7)
    rows = rows.with_columns(
        parts.struct.field(f"field_{i}").str.to_integer(base=16, strict=False).cast(pl.UInt64).alias(f"_g{i}")
        for i in range(8)
    )
    g = [pl.col(f"_g{i}") for i in range(8)]

    def half(start: int) -> pl.Expr:
        words = [g[start + i] * pl.lit(1 << (16 * (3 - i)), pl.UInt64) for i in range(4)]
        value = (words[0] + words[1] + words[2] + words[3]).cast(pl.UInt64)
        return pl.when(pl.col("_valid").fill_null(False)).then(value).otherwise(None)

    return rows.with_columns(hi=half(0), lo=half(4))


def _names(rows: pl.LazyFrame) -> pl.LazyFrame:
    """``host``: the entry as a domain (lower-case, no root dot or ``*.``, IDN as ``xn--``)."""
    host = pl.col("addr").str.strip_chars().str.to_lowercase().str.strip_chars_end(".").str.strip_prefix("*.")
    rows = rows.with_columns(host=host)
    foreign = (
        rows.filter(pl.col("host").str.contains(r"[^\x00-\x7f]")).select(pl.col("host").unique()).collect()
    )
    if foreign.is_empty():
        return rows
    # Few names in a list are internationalised; Polars has no IDNA, so these go through Python.
    return rows.with_columns(host=pl.col("host").replace(_punycode(foreign["host"].to_list())))


def _punycode(hosts: list[str]) -> dict[str, str]:
    found = {}
    for host in hosts:
        try:
            found[host] = host.encode("idna").decode("ascii")
        except UnicodeError:
            continue
    return found


def _problems(bad: pl.DataFrame, where: str) -> tuple[InputError, ...]:
    """One ``InputError`` per skipped entry, the first :data:`MAX_PROBLEMS` of them."""
    problems = []
    for line, shown, want, label, reason in (
        bad.head(MAX_PROBLEMS).select("line", "shown", "want", "label", "reason").iter_rows()
    ):
        if reason is not None and not shown:
            message = reason
        else:
            message = f"{reason or _NOT_WANTED.get(want, _NOT_WANTED[None])}: {shown or ''!r}"
        problems.append(InputError(where, line, f"{label}: {message}" if label else message))
    if bad.height > MAX_PROBLEMS:
        problems.append(
            InputError(where, None, f"{bad.height - MAX_PROBLEMS} more bad entries skipped (not listed)")
        )
    return tuple(problems)
