"""Seeded, vectorised random numbers on Polars, so the tester needs no numpy.

Counter-based: draw ``k`` hashes ``hash(counter), hash(counter + 1), …`` with the run's seed
and move the counter on. The same seed and the same sequence of draws give the same values
(for a given Polars version), and ten million draws take a few tens of milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

_MASK64 = (1 << 64) - 1


class Vec:
    """Random columns; each method returns a ``pl.Series`` of length ``n``."""

    def __init__(self, seed: int) -> None:
        self.seed = seed & _MASK64
        self.counter = 0

    def bits(self, n: int) -> pl.Series:
        """``n`` pseudo-random unsigned 64-bit values."""
        out = pl.int_range(self.counter, self.counter + n, dtype=pl.UInt64, eager=True).hash(self.seed)
        self.counter += n
        return out

    def integers(self, low: int, high: int, n: int) -> pl.Series:
        """Uniform integers in ``[low, high)``."""
        return (self.bits(n) % (high - low)).cast(pl.Int64) + low

    def random(self, n: int) -> pl.Series:
        """Uniform floats in ``[0, 1)``."""
        return (self.bits(n) // (1 << 11)).cast(pl.Float64) / float(1 << 53)

    def uint32(self) -> int:
        return int(self.bits(1)[0]) & 0xFFFFFFFF

    def choice(
        self, values: Sequence[Any] | pl.Series, n: int, weights: Sequence[float] | pl.Series | None = None
    ) -> pl.Series:
        """``n`` draws with replacement, uniform or in proportion to ``weights``."""
        pool = values if isinstance(values, pl.Series) else pl.Series(values)
        if weights is None:
            return pool.gather(self.integers(0, pool.len(), n))
        cum = pl.Series(weights, dtype=pl.Float64).cum_sum()
        target = self.random(n) * float(cum[-1])
        index = cum.search_sorted(target, side="right").clip(0, pool.len() - 1)
        return pool.gather(index)

    def sample(self, values: Sequence[Any] | pl.Series, n: int) -> pl.Series:
        """``n`` distinct draws (without replacement), in random order."""
        pool = values if isinstance(values, pl.Series) else pl.Series(values)
        order = self.bits(pool.len())
        return pl.DataFrame({"v": pool, "k": order}).sort("k")["v"].head(n)


def where(cond: pl.Series, yes: Any, no: Any) -> pl.Series:
    """Element-wise ``yes if cond else no`` (Series or scalars)."""
    return pl.select(pl.when(pl.lit(cond)).then(pl.lit(yes)).otherwise(pl.lit(no))).to_series()


def arange(start: int, stop: int | None = None, step: int = 1) -> pl.Series:
    """``numpy.arange`` for integers: ``arange(stop)`` or ``arange(start, stop, step)``."""
    if stop is None:
        start, stop = 0, start
    return pl.int_range(start, stop, step, eager=True, dtype=pl.Int64)


def frame_of(schema: dict[str, pl.DataType], columns: dict[str, object]) -> pl.DataFrame:
    """A frame of ``schema``: list or Series values taken as they are, scalars broadcast."""
    n = max((len(v) for v in columns.values() if isinstance(v, pl.Series | list)), default=1)
    data = {}
    for name, dtype in schema.items():
        value = columns.get(name)
        if isinstance(value, pl.Series | list):
            data[name] = pl.Series(name, value).cast(dtype)
        else:
            data[name] = pl.Series(name, [value] * n, dtype=dtype)
    return pl.DataFrame(data)
