"""GuardDuty's anomaly shapes as Polars expressions, for every behaviour detector's ``info``.

``service.detection.anomaly`` is built from ``AnomalyObject``s (a frequency profile of some
values); the detectors build them, and the JSON text around them, with these, so the shape is
spelt once.
"""

from __future__ import annotations

from typing import Final

import polars as pl

ANOMALY_OBJECT: Final = pl.Struct(
    {
        "profileType": pl.String(),
        "profileSubtype": pl.String(),
        "observations": pl.Struct({"text": pl.List(pl.String())}),
    }
)
"""GuardDuty's ``AnomalyObject``, lowerCamelCase."""


def anomaly_object(subtype: pl.Expr | str, text: pl.Expr) -> pl.Expr:
    """An ``AnomalyObject`` struct of profile type ``FREQUENCY``; ``text`` is a list of strings
    and ``subtype`` one of GuardDuty's frequency words (``UNSEEN``, ``RARE``, …)."""
    sub = pl.lit(subtype) if isinstance(subtype, str) else subtype
    return pl.struct(
        pl.lit("FREQUENCY").alias("profileType"),
        sub.alias("profileSubtype"),
        pl.struct(text.alias("text")).alias("observations"),
    )


def json_text(expr: pl.Expr) -> pl.Expr:
    """``expr`` (a string, number, list or struct) as JSON text."""
    return pl.struct(expr.alias("v")).struct.json_encode().str.strip_prefix('{"v":').str.strip_suffix("}")
