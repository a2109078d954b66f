"""TagResource, UntagResource, ListTagsForResource: tags of the caller's own resources, by ARN."""

from __future__ import annotations

from typing import Any

from keibi.api import arns
from keibi.api.call import Call
from keibi.api.ops import operation
from keibi.api.protocol import bad_request
from keibi.store.detectors import find_detector
from keibi.store.tags import resource_exists, resource_tags, tag_resource, untag_resource


def _owned(call: Call) -> str:
    """The ARN named by the call, once it is known to be an existing resource of the caller's;
    anything else gets one answer, so other accounts' ARNs cannot be probed."""
    arn = str(call.params.get("resourceArn", ""))
    parsed = arns.parse(arn)
    refused = bad_request(f"The request is rejected because the resource {arn} was not found.")
    if parsed is None:
        raise refused
    region, account, detector_id, rest = parsed
    detector = find_detector(call.store, detector_id)
    if (
        account != call.account_id
        or region != call.region
        or detector is None
        or detector.account_id != account
        or detector.region != region
    ):
        raise refused
    if rest:
        parts = rest.strip("/").split("/")
        if len(parts) != 2 or not resource_exists(call.store, detector_id, parts[0], parts[1]):
            raise refused
    return arn


@operation("ListTagsForResource")
def list_tags(call: Call) -> dict[str, Any]:
    return {"tags": resource_tags(call.store, _owned(call))}


@operation("TagResource")
def tag(call: Call) -> dict[str, Any]:
    tag_resource(call.store, _owned(call), call.params["tags"])
    return {}


@operation("UntagResource")
def untag(call: Call) -> dict[str, Any]:
    untag_resource(call.store, _owned(call), call.params["tagKeys"])
    return {}
