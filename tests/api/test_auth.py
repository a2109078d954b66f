"""Signature V4 as boto3 really sends it: requests are captured on the wire by a local HTTP
server (path, query, headers and body exactly as received) and fed to ``Verifier.verify``."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.config import Config as BotoConfig
from botocore.credentials import Credentials

from keibi.api.auth import AuthError, Caller, Verifier, read_only_request
from keibi.store import Store
from keibi.store.accounts import AccessKey, create_key, find_key, set_key_active
from tests.dbs import sqlite_url

SIGNED_AT = datetime(2026, 11, 24, 10, 30, 10, tzinfo=UTC)
KEY = AccessKey(
    access_key_id="AKIAKEIBITESTKEY0001",
    secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYKEIBITEST1",
    account_id="111122223333",
    name=None,
    active=True,
    created_at=SIGNED_AT,
)
OFF = replace(KEY, access_key_id="AKIAKEIBITESTKEY0002", active=False)
ARN = "arn:aws:guardduty:eu-west-1:111122223333:detector/12abc34d567e8fa901bc2d34e56789f0"
MISMATCH = "The request signature we calculated does not match the signature you provided."


@dataclass(frozen=True)
class Sent:
    """One request as the server received it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def with_header(self, name: str, value: str) -> Sent:
        headers = {k: v for k, v in self.headers.items() if k.lower() != name.lower()}
        return replace(self, headers={**headers, name: value})

    def header(self, name: str) -> str:
        return next(v for k, v in self.headers.items() if k.lower() == name.lower())


class _Recorder(BaseHTTPRequestHandler):
    server: _Wire

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path, _, query = self.path.partition("?")
        self.server.sent.append(Sent(self.command, path, query, dict(self.headers.items()), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Wire(ThreadingHTTPServer):
    sent: list[Sent]


@pytest.fixture(scope="module")
def wire() -> Iterator[_Wire]:
    server = _Wire(("127.0.0.1", 0), _Recorder)
    server.sent = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _client(wire: _Wire, key: AccessKey = KEY, region: str = "eu-west-1", **extra: Any) -> Any:
    host, port = wire.server_address[:2]
    return boto3.client(
        "guardduty",
        endpoint_url=f"http://{host!s}:{port}",
        region_name=region,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        config=BotoConfig(retries={"max_attempts": 1}),
        **extra,
    )


def _send(client: Any, wire: _Wire, operation: str, at: datetime = SIGNED_AT, **params: Any) -> Sent:
    """What ``operation`` puts on the wire when boto3 signs it at ``at``."""
    before = len(wire.sent)
    with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
        getattr(client, operation)(**params)
    assert len(wire.sent) == before + 1
    return wire.sent[-1]


@dataclass
class Clock:
    now: datetime = SIGNED_AT

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Keys:
    """A lookup that counts how often it is asked (the cache's job is to ask rarely)."""

    known: dict[str, AccessKey] = field(
        default_factory=lambda: {KEY.access_key_id: KEY, OFF.access_key_id: OFF}
    )
    asked: int = 0

    def __call__(self, access_key_id: str) -> AccessKey | None:
        self.asked += 1
        return self.known.get(access_key_id)


def _verifier(clock: Clock | None = None, **kwargs: Any) -> Verifier:
    return Verifier(Keys(), clock=clock or Clock(), **kwargs)


def _verify(verifier: Verifier, sent: Sent) -> Caller:
    return verifier.verify(sent.method, sent.path, sent.query, sent.headers, sent.body)


def _refused(verifier: Verifier, sent: Sent) -> AuthError:
    with pytest.raises(AuthError) as err:
        _verify(verifier, sent)
    return err.value


# -- what boto3 sends is accepted ---------------------------------------------------------------

CALLS: list[tuple[str, dict[str, Any]]] = [
    ("list_detectors", {}),
    ("list_detectors", {"MaxResults": 5, "NextToken": "a b+c/é=&x~*'()%20"}),
    ("create_detector", {"Enable": True, "Tags": {"team": "sec ops/ü"}}),
    ("get_findings", {"DetectorId": "12abc34d", "FindingIds": ["f1", "f2"]}),
    ("list_tags_for_resource", {"ResourceArn": ARN}),
    ("tag_resource", {"ResourceArn": ARN, "Tags": {"k": "v"}}),
    ("untag_resource", {"ResourceArn": ARN, "TagKeys": ["b key", "a+key", "ключ"]}),
    ("list_members", {"DetectorId": "12abc34d", "OnlyAssociated": "true"}),
]


@pytest.mark.parametrize(("operation", "params"), CALLS, ids=[f"{op}-{i}" for i, (op, _) in enumerate(CALLS)])
def test_what_boto3_sends_is_accepted(wire: _Wire, operation: str, params: dict[str, Any]) -> None:
    sent = _send(_client(wire), wire, operation, **params)
    caller = _verify(_verifier(), sent)
    assert caller == Caller(account_id="111122223333", access_key_id=KEY.access_key_id, region="eu-west-1")


def test_the_cases_above_really_carry_encoded_paths_and_queries(wire: _Wire) -> None:
    """Guards the test above: the ARN travels percent-encoded, the query with escapes."""
    tags = _send(_client(wire), wire, "list_tags_for_resource", ResourceArn=ARN)
    assert (
        tags.path
        == "/tags/arn%3Aaws%3Aguardduty%3Aeu-west-1%3A111122223333%3Adetector%2F12abc34d567e8fa901bc2d34e56789f0"
    )
    listed = _send(_client(wire), wire, "list_detectors", MaxResults=5, NextToken="a b+c/é")
    assert listed.query == "maxResults=5&nextToken=a%20b%2Bc%2F%C3%A9"
    untag = _send(_client(wire), wire, "untag_resource", ResourceArn=ARN, TagKeys=["b key", "a+key"])
    assert untag.method == "DELETE" and untag.query == "tagKeys=b%20key&tagKeys=a%2Bkey"


def test_the_signing_region_is_the_callers_region(wire: _Wire) -> None:
    sent = _send(_client(wire, region="ap-southeast-2"), wire, "list_detectors")
    assert _verify(_verifier(), sent).region == "ap-southeast-2"


def test_unsigned_headers_may_change(wire: _Wire) -> None:
    """botocore signs host, x-amz-date and content-type; proxies may rewrite the rest."""
    sent = _send(_client(wire), wire, "create_detector", Enable=True)
    assert "amz-sdk-invocation-id" in {k.lower() for k in sent.headers}
    changed = sent.with_header("User-Agent", "proxy/1.0").with_header("amz-sdk-invocation-id", "other")
    assert _verify(_verifier(), changed).account_id == KEY.account_id


def test_a_published_aws_test_vector_verifies() -> None:
    """``get-vanilla`` from AWS's Signature V4 test suite: proof against the spec, not only
    against botocore signing what botocore checks."""
    example = AccessKey(
        "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "111122223333", None, True, SIGNED_AT
    )
    verifier = Verifier(
        {"AKIDEXAMPLE": example}.get,
        service="service",
        clock=lambda: datetime(2015, 8, 30, 12, 36, tzinfo=UTC),
    )
    headers = {
        "Host": "example.amazonaws.com",
        "X-Amz-Date": "20150830T123600Z",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    }
    assert verifier.verify("GET", "/", "", headers, b"").region == "us-east-1"
    wrong = {**headers, "X-Amz-Date": "20150830T123601Z"}
    with pytest.raises(AuthError):
        verifier.verify("GET", "/", "", wrong, b"")


# -- what was changed on the way is refused ------------------------------------------------------


def _tampered(sent: Sent) -> dict[str, Sent]:
    return {
        "body": replace(sent, body=sent.body.replace(b"true", b"false")),
        "path": replace(sent, path=sent.path.replace("detector", "filter")),
        "query": replace(sent, query="maxResults=1"),
        "method": replace(sent, method="PUT"),
        "signed header": sent.with_header("Content-Type", "text/plain"),
        "host": sent.with_header("Host", "evil.example:443"),
        "date": sent.with_header("X-Amz-Date", "20261124T103011Z"),
        "signature": sent.with_header("Authorization", _other_last_char(sent.header("Authorization"))),
    }


def _other_last_char(signed: str) -> str:
    """The header with its signature's last hex digit changed (whatever that digit was)."""
    return signed[:-1] + ("1" if signed[-1] == "0" else "0")


def test_a_changed_request_is_refused(wire: _Wire) -> None:
    sent = _send(_client(wire), wire, "create_detector", Enable=True)
    assert _tampered(sent)["signature"].header("Authorization") != sent.header("Authorization")
    for what, changed in _tampered(sent).items():
        err = _refused(_verifier(), changed)
        assert (err.code, err.status) == ("InvalidSignatureException", 403), what
        assert err.message.startswith(MISMATCH), what


def test_a_changed_encoded_path_is_refused(wire: _Wire) -> None:
    sent = _send(_client(wire), wire, "list_tags_for_resource", ResourceArn=ARN)
    decoded = replace(sent, path="/tags/" + ARN)  # what a server that decodes the path would feed in
    assert _refused(_verifier(), decoded).code == "InvalidSignatureException"
    other = replace(sent, path=sent.path.replace("111122223333", "999999999999"))
    assert _refused(_verifier(), other).code == "InvalidSignatureException"


def test_a_wrong_secret_is_refused(wire: _Wire) -> None:
    wrong = replace(KEY, secret_access_key=KEY.secret_access_key[:-1] + "X")
    err = _refused(_verifier(), _send(_client(wire, wrong), wire, "list_detectors"))
    assert (err.code, err.status, err.message) == (
        "InvalidSignatureException",
        403,
        "The request signature we calculated does not match the signature you provided. Check your AWS "
        "Secret Access Key and signing method. Consult the service documentation for details.",
    )


@pytest.mark.parametrize("key_id", ["AKIAUNKNOWNKEY000000", OFF.access_key_id])
def test_unknown_and_inactive_keys_are_refused(wire: _Wire, key_id: str) -> None:
    key = replace(KEY, access_key_id=key_id)
    err = _refused(_verifier(), _send(_client(wire, key), wire, "list_detectors"))
    assert (err.code, err.status, err.message) == (
        "UnrecognizedClientException",
        403,
        "The security token included in the request is invalid.",
    )


def test_temporary_credentials_are_refused(wire: _Wire) -> None:
    sent = _send(_client(wire, aws_session_token="FwoGZXIvYXdzEXAMPLE"), wire, "list_detectors")
    assert "X-Amz-Security-Token" in sent.headers
    assert _refused(_verifier(), sent).code == "UnrecognizedClientException"


def test_an_unsigned_request_is_refused(wire: _Wire) -> None:
    sent = _send(_client(wire), wire, "list_detectors")
    unsigned = replace(sent, headers={k: v for k, v in sent.headers.items() if k != "Authorization"})
    err = _refused(_verifier(), unsigned)
    assert (err.code, err.status, err.message) == (
        "MissingAuthenticationTokenException",
        403,
        "Missing Authentication Token",
    )


# -- time ----------------------------------------------------------------------------------------


def test_the_skew_window_is_inclusive(wire: _Wire) -> None:
    sent = _send(_client(wire), wire, "list_detectors")
    for offset in (timedelta(minutes=-5), timedelta(0), timedelta(minutes=5)):
        assert _verify(_verifier(Clock(SIGNED_AT + offset)), sent).account_id == KEY.account_id


def test_an_expired_signature_is_refused_in_aws_words(wire: _Wire) -> None:
    sent = _send(_client(wire), wire, "list_detectors")
    err = _refused(_verifier(Clock(SIGNED_AT + timedelta(minutes=20))), sent)
    assert (err.code, err.status, err.message) == (
        "InvalidSignatureException",
        403,
        "Signature expired: 20261124T103010Z is now earlier than 20261124T104510Z (20261124T105010Z - 5 min.)",
    )
    just = _refused(_verifier(Clock(SIGNED_AT + timedelta(minutes=5, seconds=1))), sent)
    assert just.message.startswith("Signature expired: 20261124T103010Z is now earlier than 20261124T103011Z")


def test_a_future_signature_is_refused_in_aws_words(wire: _Wire) -> None:
    sent = _send(_client(wire), wire, "list_detectors")
    err = _refused(_verifier(Clock(SIGNED_AT - timedelta(minutes=5, seconds=1))), sent)
    assert (err.code, err.status, err.message) == (
        "InvalidSignatureException",
        403,
        "Signature not yet current: 20261124T103010Z is still later than 20261124T103009Z "
        "(20261124T102509Z + 5 min.)",
    )


def test_the_skew_is_configurable(wire: _Wire) -> None:
    sent = _send(_client(wire), wire, "list_detectors")
    verifier = _verifier(Clock(SIGNED_AT + timedelta(seconds=91)), max_skew=timedelta(seconds=90))
    assert _refused(verifier, sent).message.endswith("(20261124T103141Z - 90 sec.)")


# -- replays -------------------------------------------------------------------------------------


def test_a_replayed_write_is_refused(wire: _Wire) -> None:
    verifier = _verifier()
    sent = _send(_client(wire), wire, "create_detector", Enable=True)
    assert _verify(verifier, sent).account_id == KEY.account_id
    err = _refused(verifier, sent)
    assert (err.code, err.status) == ("InvalidSignatureException", 403)
    assert "already been used" in err.message
    # The same call made again is a new request: boto3 gives it a fresh clientToken.
    again = _send(_client(wire), wire, "create_detector", Enable=True)
    assert again.header("Authorization") != sent.header("Authorization")
    assert _verify(verifier, again).account_id == KEY.account_id


def test_identical_reads_in_one_second_are_accepted(wire: _Wire) -> None:
    verifier = _verifier()
    gd = _client(wire)
    reads: list[tuple[str, dict[str, Any]]] = [
        ("list_detectors", {}),
        ("get_findings", {"DetectorId": "12abc34d", "FindingIds": ["f1"]}),
        ("list_findings", {"DetectorId": "12abc34d"}),
    ]
    for operation, params in reads:
        first, second = (_send(gd, wire, operation, **params) for _ in range(2))
        assert first.header("Authorization") == second.header("Authorization")
        assert _verify(verifier, first) == _verify(verifier, second)


def test_botocore_signs_no_per_call_value_so_identical_writes_in_one_second_collide(wire: _Wire) -> None:
    """The limit of replay protection with boto3, pinned down: ``amz-sdk-invocation-id`` is
    added after signing, so two identical update calls in one second are one signature and
    the second is refused. Operations with a ``clientToken`` (create_*) never collide."""
    gd = _client(wire)
    first = _send(gd, wire, "update_detector", DetectorId="12abc34d", Enable=False)
    second = _send(gd, wire, "update_detector", DetectorId="12abc34d", Enable=False)
    assert first.header("amz-sdk-invocation-id") != second.header("amz-sdk-invocation-id")
    assert "amz-sdk-invocation-id" not in first.header("Authorization")
    assert first.header("Authorization") == second.header("Authorization")
    verifier = _verifier()
    _verify(verifier, first)
    assert "already been used" in _refused(verifier, second).message
    # One second later the signature differs, and the call goes through.
    later = _send(
        gd, wire, "update_detector", at=SIGNED_AT + timedelta(seconds=1), DetectorId="12abc34d", Enable=False
    )
    assert _verify(verifier, later).account_id == KEY.account_id


def test_a_released_request_may_be_sent_again(wire: _Wire) -> None:
    """An update refused by the API (no such filter yet) and repeated once the filter exists:
    the app releases the first, failed request's signature, so the repeat is not a replay."""
    verifier = _verifier()
    update = _send(_client(wire), wire, "update_filter", DetectorId="12abc34d", FilterName="f", Rank=1)
    _verify(verifier, update)
    verifier.release({k.lower(): v for k, v in update.headers.items()})
    assert _verify(verifier, update).account_id == KEY.account_id
    assert "already been used" in _refused(verifier, update).message  # accepted again: held again
    # Releasing and re-accepting the same request does not grow the memory.
    for _ in range(5):
        verifier.release(update.headers)
        _verify(verifier, update)
    assert len(verifier._seen) == 1
    verifier.release({})  # nothing to release: no error
    verifier.release({"Authorization": "Bearer abc"})


def test_read_only_requests_are_told_apart(wire: _Wire) -> None:
    assert read_only_request("GET", "/detector")
    assert read_only_request("POST", "/detector/abc/findings")  # ListFindings
    assert read_only_request("POST", "/detector/abc/findings/get")  # GetFindings
    assert not read_only_request("POST", "/detector/abc/findings/archive")  # ArchiveFindings
    assert not read_only_request("POST", "/detector")  # CreateDetector
    assert not read_only_request("DELETE", "/detector/abc")
    assert not read_only_request("POST", "/no/such/route")


def test_remembered_signatures_are_bounded(wire: _Wire) -> None:
    clock = Clock()
    verifier = _verifier(clock, replay_cap=2)
    gd = _client(wire)
    writes = [_send(gd, wire, "create_detector", Enable=True) for _ in range(3)]
    _verify(verifier, writes[0])
    _verify(verifier, writes[1])
    err = _refused(verifier, writes[2])
    assert (err.code, err.status) == ("ThrottlingException", 429)
    assert (
        _verify(verifier, _send(gd, wire, "list_detectors")).account_id == KEY.account_id
    )  # reads need no room
    # Once the first two are past the window they are forgotten, and there is room again.
    clock.now = SIGNED_AT + timedelta(minutes=5, seconds=1)
    fresh = _send(gd, wire, "create_detector", at=clock.now, Enable=True)
    assert _verify(verifier, fresh).account_id == KEY.account_id
    assert "expired" in _refused(verifier, writes[0]).message  # refused by time, not remembered


def test_a_replay_across_threads_is_accepted_once(wire: _Wire) -> None:
    verifier = _verifier()
    sent = _send(_client(wire), wire, "create_detector", Enable=True)
    results: list[str] = []

    def attempt() -> None:
        try:
            _verify(verifier, sent)
            results.append("ok")
        except AuthError as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["InvalidSignatureException"] * 7 + ["ok"]


# -- keys ----------------------------------------------------------------------------------------


def test_keys_are_cached_briefly(wire: _Wire) -> None:
    keys = Keys()
    clock = Clock()
    verifier = Verifier(keys, clock=clock)
    sent = _send(_client(wire), wire, "list_detectors")
    for _ in range(3):
        _verify(verifier, sent)
    assert keys.asked == 1
    clock.now = SIGNED_AT + timedelta(seconds=10)
    _verify(verifier, sent)
    assert keys.asked == 2


def test_a_deactivated_or_deleted_key_stops_working_within_the_ttl(wire: _Wire, tmp_path: Path) -> None:
    with Store(sqlite_url(tmp_path)) as store:
        key = create_key(store, "444455556666", "ci")
        clock = Clock()
        verifier = Verifier(lambda key_id: find_key(store, key_id), clock=clock)
        sent = _send(_client(wire, key), wire, "list_detectors")
        assert _verify(verifier, sent).account_id == "444455556666"
        assert set_key_active(store, key.access_key_id, False)
        clock.now = SIGNED_AT + timedelta(seconds=9)
        assert _verify(verifier, sent).account_id == "444455556666"  # still cached
        clock.now = SIGNED_AT + timedelta(seconds=10)
        assert _refused(verifier, sent).code == "UnrecognizedClientException"


# -- malformed signatures ------------------------------------------------------------------------


def _raw(
    key: AccessKey = KEY,
    *,
    service: str = "guardduty",
    region: str = "us-east-1",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    signer: type[SigV4Auth] = SigV4Auth,
) -> Sent:
    """A request signed by botocore's SigV4Auth directly, as other tools do."""
    url = "http://127.0.0.1:8080/detector"
    request = AWSRequest("POST" if body else "GET", url, data=body, headers=headers or {})
    with mock.patch("botocore.auth.get_current_datetime", return_value=SIGNED_AT.replace(tzinfo=None)):
        signer(Credentials(key.access_key_id, key.secret_access_key), service, region).add_auth(request)
    parts = urlsplit(url)
    sent = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
    return Sent(request.method, parts.path, parts.query, {"Host": parts.netloc, **sent}, body)


def test_a_foreign_service_or_bad_region_in_the_scope_is_refused() -> None:
    err = _refused(_verifier(), _raw(service="securityhub"))
    assert (err.code, err.message) == (
        "InvalidSignatureException",
        "Credential should be scoped to correct service: 'guardduty'. ",
    )
    err = _refused(_verifier(), _raw(region="mars"))
    assert (err.code, err.message) == (
        "InvalidSignatureException",
        "Credential should be scoped to a valid region, not 'mars'. ",
    )
    assert _verify(_verifier(), _raw(region="us-gov-west-1")).region == "us-gov-west-1"


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        ("Bearer abc", "Authorization header requires 'Credential' parameter."),
        ("AWS4-HMAC-SHA256 Credential", "not a valid key=value pair (missing equal-sign)"),
        (
            "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=00",
            "exactly 5 slash-delimited elements",
        ),
        ("AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=00", "requires 'Credential' parameter"),
        ("AWS4-HMAC-SHA512 Credential=x", "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'"),
    ],
)
def test_a_malformed_authorization_header_is_incomplete(authorization: str, expected: str) -> None:
    sent = _raw().with_header("Authorization", authorization)
    err = _refused(_verifier(), sent)
    assert (err.code, err.status) == ("IncompleteSignatureException", 400)
    assert expected in err.message


def test_a_missing_or_malformed_date_is_incomplete() -> None:
    sent = _raw()
    undated = replace(sent, headers={k: v for k, v in sent.headers.items() if k != "X-Amz-Date"})
    err = _refused(_verifier(), undated)
    assert (err.code, err.status) == ("IncompleteSignatureException", 400)
    assert "requires existence of a 'X-Amz-Date' header" in err.message
    err = _refused(_verifier(), sent.with_header("X-Amz-Date", "2026-11-24T10:30:10Z"))
    assert (err.code, err.status) == ("IncompleteSignatureException", 400)
    err = _refused(_verifier(), sent.with_header("X-Amz-Date", "20261125T103010Z"))
    assert (
        err.code == "InvalidSignatureException" and "Date in Credential scope does not match" in err.message
    )


class _SignsEverything(SigV4Auth):  # type: ignore[misc]
    """Signs every header, ``user-agent`` included, as some other SDKs do."""

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        chosen = super().headers_to_sign(request)
        for name, value in request.headers.items():
            if name.lower() not in chosen:
                chosen[name.lower()] = value
        return chosen


class _SkipsHost(SigV4Auth):  # type: ignore[misc]
    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        chosen = super().headers_to_sign(request)
        del chosen["host"]
        return chosen


def test_the_signed_headers_are_the_clients_choice() -> None:
    sent = _raw(
        headers={"User-Agent": "aws-sdk-java/1.12", "Expect": "100-continue"}, signer=_SignsEverything
    )
    assert "user-agent" in sent.header("Authorization") and "expect" in sent.header("Authorization")
    assert _verify(_verifier(), sent).account_id == KEY.account_id
    assert _refused(_verifier(), sent.with_header("User-Agent", "other")).code == "InvalidSignatureException"
    unsigned_host = _raw(signer=_SkipsHost)
    err = _refused(_verifier(), unsigned_host)
    assert (err.code, err.status) == ("IncompleteSignatureException", 400)


def test_a_signed_payload_hash_must_match_the_body() -> None:
    body = b'{"enable": true}'
    digest = hashlib.sha256(body).hexdigest()
    sent = _raw(body=body, headers={"X-Amz-Content-SHA256": digest, "Content-Type": "application/json"})
    assert "x-amz-content-sha256" in sent.header("Authorization")
    assert _verify(_verifier(), sent).account_id == KEY.account_id
    swapped = replace(sent, body=b'{"enable": false}')  # header and signature still match each other
    err = _refused(_verifier(), swapped)
    assert (err.code, err.status) == ("InvalidSignatureException", 403)
    assert "x-amz-content-sha256" in err.message
