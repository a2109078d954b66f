"""Access keys in the store, on SQLite and PostgreSQL: issued in AWS's shape, found, listed,
switched off and deleted."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from keibi.errors import ConfigError
from keibi.store import Store
from keibi.store.accounts import create_key, delete_key, find_key, list_keys, set_key_active

NOW = datetime(2026, 11, 24, 10, 30, 10, 123456, tzinfo=UTC)


def test_a_key_looks_like_an_aws_key_and_round_trips(store: Store) -> None:
    key = create_key(store, "111122223333", "ci pipeline", now=NOW)
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", key.access_key_id)
    assert re.fullmatch(r"[A-Za-z0-9+/]{40}", key.secret_access_key)
    assert (key.account_id, key.name, key.active, key.created_at) == (
        "111122223333",
        "ci pipeline",
        True,
        NOW,
    )
    assert find_key(store, key.access_key_id) == key
    assert find_key(store, "AKIANOSUCHKEY0000000") is None
    assert key.secret_access_key not in repr(key)


def test_a_new_account_gets_a_random_twelve_digit_id(store: Store) -> None:
    keys = [create_key(store) for _ in range(3)]
    assert all(re.fullmatch(r"[0-9]{12}", k.account_id) for k in keys)
    assert len({k.account_id for k in keys}) == 3
    assert len({k.access_key_id for k in keys}) == 3
    assert len({k.secret_access_key for k in keys}) == 3
    assert keys[0].name is None
    assert datetime.now(UTC) - keys[0].created_at < timedelta(minutes=1)


@pytest.mark.parametrize("bad", ["12345", "1111222233334", "11112222333a", " 111122223333", ""])
def test_an_account_id_must_be_twelve_digits(store: Store, bad: str) -> None:
    with pytest.raises(ConfigError) as err:
        create_key(store, bad)
    assert str(err.value) == f"an AWS account id is 12 digits, not {bad!r}"
    assert list_keys(store) == []


def test_a_name_longer_than_the_column_is_refused(store: Store) -> None:
    with pytest.raises(ConfigError, match="at most 128 characters"):
        create_key(store, "111122223333", "x" * 129)
    assert create_key(store, "111122223333", "x" * 128).name == "x" * 128


def test_keys_are_listed_by_account_and_age(store: Store) -> None:
    second = create_key(store, "222200000000", now=NOW)
    first_old = create_key(store, "111100000000", "old", now=NOW - timedelta(days=1))
    first_new = create_key(store, "111100000000", "new", now=NOW)
    assert [k.access_key_id for k in list_keys(store)] == [
        first_old.access_key_id,
        first_new.access_key_id,
        second.access_key_id,
    ]
    assert list_keys(store, "111100000000") == [first_old, first_new]
    assert list_keys(store, "999999999999") == []


def test_a_key_is_deactivated_activated_and_deleted(store: Store) -> None:
    key = create_key(store, "111122223333", now=NOW)
    other = create_key(store, "111122223333", now=NOW)
    assert set_key_active(store, key.access_key_id, False)
    found = find_key(store, key.access_key_id)
    assert found is not None and not found.active
    assert set_key_active(store, key.access_key_id, False)  # already inactive: still there
    assert set_key_active(store, key.access_key_id, True)
    found = find_key(store, key.access_key_id)
    assert found is not None and found.active
    assert not set_key_active(store, "AKIANOSUCHKEY0000000", True)

    assert delete_key(store, key.access_key_id)
    assert find_key(store, key.access_key_id) is None
    assert not delete_key(store, key.access_key_id)
    assert list_keys(store) == [other]
