"""``build_findings``: the one place GuardDuty finding JSON is made, from a detector's hits.

Detectors return hits (``keibi.detect.hits``); this module looks their evidence rows up in
the batch the detector saw (vectorised joins on ``_row``), then makes one finding per hit:

- ``id`` is the first 32 hex digits of ``sha256("{account}|{region}|{type}|{key}")``, so the
  same activity always lands on the same finding, however the logs are read;
  ``service.detectorId`` is ``sha256("detector|{account}|{region}")`` likewise.
- ``service.action`` comes from the hit's latest record (``last_row``) through the builder
  of the type's ``action_type`` (``keibi.findings.actions``); ``resource`` likewise
  (``keibi.findings.resources``). Both also read the hit's ``info`` for what only the
  detector knows: ``remoteAccountId``/``affiliated`` become
  ``awsApiCallAction.remoteAccountDetails``, ``publicAccess`` a bucket's ``publicAccess``,
  ``portProbes`` the ``portProbeDetails`` (and only there, not in ``additionalInfo``).
- ``remoteIpDetails`` is placed by ``geo`` (``keibi.intel.GeoIP``: country, city,
  coordinates, ASN) when given: the hits' remote addresses are looked up together, once per
  call, and each builder then reads the warmed cache.
- ``title``/``description`` are the type's templates over ``keibi.findings.context``.
- ``service.additionalInfo`` carries the hit's ``info`` plus keibi's evidence pointers
  (``keibi.findings.pointers``); a ``threatListName`` in ``info`` also fills
  ``service.evidence.threatIntelligenceDetails``. With ``list_versions`` (list name → the
  version of its content that was matched), ``threatListVersion`` follows ``threatListName``
  in ``additionalInfo``, so a finding says which copy of a changing list it came from.
  GuardDuty's ``ThreatIntelligenceDetail`` has no member for it; its ``threatFileSha256`` is
  the hash of a malicious file (Malware Protection), not of a list, so it is left alone.
- Behaviour detectors explain themselves: ``info["anomaly"]`` (GuardDuty's ``Anomaly`` shape,
  ``profiles`` and ``unusual``) becomes ``service.detection.anomaly``, and
  ``info["explanation"]`` (sentences: what was new or unusual, against which baseline) stays in
  ``additionalInfo`` and is repeated in keibi's block beside the evidence pointers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import orjson
import polars as pl

from keibi.detect.hits import ROW
from keibi.detect.types import ActionType, FindingType
from keibi.enrich import flow_sides
from keibi.findings._times import iso_millis, iso_seconds
from keibi.findings.actions import (
    PORT_PROBES,
    aws_api_call_action,
    clean,
    dns_request_action,
    network_connection_action,
    port_probe_action,
)
from keibi.findings.context import render, template_context
from keibi.findings.model import Evidence, FindingRecord
from keibi.findings.pointers import BLOCK, encode_info, newest, pointer
from keibi.findings.resources import resource, resource_id
from keibi.intel.geo import GeoIP
from keibi.sources.schema import SCHEMAS, SourceName

SCHEMA_VERSION: Final = "2.0"
EVIDENCE_CAP: Final = 1000  # evidence records a record carries per hit (the newest)
ANOMALY: Final = "anomaly"  # info key: GuardDuty's service.detection.anomaly
EXPLANATION: Final = "explanation"  # info key: why a behaviour finding was raised

_ENRICHED: Final[dict[str, pl.DataType]] = {
    "direction": pl.String(),
    "local_ip": pl.String(),
    "local_port": pl.Int32(),
    "remote_ip": pl.String(),
    "remote_port": pl.Int32(),
    "domain": pl.String(),
}

# The columns of the latest record that the action, resource and context builders read.
DETAIL_COLUMNS: Final[dict[SourceName, tuple[str, ...]]] = {
    "cloudtrail": (
        "event_name",
        "event_source",
        "source_ip",
        "user_agent",
        "error_code",
        "user_type",
        "principal_id",
        "access_key_id",
        "user_name",
        "session_issuer_user_name",
        "request_parameters",
    ),
    "vpc_flow": (
        "interface_id",
        "instance_id",
        "vpc_id",
        "subnet_id",
        "srcaddr",
        "dstaddr",
        "srcport",
        "dstport",
        "protocol",
        "action",
        "flow_direction",
        "direction",
        "local_ip",
        "local_port",
        "remote_ip",
        "remote_port",
    ),
    "dns": ("query_name", "domain", "transport", "firewall_rule_action", "instance_id", "srcaddr", "vpc_id"),
}

# The columns every finding reads besides DETAIL_COLUMNS: aggregation, time and evidence pointers.
EVIDENCE_COLUMNS: Final = ("event_time", "account_id", "region", "_file", "_line", "event_id")

# The column of the latest record holding the remote address that ``remoteIpDetails`` places.
_REMOTE_COLUMNS: Final[dict[SourceName, str]] = {"cloudtrail": "source_ip", "vpc_flow": "remote_ip"}

_ACTION_SOURCES: Final[dict[ActionType, SourceName]] = {
    "AWS_API_CALL": "cloudtrail",
    "NETWORK_CONNECTION": "vpc_flow",
    "PORT_PROBE": "vpc_flow",
    "DNS_REQUEST": "dns",
}


def hex32(text: str) -> str:
    """The first 32 hex digits of ``sha256(text)``: GuardDuty's id length."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def finding_id(account_id: str, region: str, type_: str, key: str) -> str:
    return hex32(f"{account_id}|{region}|{type_}|{key}")


def detector_id(account_id: str, region: str) -> str:
    return hex32(f"detector|{account_id}|{region}")


def build_findings(
    hits: pl.DataFrame,
    frame: pl.DataFrame,
    source: SourceName,
    types: Mapping[str, FindingType],
    *,
    now: datetime,
    partition: str = "aws",
    detector: str | None = None,
    geo: GeoIP | None = None,
    list_versions: Mapping[str, str] | None = None,
) -> list[FindingRecord]:
    """One ``FindingRecord`` per hit, in the order of ``hits``.

    ``frame`` is the batch the detector got, with its ``_row`` column; ``types`` maps each
    hit's ``type`` to its ``FindingType``; ``now`` becomes ``createdAt`` and ``updatedAt``;
    ``detector`` (the detector id) is recorded in the evidence block when given; ``geo``
    places remote addresses in ``remoteIpDetails`` (without it: the address alone);
    ``list_versions`` adds ``threatListVersion`` for the lists it names.

    >>> records = build_findings(found, batch, "cloudtrail", registry.finding_types(), now=now)
    """
    if hits.is_empty():
        return []
    rows = _latest_rows(hits, frame, source)
    evidence = _evidence(hits, frame)
    created = iso_millis(now)
    remote = _REMOTE_COLUMNS.get(source)
    if geo is not None and remote is not None:  # one batched lookup; the builders hit the cache
        geo.lookup(pl.Series([row.get(remote) for row in rows], dtype=pl.String()))
    return [
        _record(
            hit,
            row,
            evs,
            source,
            types,
            created=created,
            partition=partition,
            detector=detector,
            geo=geo,
            list_versions=list_versions or {},
        )
        for hit, row, evs in zip(hits.to_dicts(), rows, evidence, strict=True)
    ]


def _col(frame: pl.DataFrame, name: str, source: SourceName) -> pl.Expr:
    if name in frame.columns:
        return pl.col(name)
    dtype = SCHEMAS[source].get(name) or _ENRICHED.get(name, pl.String())
    return pl.lit(None, dtype=dtype).alias(name)


def _latest_rows(hits: pl.DataFrame, frame: pl.DataFrame, source: SourceName) -> list[dict[str, Any]]:
    """The detail columns of each hit's ``last_row``, aligned with ``hits``."""
    names = [n for n in DETAIL_COLUMNS[source] if n not in _ENRICHED or n in frame.columns]
    details = frame.select(
        pl.col(ROW).cast(pl.UInt32),
        pl.lit(True).alias("_found"),
        *(_col(frame, n, source) for n in names),
    )
    last = hits.select(pl.col("last_row").cast(pl.UInt32).alias(ROW)).join(
        details, on=ROW, how="left", maintain_order="left"
    )
    missing = last.filter(pl.col("_found").is_null())
    if not missing.is_empty():
        raise ValueError(f"hit points at row {missing[ROW][0]}, which the detector's frame does not have")
    if source == "vpc_flow" and "direction" not in last.columns:
        last = flow_sides(last)  # a frame that skipped enrichment: derive the sides here
    if source == "cloudtrail":
        params = pl.col("request_parameters")
        last = last.with_columns(
            params.str.json_path_match("$.bucketName").alias("bucket_name"),
            # A bucket ACL names the bucket owner's canonical user id, S3's owner.id.
            pl.when(pl.col("event_name") == "PutBucketAcl")
            .then(params.str.json_path_match("$.AccessControlPolicy.Owner.ID"))
            .alias("bucket_owner_id"),
        )
    return last.drop("_found").to_dicts()


def _evidence(hits: pl.DataFrame, frame: pl.DataFrame) -> list[list[Evidence]]:
    """Each hit's evidence records, oldest first, at most the ``EVIDENCE_CAP`` newest."""
    event_id = (
        pl.col("event_id")
        if "event_id" in frame.columns
        else pl.lit(None, dtype=pl.String()).alias("event_id")
    )
    pointers = frame.select(pl.col(ROW).cast(pl.UInt32), "_file", "_line", event_id, "event_time")
    exploded = hits.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_hit"),
        pl.col("rows").cast(pl.List(pl.UInt32)).alias(ROW),
    ).explode(ROW)
    joined = (
        exploded.drop_nulls(ROW)
        .join(pointers, on=ROW, how="inner")
        .sort("_hit", "event_time", ROW)
        .group_by("_hit", maintain_order=True)
        .tail(EVIDENCE_CAP)
    )
    out: list[list[Evidence]] = [[] for _ in range(hits.height)]
    cols = joined.to_dict(as_series=False)
    for hit, file, line, eid, time in zip(
        cols["_hit"], cols["_file"], cols["_line"], cols["event_id"], cols["event_time"], strict=True
    ):
        out[hit].append(Evidence(file=file or "", line=line, event_id=eid, event_time=time))
    return out


def _info(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"info": text}
    if not isinstance(value, dict):
        return {"info": value}
    return {k: v for k, v in value.items() if v is not None}


def _action(
    kind: ActionType,
    row: Mapping[str, Any],
    source: SourceName,
    account_id: str,
    info: Mapping[str, Any],
    geo: GeoIP | None,
) -> dict[str, Any]:
    expected = _ACTION_SOURCES[kind]
    if source != expected:
        raise ValueError(f"action type {kind} needs {expected} records, got {source}")
    if kind == "AWS_API_CALL":
        return aws_api_call_action(row, info, geo)
    if kind == "NETWORK_CONNECTION":
        return network_connection_action(row, geo)
    if kind == "PORT_PROBE":
        return port_probe_action(row, geo, info)
    return dns_request_action(row, account_id)


def _with_list_version(info: dict[str, Any], list_versions: Mapping[str, str]) -> dict[str, Any]:
    """``info`` with ``threatListVersion`` right after ``threatListName`` when the version is known."""
    name = info.get("threatListName")
    version = list_versions.get(name) if isinstance(name, str) else None
    if version is None:
        return info
    out: dict[str, Any] = {}
    for key, value in info.items():
        out[key] = value
        if key == "threatListName":
            out["threatListVersion"] = version
    return out


def _threat_intel(info: Mapping[str, Any]) -> dict[str, Any] | None:
    name = info.get("threatListName")
    if not name:
        return None
    names = info.get("threatNames")
    detail: dict[str, Any] = {"threatListName": str(name)}
    if names:
        detail["threatNames"] = [str(n) for n in names] if isinstance(names, list) else [str(names)]
    return {"threatIntelligenceDetails": [detail]}


def _record(
    hit: Mapping[str, Any],
    row: Mapping[str, Any],
    evidence: Sequence[Evidence],
    source: SourceName,
    types: Mapping[str, FindingType],
    *,
    created: str,
    partition: str,
    detector: str | None,
    geo: GeoIP | None,
    list_versions: Mapping[str, str],
) -> FindingRecord:
    type_ = hit["type"]
    ftype = types.get(type_)
    if ftype is None:
        raise ValueError(f"hit of type {type_!r}, which no registered detector declares")
    account, region = hit["account_id"] or "", hit["region"] or ""
    fid = finding_id(account, region, type_, hit["key"])
    did = detector_id(account, region)
    info = _with_list_version(_info(hit["info"]), list_versions)
    count = int(hit["count"])
    first_seen, last_seen = iso_seconds(hit["first_seen"]), iso_seconds(hit["last_seen"])
    res = resource(ftype.resource_type, row, source, partition, info)
    base = {
        "type": type_,
        "account_id": account,
        "region": region,
        "count": count,
        "resource_type": ftype.resource_type,
        "resource_id": resource_id(ftype.resource_type, row, source),
        "resource_role": hit["resource_role"],
        "first_seen": first_seen,
        "last_seen": last_seen,
    }
    context = template_context(base, info, row, source)
    block = clean(
        {
            "detector": detector,
            "explanation": info.get(EXPLANATION),
            "evidence": newest(pointer(e) for e in evidence),
            "evidenceCount": count,
        }
    )
    service = clean(
        {
            "serviceName": "guardduty",
            "detectorId": did,
            "action": _action(ftype.action_type, row, source, account, info, geo),
            "evidence": _threat_intel(info),
            "detection": {"anomaly": info[ANOMALY]} if info.get(ANOMALY) else None,
            "archived": False,
            "count": count,
            "eventFirstSeen": first_seen,
            "eventLastSeen": last_seen,
            "resourceRole": hit["resource_role"],
            "additionalInfo": encode_info(
                {**{k: v for k, v in info.items() if k not in (PORT_PROBES, ANOMALY)}, BLOCK: block}
            ),
        }
    )
    finding = clean(
        {
            "schemaVersion": SCHEMA_VERSION,
            "accountId": account,
            "region": region,
            "partition": partition,
            "id": fid,
            "arn": f"arn:{partition}:guardduty:{region}:{account}:detector/{did}/finding/{fid}",
            "type": type_,
            "resource": res,
            "service": service,
            "severity": float(hit["severity"]),
            "createdAt": created,
            "updatedAt": created,
            "title": render(ftype.title, context) if ftype.title else type_,
            "description": render(ftype.description, context) if ftype.description else None,
        }
    )
    return FindingRecord(finding=finding, evidence=list(evidence))
