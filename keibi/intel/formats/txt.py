"""GuardDuty's TXT format: one IP, CIDR or domain per line.

``#`` starts a comment (a whole line, or after the entry), blank lines are skipped. The
entries themselves are classified by ``keibi.intel.lists``, like every other format's.
"""

from __future__ import annotations

import polars as pl

from keibi.intel.formats._common import candidates, lines


def read_txt(text: str) -> pl.DataFrame:
    """Candidates of a TXT list: every non-blank line without its comment."""
    frame = lines(text).with_columns(
        entry=pl.col("raw").str.split_exact("#", 1).struct.field("field_0").str.strip_chars()
    )
    return candidates(frame.filter(pl.col("entry") != ""), line=pl.col("line"), entry=pl.col("entry"))
