"""API-made threat and trusted lists in the store: backed by keibi's intel lists, fetched when
activated, ERROR with a reason a caller may see, quotas and names per detector, renamed to the
owner's name for scans; on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from keibi.errors import ConfigError
from keibi.intel.fetch import Fetched, fetch
from keibi.store import Store
from keibi.store.api_lists import (
    ApiListRecord,
    ListKind,
    ListLocationInvalid,
    ListNameInvalid,
    ListNameTaken,
    ListQuotaExceeded,
    check_name,
    create_list,
    delete_detector_lists,
    delete_list,
    get_list,
    intel_error,
    list_lists,
    scan_lists,
    source_of,
    update_list,
)
from keibi.store.detectors import create_detector
from keibi.store.tables import api_lists, intel_list_versions, intel_lists
from keibi.store.tags import resource_tags
from tests.findings._batches import NOW, REGION


class FakeFetcher:
    """Serves ``files`` (location → bytes); any other location fails as the real fetcher does."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.asked: list[str] = []

    def __call__(self, location: str, **_: Any) -> Fetched:
        self.asked.append(location)
        if location not in self.files:
            raise ConfigError("cannot fetch: NoSuchKey: The specified key does not exist.", location)
        data = self.files[location]
        return Fetched(data, None, None, hashlib.sha256(data).hexdigest(), location)


def _detector(store: Store, account: str = "111122223333") -> str:
    made = create_detector(store, account, REGION, enabled=True, frequency="SIX_HOURS", features=[], now=NOW)
    assert made is not None
    return made.detector_id


def _create(
    store: Store,
    did: str,
    kind: ListKind = "ThreatIntelSet",
    name: str = "bad-actors",
    location: str = "s3://lists/bad.txt",
    *,
    activate: bool = True,
    fmt: str = "TXT",
    fetcher: Any = None,
    **extra: Any,
) -> ApiListRecord:
    list_id = uuid.uuid4().hex
    return create_list(
        store,
        did,
        list_id=list_id,
        kind=kind,
        name=name,
        fmt=fmt,
        location=location,
        activate=activate,
        now=NOW,
        arn=f"arn:aws:guardduty:{REGION}:111122223333:detector/{did}/x/{list_id}",
        fetcher=fetcher or FakeFetcher({"s3://lists/bad.txt": b"198.51.100.7\n203.0.113.0/24\n"}),
        **extra,
    )


@pytest.mark.parametrize(
    ("location", "source"),
    [
        ("s3://lists/bad.txt", "s3://lists/bad.txt"),
        ("https://s3.amazonaws.com/lists/dir/bad.txt", "s3://lists/dir/bad.txt"),
        ("https://s3-us-west-2.amazonaws.com/lists/bad%20ips.txt", "s3://lists/bad ips.txt"),
        ("https://s3.eu-west-1.amazonaws.com/lists/bad.txt", "s3://lists/bad.txt"),
        ("https://lists.s3.amazonaws.com/bad.txt", "s3://lists/bad.txt"),
        ("http://my.lists.s3-eu-west-1.amazonaws.com/a/bad.txt", "s3://my.lists/a/bad.txt"),
        ("https://my-lists.s3.us-east-2.amazonaws.com/bad.txt", "s3://my-lists/bad.txt"),
        ("https://example.org/feeds/bad.txt", "https://example.org/feeds/bad.txt"),
        ("file:///srv/lists/bad.txt", "file:///srv/lists/bad.txt"),
        ("/srv/lists/bad.txt", "/srv/lists/bad.txt"),
    ],
)
def test_source_of_guardduty_locations(location: str, source: str) -> None:
    assert source_of(location) == source


@pytest.mark.parametrize(
    "location",
    [
        "",
        "   ",
        "ftp://example.org/bad.txt",
        "s3://lists",
        "s3://lists/dir/",
        "https://s3.amazonaws.com/lists",
    ],
)
def test_source_of_refuses(location: str) -> None:
    with pytest.raises(ListLocationInvalid):
        source_of(location)


def test_names_per_kind() -> None:
    assert check_name("IPSet", "office ranges_2") == "office ranges_2"
    assert check_name("ThreatEntitySet", "bad-actors_2") == "bad-actors_2"
    for kind, name in [
        ("TrustedEntitySet", "office ranges"),
        ("IPSet", "bad.actors"),
        ("IPSet", "   "),
        ("ThreatIntelSet", "naïve"),
    ]:
        with pytest.raises(ListNameInvalid):
            check_name(kind, name)  # type: ignore[arg-type]


def test_activated_list_is_matched_under_the_owners_name(store: Store) -> None:
    one, two = _detector(store, "111122223333"), _detector(store, "444455556666")
    fetcher = FakeFetcher({"s3://lists/bad.txt": b"198.51.100.7\n", "s3://other/bad.txt": b"192.0.2.1\n"})
    first = _create(store, one, location="https://s3.amazonaws.com/lists/bad.txt", fetcher=fetcher)
    second = _create(store, two, location="s3://other/bad.txt", fetcher=fetcher)
    assert fetcher.asked == ["s3://lists/bad.txt", "s3://other/bad.txt"]
    assert (first.status, first.error, first.location) == (
        "ACTIVE",
        None,
        "https://s3.amazonaws.com/lists/bad.txt",
    )
    assert first.intel_name != second.intel_name  # the same list name in two accounts
    intel = store.intel_list(first.intel_name)
    assert intel is not None
    assert (intel.kind, intel.category, intel.active, intel.entries) == ("threat", "custom", True, 1)
    scanned = {lst.source: lst for lst in scan_lists(store)}
    assert {lst.name for lst in scanned.values()} == {"bad-actors"}
    assert scanned["s3://lists/bad.txt"].ipv4.height == 1
    assert {lst.name for lst in store.active_intel_lists()} == {first.intel_name, second.intel_name}


def test_trusted_kinds_become_trusted_lists(store: Store) -> None:
    did = _detector(store)
    for kind in ("IPSet", "TrustedEntitySet"):
        made = _create(store, did, kind, name="office")
        found = store.intel_list(made.intel_name)
        assert found is not None and (found.kind, found.active) == ("trusted", True)


def test_local_files_and_an_unreadable_location(store: Store, tmp_path: Path) -> None:
    did = _detector(store)
    listed = tmp_path / "bad.txt"
    listed.write_text("# bad actors\n198.51.100.7\n")
    good = _create(store, did, name="local", location=str(listed), fetcher=fetch)
    assert (good.status, good.location) == ("ACTIVE", str(listed))
    missing = tmp_path / "nowhere.txt"
    made = _create(store, did, name="missing", location=str(missing), fetcher=fetch)
    assert made.status == "ERROR"
    assert made.error is not None and made.error.startswith(f"{missing}: cannot read: ")
    found = store.intel_list(made.intel_name)
    assert found is not None and not found.active
    assert [lst.name for lst in scan_lists(store)] == ["local"]


def test_a_file_that_cannot_be_parsed_is_error_without_its_content(store: Store) -> None:
    did = _detector(store)
    secret = b"root:x:0:0:root:/root:/bin/bash\n"
    made = _create(store, did, fetcher=FakeFetcher({"s3://lists/bad.txt": secret}))
    assert made.status == "ERROR"
    assert made.error == "s3://lists/bad.txt: the file could not be read as a TXT list"
    full = intel_error(store, made)
    assert full is not None and "root" in full  # the operator's reason names the bad entry


def test_inactive_list_then_activated(store: Store) -> None:
    did = _detector(store)
    fetcher = FakeFetcher({"s3://lists/bad.txt": b"198.51.100.7\n"})
    made = _create(store, did, activate=False, fetcher=fetcher)
    assert (made.status, fetcher.asked) == ("INACTIVE", [])
    assert scan_lists(store) == []
    later = NOW + timedelta(minutes=5)
    updated = update_list(
        store, did, "ThreatIntelSet", made.list_id, now=later, activate=True, fetcher=fetcher
    )
    assert updated is not None and (updated.status, updated.updated_at) == ("ACTIVE", later)
    assert [lst.name for lst in scan_lists(store)] == ["bad-actors"]
    off = update_list(store, did, "ThreatIntelSet", made.list_id, now=later, activate=False, fetcher=fetcher)
    assert off is not None and off.status == "INACTIVE"
    assert scan_lists(store) == []
    assert fetcher.asked == ["s3://lists/bad.txt"]


def test_new_location_replaces_the_content(store: Store) -> None:
    did = _detector(store)
    fetcher = FakeFetcher(
        {"s3://lists/bad.txt": b"198.51.100.7\n", "s3://lists/v2.txt": b"192.0.2.1\n192.0.2.2\n"}
    )
    made = _create(store, did, fetcher=fetcher)
    moved = update_list(
        store, did, "ThreatIntelSet", made.list_id, now=NOW, location="s3://lists/v2.txt", fetcher=fetcher
    )
    assert moved is not None and (moved.status, moved.location) == ("ACTIVE", "s3://lists/v2.txt")
    intel = store.intel_list(made.intel_name)
    assert intel is not None and (intel.location, intel.entries, intel.previous_version) == (
        "s3://lists/v2.txt",
        2,
        None,
    )
    # To a location that fails: ERROR, and the old content is not matched any more.
    broken = update_list(
        store, did, "ThreatIntelSet", made.list_id, now=NOW, location="s3://lists/gone.txt", fetcher=fetcher
    )
    assert broken is not None and broken.status == "ERROR"
    assert broken.error == "s3://lists/gone.txt: cannot fetch: NoSuchKey: The specified key does not exist."
    assert scan_lists(store) == []
    # An inactive list moved elsewhere stays inactive, not fetched.
    update_list(store, did, "ThreatIntelSet", made.list_id, now=NOW, activate=False, fetcher=fetcher)
    asked = len(fetcher.asked)
    quiet = update_list(
        store, did, "ThreatIntelSet", made.list_id, now=NOW, location="s3://lists/bad.txt", fetcher=fetcher
    )
    assert quiet is not None and (quiet.status, quiet.error, len(fetcher.asked)) == ("INACTIVE", None, asked)


def test_quotas_per_detector(store: Store) -> None:
    did, other = _detector(store, "111122223333"), _detector(store, "444455556666")
    _create(store, did, "IPSet", name="office")
    with pytest.raises(ListQuotaExceeded):
        _create(store, did, "IPSet", name="office-2")
    _create(store, did, "TrustedEntitySet", name="partners")  # its own quota of one
    with pytest.raises(ListQuotaExceeded):
        _create(store, did, "TrustedEntitySet", name="partners-2")
    for i in range(4):
        _create(store, did, "ThreatIntelSet", name=f"intel-{i}", activate=False)
    for i in range(2):
        _create(store, did, "ThreatEntitySet", name=f"entity-{i}", activate=False)
    for kind in ("ThreatIntelSet", "ThreatEntitySet"):
        with pytest.raises(ListQuotaExceeded):
            _create(store, did, kind, name="seventh", activate=False)
    _create(store, other, "IPSet", name="office")  # another account's quota
    assert len(list_lists(store, did, "ThreatIntelSet")) == 4
    with store.transaction("count", read=True) as conn:
        assert (
            conn.scalar(sa.select(sa.func.count()).select_from(intel_lists)) == 9
        )  # refused lists left nothing


def test_names_unique_per_detector_and_kind(store: Store) -> None:
    did = _detector(store)
    first = _create(store, did, name="bad-actors", activate=False)
    with pytest.raises(ListNameTaken):
        _create(store, did, name="bad-actors", activate=False)
    _create(store, did, "ThreatEntitySet", name="bad-actors", activate=False)
    second = _create(store, did, name="worse-actors", activate=False)
    with pytest.raises(ListNameTaken):
        update_list(store, did, "ThreatIntelSet", second.list_id, now=NOW, name="bad-actors")
    renamed = update_list(store, did, "ThreatIntelSet", first.list_id, now=NOW, name="bad actors")
    assert renamed is not None and renamed.name == "bad actors"
    assert sorted(r.name for r in list_lists(store, did, "ThreatIntelSet")) == ["bad actors", "worse-actors"]


def test_delete_removes_intel_list_versions_and_tags(store: Store) -> None:
    did = _detector(store)
    made = _create(store, did, tags_={"team": "secops"})
    arn = f"arn:aws:guardduty:{REGION}:111122223333:detector/{did}/x/{made.list_id}"
    assert resource_tags(store, arn) == {"team": "secops"}
    assert not delete_list(store, did, "IPSet", made.list_id, arn)  # another kind: no such list
    assert delete_list(store, did, "ThreatIntelSet", made.list_id, arn)
    assert get_list(store, did, "ThreatIntelSet", made.list_id) is None
    assert store.intel_list(made.intel_name) is None
    assert resource_tags(store, arn) == {}
    with store.transaction("count", read=True) as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(intel_list_versions)) == 0
    assert not delete_list(store, did, "ThreatIntelSet", made.list_id, arn)


def test_detector_deletion_takes_its_lists(store: Store) -> None:
    did, other = _detector(store, "111122223333"), _detector(store, "444455556666")
    mine = _create(store, did)
    kept = _create(store, other)
    with store.transaction("delete detector") as conn:
        delete_detector_lists(conn, did)
    assert store.intel_list(mine.intel_name) is None
    assert store.intel_list(kept.intel_name) is not None
    with store.transaction("count", read=True) as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(api_lists)) == 1


def test_left_behind_api_intel_lists_are_not_scanned(store: Store) -> None:
    did = _detector(store)
    made = _create(store, did)
    with store.transaction("forget the api row") as conn:  # as an older keibi's detector deletion did
        conn.execute(sa.delete(api_lists))
    assert store.intel_list(made.intel_name) is not None
    assert scan_lists(store) == []
