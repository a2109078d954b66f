"""keibi's evidence pointer block inside ``service.additionalInfo``.

GuardDuty has no field for "the raw records behind this finding", and any GuardDuty client
(boto3, EventBridge consumers) drops unknown members. ``additionalInfo.value`` is free-form
JSON text that every client passes through, so keibi keeps its pointers there::

    {"threatListName": "...",                       # the hit's own info, if any
     "keibi": {"detector": "iam.root_usage",
               "evidence": [{"file": "...", "line": 3, "eventId": "...", "eventTime": "...Z"}],
               "evidenceCount": 41}}

``evidence`` holds the ``POINTERS_KEPT`` newest records, oldest first; ``evidenceCount``
counts every record ever aggregated into the finding. The store keeps more (see
``keibi.store``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import orjson

from keibi.findings._times import iso_seconds
from keibi.findings.model import Evidence

POINTERS_KEPT: Final = 20
BLOCK: Final = "keibi"


def pointer(ev: Evidence) -> dict[str, Any]:
    """The JSON form of one evidence record (unknown parts left out)."""
    out: dict[str, Any] = {"file": ev.file}
    if ev.line is not None:
        out["line"] = ev.line
    if ev.event_id is not None:
        out["eventId"] = ev.event_id
    out["eventTime"] = iso_seconds(ev.event_time)
    return out


def newest(pointers: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``POINTERS_KEPT`` newest pointers, oldest first (a stable sort on ``eventTime``)."""
    ordered = sorted((dict(p) for p in pointers), key=lambda p: str(p.get("eventTime", "")))
    return ordered[-POINTERS_KEPT:]


def encode_info(info: Mapping[str, Any]) -> dict[str, str]:
    """``service.additionalInfo`` as GuardDuty's API returns it: JSON text plus ``type``."""
    return {"value": orjson.dumps(dict(info)).decode(), "type": "default"}


def decode_info(finding: Mapping[str, Any]) -> dict[str, Any]:
    """The object inside a finding's ``service.additionalInfo.value`` ({} when absent or not an object)."""
    raw = finding.get("service", {}).get("additionalInfo", {}).get("value")
    if not isinstance(raw, str):
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
