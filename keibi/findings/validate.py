"""``validate``: check a finding against botocore's GuardDuty ``Finding`` shape.

keibi promises GuardDuty's format exactly, so what it writes is checked against the same
model boto3 parses responses with: required members present, no member the model does not
know (by the JSON names, ``locationName``: ``ProductCode.Code`` is ``productCodeId``), and
the right JSON types. Time members typed ``string`` (``createdAt``, ``eventLastSeen``,
``launchTime``) are strings; members typed ``timestamp`` (``s3BucketDetails[].createdAt``)
are epoch numbers, rest-json's default on the wire.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session


@cache
def finding_shape() -> Any:
    """botocore's ``Finding`` shape of the installed GuardDuty model."""
    return botocore.session.get_session().get_service_model("guardduty").shape_for("Finding")


def validate(finding: dict[str, Any]) -> None:
    """Raise ``ValueError("$.path: reason")`` at the first way ``finding`` breaks the shape.

    >>> validate({"id": "x"})
    Traceback (most recent call last):
    ValueError: $: missing required member accountId
    """
    _check(finding, finding_shape(), "$")


def _json_names(shape: Any) -> dict[str, tuple[str, Any]]:
    return {mem.serialization.get("name", name): (name, mem) for name, mem in shape.members.items()}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check(value: Any, shape: Any, path: str) -> None:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise ValueError(f"{path}: expected an object, got {type(value).__name__}")
        members = _json_names(shape)
        for required in shape.required_members:
            json_name = shape.members[required].serialization.get("name", required)
            if json_name not in value:
                raise ValueError(f"{path}: missing required member {json_name}")
        for key, item in value.items():
            if key not in members:
                raise ValueError(f"{path}: unknown member {key!r}")
            _check(item, members[key][1], f"{path}.{key}")
    elif kind == "list":
        if not isinstance(value, list):
            raise ValueError(f"{path}: expected a list, got {type(value).__name__}")
        for i, item in enumerate(value):
            _check(item, shape.member, f"{path}[{i}]")
    elif kind == "map":
        if not isinstance(value, dict):
            raise ValueError(f"{path}: expected an object (map), got {type(value).__name__}")
        for key, item in value.items():
            _check(key, shape.key, f"{path} key")
            _check(item, shape.value, f"{path}.{key}")
    elif kind in ("string", "blob"):
        if not isinstance(value, str):
            raise ValueError(f"{path}: expected a string, got {type(value).__name__}")
        if shape.enum and value not in shape.enum:
            raise ValueError(f"{path}: {value!r} is not one of {', '.join(shape.enum)}")
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{path}: expected an integer, got {type(value).__name__}")
    elif kind in ("double", "float"):
        if not _is_number(value):
            raise ValueError(f"{path}: expected a number, got {type(value).__name__}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"{path}: expected a boolean, got {type(value).__name__}")
    elif kind == "timestamp":
        if not _is_number(value):
            raise ValueError(f"{path}: expected a timestamp in epoch seconds, got {type(value).__name__}")
    else:
        raise ValueError(f"{path}: shape type {kind} is not supported")
