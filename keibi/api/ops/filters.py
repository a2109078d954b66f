"""CreateFilter, GetFilter, UpdateFilter, DeleteFilter, ListFilters.

A filter with ``action`` ARCHIVE is a suppression rule: scans archive the new findings it
matches (``keibi.store.filters.Suppression``). Criteria are compiled when saved, ``matches``
and ``notMatches`` included, so a filter that is stored always applies. Ranks are positions,
1 to n, as GuardDuty keeps them (``keibi.store.filters``). The error wording is GuardDuty's
where it is known: "no such resource found" for an unknown name and "rank is out-of-bounds".
"""

from __future__ import annotations

import re
from typing import Any, Final

from keibi.api.arns import child_arn
from keibi.api.call import Call
from keibi.api.ops import operation
from keibi.api.ops.paging import page
from keibi.api.protocol import ApiError, bad_request
from keibi.findings.criteria import CriteriaError, compile_criteria
from keibi.store.detectors import DetectorRecord
from keibi.store.filters import (
    NOOP,
    FilterExists,
    FilterQuotaExceeded,
    FilterRecord,
    RankOutOfBounds,
    create_filter,
    delete_filter,
    get_filter,
    list_filters,
    update_filter,
)
from keibi.store.tags import resource_tags

NAME: Final = re.compile(r"[A-Za-z0-9._-]{3,64}")
NOT_FOUND: Final = "The request is rejected since no such resource found."
OUT_OF_BOUNDS: Final = "The request is rejected because the parameter rank is out-of-bounds."
QUOTA: Final = (
    "The request is rejected because it's an attempt to create resources beyond the current AWS account "
    "limits: a detector has at most 100 filters."
)


def _arn(detector: DetectorRecord, name: str) -> str:
    return child_arn(detector.region, detector.account_id, detector.detector_id, "filter", name)


def _criteria(call: Call) -> dict[str, Any] | None:
    """The call's ``findingCriteria``, once it is known to compile."""
    criteria = call.params.get("findingCriteria")
    if criteria is None:
        return None
    try:
        compile_criteria(criteria, allow_matches=True)
    except CriteriaError as err:
        raise bad_request(str(err)) from None
    return dict(criteria)


def _refused(err: RankOutOfBounds | FilterQuotaExceeded) -> ApiError:
    return bad_request(OUT_OF_BOUNDS if isinstance(err, RankOutOfBounds) else QUOTA)


def _filter(call: Call, detector: DetectorRecord) -> FilterRecord:
    found = get_filter(call.store, detector.detector_id, str(call.params.get("filterName", "")))
    if found is None:
        raise bad_request(NOT_FOUND)
    return found


@operation("CreateFilter")
def create(call: Call) -> dict[str, Any]:
    detector = call.detector()
    name = str(call.params["name"])
    if NAME.fullmatch(name) is None:
        raise bad_request(
            "The request is rejected because the parameter name has an invalid value: a filter name is 3 to "
            "64 characters from A-Z, a-z, 0-9, period, underscore and hyphen."
        )
    criteria = _criteria(call)
    assert criteria is not None  # required by the model, checked before the handler runs
    try:
        create_filter(
            call.store,
            detector.detector_id,
            name=name,
            action=call.params.get("action") or NOOP,
            rank=call.params.get("rank"),
            description=call.params.get("description") or "",
            criteria=criteria,
            now=call.now,
            arn=_arn(detector, name),
            tags_=call.params.get("tags") or {},
        )
    except FilterExists:
        raise bad_request(
            f"The request is rejected because a filter with the name {name} already exists."
        ) from None
    except (RankOutOfBounds, FilterQuotaExceeded) as err:
        raise _refused(err) from None
    return {"name": name}


@operation("GetFilter")
def get(call: Call) -> dict[str, Any]:
    detector = call.detector()
    found = _filter(call, detector)
    out: dict[str, Any] = {
        "name": found.name,
        "action": found.action,
        "rank": found.rank,
        "findingCriteria": found.criteria,
        "tags": resource_tags(call.store, _arn(detector, found.name)),
        "createdAt": found.created_at.timestamp(),
        "updatedAt": found.updated_at.timestamp(),
    }
    if found.description:
        out["description"] = found.description
    return out


@operation("UpdateFilter")
def update(call: Call) -> dict[str, Any]:
    detector = call.detector()
    name = _filter(call, detector).name
    try:
        updated = update_filter(
            call.store,
            detector.detector_id,
            name,
            now=call.now,
            action=call.params.get("action"),
            description=call.params.get("description"),
            criteria=_criteria(call),
            rank=call.params.get("rank"),
        )
    except RankOutOfBounds as err:
        raise _refused(err) from None
    if updated is None:  # deleted since it was read
        raise bad_request(NOT_FOUND)
    return {"name": name}


@operation("DeleteFilter")
def delete(call: Call) -> dict[str, Any]:
    detector = call.detector()
    name = str(call.params.get("filterName", ""))
    if not delete_filter(call.store, detector.detector_id, name, _arn(detector, name)):
        raise bad_request(NOT_FOUND)
    return {}


@operation("ListFilters")
def list_names(call: Call) -> dict[str, Any]:
    detector = call.detector()
    names = [f.name for f in list_filters(call.store, detector.detector_id)]
    items, token = page(call, names)
    return {"filterNames": items, **({"nextToken": token} if token else {})}
