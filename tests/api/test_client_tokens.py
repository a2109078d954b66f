"""Idempotent Create calls through boto3: a retried Create (same ``clientToken``, as boto3 sends
when an answer was lost) gets the first answer again, not "already exists"; the same token with
other parameters is refused; tokens are the caller's own."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.api.server import KeibiServer

ROOT = {"Criterion": {"type": {"Equals": ["Policy:IAMUser/RootCredentialUsage"]}}}


def _again() -> None:
    """A retry is signed at least a second later (the same signature again is a replay)."""
    time.sleep(1.05)


def test_a_retried_create_gets_the_first_answer(api: KeibiServer) -> None:
    key = api.account()
    gd = api.client(key)
    first = gd.create_detector(Enable=True, ClientToken="detector-token-1")["DetectorId"]
    _again()
    assert gd.create_detector(Enable=True, ClientToken="detector-token-1")["DetectorId"] == first
    assert gd.list_detectors()["DetectorIds"] == [first]
    # A new token is a new request: the account has its detector already.
    with pytest.raises(gd.exceptions.BadRequestException):
        gd.create_detector(Enable=True, ClientToken="detector-token-2")

    made = gd.create_filter(DetectorId=first, Name="known-root", FindingCriteria=ROOT, ClientToken="f-1")
    _again()
    again = gd.create_filter(DetectorId=first, Name="known-root", FindingCriteria=ROOT, ClientToken="f-1")
    assert again["Name"] == made["Name"] == "known-root"
    assert gd.list_filters(DetectorId=first)["FilterNames"] == ["known-root"]
    with pytest.raises(gd.exceptions.BadRequestException):
        gd.create_filter(DetectorId=first, Name="known-root", FindingCriteria=ROOT, ClientToken="f-2")


def test_a_token_with_other_parameters_is_refused(api: KeibiServer) -> None:
    gd = api.client(api.account())
    did = gd.create_detector(Enable=True)["DetectorId"]
    gd.create_filter(DetectorId=did, Name="one", FindingCriteria=ROOT, ClientToken="same-token")
    with pytest.raises(gd.exceptions.BadRequestException) as err:
        gd.create_filter(DetectorId=did, Name="two", FindingCriteria=ROOT, ClientToken="same-token")
    assert "clientToken" in str(err.value.response["Error"]["Message"])
    assert gd.list_filters(DetectorId=did)["FilterNames"] == ["one"]


def test_tokens_are_the_callers_own(api: KeibiServer) -> None:
    """Another account using the same token gets its own detector, never the first account's."""
    a: Any = api.client(api.account())
    b: Any = api.client(api.account())
    mine = a.create_detector(Enable=True, ClientToken="shared-token")["DetectorId"]
    theirs = b.create_detector(Enable=True, ClientToken="shared-token")["DetectorId"]
    assert mine != theirs
    assert b.list_detectors()["DetectorIds"] == [theirs]
