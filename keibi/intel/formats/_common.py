"""What every format reader shares: the candidate table it returns, lines, CSV rows, URL hosts.

A reader turns a file's text into *candidates*, one row per entry it found (:data:`CANDIDATES`):
``line`` (1-based, null where the format has no lines), ``entry`` (an IP, CIDR or domain in
TXT syntax, or null), ``shown`` (what a problem message quotes), ``want`` (what the entry must
be: null for anything, ``"ip"`` an address or CIDR, ``"domain"``, ``"host"`` an address or
domain taken from a URL), ``label`` (a prefix for the problem message, such as the column or
STIX object) and ``reason`` (set when the reader itself already knows the row is bad).
``keibi.intel.lists`` classifies the candidates into the join tables and the problems, so
every format gets the same address rules and the same messages.
"""

from __future__ import annotations

import re
from typing import Final

import polars as pl

CANDIDATES: Final = pl.Schema(
    {
        "line": pl.Int64(),
        "entry": pl.String(),
        "shown": pl.String(),
        "want": pl.String(),
        "label": pl.String(),
        "reason": pl.String(),
    }
)

# Optional user:password@, then a bracketed IPv6 literal or a host up to the port, path, query
# or fragment (a blank ends nothing: ``exa mple.example`` has no host); after "scheme://" when
# the URL has one (some feeds drop the scheme).
_AUTHORITY: Final = r"(?:[^/?#@\s]*@)?(\[[0-9A-Fa-f:.]+\]|[^/?#:\s\[\]@]+)(?:[:/?#]|$)"
_SCHEME: Final = r"^[A-Za-z][A-Za-z0-9+.\-]*://"
# A scheme without "//" (``mailto:``, ``javascript:``): such a URL names no host. A digit after
# the colon is a port of a scheme-less ``host:8080/path`` instead.
_OPAQUE: Final = r"^[A-Za-z][A-Za-z0-9+.\-]*:([^/0-9]|/[^/]|$)"
# Blanks between a separator and a quoted field (``a, "b, c" ,d``), as in GuardDuty's examples:
# CSV readers only honour a quote that opens and closes the whole field.
_BLANK_BEFORE_QUOTE: Final = re.compile(r'(^|,)[ \t]+"', re.MULTILINE)
_BLANK_AFTER_QUOTE: Final = re.compile(r'"[ \t]+(,|$)', re.MULTILINE)


class UnreadableListError(Exception):
    """The file as a whole is not in the format (invalid JSON or XML): nothing can be read.

    ``keibi.intel.lists`` turns it into a ``ConfigError`` naming the file.
    """


def empty() -> pl.DataFrame:
    """No candidates (an empty file, or a format that found nothing)."""
    return pl.DataFrame(schema=CANDIDATES)


def candidates(frame: pl.DataFrame | pl.LazyFrame, **columns: pl.Expr | str | None) -> pl.DataFrame:
    """``frame`` projected onto :data:`CANDIDATES`: each column an expression, a literal, or
    null when not given; ``shown`` defaults to ``entry``."""
    exprs = []
    for name, dtype in CANDIDATES.items():
        value = columns.get(name)
        if value is None and name == "shown":
            value = columns.get("entry")
        expr = value if isinstance(value, pl.Expr) else pl.lit(value)
        exprs.append(expr.cast(dtype).alias(name))
    return frame.lazy().select(exprs).collect()


def lines(text: str) -> pl.DataFrame:
    """``line`` (1-based) and ``raw`` (without the line break, CR or surrounding blanks) for
    every line of ``text``; split in Polars so a file of millions of lines stays cheap."""
    raw = pl.Series("raw", [text], dtype=pl.String).str.split("\n").explode()
    frame = pl.DataFrame({"raw": raw}).with_row_index("line", offset=1)
    return frame.with_columns(pl.col("line").cast(pl.Int64), pl.col("raw").str.strip_chars())


def csv_rows(text: str) -> pl.DataFrame:
    """A CSV file as text columns ``c0``, ``c1``, … (trimmed, empty → null) plus ``line``.

    The header is not interpreted here: readers look at the first row themselves, since
    vendors' files come with and without one. Blank lines and lines starting with ``#`` are
    dropped first. Rows longer than the first are cut, shorter ones padded with nulls. Each
    row is one line, so ``line`` is exact; should a quoted field ever span lines, the row
    count no longer matches and ``line`` is left null rather than wrong.
    """
    kept = lines(text).filter((pl.col("raw") != "") & ~pl.col("raw").str.starts_with("#"))
    if kept.is_empty():
        return pl.DataFrame(schema={"line": pl.Int64()})
    joined: str = kept.select(pl.col("raw").str.join("\n")).item()
    body = _BLANK_AFTER_QUOTE.sub(r'"\1', _BLANK_BEFORE_QUOTE.sub(r'\1"', joined)).encode()
    try:
        table = _read_csv(body, quote_char='"')
    except pl.exceptions.ComputeError:
        # A stray quote (``ab"c,d``) breaks quoting for the whole file; read the fields as
        # they stand, so the rest of the file still loads and the bad field is reported.
        table = _read_csv(body, quote_char=None)
    table = table.rename({c: f"c{i}" for i, c in enumerate(table.columns)})
    table = table.with_columns(pl.all().str.strip_chars().replace("", None))
    numbers = (
        kept["line"]
        if table.height == kept.height
        else pl.repeat(None, table.height, dtype=pl.Int64, eager=True)
    )
    return table.with_columns(line=numbers.alias("line"))


def _read_csv(body: bytes, *, quote_char: str | None) -> pl.DataFrame:
    return pl.read_csv(
        body,
        has_header=False,
        infer_schema=False,
        truncate_ragged_lines=True,
        raise_if_empty=False,
        quote_char=quote_char,
    )


def url_host(url: pl.Expr) -> pl.Expr:
    """The host of a URL: ``https://user:pw@Evil.Example:8443/x`` → ``Evil.Example``,
    ``http://[2001:db8::1]/`` → ``2001:db8::1``; null when there is none (``mailto:x``)."""
    text = url.str.strip_chars().str.replace_all("[.]", ".", literal=True)
    host = (
        pl.when(text.str.contains(_SCHEME))
        .then(text.str.extract(_SCHEME + _AUTHORITY, 1))
        .when(text.str.contains(_OPAQUE))
        .then(None)
        .otherwise(text.str.strip_prefix("//").str.extract("^" + _AUTHORITY, 1))
    )
    return host.str.strip_prefix("[").str.strip_suffix("]")
