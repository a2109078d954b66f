"""IP addresses and domain names as Polars expressions: parse, classify, normalise.

Everything here works on whole columns. Addresses become integers so CIDR membership is a
mask and a hash join (see ``keibi.intel.match``):

- IPv4 ``a.b.c.d`` → UInt32. Octets are read as decimal, so a leading zero does not make the
  value octal: LogLicker's anonymised ``08.1.250.216`` reads as 8.1.250.216 and
  ``255.18.064.253`` as 255.18.64.253 (AWS itself never writes leading zeros). An octet over
  255, a missing octet or any other character makes the address invalid: null, never an error.
- IPv6 → two UInt64 halves (``hi``, ``lo``) after expanding ``::``. A zone id (``%eth0``) is
  dropped. An IPv4-mapped address in its dotted form (``::ffff:1.2.3.4``, as dual-stack
  sockets report IPv4 peers) is the IPv4 host: :func:`address_table` gives it ``v4``, so it
  matches IPv4 entries and ranges; the hex form (``::ffff:102:304``) stays IPv6.
- Domains are compared lower-case, trimmed, without the trailing root dot.
"""

from __future__ import annotations

from typing import Final

import polars as pl

_V4_PATTERN: Final = r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$"
_V6_FULL: Final = r"^([0-9a-f]{1,4}:){7}[0-9a-f]{1,4}$"
_V4_MAPPED: Final = r"(?i)^(?:0{0,4}:){0,5}:?ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$"

# Non-routable IPv4 ranges that mark "our side" of a flow: RFC 1918, shared address space
# (RFC 6598, used by some AWS services and carrier NAT), loopback and link-local.
PRIVATE_V4: Final[tuple[tuple[str, int], ...]] = (
    ("10.0.0.0", 8),
    ("172.16.0.0", 12),
    ("192.168.0.0", 16),
    ("100.64.0.0", 10),
    ("127.0.0.0", 8),
    ("169.254.0.0", 16),
)


def v4_to_int(text: str) -> int:
    """``"10.1.2.3"`` → its integer value (for constants; columns use :func:`ipv4_to_u32`)."""
    a, b, c, d = (int(x) for x in text.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def v4_mask(prefix_len: int) -> int:
    """The netmask of a prefix length as an integer (``/0`` → 0)."""
    return (0xFFFFFFFF << (32 - prefix_len)) & 0xFFFFFFFF


def v6_masks(prefix_len: int) -> tuple[int, int]:
    """The (hi, lo) netmask halves of an IPv6 prefix length."""
    full = (1 << 64) - 1
    if prefix_len <= 64:
        return (full << (64 - prefix_len)) & full, 0
    return full, (full << (128 - prefix_len)) & full


def ipv4_to_u32(expr: pl.Expr) -> pl.Expr:
    """Dotted-quad text → UInt32, null when it is not an IPv4 address (see module docstring)."""
    text = expr.str.strip_chars()
    parts = text.str.split_exact(".", 3)
    octets = [parts.struct.field(f"field_{i}").cast(pl.Int64, strict=False) for i in range(4)]
    value = octets[0] * 16777216 + octets[1] * 65536 + octets[2] * 256 + octets[3]
    valid = text.str.contains(_V4_PATTERN) & pl.all_horizontal([o <= 255 for o in octets])
    return pl.when(valid).then(value).otherwise(None).cast(pl.UInt32)


def _ipv6_groups(expr: pl.Expr) -> pl.Expr:
    """IPv6 text → list of eight 16-bit groups (Int64), null when it is not IPv6."""
    text = expr.str.strip_chars().str.to_lowercase().str.replace(r"%.*$", "")
    present = text.str.split(":").list.eval(pl.element().filter(pl.element() != "")).list.len()
    filler = pl.lit(":0").repeat_by((pl.lit(8) - present.cast(pl.Int64)).clip(0, 8)).list.join("") + pl.lit(
        ":"
    )
    compressed = text.str.count_matches("::", literal=True)
    full = (
        pl.when(compressed == 1)
        .then(text.str.replace("::", filler, literal=True))
        .otherwise(text)
        .str.strip_chars(":")
    )
    valid = (compressed <= 1) & full.str.contains(_V6_FULL)
    groups = full.str.split(":").list.eval(pl.element().str.to_integer(base=16, strict=False))
    return pl.when(valid).then(groups).otherwise(None)


def ipv6_to_halves(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """IPv6 text → (hi, lo) UInt64 expressions, both null when it is not an IPv6 address."""
    groups = _ipv6_groups(expr)

    def half(start: int) -> pl.Expr:
        words = [
            groups.list.get(start + i).cast(pl.UInt64) * pl.lit(1 << (16 * (3 - i)), pl.UInt64)
            for i in range(4)
        ]
        return (words[0] + words[1] + words[2] + words[3]).cast(pl.UInt64)

    return half(0), half(4)


def address_table(values: pl.Series) -> pl.DataFrame:
    """The distinct addresses of a column, parsed once: ``value``, ``v4``, ``hi``, ``lo``.

    Parsing runs on distinct values only, and the IPv6 parse only on the values holding a
    ``:``, so a batch where each address repeats costs little.
    """
    uniq = pl.DataFrame({"value": values.cast(pl.String).unique().drop_nulls()}).lazy()
    # ipv4_to_u32 step by step: one split and four casts instead of one per use of an octet.
    uniq = uniq.with_columns(_text=pl.col("value").str.strip_chars())
    uniq = uniq.with_columns(_parts=pl.col("_text").str.split_exact(".", 3))
    octets = [f"_o{i}" for i in range(4)]
    uniq = uniq.with_columns(
        pl.col("_parts").struct.field(f"field_{i}").cast(pl.Int64, strict=False).alias(name)
        for i, name in enumerate(octets)
    )
    value = pl.col("_o0") * 16777216 + pl.col("_o1") * 65536 + pl.col("_o2") * 256 + pl.col("_o3")
    valid = pl.col("_text").str.contains(_V4_PATTERN) & pl.all_horizontal([pl.col(o) <= 255 for o in octets])
    table = uniq.select(
        "value", pl.when(valid).then(value).otherwise(None).cast(pl.UInt32).alias("v4")
    ).collect()
    six = table.filter(pl.col("v4").is_null() & pl.col("value").str.contains(":", literal=True))
    if six.is_empty():  # the IPv6 parse costs milliseconds even on no rows: most batches skip it
        return table.with_columns(pl.lit(None, pl.UInt64).alias("hi"), pl.lit(None, pl.UInt64).alias("lo"))
    mapped = ipv4_to_u32(pl.col("value").str.strip_chars().str.extract(_V4_MAPPED, 1))
    hi, lo = ipv6_to_halves(pl.col("value"))
    six = six.select(
        "value",
        mapped.alias("_mapped"),
        pl.when(mapped.is_null()).then(hi).alias("hi"),
        pl.when(mapped.is_null()).then(lo).alias("lo"),
    )
    joined = table.join(six, on="value", how="left")
    return joined.select("value", pl.coalesce("v4", "_mapped").alias("v4"), "hi", "lo")


def private_flags(table: pl.DataFrame) -> pl.Series:
    """For each row of an :func:`address_table`: in a non-routable range, null when not an IP.

    Callers that already hold the table (flow enrichment parses both sides once per batch)
    classify its rows directly instead of re-parsing through :func:`is_private`.
    """
    v4 = pl.col("v4")
    v4_private = pl.any_horizontal(
        [(v4 & pl.lit(v4_mask(p), pl.UInt32)) == pl.lit(v4_to_int(net), pl.UInt32) for net, p in PRIVATE_V4]
    )
    hi, lo = pl.col("hi"), pl.col("lo")
    top = hi // pl.lit(1 << 48, pl.UInt64)
    v6_private = ((top & 0xFE00) == 0xFC00) | ((top & 0xFFC0) == 0xFE80) | ((hi == 0) & (lo == 1))
    flag = pl.when(v4.is_not_null()).then(v4_private).when(hi.is_not_null()).then(v6_private).otherwise(None)
    return table.select(flag.alias("private")).to_series()


def is_ip(values: pl.Series) -> pl.Series:
    """True where the text is an IPv4 or IPv6 address (false for null and for host names)."""
    table = address_table(values)
    valid = table.select((pl.col("v4").is_not_null() | pl.col("hi").is_not_null()).alias("ip")).to_series()
    return values.cast(pl.String).replace_strict(
        table["value"], valid, default=False, return_dtype=pl.Boolean
    )


def is_private(values: pl.Series) -> pl.Series:
    """True for addresses in the non-routable ranges above (IPv6: fc00::/7, fe80::/10, ::1).

    Null where the text is not an IP address at all.
    """
    table = address_table(values)
    return values.cast(pl.String).replace_strict(
        table["value"], private_flags(table), default=None, return_dtype=pl.Boolean
    )


def normalise_domain(expr: pl.Expr) -> pl.Expr:
    """Lower-case, trimmed, without the trailing root dot (``Pool.Example.ORG.`` → ``pool.example.org``)."""
    return expr.str.strip_chars().str.to_lowercase().str.strip_chars_end(".")
