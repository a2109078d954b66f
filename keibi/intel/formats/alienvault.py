"""AlienVault's IP reputation data (GuardDuty's ``ALIEN_VAULT``).

``ENTRY#reliability#risk#activity#country#city#lat,lon#n``, one per line, for example
``192.0.2.1#4#2#Malicious Host#KR##37.51,126.97#3``. The entry is the first field (an IP, and
in GuardDuty's entity lists also a domain); the rest is context keibi does not use. A line
without any ``#`` is not in this format; lines starting with ``#`` are comments.
"""

from __future__ import annotations

import polars as pl

from keibi.intel.formats._common import candidates, lines


def read_alien_vault(text: str) -> pl.DataFrame:
    """Candidates of an AlienVault reputation file: the first field of each line."""
    frame = lines(text).filter((pl.col("raw") != "") & ~pl.col("raw").str.starts_with("#"))
    fields = pl.col("raw").str.split_exact("#", 1)
    frame = frame.with_columns(
        entry=fields.struct.field("field_0").str.strip_chars(),
        more=fields.struct.field("field_1").is_not_null(),
    )
    return candidates(
        frame,
        line=pl.col("line"),
        entry=pl.col("entry"),
        shown=pl.col("raw"),
        reason=pl.when(~pl.col("more")).then(
            pl.lit("not an AlienVault reputation line (ENTRY#reliability#risk#activity#…)")
        ),
    )
