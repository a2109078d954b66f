"""The CSV exports GuardDuty takes: ``OTX_CSV``, ``PROOF_POINT`` and ``FIRE_EYE``.

- ``OTX_CSV``, an AlienVault OTX pulse export: ``Indicator type,Indicator,Description``.
  ``IPv4``, ``IPv6``, ``CIDR``, ``domain``, ``hostname`` (and GuardDuty's ``Domain name``)
  are entries; ``URL`` and ``URI`` give their host. Every other type (``FileHash-SHA256``,
  ``email``, ``Mutex``, ``CVE``…) is not a network indicator and is skipped without a word.
- ``PROOF_POINT``, Proofpoint ET Intelligence reputation: ``ip, category, score[,
  first_seen, last_seen, ports (|)]`` or the same with ``domain``; the entry is the first
  column. The header is optional (the older ``iprepdata.csv`` has none).
- ``FIRE_EYE``, a FireEye iSIGHT indicator export: a header of some 47 columns, of which
  ``ip``, ``cidr``, ``domain`` and ``url`` (its host) are read; a row may fill several.
  Rows about files or e-mail only are skipped.

Columns are found by header name, case and blanks ignored, so a vendor adding or moving a
column changes nothing. Fields may be quoted (``"a, b"``) and padded (``a, b``), as in
GuardDuty's examples.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from keibi.intel.formats._common import candidates, csv_rows, empty, url_host

# OTX indicator type (lower-case) → what the indicator must be; "url" means "take its host".
_OTX_TYPES: Final = {
    "ipv4": "ip",
    "ipv6": "ip",
    "cidr": "ip",
    "domain": "domain",
    "hostname": "domain",
    "domain name": "domain",
    "url": "url",
    "uri": "url",
}
_FIRE_EYE_COLUMNS: Final = {"ip": "ip", "cidr": "ip", "domain": "domain", "url": "url"}


def _header(rows: pl.DataFrame) -> dict[str, str]:
    """First row's names (lower-case, trimmed) → column, for the columns that have one."""
    first = rows.row(0, named=True)
    return {str(v).strip().lower(): c for c, v in first.items() if c != "line" and v is not None}


def _typed(rows: pl.DataFrame, value: str, want: str, label: pl.Expr | str | None) -> pl.DataFrame:
    """Candidates of ``value`` with ``want`` ("url" → the URL's host, wanted as a host)."""
    if want == "url":
        entry, want = url_host(pl.col(value)), "host"
    else:
        entry = pl.col(value)
    return candidates(rows, line=pl.col("line"), entry=entry, shown=pl.col(value), want=want, label=label)


def read_otx_csv(text: str) -> pl.DataFrame:
    """Candidates of an OTX pulse CSV: network indicators only."""
    rows = csv_rows(text)
    if rows.is_empty():
        return empty()
    header = _header(rows)
    kind_col = header.get("indicator type") or header.get("type")
    value_col = header.get("indicator")
    if kind_col and value_col:
        rows = rows.slice(1)
    else:  # no header: the documented column order
        kind_col, value_col = "c0", "c1"
    if value_col not in rows.columns:
        rows = rows.with_columns(pl.lit(None, pl.String).alias(value_col))
    rows = rows.with_columns(
        want=pl.col(kind_col).str.to_lowercase().replace_strict(_OTX_TYPES, default=None),
    )
    untyped = candidates(
        rows.filter(pl.col(kind_col).is_null()),
        line=pl.col("line"),
        shown=pl.col(value_col),
        reason=pl.lit("no indicator type"),
    )
    parts = [
        _typed(rows.filter(pl.col("want") == want), value_col, want, pl.col(kind_col))
        for want in ("ip", "domain", "url")
    ]
    return pl.concat([untyped, *parts]).sort("line", maintain_order=True)


def read_proof_point(text: str) -> pl.DataFrame:
    """Candidates of a Proofpoint ET reputation CSV: the first column of each row."""
    rows = csv_rows(text)
    if rows.is_empty():
        return empty()
    if (rows["c0"][0] or "").lower() in ("ip", "domain"):
        rows = rows.slice(1)
    return candidates(rows, line=pl.col("line"), entry=pl.col("c0"))


def read_fire_eye(text: str) -> pl.DataFrame:
    """Candidates of a FireEye iSIGHT CSV: its ``ip``, ``cidr``, ``domain`` and ``url`` fields."""
    rows = csv_rows(text)
    if rows.is_empty():
        return empty()
    header = _header(rows)
    found = {name: header[name] for name in _FIRE_EYE_COLUMNS if name in header}
    if not found:
        return candidates(
            rows.head(1),
            line=pl.col("line"),
            shown=pl.col("c0"),
            reason=pl.lit("no ip, cidr, domain or url column in the FireEye header"),
        )
    rows = rows.slice(1)
    parts = [
        _typed(rows.filter(pl.col(column).is_not_null()), column, _FIRE_EYE_COLUMNS[name], name)
        for name, column in found.items()
    ]
    return pl.concat(parts).sort("line", maintain_order=True)
