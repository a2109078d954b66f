"""``nextToken`` pagination, one way for every List operation.

A token is the offset of the next item, tied to the operation that issued it, base64-encoded:
opaque to clients as GuardDuty's are, and refused with a 400 when altered or reused elsewhere.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Final, TypeVar

import orjson

from keibi.api.call import Call
from keibi.api.protocol import bad_request

T = TypeVar("T")
DEFAULT_MAX: Final = 50


def encode_token(operation: str, offset: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([operation, offset])).decode()


def decode_token(operation: str, token: str | None) -> int:
    """The offset ``token`` carries (0 without a token)."""
    if not token:
        return 0
    try:
        op, offset = orjson.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError):
        raise bad_request("The request is rejected because the nextToken is invalid.") from None
    if op != operation or not isinstance(offset, int) or offset < 0:
        raise bad_request("The request is rejected because the nextToken is invalid.")
    return offset


def limits(call: Call, default: int = DEFAULT_MAX) -> tuple[int, int]:
    """(offset, max results) of this call's page."""
    offset = decode_token(call.operation, call.params.get("nextToken"))
    return offset, int(call.params.get("maxResults") or default)


def page(call: Call, items: Sequence[T], default: int = DEFAULT_MAX) -> tuple[list[T], str | None]:
    """This call's page of ``items`` and the token of the next page (``None`` at the end)."""
    offset, size = limits(call, default)
    end = offset + size
    return list(items[offset:end]), encode_token(call.operation, end) if end < len(items) else None
