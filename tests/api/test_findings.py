"""Findings through boto3 against a real ``keibi serve``: listing with every FindingCriteria
operator, sorting and pagination over more than 1,000 findings, statistics, archive, feedback
and samples — each answer checked against the findings the test itself put in the store."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from keibi.detect.catalogue import load_catalogue
from tests.api.bulk import add_findings
from tests.api.server import KeibiServer

NOW = datetime.now(UTC).replace(microsecond=0)


def _list_all(gd: Any, did: str, criteria: dict[str, Any] | None = None, **extra: Any) -> list[str]:
    args: dict[str, Any] = {"DetectorId": did, **extra}
    if criteria is not None:
        args["FindingCriteria"] = {"Criterion": criteria}
    ids: list[str] = []
    for page in gd.get_paginator("list_findings").paginate(**args):
        ids += page["FindingIds"]
    return ids


def _ms(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.fixture(scope="module")
def bulk(api: KeibiServer) -> tuple[Any, str, list[dict[str, Any]]]:
    """An account with a detector and 1,200 findings (its own client, detector id, findings)."""
    key = api.account()
    gd = api.client(key)
    did = gd.create_detector(Enable=True)["DetectorId"]
    made = add_findings(api.store, [key.account_id], 1200, now=NOW, seed=11)
    return gd, did, made


def test_pagination_over_more_than_1000_findings(bulk: tuple[Any, str, list[dict[str, Any]]]) -> None:
    gd, did, made = bulk
    ids = _list_all(gd, did, MaxResults=50)
    assert len(ids) == len(set(ids)) == 1200
    assert set(ids) == {f["id"] for f in made}


@pytest.mark.parametrize("order", ["ASC", "DESC"])
@pytest.mark.parametrize("attribute", ["severity", "updatedAt", "type"])
def test_sorted_pages_follow_the_sort(
    bulk: tuple[Any, str, list[dict[str, Any]]], attribute: str, order: str
) -> None:
    gd, did, made = bulk
    ids = _list_all(gd, did, SortCriteria={"AttributeName": attribute, "OrderBy": order}, MaxResults=37)
    by_id = {f["id"]: f for f in made}
    keys = [_ms(by_id[i][attribute]) if attribute == "updatedAt" else by_id[i][attribute] for i in ids]
    assert keys == sorted(keys, reverse=order == "DESC")
    assert len(ids) == 1200


def _expected(made: list[dict[str, Any]], test: Any) -> set[str]:
    return {f["id"] for f in made if test(f)}


CASES: list[tuple[dict[str, Any], Any]] = [
    ({"severity": {"Gte": 7}}, lambda f: f["severity"] >= 7),
    ({"severity": {"Gt": 5}}, lambda f: f["severity"] > 5),
    ({"severity": {"Lt": 5}}, lambda f: f["severity"] < 5),
    ({"severity": {"Lte": 5}}, lambda f: f["severity"] <= 5),
    ({"severity": {"GreaterThanOrEqual": 8}}, lambda f: f["severity"] >= 8),
    ({"severity": {"GreaterThan": 8}}, lambda f: f["severity"] > 8),
    ({"severity": {"LessThan": 8}}, lambda f: f["severity"] < 8),
    ({"severity": {"LessThanOrEqual": 2}}, lambda f: f["severity"] <= 2),
    ({"severity": {"Equals": ["9"]}}, lambda f: f["severity"] == 9),
    ({"service.archived": {"Eq": ["true"]}}, lambda f: f["service"]["archived"]),
    ({"service.archived": {"Equals": ["false"]}}, lambda f: not f["service"]["archived"]),
    ({"service.archived": {"Neq": ["true"]}}, lambda f: not f["service"]["archived"]),
    (
        {"type": {"Equals": ["Recon:EC2/Portscan", "UnauthorizedAccess:EC2/SSHBruteForce"]}},
        lambda f: f["type"] in ("Recon:EC2/Portscan", "UnauthorizedAccess:EC2/SSHBruteForce"),
    ),
    ({"type": {"NotEquals": ["Recon:EC2/Portscan"]}}, lambda f: f["type"] != "Recon:EC2/Portscan"),
    (
        {"resource.resourceType": {"Equals": ["S3Bucket"]}},
        lambda f: f["resource"]["resourceType"] == "S3Bucket",
    ),
    (
        {"updatedAt": {"GreaterThanOrEqual": int(NOW.timestamp() * 1000) - 7 * 86_400_000}},
        lambda f: _ms(f["updatedAt"]) >= int(NOW.timestamp() * 1000) - 7 * 86_400_000,
    ),
    (
        {"updatedAt": {"LessThan": int(NOW.timestamp() * 1000) - 20 * 86_400_000}},
        lambda f: _ms(f["updatedAt"]) < int(NOW.timestamp() * 1000) - 20 * 86_400_000,
    ),
    (
        {
            "severity": {"Gte": 7},
            "service.archived": {"Equals": ["false"]},
            "resource.resourceType": {"Equals": ["Instance"]},
        },
        lambda f: (
            f["severity"] >= 7
            and not f["service"]["archived"]
            and f["resource"]["resourceType"] == "Instance"
        ),
    ),
]


def _case_id(index: int, criteria: dict[str, Any]) -> str:
    """Stable across processes: xdist workers must collect the same ids, and NOW differs."""
    terms = "+".join(f"{attr}.{op}" for attr, ops in criteria.items() for op in ops)
    return f"{index:02d}-{terms}"


@pytest.mark.parametrize(("criteria", "test"), CASES, ids=[_case_id(i, c) for i, (c, _) in enumerate(CASES)])
def test_every_criteria_operator(
    bulk: tuple[Any, str, list[dict[str, Any]]], criteria: dict[str, Any], test: Any
) -> None:
    gd, did, made = bulk
    expected = _expected(made, test)
    assert expected, "the case must select something"
    assert set(_list_all(gd, did, criteria)) == expected


def test_criteria_on_nested_attributes(bulk: tuple[Any, str, list[dict[str, Any]]]) -> None:
    gd, did, made = bulk
    instance = next(f for f in made if f["resource"]["resourceType"] == "Instance")
    instance_id = instance["resource"]["instanceDetails"]["instanceId"]
    expected = _expected(
        made, lambda f: f["resource"].get("instanceDetails", {}).get("instanceId") == instance_id
    )
    found = _list_all(gd, did, {"resource.instanceDetails.instanceId": {"Equals": [instance_id]}})
    assert set(found) == expected


def test_bad_criteria_are_refused(bulk: tuple[Any, str, list[dict[str, Any]]]) -> None:
    gd, did, _ = bulk
    with pytest.raises(gd.exceptions.BadRequestException):
        gd.list_findings(
            DetectorId=did, FindingCriteria={"Criterion": {"no.such.attribute": {"Equals": ["x"]}}}
        )
    with pytest.raises(gd.exceptions.BadRequestException):
        gd.list_findings(DetectorId=did, NextToken="not-a-token")


def test_get_findings_returns_what_is_stored(bulk: tuple[Any, str, list[dict[str, Any]]]) -> None:
    gd, did, made = bulk
    wanted = [f["id"] for f in made[:50]]
    got = gd.get_findings(DetectorId=did, FindingIds=wanted)["Findings"]
    assert [f["Id"] for f in got] == wanted
    assert [f["Type"] for f in got] == [f["type"] for f in made[:50]]
    assert [f["Severity"] for f in got] == [f["severity"] for f in made[:50]]
    assert got[0]["Service"]["Count"] == made[0]["service"]["count"]


@pytest.mark.parametrize("group_by", ["SEVERITY", "FINDING_TYPE", "ACCOUNT", "RESOURCE", "DATE"])
def test_statistics_match_the_findings(bulk: tuple[Any, str, list[dict[str, Any]]], group_by: str) -> None:
    gd, did, made = bulk
    active = [f for f in made if not f["service"]["archived"]]
    stats = gd.get_findings_statistics(
        DetectorId=did,
        GroupBy=group_by,
        FindingCriteria={"Criterion": {"service.archived": {"Equals": ["false"]}}},
    )["FindingStatistics"]
    if group_by == "SEVERITY":
        got = {g["Severity"]: g["TotalFindings"] for g in stats["GroupedBySeverity"]}
        assert got == dict(Counter(f["severity"] for f in active))
    elif group_by == "FINDING_TYPE":
        got = {g["FindingType"]: g["TotalFindings"] for g in stats["GroupedByFindingType"]}
        assert sum(got.values()) <= len(active)
        for t, n in got.items():
            assert n == sum(f["type"] == t for f in active)
    elif group_by == "ACCOUNT":
        assert [(g["AccountId"], g["TotalFindings"]) for g in stats["GroupedByAccount"]] == [
            (made[0]["accountId"], len(active))
        ]
    elif group_by == "RESOURCE":
        assert all(g["TotalFindings"] > 0 for g in stats["GroupedByResource"])
    else:
        assert sum(g["TotalFindings"] for g in stats["GroupedByDate"]) <= len(active)
        assert stats["GroupedByDate"]


def test_count_by_severity(bulk: tuple[Any, str, list[dict[str, Any]]]) -> None:
    gd, did, made = bulk
    stats = gd.get_findings_statistics(DetectorId=did, FindingStatisticTypes=["COUNT_BY_SEVERITY"])
    counts = stats["FindingStatistics"]["CountBySeverity"]
    assert {float(k): v for k, v in counts.items()} == dict(Counter(f["severity"] for f in made))


def test_archive_unarchive_and_feedback(api: KeibiServer) -> None:
    key = api.account()
    gd = api.client(key)
    did = gd.create_detector(Enable=True)["DetectorId"]
    made = add_findings(api.store, [key.account_id], 30, now=NOW, seed=3, archived_share=0.0)
    ids = [f["id"] for f in made[:10]]
    gd.archive_findings(DetectorId=did, FindingIds=ids)
    assert set(_list_all(gd, did, {"service.archived": {"Equals": ["true"]}})) == set(ids)
    gd.unarchive_findings(DetectorId=did, FindingIds=ids[:4])
    assert set(_list_all(gd, did, {"service.archived": {"Equals": ["true"]}})) == set(ids[4:])
    gd.update_findings_feedback(DetectorId=did, FindingIds=ids[:2], Feedback="NOT_USEFUL")
    got = gd.get_findings(DetectorId=did, FindingIds=ids[:3])["Findings"]
    assert [f["Service"].get("UserFeedback") for f in got] == ["NOT_USEFUL", "NOT_USEFUL", None]


def test_sample_findings_one_per_type(api: KeibiServer) -> None:
    gd = api.client(api.account())
    did = gd.create_detector(Enable=True)["DetectorId"]
    gd.create_sample_findings(
        DetectorId=did, FindingTypes=["Recon:EC2/Portscan", "Backdoor:EC2/C&CActivity.B!DNS"]
    )
    got = gd.get_findings(DetectorId=did, FindingIds=_list_all(gd, did))["Findings"]
    assert sorted(f["Type"] for f in got) == ["Backdoor:EC2/C&CActivity.B!DNS", "Recon:EC2/Portscan"]
    assert all('"sample":true' in f["Service"]["AdditionalInfo"]["Value"].replace(" ", "") for f in got)
    gd.create_sample_findings(DetectorId=did)
    every = gd.get_paginator("list_findings").paginate(DetectorId=did)
    ids = [i for page in every for i in page["FindingIds"]]
    types = Counter(
        f["Type"]
        for start in range(0, len(ids), 50)
        for f in gd.get_findings(DetectorId=did, FindingIds=ids[start : start + 50])["Findings"]
    )
    assert set(types) == {t["type"] for t in load_catalogue()}
    with pytest.raises(gd.exceptions.BadRequestException):
        gd.create_sample_findings(DetectorId=did, FindingTypes=["Not:A/Type"])


def test_no_account_reaches_another_accounts_findings(api: KeibiServer) -> None:
    owner, other = api.account(), api.account()
    gd_owner, gd_other = api.client(owner), api.client(other)
    did_owner = gd_owner.create_detector(Enable=True)["DetectorId"]
    did_other = gd_other.create_detector(Enable=True)["DetectorId"]
    theirs = [
        f["id"] for f in add_findings(api.store, [owner.account_id], 20, now=NOW, seed=5, archived_share=0)
    ]
    # Listing and statistics show nothing of the owner's.
    assert _list_all(gd_other, did_other) == []
    stats = gd_other.get_findings_statistics(DetectorId=did_other, GroupBy="ACCOUNT")["FindingStatistics"]
    assert stats.get("GroupedByAccount", []) == []
    # Guessed ids: nothing returned, nothing changed.
    assert gd_other.get_findings(DetectorId=did_other, FindingIds=theirs[:5])["Findings"] == []
    for call in (
        lambda: gd_other.archive_findings(DetectorId=did_other, FindingIds=theirs[:5]),
        lambda: gd_other.update_findings_feedback(
            DetectorId=did_other, FindingIds=theirs[:5], Feedback="USEFUL"
        ),
        lambda: gd_other.get_findings(DetectorId=did_owner, FindingIds=theirs[:5]),
        lambda: gd_other.archive_findings(DetectorId=did_owner, FindingIds=theirs[:5]),
    ):
        with pytest.raises(gd_other.exceptions.BadRequestException):
            call()
    still = gd_owner.get_findings(DetectorId=did_owner, FindingIds=theirs[:5])["Findings"]
    assert [f["Service"]["Archived"] for f in still] == [False] * 5
    assert all("UserFeedback" not in f["Service"] for f in still)
    # Another region of the same account is another detector with other findings.
    west = api.client(owner, "eu-west-1")
    west_did = west.create_detector(Enable=True)["DetectorId"]
    assert _list_all(west, west_did) == []


def test_get_findings_sorted(bulk: tuple[Any, str, list[dict[str, Any]]]) -> None:
    gd, did, made = bulk
    wanted = [f["id"] for f in made[:40]]
    for order in ("ASC", "DESC"):
        got = gd.get_findings(
            DetectorId=did, FindingIds=wanted, SortCriteria={"AttributeName": "severity", "OrderBy": order}
        )["Findings"]
        severities = [f["Severity"] for f in got]
        assert sorted(f["Id"] for f in got) == sorted(wanted)
        assert severities == sorted(severities, reverse=order == "DESC")
