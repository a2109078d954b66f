"""Who may call, and what a caller may see: Signature V4 checked on every request, and no
account reaching another's detector or findings through any operation."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import boto3
import orjson
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from tests.api.server import KeibiServer, captured


def _send(
    url: str, method: str, headers: dict[str, str], body: bytes | None
) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return (
                answer.status,
                {k.lower(): v for k, v in answer.headers.items()},
                orjson.loads(answer.read() or b"{}"),
            )
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, orjson.loads(err.read() or b"{}")


def test_unsigned_requests_are_refused(api: KeibiServer) -> None:
    status, headers, body = _send(f"{api.url}/detector", "GET", {}, None)
    assert status == 403
    assert headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert body["message"]


def test_wrong_secret_and_unknown_key_are_refused(api: KeibiServer) -> None:
    key = api.account()
    wrong = boto3.client(
        "guardduty",
        endpoint_url=api.url,
        region_name="us-east-1",
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key[:-1] + ("A" if key.secret_access_key[-1] != "A" else "B"),
        config=BotoConfig(retries={"max_attempts": 1}),
    )
    with pytest.raises(ClientError) as err:
        wrong.list_detectors()
    assert err.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    unknown = boto3.client(
        "guardduty",
        endpoint_url=api.url,
        region_name="us-east-1",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        config=BotoConfig(retries={"max_attempts": 1}),
    )
    with pytest.raises(ClientError) as err:
        unknown.list_detectors()
    assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_tampered_body_is_refused(api: KeibiServer) -> None:
    gd = api.client(api.account())
    sent = captured(gd, "create_detector", Enable=True)
    body = (sent.body or b"").replace(b"true", b"false")
    status, headers, _ = _send(sent.url, sent.method, dict(sent.headers), body)
    assert (status, headers["x-amzn-errortype"]) == (403, "InvalidSignatureException")


@pytest.mark.parametrize("skew", [timedelta(minutes=-20), timedelta(minutes=20)])
def test_expired_and_future_signatures_are_refused(api: KeibiServer, skew: timedelta) -> None:
    gd = api.client(api.account())
    with (
        mock.patch(
            "botocore.auth.get_current_datetime", return_value=datetime.now(UTC).replace(tzinfo=None) + skew
        ),
        pytest.raises(ClientError) as err,
    ):
        gd.list_detectors()
    assert err.value.response["Error"]["Code"] == "InvalidSignatureException"
    message = err.value.response["Error"]["Message"]
    assert message.startswith("Signature expired" if skew < timedelta(0) else "Signature not yet current")


def test_replayed_request_is_refused(api: KeibiServer) -> None:
    gd = api.client(api.account())
    sent = captured(gd, "create_detector", Enable=True)
    first = _send(sent.url, sent.method, dict(sent.headers), sent.body)
    assert first[0] == 200
    again = _send(sent.url, sent.method, dict(sent.headers), sent.body)
    assert (again[0], again[1]["x-amzn-errortype"]) == (403, "InvalidSignatureException")
    # The same operation signed anew is of course fine.
    assert gd.list_detectors()["DetectorIds"] == [first[2]["detectorId"]]


def test_identical_calls_in_one_second_are_not_replays(api: KeibiServer) -> None:
    gd = api.client(api.account())
    for _ in range(5):
        assert gd.list_detectors()["DetectorIds"] == []


def test_malformed_and_oversized_bodies_get_guardduty_400s(api: KeibiServer) -> None:
    gd = api.client(api.account())
    sent = captured(gd, "create_detector", Enable=True)
    # Signed garbage: authenticated, then refused as input.
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key = api.account()

    def signed(body: bytes) -> tuple[int, dict[str, str], Any]:
        request = AWSRequest(
            "POST", f"{api.url}/detector", data=body, headers={"Content-Type": "application/json"}
        )
        SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), "guardduty", "us-east-1").add_auth(
            request
        )
        prepared = request.prepare()
        return _send(prepared.url, "POST", dict(prepared.headers), body)

    status, headers, body = signed(b'{"enable": tru')
    assert (status, headers["x-amzn-errortype"], body["__type"]) == (
        400,
        "BadRequestException",
        "InvalidInputException",
    )
    status, headers, body = signed(b"[1, 2]")
    assert (status, headers["x-amzn-errortype"]) == (400, "BadRequestException")
    status, headers, body = signed(b'{"enable": true, "tags": {"a": "' + b"x" * (2 << 20) + b'"}}')
    assert (status, headers["x-amzn-errortype"]) == (400, "BadRequestException")
    assert "larger than" in body["message"]
    assert sent.method == "POST"
