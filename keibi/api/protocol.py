"""GuardDuty's rest-json protocol, read from botocore's service model rather than copied.

Routes (method + URI template), where each input member travels (path, query string, header,
body), the wire names (``locationName``), types, enums and limits all come from the model that
boto3 itself uses, so a client built from the same model finds the same API here. Handlers
see one dict per request in wire form — the path, query and body members under their
``locationName`` (``detectorId``, ``maxResults``, ``findingCriteria``) — and return the response
body in wire form; GuardDuty's findings are already stored that way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Final
from urllib.parse import parse_qs, unquote

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape

SERVICE: Final = "guardduty"
INVALID_INPUT: Final = "InvalidInputException"  # the ``__type`` GuardDuty gives its 400s


class ApiError(Exception):
    """An error answered in GuardDuty's shape: HTTP ``status``, ``x-amzn-ErrorType: code`` and
    a body with ``message`` and ``type`` (the members of ``BadRequestException`` in botocore's
    model) plus ``__type``, the key AWS's JSON services put the error type under."""

    def __init__(self, code: str, message: str, status: int = 400, type_: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.type = type_

    def body(self) -> dict[str, str]:
        kind = self.type or self.code
        return {"message": self.message, "type": kind, "__type": kind}


def bad_request(message: str) -> ApiError:
    """GuardDuty's answer to input it refuses (400 BadRequestException, InvalidInputException)."""
    return ApiError("BadRequestException", message, 400, INVALID_INPUT)


def access_denied(message: str) -> ApiError:
    return ApiError("AccessDeniedException", message, 403, "AccessDeniedException")


def internal_error(request_id: str) -> ApiError:
    return ApiError(
        "InternalServerErrorException",
        f"The request failed because of an internal error (request {request_id}).",
        500,
        "InternalException",
    )


@cache
def model() -> ServiceModel:
    """GuardDuty's service model, as installed with botocore (loaded once)."""
    return botocore.session.get_session().get_service_model(SERVICE)


@dataclass(frozen=True, slots=True)
class Route:
    """One operation's URI template, matched segment by segment on the raw (still encoded) path."""

    operation: OperationModel
    method: str
    segments: tuple[str, ...]  # literal segments, or "{Member}" for a path parameter
    status: int

    @property
    def literals(self) -> int:
        return sum(not s.startswith("{") for s in self.segments)

    def match(self, method: str, parts: list[str]) -> dict[str, str] | None:
        if method != self.method or len(parts) != len(self.segments):
            return None
        found: dict[str, str] = {}
        for want, got in zip(self.segments, parts, strict=True):
            if want.startswith("{"):
                if not got:
                    return None
                found[want.strip("{}+")] = unquote(got)
            elif want != got:
                return None
        return found


@cache
def routes() -> tuple[Route, ...]:
    """Every operation's route, the most literal first (``/member/get`` before ``/member/{Id}``)."""
    svc = model()
    out = []
    for name in svc.operation_names:
        op = svc.operation_model(name)
        template = op.http["requestUri"].split("?")[0]
        segments = tuple(s for s in template.split("/") if s)
        out.append(Route(op, op.http["method"], segments, int(op.http.get("responseCode", 200))))
    return tuple(sorted(out, key=lambda r: -r.literals))


def find_route(method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
    """The route answering ``method raw_path`` and its path parameters (member name → value)."""
    parts = [p for p in raw_path.split("/") if p]
    for route in routes():
        found = route.match(method, parts)
        if found is not None:
            return route, found
    return None


def wire_name(name: str, shape: Shape) -> str:
    """The member's key in a handler's params: its ``locationName``; path parameters, which the
    model names like members (``DetectorId``), in lowerCamelCase like the rest (``detectorId``)."""
    if shape.serialization.get("location") == "uri":
        return name[:1].lower() + name[1:]
    return str(shape.serialization.get("name", name))


def read_request(
    route: Route, path_params: Mapping[str, str], query_string: str, headers: Mapping[str, str], body: Any
) -> dict[str, Any]:
    """The request's input members in wire form, converted to their model types and validated.

    ``body`` is the parsed JSON body (``None`` when empty). Raises ``ApiError`` (400) naming
    the first member at fault, in the words AWS's validation errors use.
    """
    shape = route.operation.input_shape
    params: dict[str, Any] = {}
    if shape is None:
        return params
    if body is not None and not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    query = parse_qs(query_string, keep_blank_values=True)
    for name, member in shape.members.items():
        wire = wire_name(name, member)
        where = member.serialization.get("location")
        if where == "uri":
            if name in path_params:
                params[wire] = path_params[name]
        elif where == "querystring":
            if wire in query:
                values = query[wire]
                params[wire] = _from_text(wire, member, values if member.type_name == "list" else values[-1])
        elif where == "header":
            value = headers.get(wire.lower())
            if value is not None:
                params[wire] = _from_text(wire, member, value)
        elif body is not None and wire in body:
            params[wire] = body[wire]
    validate(shape, params)
    return params


def _from_text(wire: str, shape: Shape, value: Any) -> Any:
    """A query-string or header value converted to the member's type."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(value)
        if kind == "boolean":
            if value not in ("true", "false"):
                raise ValueError(value)
            return value == "true"
        if kind in ("double", "float"):
            return float(value)
    except ValueError:
        raise bad_request(f"Invalid value {value!r} for {wire}: not a {kind}.") from None
    return value


def validate(shape: Shape, value: Any, path: str = "") -> None:
    """Check ``value`` (wire form) against ``shape``: types, required members, enums, lengths and
    ranges. Unknown members are ignored, as AWS's JSON services do (newer clients may send them)."""
    kind = shape.type_name
    where = path or "input"
    if value is None:
        return
    if kind == "structure":
        if not isinstance(value, dict):
            raise bad_request(f"Value at '{where}' must be an object.")
        assert isinstance(shape, StructureShape)
        for name in shape.required_members:
            wire = wire_name(name, shape.members[name])
            if value.get(wire) is None:
                raise bad_request(
                    f"1 validation error detected: Value null at '{_join(path, wire)}' "
                    "failed to satisfy constraint: Member must not be null"
                )
        for name, member in shape.members.items():
            wire = wire_name(name, member)
            if wire in value:
                validate(member, value[wire], _join(path, wire))
        return
    if kind == "list":
        if not isinstance(value, list):
            raise bad_request(f"Value at '{where}' must be a list.")
        _length(shape, len(value), where)
        for i, item in enumerate(value):
            validate(shape.member, item, f"{where}[{i}]")
        return
    if kind == "map":
        if not isinstance(value, dict):
            raise bad_request(f"Value at '{where}' must be an object.")
        _length(shape, len(value), where)
        for key, item in value.items():
            validate(shape.key, key, f"{where}.{key}")
            validate(shape.value, item, f"{where}.{key}")
        return
    if kind == "string":
        if not isinstance(value, str):
            raise bad_request(f"Value at '{where}' must be a string.")
        if shape.enum and value not in shape.enum:
            raise bad_request(
                f"1 validation error detected: Value '{value}' at '{where}' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(shape.enum)}]"
            )
        _length(shape, len(value), where)
        return
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request(f"Value at '{where}' must be an integer.")
        _range(shape, value, where)
        return
    if kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad_request(f"Value at '{where}' must be a number.")
        _range(shape, value, where)
        return
    if kind == "boolean" and not isinstance(value, bool):
        raise bad_request(f"Value at '{where}' must be true or false.")
    if kind == "timestamp" and (isinstance(value, bool) or not isinstance(value, int | float | str)):
        raise bad_request(f"Value at '{where}' must be a timestamp.")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _length(shape: Shape, n: int, where: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and n < low:
        raise bad_request(
            f"1 validation error detected: Value at '{where}' failed to satisfy constraint: "
            f"Member must have length greater than or equal to {low}"
        )
    if high is not None and n > high:
        raise bad_request(
            f"1 validation error detected: Value at '{where}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {high}"
        )


def _range(shape: Shape, n: float, where: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and n < low:
        raise bad_request(
            f"1 validation error detected: Value '{n}' at '{where}' failed to satisfy constraint: "
            f"Member must have value greater than or equal to {low}"
        )
    if high is not None and n > high:
        raise bad_request(
            f"1 validation error detected: Value '{n}' at '{where}' failed to satisfy constraint: "
            f"Member must have value less than or equal to {high}"
        )


def unsupported_reason(operation: str) -> str:
    """Why keibi does not answer ``operation``: one line a user can act on."""
    if "Malware" in operation:
        what = "Malware Protection (keibi reads logs; it does not scan EBS volumes or S3 objects)"
    elif "Coverage" in operation:
        what = "Runtime Monitoring coverage (EKS, ECS and EC2 agents)"
    elif "Organization" in operation:
        what = "AWS Organizations integration (use CreateMembers and InviteMembers)"
    else:
        what = f"{operation}"
    return f"The operation {operation} is not supported by keibi: {what}."
