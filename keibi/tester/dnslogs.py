"""Route 53 Resolver query log records (JSON lines), built column-wise.

Field order and types follow AWS's own example: ``version`` "1.100000", ``srcport`` as a
string, ``query_name`` with its trailing dot, ``answers`` as ``[{Rdata, Type, Class}]`` and
``srcids.instance`` for queries from an instance. Lines are rendered with Polars string
templates (the names here never need JSON escaping), so a million lines take a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import orjson
import polars as pl

from keibi.tester.delivery import DELIVERY_SECONDS, dns_path
from keibi.tester.vec import Vec, frame_of

QUERY_SCHEMA: Final = pl.Schema(
    {
        "time": pl.Int64(),
        "query_name": pl.String(),
        "query_type": pl.String(),
        "rcode": pl.String(),
        "answers": pl.String(),  # JSON text
        "srcaddr": pl.String(),
        "srcport": pl.Int32(),
        "transport": pl.String(),
        "instance_id": pl.String(),
        "tag": pl.String(),
    }
)


def answers_json(rdata: list[str], rtype: str, cnames: tuple[str, ...] = ()) -> str:
    """The ``answers`` array of one response: CNAME chain first, then the records."""
    items = [{"Rdata": c, "Type": "CNAME", "Class": "IN"} for c in cnames]
    items += [{"Rdata": r, "Type": rtype, "Class": "IN"} for r in rdata]
    return orjson.dumps(items).decode()


def queries(**columns: object) -> pl.DataFrame:
    """A query frame: scalars broadcast, arrays taken as they are; see ``QUERY_SCHEMA``."""
    return frame_of(QUERY_SCHEMA, columns)


def _lines(frame: pl.DataFrame, account: str, region: str, vpc_id: str) -> pl.Series:
    def q(s: str) -> str:
        return s.replace("{", "{{").replace("}", "}}")

    head = q(f'{{"version":"1.100000","account_id":"{account}","region":"{region}","vpc_id":"{vpc_id}",')
    template = (
        head
        + q('"query_timestamp":"')
        + "{}"
        + q('","query_name":"')
        + "{}"
        + q('","query_type":"')
        + "{}"
        + q('","query_class":"IN","rcode":"')
        + "{}"
        + q('","answers":')
        + "{}"
        + q(',"srcaddr":"')
        + "{}"
        + q('","srcport":"')
        + "{}"
        + q('","transport":"')
        + "{}"
        + q('","srcids":{"instance":"')
        + "{}"
        + q('"}}')
    )
    return frame.select(
        pl.format(
            template,
            pl.from_epoch("time", "s").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "query_name",
            "query_type",
            "rcode",
            "answers",
            "srcaddr",
            pl.col("srcport").cast(pl.String),
            "transport",
            "instance_id",
        ).alias("line")
    )["line"]


def write_dns_logs(
    outdir: Path,
    frame: pl.DataFrame,
    *,
    account: str,
    region: str,
    vpc_id: str,
    suffix: Vec,
    level: int,
) -> dict[str, set[str]]:
    """One file per delivery interval, lines in time order; return tag → files holding its queries."""
    frame = frame.with_columns(
        ((pl.col("time") // DELIVERY_SECONDS + 1) * DELIVERY_SECONDS).alias("_delivery")
    ).sort("_delivery", "time", "srcaddr", "srcport", maintain_order=True)
    tag_files: dict[str, set[str]] = {}
    for (delivery,), part in frame.group_by(["_delivery"], maintain_order=True):
        rel = dns_path(account, vpc_id, int(str(delivery)), f"{suffix.uint32():08x}")
        target = outdir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        _lines(part, account, region, vpc_id).to_frame().write_csv(
            target, include_header=False, quote_style="never", compression="gzip", compression_level=level
        )
        for tag in part["tag"].unique().to_list():
            tag_files.setdefault(str(tag), set()).add(rel.as_posix())
    return tag_files
