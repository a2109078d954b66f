"""CloudTrail events → ``CLOUDTRAIL`` frames.

Accepts what CloudTrail and its neighbours deliver: S3 delivery files (``{"Records": [...]}``),
one event per line (CloudTrail Lake and exports), top-level arrays, EventBridge events whose
``detail`` is a CloudTrail event, and Logstash-style lines carrying ``@timestamp`` instead of
``eventTime``. ``userIdentity`` is flattened; free-form parts stay JSON text.

``row`` is the measured bottleneck of the whole engine (DESIGN §1): one tuple per event, no
per-field Python beyond a dict lookup, everything else vectorised afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import orjson
import polars as pl

from keibi.sources._frames import series
from keibi.sources._json import Batch, gc_paused
from keibi.sources._paths import DEFAULT_REGION, account_region
from keibi.sources._times import iso_time
from keibi.sources.report import Report
from keibi.sources.schema import CLOUDTRAIL, TIME

_EMPTY: Final[dict[str, Any]] = {}
_dumps = orjson.dumps

# The columns of ``row``'s tuple, in order, with the types they are built as.
_RAW: Final[dict[str, pl.DataType]] = {
    "raw_time": pl.String(),
    "recipient_account_id": pl.String(),
    "raw_region": pl.String(),
    "event_id": pl.String(),
    "event_version": pl.String(),
    "event_source": pl.String(),
    "event_name": pl.String(),
    "event_type": pl.String(),
    "event_category": pl.String(),
    "read_only": pl.Boolean(),
    "management_event": pl.Boolean(),
    "source_ip": pl.String(),
    "user_agent": pl.String(),
    "error_code": pl.String(),
    "error_message": pl.String(),
    "vpc_endpoint_id": pl.String(),
    "vpc_endpoint_account_id": pl.String(),
    "user_type": pl.String(),
    "principal_id": pl.String(),
    "user_arn": pl.String(),
    "user_account_id": pl.String(),
    "access_key_id": pl.String(),
    "user_name": pl.String(),
    "invoked_by": pl.String(),
    "session_issuer_type": pl.String(),
    "session_issuer_arn": pl.String(),
    "session_issuer_user_name": pl.String(),
    "raw_mfa": pl.String(),
    "raw_creation_date": pl.String(),
    "ec2_role_delivery": pl.String(),
    "raw_assumed_root": pl.String(),
    "request_parameters": pl.String(),
    "response_elements": pl.String(),
    "additional_event_data": pl.String(),
    "resources": pl.String(),
}


def row(rec: dict[str, Any]) -> tuple[Any, ...]:
    if "detail-type" in rec:  # an EventBridge event around a CloudTrail event
        detail = rec.get("detail")
        if type(detail) is dict:
            rec = detail
    get = rec.get
    ui = get("userIdentity")
    if type(ui) is not dict:
        ui = _EMPTY
    uget = ui.get
    sc = uget("sessionContext")
    if sc and type(sc) is dict:
        issuer = sc.get("sessionIssuer") or _EMPTY
        attrs = sc.get("attributes") or _EMPTY
        if type(issuer) is not dict:
            issuer = _EMPTY
        if type(attrs) is not dict:
            attrs = _EMPTY
        iget = issuer.get
        aget = attrs.get
        session = (
            iget("type"),
            iget("arn"),
            iget("userName"),
            aget("mfaAuthenticated"),
            aget("creationDate"),
            sc.get("ec2RoleDelivery"),
            sc.get("assumedRoot"),
        )
    else:
        session = (None, None, None, None, None, None, None)
    rp = get("requestParameters")
    rs = get("responseElements")
    ad = get("additionalEventData")
    res = get("resources")
    return (
        get("eventTime") or get("@timestamp"),
        get("recipientAccountId"),
        get("awsRegion"),
        get("eventID"),
        get("eventVersion"),
        get("eventSource"),
        get("eventName"),
        get("eventType"),
        get("eventCategory"),
        get("readOnly"),
        get("managementEvent"),
        get("sourceIPAddress"),
        get("userAgent"),
        get("errorCode"),
        get("errorMessage"),
        get("vpcEndpointId"),
        get("vpcEndpointAccountId"),
        uget("type"),
        uget("principalId"),
        uget("arn"),
        uget("accountId"),
        uget("accessKeyId"),
        uget("userName"),
        uget("invokedBy"),
        *session,
        None if rp is None else _dumps(rp).decode(),
        None if rs is None else _dumps(rs).decode(),
        None if ad is None else _dumps(ad).decode(),
        None if res is None else _dumps(res).decode(),
    )


def frame(batch: Batch, path: str, report: Report) -> pl.DataFrame:
    """One ``CLOUDTRAIL`` frame from ``row``'s tuples; rows without a valid ``eventTime`` are
    reported and left out."""
    kept, rows = batch
    with gc_paused():
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in _RAW]
        raw = pl.DataFrame(
            [series(name, col, dtype) for (name, dtype), col in zip(_RAW.items(), columns, strict=True)]
        )
    account, region = account_region(path)
    out = raw.with_columns(
        event_time=iso_time(pl.col("raw_time")),
        account_id=pl.coalesce("recipient_account_id", "user_account_id", pl.lit(account or "")),
        region=pl.coalesce("raw_region", pl.lit(region or DEFAULT_REGION)),
        _file=pl.lit(path, pl.String),
        _line=pl.Series(kept, dtype=pl.UInt32),
        session_mfa=pl.col("raw_mfa").str.to_lowercase() == "true",
        session_creation_date=iso_time(pl.col("raw_creation_date")).cast(TIME),
        session_assumed_root=pl.col("raw_assumed_root").str.to_lowercase() == "true",
    )
    bad = out.filter(pl.col("event_time").is_null())
    if not bad.is_empty():
        for line, value in zip(bad["_line"], bad["raw_time"], strict=True):
            report.error(path, line, "no eventTime" if value is None else f"invalid eventTime {value!r}")
        out = out.filter(pl.col("event_time").is_not_null())
    return out.select(CLOUDTRAIL.names())


def frames(batches: Iterator[Batch], path: str, report: Report) -> Iterator[pl.DataFrame]:
    """``CLOUDTRAIL`` frames from batches of rows (see ``_json``)."""
    for batch in batches:
        yield frame(batch, path, report)


__all__ = ["frame", "frames", "row"]
