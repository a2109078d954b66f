"""GuardDuty's idempotent Create calls: the answer each ``clientToken`` got.

boto3 fills ``clientToken`` with a fresh UUID per call and sends the same one when it retries,
so a Create whose answer was lost (a timeout, a dropped connection) is retried with its token.
GuardDuty then answers as it did the first time instead of "already exists": the same detector
id, filter name or list id. The token is the caller's (account and region) and the operation's;
the same token with other parameters is a mistake, refused. Tokens are kept for ``TOKEN_TTL``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import orjson
import sqlalchemy as sa

from keibi.store.store import Store
from keibi.store.tables import client_tokens

TOKEN_TTL: Final = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Remembered:
    request_hash: str
    response: dict[str, Any]


def request_hash(params: dict[str, Any]) -> str:
    """The parameters of a call, without its token, as a stable hash."""
    rest = {k: v for k, v in params.items() if k != "clientToken"}
    return hashlib.sha256(orjson.dumps(rest, option=orjson.OPT_SORT_KEYS)).hexdigest()


def remembered(
    store: Store, account: str, region: str, operation: str, token: str, now: datetime
) -> Remembered | None:
    t = client_tokens.c
    with store.transaction("read a client token", read=True) as conn:
        row = conn.execute(
            sa.select(t.request_hash, t.response).where(
                t.account_id == account,
                t.region == region,
                t.operation == operation,
                t.token == token,
                t.created_at > now - TOKEN_TTL,
            )
        ).first()
    return None if row is None else Remembered(str(row[0]), orjson.loads(row[1]))


def remember(
    store: Store,
    account: str,
    region: str,
    operation: str,
    token: str,
    params: dict[str, Any],
    response: dict[str, Any],
    now: datetime,
) -> None:
    """Keep ``response`` as the answer to ``token`` (replacing an expired one); tokens older than
    ``TOKEN_TTL`` are dropped on the way."""
    t = client_tokens.c
    key = (t.account_id == account) & (t.region == region) & (t.operation == operation) & (t.token == token)
    with store.transaction("remember a client token") as conn:
        conn.execute(sa.delete(client_tokens).where(key | (t.created_at <= now - TOKEN_TTL)))
        conn.execute(
            sa.insert(client_tokens).values(
                account_id=account,
                region=region,
                operation=operation,
                token=token,
                request_hash=request_hash(params),
                response=orjson.dumps(response).decode(),
                created_at=now,
            )
        )


__all__ = ["TOKEN_TTL", "Remembered", "remember", "remembered", "request_hash"]
