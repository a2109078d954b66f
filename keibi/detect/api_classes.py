"""Which tactic a CloudTrail API call belongs to, as data (``keibi/detect/data/api_classes.csv``).

Several GuardDuty types split one trigger by what the call does. A listed address calling a
discovery API gives ``Recon:IAMUser/*`` on management events and ``Discovery:S3/*`` on S3 data
events; reading object data gives ``Exfiltration:S3/*``; writing, deleting or re-permissioning
objects gives ``Impact:S3/*``; anything else the ``UnauthorizedAccess:*`` types. Which API is
which is a judgement worth reviewing line by line, so it lives in a table (with a note per row
and the sources in its header), not in code.

Table rows are ``event_source,event_name,class,note``: ``event_source`` is a service host or
``*`` (any), ``event_name`` an API name or a prefix ending in ``*``. When several rows match a
call, an exact name beats a prefix, a longer prefix a shorter one, and at equal name
specificity a named source beats ``*``. No matching row: no class (null). :data:`CLASSES`
lists the classes.

The same matcher reads other tables of this shape with their own class column and class set
(``keibi/detect/behavior/data/api_tactics.csv``: column ``tactic``): :func:`parse_rules` and
:func:`read_rules` take ``classes`` and ``column``, and :func:`classify` any parsed rules.

>>> frame.with_columns(api_class(pl.col("event_source"), pl.col("event_name")).alias("api_class"))
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Final

import polars as pl

CLASSES: Final[tuple[str, ...]] = ("recon", "sensitive_read", "s3_discovery", "s3_exfiltration", "s3_impact")
# Discovery on any service: what Recon:IAMUser/* means on management events.
RECON_CLASSES: Final[tuple[str, ...]] = ("recon", "s3_discovery")
ANY: Final = "*"
HEADER: Final[tuple[str, ...]] = ("event_source", "event_name", "class", "note")
TABLE: Final = "data/api_classes.csv"
_SEP: Final = "\x1f"  # joins source and name into one lookup key; never in either


@dataclass(frozen=True, slots=True)
class ApiClassRule:
    """One row of the table. ``event_name`` ending in ``*`` is a prefix."""

    event_source: str
    event_name: str
    api_class: str

    @property
    def is_prefix(self) -> bool:
        return self.event_name.endswith(ANY)

    @property
    def prefix(self) -> str:
        return self.event_name.removesuffix(ANY)


def parse_rules(
    text: str, origin: str = TABLE, *, classes: tuple[str, ...] = CLASSES, column: str = "class"
) -> tuple[ApiClassRule, ...]:
    """The rows of an API class table (``#`` lines are comments); ``ValueError`` names the bad
    line. ``column`` names the third column and ``classes`` the values it may hold."""
    header_names = (*HEADER[:2], column, HEADER[3])
    numbered = [
        (n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")
    ]
    if not numbered:
        raise ValueError(f"{origin}: empty table")
    lines = iter(numbered)
    header_line, header = next(lines)
    if tuple(next(csv.reader([header]))) != header_names:
        raise ValueError(f"{origin}:{header_line}: expected header {','.join(header_names)}")
    rules: list[ApiClassRule] = []
    seen: set[tuple[str, str]] = set()
    for n, line in lines:
        fields = next(csv.reader(io.StringIO(line)))
        if len(fields) != len(HEADER):
            raise ValueError(f"{origin}:{n}: expected {len(HEADER)} fields, got {len(fields)}")
        source, name, klass = (f.strip() for f in fields[:3])
        if klass not in classes:
            raise ValueError(
                f"{origin}:{n}: unknown {column} {klass!r} (expected one of: {', '.join(classes)})"
            )
        if not source or (ANY in source and source != ANY):
            raise ValueError(f"{origin}:{n}: event_source must be a service host or {ANY}")
        if not name or ANY in name.removesuffix(ANY) or _SEP in source + name:
            raise ValueError(f"{origin}:{n}: event_name must be an API name or a prefix ending in {ANY}")
        if (source, name) in seen:
            raise ValueError(f"{origin}:{n}: {source},{name} is listed twice")
        seen.add((source, name))
        rules.append(ApiClassRule(source, name, klass))
    return tuple(rules)


def read_rules(
    package: str, path: str, *, classes: tuple[str, ...] = CLASSES, column: str = "class"
) -> tuple[ApiClassRule, ...]:
    """The table shipped as ``path`` inside ``package`` (see :func:`parse_rules`)."""
    text = files(package).joinpath(path).read_text(encoding="utf-8")
    return parse_rules(text, f"{package.replace('.', '/')}/{path}", classes=classes, column=column)


@cache
def api_class_rules() -> tuple[ApiClassRule, ...]:
    """The shipped table, read once per process."""
    return read_rules("keibi.detect", TABLE)


def classify(event_source: pl.Expr, event_name: pl.Expr, rules: tuple[ApiClassRule, ...]) -> pl.Expr:
    """:func:`api_class` against ``rules`` instead of the shipped table."""
    exact_named = {
        r.event_source + _SEP + r.event_name: r.api_class
        for r in rules
        if not r.is_prefix and r.event_source != ANY
    }
    exact_any = {r.event_name: r.api_class for r in rules if not r.is_prefix and r.event_source == ANY}
    # Most specific first: longest prefix, then a named source before *.
    prefixes = sorted(
        (r for r in rules if r.is_prefix), key=lambda r: (-len(r.prefix), r.event_source == ANY)
    )
    found: list[pl.Expr] = []
    if exact_named:
        key = pl.concat_str([event_source, pl.lit(_SEP), event_name])
        found.append(_lookup(key, exact_named))
    if exact_any:
        found.append(_lookup(event_name, exact_any))
    if prefixes:
        chain = pl.lit(None, pl.String)
        for r in reversed(prefixes):  # built inside out, so the most specific is tested first
            cond = event_name.str.starts_with(r.prefix)
            if r.event_source != ANY:
                cond = cond & (event_source == r.event_source)
            chain = pl.when(cond).then(pl.lit(r.api_class)).otherwise(chain)
        found.append(chain)
    if not found:
        return pl.lit(None, pl.String)
    return pl.coalesce(found).cast(pl.String)


def _lookup(key: pl.Expr, table: dict[str, str]) -> pl.Expr:
    return key.replace_strict(
        list(table), list(table.values()), default=pl.lit(None, pl.String), return_dtype=pl.String
    )


def api_class(event_source: pl.Expr, event_name: pl.Expr) -> pl.Expr:
    """The class of each call (see the module docstring), or null when no row matches."""
    return classify(event_source, event_name, api_class_rules())


def is_recon(event_source: pl.Expr, event_name: pl.Expr) -> pl.Expr:
    """True for discovery calls (:data:`RECON_CLASSES`), the split of ``Recon:IAMUser/*``."""
    return api_class(event_source, event_name).is_in(list(RECON_CLASSES)).fill_null(False)
