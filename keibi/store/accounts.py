"""Access keys for the GuardDuty API (``keibi accounts``): who may call, and as which account.

Keys look like AWS's own (``AKIA`` + 16 base32 characters, a 40-character secret), so boto3,
the AWS CLI and ``aws configure`` take them without complaint. The secret is stored as issued:
Signature V4 needs it to recompute each request's signature, so it cannot be hashed.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from keibi.errors import ConfigError
from keibi.store.store import Store
from keibi.store.tables import api_keys

KEY_ID_PREFIX: Final = "AKIA"  # AWS's prefix for long-term access keys
_KEY_ID_CHARS: Final = string.ascii_uppercase + "234567"  # base32, as AWS key ids use
_SECRET_CHARS: Final = string.ascii_letters + string.digits + "+/"  # base64, as AWS secrets use
_ACCOUNT_ID: Final = re.compile(r"[0-9]{12}")
NAME_MAX: Final = 128  # api_keys.name


@dataclass(frozen=True, slots=True)
class AccessKey:
    """One access key of one account; ``repr`` leaves the secret out so logs never show it."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    account_id: str
    name: str | None
    active: bool
    created_at: datetime


def _key(row: RowMapping) -> AccessKey:
    return AccessKey(
        access_key_id=row["access_key_id"],
        secret_access_key=row["secret_access_key"],
        account_id=row["account_id"],
        name=row["name"],
        active=bool(row["active"]),
        created_at=row["created_at"],
    )


def check_account_id(account_id: str) -> str:
    """``account_id`` if it is an AWS account id (12 digits); a one-line ConfigError otherwise."""
    if not _ACCOUNT_ID.fullmatch(account_id):
        raise ConfigError(f"an AWS account id is 12 digits, not {account_id!r}")
    return account_id


def create_key(
    store: Store, account_id: str | None = None, name: str | None = None, *, now: datetime | None = None
) -> AccessKey:
    """A new active key for ``account_id``, or for a new random account when it is ``None``.

    An account exists only through its keys: giving an account that already has keys adds one
    more (AWS allows two per user, so a key can be rotated without downtime).
    """
    account = check_account_id(account_id) if account_id is not None else f"{secrets.randbelow(10**12):012d}"
    if name is not None and len(name) > NAME_MAX:
        raise ConfigError(f"a key name is at most {NAME_MAX} characters, not {len(name)}")
    key = AccessKey(
        access_key_id=KEY_ID_PREFIX + "".join(secrets.choice(_KEY_ID_CHARS) for _ in range(16)),
        secret_access_key="".join(secrets.choice(_SECRET_CHARS) for _ in range(40)),
        account_id=account,
        name=name,
        active=True,
        created_at=now or datetime.now(UTC),
    )
    with store.transaction("create access key") as conn:
        conn.execute(
            sa.insert(api_keys),
            [
                {
                    "access_key_id": key.access_key_id,
                    "secret_access_key": key.secret_access_key,
                    "account_id": key.account_id,
                    "name": key.name,
                    "active": key.active,
                    "created_at": key.created_at,
                }
            ],
        )
    return key


def find_key(store: Store, access_key_id: str) -> AccessKey | None:
    with store.transaction("read access key", read=True) as conn:
        row = (
            conn.execute(sa.select(api_keys).where(api_keys.c.access_key_id == access_key_id))
            .mappings()
            .first()
        )
    return None if row is None else _key(row)


def list_keys(store: Store, account_id: str | None = None) -> list[AccessKey]:
    """Every key, or ``account_id``'s, by account and then age."""
    query = sa.select(api_keys).order_by(
        api_keys.c.account_id, api_keys.c.created_at, api_keys.c.access_key_id
    )
    if account_id is not None:
        query = query.where(api_keys.c.account_id == account_id)
    with store.transaction("list access keys", read=True) as conn:
        return [_key(row) for row in conn.execute(query).mappings()]


def delete_key(store: Store, access_key_id: str) -> bool:
    """Whether the key existed. The account's detectors and findings stay: they belong to the
    account, which another key (or a new one for the same id) reaches again."""
    with store.transaction("delete access key") as conn:
        deleted = conn.execute(sa.delete(api_keys).where(api_keys.c.access_key_id == access_key_id)).rowcount
    return bool(deleted)


def set_key_active(store: Store, access_key_id: str, active: bool) -> bool:
    """Whether the key exists; an inactive key is refused like an unknown one."""
    with store.transaction("update access key") as conn:
        updated = conn.execute(
            sa.update(api_keys).where(api_keys.c.access_key_id == access_key_id).values(active=active)
        ).rowcount
    return bool(updated)
