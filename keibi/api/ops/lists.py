"""Create, Get, Update, Delete and List of IPSets, ThreatIntelSets, TrustedEntitySets and
ThreatEntitySets: sixteen operations over one store module (``keibi.store.api_lists``, whose
docstring says how a list becomes a keibi intel list, and what keibi does beyond GuardDuty).

``activate`` fetches the list inside the request, so Create and Update answer once the list is
``ACTIVE`` or ``ERROR``. Why a list is in ERROR: entity lists say it in ``errorDetails`` (the
location and why it could not be fetched, or that it could not be read in its format); IP
lists have no such member in GuardDuty, so their Get shows the status only. Either way the
server log has the full reason, with the request id.

As in GuardDuty, member accounts cannot manage lists (their administrator's apply to them),
and the quotas are per account and Region: one IPSet, one TrustedEntitySet, six threat lists.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from keibi.api.arns import child_arn
from keibi.api.call import Call
from keibi.api.ops import Handler, operation
from keibi.api.ops.paging import page
from keibi.api.protocol import ApiError, bad_request
from keibi.intel.fetch import scheme_of
from keibi.store.api_lists import (
    ENTITY_KINDS,
    KINDS,
    ApiListError,
    ApiListRecord,
    ListKind,
    ListLocationInvalid,
    ListNameInvalid,
    ListNameTaken,
    ListQuotaExceeded,
    create_list,
    delete_list,
    get_list,
    intel_error,
    list_lists,
    update_list,
)
from keibi.store.detectors import DetectorRecord
from keibi.store.members import administrator
from keibi.store.tags import resource_tags

log = logging.getLogger("keibi.api.lists")

NOT_FOUND: Final = "The request is rejected since no such resource found."
MEMBER: Final = "The request is rejected because users from GuardDuty member accounts cannot run this API."
LIMITS: Final = "The request is rejected because it's an attempt to create resources beyond the current AWS account limits"


@dataclass(frozen=True, slots=True)
class _Kind:
    """How one kind of list is spelt on the wire and in its ARN."""

    kind: ListKind
    arn_kind: str  # ipset | threatintelset | trustedentityset | threatentityset
    id_member: str  # ipSetId …: Create's output and the path parameter
    ids_member: str  # ipSetIds …: List's output
    quota: str  # the limit, as the quota error says it

    @property
    def entity(self) -> bool:
        return self.kind in ENTITY_KINDS


_THREAT_QUOTA = "an account has at most six ThreatIntelSets and ThreatEntitySets together per Region"
SPECS: Final[dict[ListKind, _Kind]] = {
    "IPSet": _Kind("IPSet", "ipset", "ipSetId", "ipSetIds", "an account has at most one IPSet per Region"),
    "ThreatIntelSet": _Kind(
        "ThreatIntelSet", "threatintelset", "threatIntelSetId", "threatIntelSetIds", _THREAT_QUOTA
    ),
    "TrustedEntitySet": _Kind(
        "TrustedEntitySet",
        "trustedentityset",
        "trustedEntitySetId",
        "trustedEntitySetIds",
        "an account has at most one TrustedEntitySet per Region",
    ),
    "ThreatEntitySet": _Kind(
        "ThreatEntitySet", "threatentityset", "threatEntitySetId", "threatEntitySetIds", _THREAT_QUOTA
    ),
}


def _arn(detector: DetectorRecord, spec: _Kind, list_id: str) -> str:
    return child_arn(detector.region, detector.account_id, detector.detector_id, spec.arn_kind, list_id)


def _refused(spec: _Kind, err: ApiListError, name: str | None) -> ApiError:
    if isinstance(err, ListNameInvalid):
        return bad_request(f"The request is rejected because the parameter name has an invalid value: {err}.")
    if isinstance(err, ListLocationInvalid):
        return bad_request(
            f"The request is rejected because the parameter location has an invalid value: {err}."
        )
    if isinstance(err, ListNameTaken):
        return bad_request(
            f"The request is rejected because a {spec.kind} with the name {name} already exists."
        )
    if isinstance(err, ListQuotaExceeded):
        return bad_request(f"{LIMITS}: {spec.quota}.")
    raise err


def _manager(call: Call) -> DetectorRecord:
    """The caller's detector, once the caller is known not to be an associated member."""
    detector = call.detector()
    if administrator(call.store, call.account_id, call.region) is not None:
        raise bad_request(MEMBER)
    return detector


def _found(call: Call, spec: _Kind, detector: DetectorRecord) -> ApiListRecord:
    found = get_list(call.store, detector.detector_id, spec.kind, str(call.params.get(spec.id_member, "")))
    if found is None:
        raise bad_request(NOT_FOUND)
    return found


def _settled(call: Call, record: ApiListRecord) -> None:
    if record.status == "ERROR":
        log.warning(
            "request %s: %s %s (%s) is in ERROR: %s",
            call.request_id,
            record.kind,
            record.list_id,
            record.name,
            intel_error(call.store, record) or record.error,
        )


def _allowed(call: Call, location: Any) -> None:
    """Refuse a location the server may not fetch for API callers (``[server] list_locations``)."""
    if location is None:
        return
    scheme = scheme_of(str(location).strip())
    if scheme not in call.settings.list_locations:
        raise bad_request(
            "The request is rejected because the parameter location has an invalid value: "
            f"this keibi server reads lists only from "
            f"{', '.join(call.settings.list_locations)} locations, not {scheme or 'local file'} ones "
            "([server] list_locations)."
        )


def _create(spec: _Kind, call: Call) -> dict[str, Any]:
    detector = _manager(call)
    _allowed(call, call.params["location"])
    name = str(call.params["name"])
    list_id = uuid.uuid4().hex
    try:
        record = create_list(
            call.store,
            detector.detector_id,
            list_id=list_id,
            kind=spec.kind,
            name=name,
            fmt=str(call.params["format"]),
            location=str(call.params["location"]),
            activate=bool(call.params["activate"]),
            expected_bucket_owner=call.params.get("expectedBucketOwner"),
            now=call.now,
            arn=_arn(detector, spec, list_id),
            tags_=call.params.get("tags") or {},
        )
    except ApiListError as err:
        raise _refused(spec, err, name) from None
    _settled(call, record)
    return {spec.id_member: record.list_id}


def _get(spec: _Kind, call: Call) -> dict[str, Any]:
    detector = call.detector()
    found = _found(call, spec, detector)
    out: dict[str, Any] = {
        "name": found.name,
        "format": found.format,
        "location": found.location,
        "status": found.status,
        "tags": resource_tags(call.store, _arn(detector, spec, found.list_id)),
    }
    if found.expected_bucket_owner is not None:
        out["expectedBucketOwner"] = found.expected_bucket_owner
    if spec.entity:
        out["createdAt"] = found.created_at.timestamp()
        out["updatedAt"] = found.updated_at.timestamp()
        if found.error is not None:
            out["errorDetails"] = found.error
    return out


def _update(spec: _Kind, call: Call) -> dict[str, Any]:
    detector = _manager(call)
    list_id = _found(call, spec, detector).list_id
    _allowed(call, call.params.get("location"))
    name = call.params.get("name")
    activate = call.params.get("activate")
    try:
        record = update_list(
            call.store,
            detector.detector_id,
            spec.kind,
            list_id,
            now=call.now,
            name=None if name is None else str(name),
            location=call.params.get("location"),
            activate=None if activate is None else bool(activate),
            expected_bucket_owner=call.params.get("expectedBucketOwner"),
        )
    except ApiListError as err:
        raise _refused(spec, err, name) from None
    if record is None:  # deleted since it was read
        raise bad_request(NOT_FOUND)
    _settled(call, record)
    return {}


def _delete(spec: _Kind, call: Call) -> dict[str, Any]:
    detector = _manager(call)
    list_id = str(call.params.get(spec.id_member, ""))
    if not delete_list(call.store, detector.detector_id, spec.kind, list_id, _arn(detector, spec, list_id)):
        raise bad_request(NOT_FOUND)
    return {}


def _list(spec: _Kind, call: Call) -> dict[str, Any]:
    detector = call.detector()
    ids = [r.list_id for r in list_lists(call.store, detector.detector_id, spec.kind)]
    items, token = page(call, ids)
    return {spec.ids_member: items, **({"nextToken": token} if token else {})}


_VERBS: Final[dict[str, Callable[[_Kind, Call], dict[str, Any]]]] = {
    "Create{}": _create,
    "Get{}": _get,
    "Update{}": _update,
    "Delete{}": _delete,
    "List{}s": _list,
}


def _handler(verb: Callable[[_Kind, Call], dict[str, Any]], spec: _Kind) -> Handler:
    def handle(call: Call) -> dict[str, Any]:
        return verb(spec, call)

    return handle


for _kind in KINDS:
    for _pattern, _verb in _VERBS.items():
        operation(_pattern.format(_kind))(_handler(_verb, SPECS[_kind]))
