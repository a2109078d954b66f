"""Python column lists → one typed Polars frame, tolerating fields of the wrong JSON type."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import polars as pl


def _as_text(v: Any) -> str | None:
    if v is None or type(v) is str:
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    return orjson.dumps(v).decode()


def _as_bool(v: Any) -> bool | None:
    if v is None or type(v) is bool:
        return v
    return str(v).lower() == "true"


def series(name: str, values: Sequence[Any], dtype: pl.DataType) -> pl.Series:
    """A column of ``dtype``; a value of another JSON type (a number where text belongs, a "true"
    where a bool belongs) is converted, not fatal, since real CloudTrail is not consistent."""
    try:
        return pl.Series(name, values, dtype=dtype, strict=True)
    except (TypeError, pl.exceptions.PolarsError, OverflowError):
        if dtype == pl.Boolean:
            return pl.Series(name, [_as_bool(v) for v in values], dtype=dtype)
        if dtype == pl.String:
            return pl.Series(name, [_as_text(v) for v in values], dtype=dtype)
        return pl.Series(name, values, dtype=dtype, strict=False)


__all__ = ["series"]
