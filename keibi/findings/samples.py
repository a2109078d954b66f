"""``sample_findings``: GuardDuty's CreateSampleFindings, one realistic sample per finding type.

A sample is made the way keibi makes any finding: one made-up log record per type goes through
``build_findings`` as the latest record of a one-record hit. So a sample has exactly the
``resource``, ``service.action`` (the type's action type, from the same builders), title and
description keibi's own findings of that type have; only the record and the hit's ``info`` are
invented. They are data, in ``data/samples.json``:

- ``records``: one base record per kind of evidence (CloudTrail about an ``AccessKey`` or an
  ``S3Bucket``, a ``vpc_flow`` record, a ``dns`` query), in the columns of
  ``keibi.findings.build.DETAIL_COLUMNS`` (``request_parameters`` as an object);
- ``types``: per catalogue type, the values that make it that type (``record``: the API, port,
  domain or identity; ``info``: what its detector would say, such as ``threatListName``,
  ``connectionAttempts`` or ``anomaly``; ``role`` where the catalogue leaves it open);
- ``texts``: title and description templates for catalogue types no detector declares
  (keibi detects 87 of the 88; the other's texts are the only ones not keibi's own);
- ``geo``: the place every documentation address is given in ``remoteIpDetails``, as a GeoIP
  database would, so filters on country or ASN can be tried on samples.

The values are documentation values, so no sample names a real party: addresses from
192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24 (RFC 5737), AWS's documentation key,
instance and bucket names, account 444455556666 for a remote account, domains under the
reserved ``.example`` TLD (RFC 2606), ASN 64500 (RFC 5398). ``{account_id}`` in a value is the
caller's account. Types whose severity varies get the variant the catalogue's label names
(brute force against the instance, a probe of port 22, a policy weakened a little), so the
severity is the catalogue's.

Marked as GuardDuty marks them: ``service.additionalInfo`` (``{"value": <JSON text>, "type":
"default"}``, keibi's ``encode_info``) carries ``"sample": true``. The title gets no
``[SAMPLE]`` prefix: real sample findings, in GetFindings responses and EventBridge events,
carry the type's ordinary title (``"Unusual changes to API activity logging by
GeneratedFindingUserName."``) beside ``additionalInfo.sample = true``; the "[SAMPLE]" the user
guide mentions is how the console shows that flag.

GuardDuty makes a new finding each call, so the ``id`` is random (32 hex digits, GuardDuty's
length) instead of keibi's hash of the aggregation key: a sample never updates another finding.
``count`` is 1, ``archived`` false, ``createdAt``/``updatedAt`` and ``eventFirstSeen``/
``eventLastSeen`` are ``now``. keibi's evidence block is left out of ``additionalInfo``: no raw
record stands behind a sample.
"""

from __future__ import annotations

import copy
import ipaddress
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Any, Final

import orjson
import polars as pl

from keibi.detect.catalogue import load_catalogue
from keibi.detect.hits import HITS, ROW
from keibi.detect.registry import detectors
from keibi.detect.types import ActionType, FindingType, Severity
from keibi.findings._times import utc
from keibi.findings.build import build_findings
from keibi.findings.pointers import BLOCK, decode_info, encode_info
from keibi.sources.schema import COMMON, SCHEMAS, SourceName

SAMPLES_FILE: Final = "data/samples.json"
ACCOUNT: Final = "{account_id}"  # stands for the caller's account in the data's values

# Where each action type's evidence comes from (the sources of ``build_findings``).
_SOURCES: Final[dict[ActionType, SourceName]] = {
    "AWS_API_CALL": "cloudtrail",
    "NETWORK_CONNECTION": "vpc_flow",
    "PORT_PROBE": "vpc_flow",
    "DNS_REQUEST": "dns",
}

# RFC 5737's documentation networks: the samples' stand-ins for the internet.
_DOCUMENTATION: Final = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)


def sample_findings(
    account_id: str, region: str, types: Sequence[str] | None = None, *, now: datetime
) -> list[dict[str, Any]]:
    """One sample finding (GuardDuty wire JSON) per type of ``types``, in that order.

    ``types`` None or empty means every type of the catalogue keibi ships; a type named twice
    gets one sample; a lone string is one type. Raises ``ValueError`` naming the first type not
    in the catalogue.

    >>> [f["type"] for f in sample_findings("111122223333", "us-east-1", ["Recon:EC2/Portscan"], now=now)]
    ['Recon:EC2/Portscan']
    """
    catalogue = _catalogue()
    now = utc(now)
    asked = [types] if isinstance(types, str) else types
    wanted = list(dict.fromkeys(asked or catalogue))
    for name in wanted:
        if name not in catalogue:
            raise ValueError(
                f"unknown finding type {name!r}: not one of the {len(catalogue)} GuardDuty finding types keibi knows"
            )
    ftypes = _finding_types()
    by_source: dict[SourceName, list[str]] = {}
    for name in wanted:
        by_source.setdefault(_SOURCES[ftypes[name].action_type], []).append(name)
    made: dict[str, dict[str, Any]] = {}
    for source, names in by_source.items():
        hits, frame = _hit_inputs(names, source, account_id, region, now)
        records = build_findings(hits, frame, source, ftypes, now=now)
        for name, record in zip(names, records, strict=True):
            made[name] = _as_sample(record.finding)
    return [made[name] for name in wanted]


@cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(files("keibi.findings").joinpath(SAMPLES_FILE).read_bytes())
    return data


@cache
def _catalogue() -> dict[str, dict[str, Any]]:
    """The shipped catalogue's active types by name, in its order."""
    return {str(t["type"]): t for t in load_catalogue()}


@cache
def _finding_types() -> dict[str, FindingType]:
    """Each catalogue type as keibi declares it; a type no detector declares from the catalogue,
    with the data's texts."""
    declared = detectors.load().finding_types()
    texts = _data()["texts"]
    out: dict[str, FindingType] = {}
    for name, entry in _catalogue().items():
        found = declared.get(name)
        if found is None:
            text = texts.get(name, {})
            found = FindingType(
                type=name,
                severity=Severity(float(entry["severity"]["typical_value"])),
                data_sources=tuple(entry["data_sources"]),
                resource_type=entry["resource_type"],
                detection=entry["detection"],
                action_type=entry["action_type"],
                title=str(text.get("title", "")),
                description=str(text.get("description", "")),
            )
        out[name] = found
    return out


def _with_account(value: Any, account_id: str) -> Any:
    """``value`` with ``{account_id}`` in its strings replaced, at any depth."""
    if isinstance(value, str):
        return value.replace(ACCOUNT, account_id)
    if isinstance(value, dict):
        return {k: _with_account(v, account_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_account(v, account_id) for v in value]
    return value


def _record(ftype: FindingType, source: SourceName) -> dict[str, Any]:
    """The type's made-up log record: its kind's base record overlaid by the type's values."""
    data = _data()
    kind = ftype.resource_type if source == "cloudtrail" else source
    record = {**data["records"][kind], **data["types"].get(ftype.type, {}).get("record", {})}
    params = record.get("request_parameters")
    if params is not None and not isinstance(params, str):
        record["request_parameters"] = orjson.dumps(params).decode()  # a batch keeps it as JSON text
    return record


def _hit_inputs(
    names: Sequence[str], source: SourceName, account_id: str, region: str, now: datetime
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The hits frame and the batch ``build_findings`` takes: one record and one hit per type."""
    ftypes, catalogue, entries = _finding_types(), _catalogue(), _data()["types"]
    records: list[dict[str, Any]] = []
    hits: list[dict[str, Any]] = []
    for row, name in enumerate(names):
        entry = entries.get(name, {})
        records.append(
            {
                **_with_account(_record(ftypes[name], source), account_id),
                ROW: row,
                "event_time": now,
                "account_id": account_id,
                "region": region,
            }
        )
        hits.append(
            {
                "type": name,
                "severity": float(catalogue[name]["severity"]["typical_value"]),
                "account_id": account_id,
                "region": region,
                "key": "sample",
                "resource_role": entry.get("role") or catalogue[name].get("resource_role") or "TARGET",
                "first_seen": now,
                "last_seen": now,
                "count": 1,
                "rows": [row],
                "last_row": row,
                "info": orjson.dumps(_with_account(entry.get("info", {}), account_id)).decode(),
            }
        )
    columns = dict.fromkeys(c for r in records for c in r)
    known = {ROW: pl.UInt32(), **COMMON, **SCHEMAS[source]}
    frame = pl.DataFrame(
        [{c: r.get(c) for c in columns} for r in records],
        schema_overrides={c: known[c] for c in columns if c in known},
        infer_schema_length=None,
    )
    for name, dtype in COMMON.items():  # the evidence pointer columns, empty
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(name))
    return pl.DataFrame(hits, schema=HITS), frame


def _documentation(address: Any) -> bool:
    try:
        ip = ipaddress.ip_address(str(address))
    except ValueError:
        return False
    return any(ip in net for net in _DOCUMENTATION)


def _place(node: Any, geo: Mapping[str, Any]) -> None:
    """Give every ``remoteIpDetails`` of a documentation address under ``node`` the data's place."""
    if isinstance(node, list):
        for item in node:
            _place(item, geo)
    elif isinstance(node, dict):
        for key, value in node.items():
            if (
                key == "remoteIpDetails"
                and isinstance(value, dict)
                and _documentation(value.get("ipAddressV4"))
            ):
                value.update(copy.deepcopy(dict(geo)))
            else:
                _place(value, geo)


def _as_sample(finding: dict[str, Any]) -> dict[str, Any]:
    """A built finding as a sample: a new id, ``additionalInfo.sample`` set, no evidence block."""
    fid = uuid.uuid4().hex
    finding["id"] = fid
    finding["arn"] = f"{finding['arn'].rsplit('/', 1)[0]}/{fid}"
    info = {k: v for k, v in decode_info(finding).items() if k != BLOCK}
    info["sample"] = True
    finding["service"]["additionalInfo"] = encode_info(info)
    _place(finding["service"].get("action"), _data()["geo"])
    return finding
