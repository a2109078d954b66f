"""Which attack tactic a management API call serves, as data (``data/api_tactics.csv``).

GuardDuty names its anomaly findings after the tactic of the anomalous call
(``Persistence:IAMUser/AnomalousBehavior`` for ``CreateAccessKey``, ...). Which API serves which
tactic is a judgement worth reviewing row by row, so it is a table with a note and a source per
row, read by the matcher of ``keibi.detect.api_classes`` (same columns, same precedence: exact
name over prefix, longer prefix over shorter, named service over ``*``) with its own class set,
:data:`TACTICS`.

>>> calls.with_columns(tactic(pl.col("event_source"), pl.col("event_name")).alias("tactic"))
"""

from __future__ import annotations

from functools import cache
from typing import Final

import polars as pl

from keibi.detect.api_classes import ApiClassRule, classify, read_rules

# The tactic words of GuardDuty's eight ``<Tactic>:IAMUser/AnomalousBehavior`` types.
TACTICS: Final[tuple[str, ...]] = (
    "Discovery",
    "Persistence",
    "PrivilegeEscalation",
    "DefenseEvasion",
    "CredentialAccess",
    "Exfiltration",
    "Impact",
    "InitialAccess",
)
TABLE: Final = "data/api_tactics.csv"


@cache
def tactic_rules() -> tuple[ApiClassRule, ...]:
    """The shipped table, read once per process."""
    return read_rules("keibi.detect.behavior", TABLE, classes=TACTICS, column="tactic")


def tactic(event_source: pl.Expr, event_name: pl.Expr) -> pl.Expr:
    """The tactic of each call, or null when no row of the table matches."""
    return classify(event_source, event_name, tactic_rules())
