"""Filters through boto3 against a real ``keibi serve``: create, read, update, delete and list, the
input GuardDuty refuses, the quota, pagination, tags, and nothing visible to other accounts."""

from __future__ import annotations

from typing import Any

import pytest

from keibi.api.arns import child_arn
from tests.api.server import KeibiServer

ROOT = {"Criterion": {"type": {"Equals": ["Policy:IAMUser/RootCredentialUsage"]}}}
SEVERE = {"Criterion": {"severity": {"GreaterThanOrEqual": 7}, "service.archived": {"Equals": ["false"]}}}


def _setup(api: KeibiServer, **config: Any) -> tuple[Any, str, str]:
    """A new account's client, its detector id and its account id."""
    key = api.account()
    gd = api.client(key, **config)
    return gd, gd.create_detector(Enable=True)["DetectorId"], key.account_id


def _message(err: pytest.ExceptionInfo[Any]) -> str:
    return str(err.value.response["Error"]["Message"])


def _ranks(gd: Any, did: str) -> dict[str, int]:
    """Each filter's rank as GetFilter reports it, in ListFilters order."""
    names = gd.list_filters(DetectorId=did)["FilterNames"]
    return {n: gd.get_filter(DetectorId=did, FilterName=n)["Rank"] for n in names}


def test_create_get_update_delete(api: KeibiServer) -> None:
    gd, did, account = _setup(api)
    made = gd.create_filter(
        DetectorId=did,
        Name="known-root",
        Description="Root calls from the break-glass runbook",
        Action="ARCHIVE",
        FindingCriteria=ROOT,
        Tags={"team": "secops"},
    )
    assert made["Name"] == "known-root"
    got = gd.get_filter(DetectorId=did, FilterName="known-root")
    assert (got["Name"], got["Action"], got["Rank"]) == ("known-root", "ARCHIVE", 1)
    assert got["Description"] == "Root calls from the break-glass runbook"
    assert got["FindingCriteria"] == ROOT
    assert got["Tags"] == {"team": "secops"}
    assert got["CreatedAt"] == got["UpdatedAt"]

    gd.create_filter(DetectorId=did, Name="severe", FindingCriteria=SEVERE)
    severe = gd.get_filter(DetectorId=did, FilterName="severe")
    assert (severe["Action"], severe["Rank"], severe["Tags"]) == ("NOOP", 2, {})
    assert "Description" not in severe

    assert gd.update_filter(DetectorId=did, FilterName="severe", Action="ARCHIVE", Rank=1)["Name"] == "severe"
    assert gd.list_filters(DetectorId=did)["FilterNames"] == ["severe", "known-root"]
    gd.update_filter(DetectorId=did, FilterName="known-root", Description="changed", FindingCriteria=SEVERE)
    got = gd.get_filter(DetectorId=did, FilterName="known-root")
    assert (got["Action"], got["Rank"], got["Description"], got["FindingCriteria"]) == (
        "ARCHIVE",
        2,
        "changed",
        SEVERE,
    )
    assert got["UpdatedAt"] >= got["CreatedAt"]

    arn = child_arn("us-east-1", account, did, "filter", "known-root")
    assert gd.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "secops"}
    gd.delete_filter(DetectorId=did, FilterName="known-root")
    assert gd.list_filters(DetectorId=did)["FilterNames"] == ["severe"]
    with pytest.raises(gd.exceptions.BadRequestException) as err:
        gd.get_filter(DetectorId=did, FilterName="known-root")
    assert _message(err) == "The request is rejected since no such resource found."
    with pytest.raises(gd.exceptions.BadRequestException):
        gd.list_tags_for_resource(ResourceArn=arn)
    gd.create_filter(DetectorId=did, Name="known-root", FindingCriteria=ROOT)
    assert gd.get_filter(DetectorId=did, FilterName="known-root")["Tags"] == {}  # the old tags went with it


def test_unknown_names_and_duplicates(api: KeibiServer) -> None:
    gd, did, _ = _setup(api)
    gd.create_filter(DetectorId=did, Name="dup", FindingCriteria=ROOT)
    with pytest.raises(gd.exceptions.BadRequestException) as err:
        gd.create_filter(DetectorId=did, Name="dup", FindingCriteria=SEVERE)
    assert "already exists" in _message(err) and "dup" in _message(err)
    for call in (gd.update_filter, gd.delete_filter):
        with pytest.raises(gd.exceptions.BadRequestException) as err:
            call(DetectorId=did, FilterName="nope")
        assert _message(err) == "The request is rejected since no such resource found."
    assert gd.get_filter(DetectorId=did, FilterName="dup")["FindingCriteria"] == ROOT


def test_ranks_are_positions(api: KeibiServer) -> None:
    gd, did, _ = _setup(api)
    for name in ("aaa", "bbb", "ccc"):
        gd.create_filter(DetectorId=did, Name=name, FindingCriteria=ROOT)
    gd.create_filter(DetectorId=did, Name="first", FindingCriteria=ROOT, Rank=1)
    assert gd.list_filters(DetectorId=did)["FilterNames"] == ["first", "aaa", "bbb", "ccc"]
    assert _ranks(gd, did) == {"first": 1, "aaa": 2, "bbb": 3, "ccc": 4}
    with pytest.raises(gd.exceptions.BadRequestException) as err:
        gd.create_filter(DetectorId=did, Name="gap", FindingCriteria=ROOT, Rank=6)
    assert _message(err) == "The request is rejected because the parameter rank is out-of-bounds."
    with pytest.raises(gd.exceptions.BadRequestException) as err:
        gd.update_filter(DetectorId=did, FilterName="aaa", Rank=5)
    assert "rank is out-of-bounds" in _message(err)
    gd.delete_filter(DetectorId=did, FilterName="aaa")
    assert _ranks(gd, did) == {"first": 1, "bbb": 2, "ccc": 3}


def test_input_guardduty_refuses(api: KeibiServer) -> None:
    gd, did, _ = _setup(api, parameter_validation=False)  # let the server, not boto3, judge the input

    def refused(**params: Any) -> str:
        with pytest.raises(gd.exceptions.BadRequestException) as err:
            gd.create_filter(DetectorId=did, **{"Name": "ok-name", "FindingCriteria": ROOT, **params})
        return _message(err)

    assert "parameter name has an invalid value" in refused(Name="has space")
    assert "parameter name has an invalid value" in refused(Name="slash/name")
    assert "length greater than or equal to 3" in refused(Name="ab")
    assert "length less than or equal to 64" in refused(Name="x" * 65)
    assert "value greater than or equal to 1" in refused(Rank=0)
    assert "value less than or equal to 100" in refused(Rank=101)
    assert "length less than or equal to 512" in refused(Description="d" * 513)
    assert "enum value set" in refused(Action="DELETE")
    unknown = refused(FindingCriteria={"Criterion": {"resource.noSuchField": {"Equals": ["x"]}}})
    assert "resource.noSuchField" in unknown
    with pytest.raises(gd.exceptions.BadRequestException) as err:
        gd.update_filter(
            DetectorId=did, FilterName="ok-name", FindingCriteria={"Criterion": {"noSuch": {"Equals": ["x"]}}}
        )
    assert _message(err) == "The request is rejected since no such resource found."  # no such filter yet
    gd.create_filter(DetectorId=did, Name="ok-name", FindingCriteria=ROOT)
    with pytest.raises(gd.exceptions.BadRequestException) as err:
        gd.update_filter(
            DetectorId=did, FilterName="ok-name", FindingCriteria={"Criterion": {"noSuch": {"Equals": ["x"]}}}
        )
    assert "noSuch" in _message(err)
    assert gd.get_filter(DetectorId=did, FilterName="ok-name")["FindingCriteria"] == ROOT
    assert gd.list_filters(DetectorId=did)["FilterNames"] == ["ok-name"]


def test_matches_is_a_filter_operator(api: KeibiServer) -> None:
    gd, did, _ = _setup(api)
    criteria = {"Criterion": {"resource.accessKeyDetails.userName": {"Matches": ["break-glass-*"]}}}
    gd.create_filter(DetectorId=did, Name="break-glass", Action="ARCHIVE", FindingCriteria=criteria)
    assert gd.get_filter(DetectorId=did, FilterName="break-glass")["FindingCriteria"] == criteria
    other = {"Criterion": {"type": {"NotMatches": ["Recon:*"]}}}
    gd.update_filter(DetectorId=did, FilterName="break-glass", FindingCriteria=other)
    assert gd.get_filter(DetectorId=did, FilterName="break-glass")["FindingCriteria"] == other


def test_quota_of_100_filters(api: KeibiServer) -> None:
    gd, did, _ = _setup(api)
    for i in range(100):
        gd.create_filter(DetectorId=did, Name=f"filter-{i:03}", FindingCriteria=ROOT)
    with pytest.raises(gd.exceptions.BadRequestException) as err:
        gd.create_filter(DetectorId=did, Name="filter-101", FindingCriteria=ROOT)
    assert "beyond the current AWS account limits" in _message(err)
    gd.delete_filter(DetectorId=did, FilterName="filter-000")
    gd.create_filter(DetectorId=did, Name="filter-101", FindingCriteria=ROOT)
    gd2, did2, _ = _setup(api)  # the quota is per account and region
    gd2.create_filter(DetectorId=did2, Name="filter-000", FindingCriteria=ROOT)


def test_list_filters_pages(api: KeibiServer) -> None:
    gd, did, _ = _setup(api)
    assert gd.list_filters(DetectorId=did)["FilterNames"] == []
    names = [f"filter-{i}" for i in range(5)]
    for name in names:
        gd.create_filter(DetectorId=did, Name=name, FindingCriteria=ROOT)
    seen: list[list[str]] = []
    token = None
    while True:
        answer = gd.list_filters(DetectorId=did, MaxResults=2, **({"NextToken": token} if token else {}))
        seen.append(answer["FilterNames"])
        token = answer.get("NextToken")
        if not token:
            break
    assert seen == [names[:2], names[2:4], names[4:]]
    pages = gd.get_paginator("list_filters").paginate(DetectorId=did, PaginationConfig={"PageSize": 3})
    assert [n for p in pages for n in p["FilterNames"]] == names
    with pytest.raises(gd.exceptions.BadRequestException) as err:
        gd.list_filters(DetectorId=did, NextToken="not-a-token")
    assert "nextToken" in _message(err)


def test_other_accounts_and_regions_cannot_see_or_change_a_filter(api: KeibiServer) -> None:
    gd, did, account = _setup(api)
    gd.create_filter(DetectorId=did, Name="private", Action="ARCHIVE", FindingCriteria=ROOT, Tags={"k": "v"})
    thief, thief_did, _ = _setup(api)
    not_owned = "The request is rejected because the input detectorId is not owned by the current account."
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("get_filter", {"FilterName": "private"}),
        ("update_filter", {"FilterName": "private", "Action": "NOOP"}),
        ("delete_filter", {"FilterName": "private"}),
        ("list_filters", {}),
        ("create_filter", {"Name": "planted", "FindingCriteria": ROOT}),
    ]
    for method, params in attempts:
        with pytest.raises(thief.exceptions.BadRequestException) as err:
            getattr(thief, method)(DetectorId=did, **params)
        assert _message(err) == not_owned, method
    with pytest.raises(thief.exceptions.BadRequestException) as err:
        thief.get_filter(DetectorId=thief_did, FilterName="private")  # its own detector has no such filter
    assert _message(err) == "The request is rejected since no such resource found."
    assert thief.list_filters(DetectorId=thief_did)["FilterNames"] == []
    west = api.client(api.account(account), region="eu-west-1")  # the same account, another region
    with pytest.raises(west.exceptions.BadRequestException) as err:
        west.get_filter(DetectorId=did, FilterName="private")
    assert _message(err) == not_owned

    got = gd.get_filter(DetectorId=did, FilterName="private")
    assert (got["Action"], got["Tags"]) == ("ARCHIVE", {"k": "v"})
    assert gd.list_filters(DetectorId=did)["FilterNames"] == ["private"]
