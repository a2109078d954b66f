"""Filters and suppression rules in the store: ranks as positions, names unique per detector, the
quota, tags deleted with the filter, and the rules a scan holds new findings to; on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from keibi.findings.build import detector_id
from keibi.store import FindingQuery, Store
from keibi.store.detectors import create_detector
from keibi.store.filters import (
    ARCHIVE,
    NOOP,
    FilterExists,
    FilterQuotaExceeded,
    FilterRecord,
    RankOutOfBounds,
    Suppression,
    create_filter,
    delete_filter,
    get_filter,
    list_filters,
    suppression_rules,
    update_filter,
)
from keibi.store.tables import members
from keibi.store.tags import resource_tags, tag_resource
from tests.findings._batches import ACCOUNT, NOW, REGION, record

ROOT = {"criterion": {"type": {"equals": ["Policy:IAMUser/RootCredentialUsage"]}}}
SEVERE = {"criterion": {"severity": {"greaterThanOrEqual": 4}}}


def _detector(store: Store, account: str = ACCOUNT, region: str = REGION) -> str:
    made = create_detector(store, account, region, enabled=True, frequency="SIX_HOURS", features=[], now=NOW)
    assert made is not None
    return made.detector_id


def _arn(did: str, name: str) -> str:
    return f"arn:aws:guardduty:{REGION}:{ACCOUNT}:detector/{did}/filter/{name}"


def _add(
    store: Store,
    did: str,
    name: str,
    *,
    rank: int | None = None,
    action: str = NOOP,
    criteria: dict[str, Any] | None = None,
    **extra: Any,
) -> FilterRecord:
    return create_filter(
        store,
        did,
        name=name,
        action=action,
        rank=rank,
        description=extra.pop("description", ""),
        criteria=criteria or ROOT,
        now=extra.pop("now", NOW),
        arn=_arn(did, name),
        **extra,
    )


def _ranks(store: Store, did: str) -> list[tuple[str, int]]:
    return [(f.name, f.rank) for f in list_filters(store, did)]


def test_create_and_get(store: Store) -> None:
    did = _detector(store)
    made = _add(store, did, "root-calls", action=ARCHIVE, description="known", tags_={"team": "secops"})
    assert made == get_filter(store, did, "root-calls")
    assert (made.name, made.action, made.rank, made.description) == ("root-calls", ARCHIVE, 1, "known")
    assert made.criteria == ROOT
    assert made.created_at == made.updated_at == NOW
    assert resource_tags(store, _arn(did, "root-calls")) == {"team": "secops"}
    assert get_filter(store, did, "other") is None
    assert get_filter(store, detector_id("999999999999", REGION), "root-calls") is None


def test_absent_rank_goes_last_and_a_taken_rank_pushes_the_rest_down(store: Store) -> None:
    did = _detector(store)
    _add(store, did, "a")
    _add(store, did, "b")
    _add(store, did, "c", rank=1)
    _add(store, did, "d", rank=3)
    _add(store, did, "e", rank=5)
    assert _ranks(store, did) == [("c", 1), ("a", 2), ("d", 3), ("b", 4), ("e", 5)]


def test_a_rank_past_the_end_leaves_no_gap(store: Store) -> None:
    did = _detector(store)
    _add(store, did, "a")
    with pytest.raises(RankOutOfBounds):
        _add(store, did, "b", rank=3)
    with pytest.raises(RankOutOfBounds):
        update_filter(store, did, "a", now=NOW, rank=2)
    assert _ranks(store, did) == [("a", 1)]


def test_names_are_unique_per_detector(store: Store) -> None:
    did, other = _detector(store), _detector(store, "444455556666")
    _add(store, did, "dup")
    with pytest.raises(FilterExists):
        _add(store, did, "dup", rank=1)
    _add(store, other, "dup")
    assert _ranks(store, did) == [("dup", 1)]
    assert _ranks(store, other) == [("dup", 1)]


def test_quota(store: Store) -> None:
    did = _detector(store)
    for i in range(100):
        _add(store, did, f"f{i:03}")
    with pytest.raises(FilterQuotaExceeded):
        _add(store, did, "one-more")
    delete_filter(store, did, "f050", _arn(did, "f050"))
    _add(store, did, "one-more")
    assert len(list_filters(store, did)) == 100
    with pytest.raises(FilterQuotaExceeded):
        _add(store, _detector(store, "444455556666"), "x", quota=0)


def test_update_moves_the_filter_and_shifts_those_between(store: Store) -> None:
    did = _detector(store)
    for name in "abcd":
        _add(store, did, name)
    later = NOW + timedelta(hours=1)
    moved = update_filter(store, did, "d", now=later, rank=2)
    assert moved is not None and moved.rank == 2 and moved.updated_at == later
    assert moved.created_at == NOW
    assert _ranks(store, did) == [("a", 1), ("d", 2), ("b", 3), ("c", 4)]
    update_filter(store, did, "a", now=later, rank=4)
    assert _ranks(store, did) == [("d", 1), ("b", 2), ("c", 3), ("a", 4)]
    update_filter(store, did, "b", now=later, rank=2)
    assert _ranks(store, did) == [("d", 1), ("b", 2), ("c", 3), ("a", 4)]


def test_update_changes_only_what_is_given(store: Store) -> None:
    did = _detector(store)
    _add(store, did, "f", description="before")
    changed = update_filter(store, did, "f", now=NOW, action=ARCHIVE, criteria=SEVERE)
    assert changed is not None
    assert (changed.action, changed.description, changed.criteria) == (ARCHIVE, "before", SEVERE)
    changed = update_filter(store, did, "f", now=NOW, description="")
    assert changed is not None and (changed.action, changed.description) == (ARCHIVE, "")
    assert update_filter(store, did, "missing", now=NOW, action=NOOP) is None


def test_delete_closes_the_gap_and_takes_the_tags(store: Store) -> None:
    did = _detector(store)
    for name in "abc":
        _add(store, did, name, tags_={"k": name})
    tag_resource(store, _arn(did, "c"), {"other": "x"})
    assert delete_filter(store, did, "b", _arn(did, "b"))
    assert _ranks(store, did) == [("a", 1), ("c", 2)]
    assert resource_tags(store, _arn(did, "b")) == {}
    assert resource_tags(store, _arn(did, "c")) == {"k": "c", "other": "x"}
    assert not delete_filter(store, did, "b", _arn(did, "b"))
    _add(store, did, "d")
    assert _ranks(store, did) == [("a", 1), ("c", 2), ("d", 3)]


def test_suppression_rules_are_the_archive_filters_ranked(store: Store) -> None:
    did, other = _detector(store), _detector(store, "444455556666", "eu-west-1")
    _add(store, did, "saved-view", criteria=SEVERE)
    _add(store, did, "z-root", action=ARCHIVE)
    _add(store, did, "a-severe", action=ARCHIVE, criteria=SEVERE)
    _add(store, other, "elsewhere", action=ARCHIVE)
    rules = suppression_rules(store)
    assert [(r.account_id, r.region, r.detector_id, r.name, r.rank) for r in rules] == [
        (ACCOUNT, REGION, did, "z-root", 2),
        (ACCOUNT, REGION, did, "a-severe", 3),
        ("444455556666", "eu-west-1", other, "elsewhere", 1),
    ]
    update_filter(store, did, "a-severe", now=NOW, rank=1)
    assert [r.name for r in suppression_rules(store)][:2] == ["a-severe", "z-root"]
    update_filter(store, did, "saved-view", now=NOW, action=ARCHIVE)
    assert "saved-view" in [r.name for r in suppression_rules(store)]


def test_suppression_holds_findings_to_their_own_account_and_region(store: Store) -> None:
    did = _detector(store)
    _add(store, did, "saved-view")
    assert not Suppression.load(store)  # no ARCHIVE filter: nothing to hold findings to
    _add(store, did, "sev", action=ARCHIVE, criteria=SEVERE)
    _add(store, did, "root", action=ARCHIVE)
    suppression = Suppression.load(store)
    assert suppression
    root = record("k1").finding
    assert suppression.archives(root)
    rule = suppression.rule_for(record("k2", severity=5.0).finding)
    assert rule is not None and rule.name == "sev"  # rank 1 is tried first
    assert not suppression.archives(record("k1", account="444455556666").finding)
    assert not suppression.archives({**root, "region": "eu-west-1"})


@pytest.mark.parametrize("status", ["Enabled", "Invited"])
def test_a_monitored_member_is_held_to_its_administrators_rules(store: Store, status: str) -> None:
    admin = _detector(store)
    _add(store, admin, "root", action=ARCHIVE)
    member = "444455556666"
    with store.transaction("add a member") as conn:
        conn.execute(
            sa.insert(members).values(
                detector_id=admin,
                account_id=member,
                administrator_id=ACCOUNT,
                region=REGION,
                email="m@example.com",
                relationship_status=status,
                updated_at=NOW,
            )
        )
    suppression = Suppression.load(store)
    assert suppression.archives(record("k1", account=member).finding) is (status == "Enabled")
    assert not suppression.archives({**record("k1", account=member).finding, "region": "eu-west-1"})


def test_upsert_archives_only_new_findings_it_is_told_to(store: Store) -> None:
    asked: list[str] = []

    def archive_root(finding: dict[str, Any]) -> bool:
        asked.append(finding["id"])
        return bool(finding["service"]["count"] >= 2)

    known = record("known", count=3)
    store.upsert_findings([known])
    fresh, calm = record("fresh", count=2), record("calm")
    stored = store.upsert_findings([fresh, calm, record("known", minutes=30)], archive_new=archive_root)
    assert asked == [fresh.id, calm.id]  # never the finding already stored
    archived = {f["id"]: f["service"]["archived"] for f in stored}
    assert archived == {fresh.id: True, calm.id: False, known.id: False}
    everything = store.list_findings(FindingQuery(archived=None))
    assert {f["id"]: f["service"]["archived"] for f in everything} == archived
    assert [f["id"] for f in store.list_findings(FindingQuery(archived=True))] == [fresh.id]
    (again,) = store.upsert_findings([record("fresh", minutes=60)], archive_new=lambda f: False)
    assert again["service"]["archived"] is True and again["service"]["count"] == 3
