"""``merge``: fold a new occurrence of the same issue into the finding already stored.

GuardDuty updates one finding instead of raising another (finding_format.md §4): the count
adds up, the first/last seen times widen, ``updatedAt`` moves on while ``createdAt`` stays,
and the action, resource and additional info become the latest occurrence's. Severity
keeps the highest seen; ``archived`` and ``userFeedback`` are the user's, so the stored
finding's win. keibi's evidence pointers keep the newest ``POINTERS_KEPT`` of both sides.
"""

from __future__ import annotations

import copy
from typing import Any

from keibi.findings._times import parse_iso
from keibi.findings.pointers import BLOCK, decode_info, encode_info, newest


def merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The finding after ``new`` (same ``id``) happened on top of ``old``; neither is changed.

    >>> merged = merge(stored, fresh)
    >>> merged["service"]["count"] == stored["service"]["count"] + fresh["service"]["count"]
    True
    """
    old_service, new_service = old.get("service", {}), new.get("service", {})
    old_last, new_last = old_service.get("eventLastSeen"), new_service.get("eventLastSeen")
    newer = old_last is None or (new_last is not None and parse_iso(new_last) >= parse_iso(old_last))
    out = copy.deepcopy(new if newer else old)
    service = out.setdefault("service", {})

    out["createdAt"] = old.get("createdAt", new.get("createdAt"))
    out["updatedAt"] = new.get("updatedAt", old.get("updatedAt"))
    out["severity"] = max(float(old.get("severity", 0.0)), float(new.get("severity", 0.0)))
    service["count"] = int(old_service.get("count", 0)) + int(new_service.get("count", 0))
    firsts = [t for t in (old_service.get("eventFirstSeen"), new_service.get("eventFirstSeen")) if t]
    lasts = [t for t in (old_last, new_last) if t]
    if firsts:
        service["eventFirstSeen"] = min(firsts, key=parse_iso)
    if lasts:
        service["eventLastSeen"] = max(lasts, key=parse_iso)
    if "archived" in old_service:
        service["archived"] = old_service["archived"]
    if "userFeedback" in old_service:
        service["userFeedback"] = old_service["userFeedback"]
    else:
        service.pop("userFeedback", None)

    old_block, new_block = decode_info(old).get(BLOCK, {}), decode_info(new).get(BLOCK, {})
    if old_block or new_block:
        info = decode_info(out)
        block = dict(info.get(BLOCK, {}))
        block["evidence"] = newest([*old_block.get("evidence", []), *new_block.get("evidence", [])])
        block["evidenceCount"] = int(old_block.get("evidenceCount", 0)) + int(
            new_block.get("evidenceCount", 0)
        )
        info[BLOCK] = block
        service["additionalInfo"] = {**service.get("additionalInfo", {}), **encode_info(info)}
    return out
