"""Targets against real receivers on 127.0.0.1: an HTTP server, an SMTP server (aiosmtpd), moto's
server for SNS and Lambda, and a real child process; events are built from the sample findings."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import io
import ipaddress
import json
import re
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from keibi.errors import ConfigError, PublishError
from keibi.findings.samples import sample_findings
from keibi.publish.events import guardduty_event
from keibi.publish.targets import (
    CommandTarget,
    EmailTarget,
    FindingSummary,
    LambdaTarget,
    SlackTarget,
    SnsTarget,
    WebhookTarget,
    build_targets,
    sign,
    verify_signature,
)

ACCOUNT = "123456789012"
SSH = "UnauthorizedAccess:EC2/SSHBruteForce"  # Low 2.0, an instance attacked from 198.51.100.77
EXFIL = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"  # High 8.0, an access key
BUCKET = "Policy:S3/BucketPublicAccessGranted"
PROBE = "Recon:EC2/PortProbeUnprotectedPort"
DNS = "Backdoor:EC2/C&CActivity.B!DNS"
PREFIX_PATTERN = '{"detail": {"type": [{"prefix": "UnauthorizedAccess:"}]}}'


@pytest.fixture(scope="module")
def events() -> dict[str, dict[str, Any]]:
    findings = sample_findings(
        ACCOUNT, "us-east-1", [SSH, EXFIL, BUCKET, PROBE, DNS], now=datetime(2026, 11, 24, 10, tzinfo=UTC)
    )
    return {f["type"]: guardduty_event(f, "NEW") for f in findings}


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# -- an HTTP receiver -----------------------------------------------------------------------------


@dataclass
class Receiver:
    url: str
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    status: int = 200
    reply: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append((self.path, dict(self.headers.items()), body))
            time.sleep(state.delay)
            self.send_response(state.status)
            for name, value in state.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(state.reply)))
            self.end_headers()
            self.wfile.write(state.reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


# -- webhook --------------------------------------------------------------------------------------


def test_webhook_posts_the_signed_event(receiver: Receiver, events: dict[str, dict[str, Any]]) -> None:
    event = events[EXFIL]
    target = WebhookTarget(
        name="siem", url=receiver.url + "/hooks/gd", secret="s3cret", headers={"X-Team": "soc"}
    )
    before = int(time.time())
    target.deliver(event)
    [(path, headers, body)] = receiver.requests
    assert path == "/hooks/gd"
    assert body == orjson.dumps(event)
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Keibi-Event-Id"] == event["id"]
    assert headers["X-Team"] == "soc"
    timestamp = headers["X-Keibi-Timestamp"]
    assert before <= int(timestamp) <= time.time()
    signature = headers["X-Keibi-Signature"]
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert verify_signature("s3cret", timestamp, body, signature)
    assert not verify_signature("wrong", timestamp, body, signature)
    assert not verify_signature("s3cret", timestamp, body.replace(b"8.0", b"1.0"), signature)
    assert not verify_signature("s3cret", int(timestamp) + 1, body, signature)
    assert not verify_signature("s3cret", timestamp, body, signature, now=int(timestamp) + 301)
    assert verify_signature("s3cret", timestamp, body, signature, now=int(timestamp) + 299)
    assert not verify_signature("s3cret", "not-a-number", body, signature)


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(b"key", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert sign("key", 1700000000, b'{"a":1}') == f"sha256={expected}"
    assert sign("key", "1700000000", b'{"a":1}') == f"sha256={expected}"
    assert verify_signature("key", "1700000000", b'{"a":1}', f" sha256={expected} ", now=1700000000)
    assert not verify_signature("key", "1700000000", b'{"a":1}', expected, now=1700000000)  # no prefix


def test_webhook_without_secret_is_unsigned(receiver: Receiver, events: dict[str, dict[str, Any]]) -> None:
    WebhookTarget(name="plain", url=receiver.url).deliver(events[SSH])
    [(_, headers, body)] = receiver.requests
    assert "X-Keibi-Signature" not in headers
    assert orjson.loads(body)["detail"]["type"] == SSH


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (429, True), (400, False), (404, False), (410, False)]
)
def test_webhook_failures_say_whether_to_retry(
    receiver: Receiver, events: dict[str, dict[str, Any]], status: int, retryable: bool
) -> None:
    receiver.status, receiver.reply = status, b"no such hook\nsecond line"
    target = WebhookTarget(name="siem", url=receiver.url + "/T0000/B0000/secret-token")
    with pytest.raises(PublishError) as caught:
        target.deliver(events[SSH])
    err = caught.value
    assert err.retryable is retryable
    assert err.target == "siem"
    assert str(err) == f"siem: HTTP {status} from {receiver.url[7:]}: no such hook | second line"
    assert "secret-token" not in str(err)


def test_webhook_does_not_follow_redirects(receiver: Receiver, events: dict[str, dict[str, Any]]) -> None:
    receiver.status, receiver.reply = 302, b""
    receiver.headers = {"Location": receiver.url + "/elsewhere"}
    with pytest.raises(PublishError, match="redirects are not followed") as caught:
        WebhookTarget(name="siem", url=receiver.url + "/old").deliver(events[SSH])
    assert caught.value.retryable is False
    assert [path for path, _, _ in receiver.requests] == ["/old"]


def test_webhook_connection_refused_and_timeout_are_retryable(
    receiver: Receiver, events: dict[str, dict[str, Any]]
) -> None:
    with pytest.raises(PublishError, match=re.escape("cannot reach 127.0.0.1:")) as refused:
        WebhookTarget(name="siem", url=f"http://127.0.0.1:{_free_port()}/x").deliver(events[SSH])
    assert refused.value.retryable is True
    receiver.delay = 0.5
    with pytest.raises(PublishError, match="timed out") as slow:
        WebhookTarget(name="siem", url=receiver.url, timeout=0.1).deliver(events[SSH])
    assert slow.value.retryable is True


# -- the human rendering and Slack ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "label"),
    [
        (1.0, "Low"),
        (3.9, "Low"),
        (4.0, "Medium"),
        (6.9, "Medium"),
        (7.0, "High"),
        (8.9, "High"),
        (9.0, "Critical"),
        (10, "Critical"),
    ],
)
def test_severity_labels_are_guardduty_bands(
    severity: float, label: str, events: dict[str, dict[str, Any]]
) -> None:
    event = {**events[SSH], "detail": {**events[SSH]["detail"], "severity": severity}}
    summary = FindingSummary.of(event)
    assert summary.severity_text == f"{label} {severity:.1f}"
    assert summary.subject == f"[keibi] {label} {severity:.1f} {SSH} in {ACCOUNT}/us-east-1"


def test_summary_names_resource_and_actor(events: dict[str, dict[str, Any]]) -> None:
    exfil = FindingSummary.of(events[EXFIL])
    assert exfil.subject == f"[keibi] High 8.0 {EXFIL} in {ACCOUNT}/us-east-1"
    assert exfil.resource == "access key ASIAIOSFODNN7EXAMPLE (user web-server-role)"
    assert exfil.actor == "198.51.100.23 (Netherlands)"
    assert (exfil.count, exfil.first_seen) == (1, "2026-11-24T10:00:00Z")
    bucket = FindingSummary.of(events[BUCKET])
    assert bucket.resource == "bucket amzn-s3-demo-bucket; access key AKIAIOSFODNN7EXAMPLE (user Alice)"
    assert FindingSummary.of(events[SSH]).resource == "instance i-1234567890abcdef0"
    assert (
        FindingSummary.of(events[PROBE]).actor == "198.51.100.99 (Netherlands), 203.0.113.141 (Netherlands)"
    )
    assert FindingSummary.of(events[DNS]).actor == "DNS query for cdn.api-metrics-sync.example"
    no_ip = json.loads(json.dumps(events[EXFIL]))
    del no_ip["detail"]["service"]["action"]["awsApiCallAction"]["remoteIpDetails"]
    assert FindingSummary.of(no_ip).actor == "web-server-role (AssumedRole)"


def _slack_text(message: dict[str, Any]) -> str:
    parts = [message["text"]]
    for block in message["blocks"]:
        parts += [block.get("text", {}).get("text", "")]
        parts += [f["text"] for f in block.get("fields", []) + block.get("elements", [])]
    return "\n".join(parts)


def test_slack_message_shows_the_finding(receiver: Receiver, events: dict[str, dict[str, Any]]) -> None:
    event = events[EXFIL]
    finding_id = event["detail"]["id"]
    SlackTarget(
        name="soc", url=receiver.url + "/services/T/B/x", console_url="https://keibi.example/console/"
    ).deliver(event)
    [(_, headers, body)] = receiver.requests
    assert headers["Content-Type"] == "application/json"
    message = orjson.loads(body)
    assert message["text"].startswith(
        f"[keibi] High 8.0 {EXFIL} in {ACCOUNT}/us-east-1: Credentials for instance"
    )
    assert message["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": f"High 8.0 · {EXFIL}"},
    }
    fields = {f["text"].split("\n")[0]: f["text"].split("\n", 1)[1] for f in message["blocks"][2]["fields"]}
    assert fields == {
        "*Severity*": "High 8.0",
        "*Finding type*": EXFIL,
        "*Account / Region*": f"{ACCOUNT} / us-east-1",
        "*Resource*": "access key ASIAIOSFODNN7EXAMPLE (user web-server-role)",
        "*Actor*": "198.51.100.23 (Netherlands)",
        "*Count*": "1 (first seen 2026-11-24T10:00:00Z, last seen 2026-11-24T10:00:00Z)",
    }
    text = _slack_text(message)
    assert f"<https://keibi.example/console/findings/{finding_id}|View finding {finding_id}>" in text
    assert event["id"] in text


def test_slack_without_console_url_has_no_link_and_escapes(
    receiver: Receiver, events: dict[str, dict[str, Any]]
) -> None:
    event = json.loads(json.dumps(events[DNS]))
    SlackTarget(name="soc", url=receiver.url).deliver(event)
    text = _slack_text(orjson.loads(receiver.requests[0][2]))
    assert "/findings/" not in text and "View finding" not in text
    assert "Backdoor:EC2/C&amp;CActivity.B!DNS" in text  # & escaped for mrkdwn
    assert "DNS query for cdn.api-metrics-sync.example" in text


def test_slack_error_is_not_retryable_and_hides_the_url(
    receiver: Receiver, events: dict[str, dict[str, Any]]
) -> None:
    receiver.status, receiver.reply = 404, b"channel_not_found"
    with pytest.raises(PublishError) as caught:
        SlackTarget(name="soc", url=receiver.url + "/services/T/B/xoxsecret").deliver(events[SSH])
    assert caught.value.retryable is False
    assert "channel_not_found" in str(caught.value) and "xoxsecret" not in str(caught.value)


# -- email ----------------------------------------------------------------------------------------


class Inbox:
    """An aiosmtpd handler: records what it accepts, refuses recipients whose domain is listed."""

    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], bytes, bool]] = []
        self.refuse: dict[str, str] = {}
        self.logins: list[bytes] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        for domain, reply in self.refuse.items():
            if address.endswith("@" + domain):
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.content, bool(session.authenticated))
        )
        return "250 Message accepted"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == b"keibi" and data.password == b"pw"
        if ok:
            self.logins.append(data.login)
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: the ca_file a client trusts and the server's key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "keibi test relay")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


def test_email_sends_summary_with_event_attached(
    smtp_server: tuple[Inbox, int], events: dict[str, dict[str, Any]]
) -> None:
    inbox, port = smtp_server
    event = events[EXFIL]
    [target] = build_targets(
        [
            {
                "name": "mail",
                "type": "email",
                "host": "127.0.0.1",
                "port": port,
                "from": "keibi@corp.example",
                "to": ["soc@corp.example", "oncall@corp.example"],
                "console_url": "https://keibi.example",
            }
        ]
    )
    target.deliver(event)
    [(sender, recipients, raw, authenticated)] = inbox.mails
    assert (sender, recipients, authenticated) == (
        "keibi@corp.example",
        ["soc@corp.example", "oncall@corp.example"],
        False,
    )
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail["Subject"] == f"[keibi] High 8.0 {EXFIL} in {ACCOUNT}/us-east-1"
    assert mail["To"] == "soc@corp.example, oncall@corp.example"
    assert mail["Message-ID"] == f"<{event['id']}@keibi>"
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert text.startswith("Credentials for instance role web-server-role used from external IP address.")
    for line in (
        "Severity: High 8.0",
        f"Finding type: {EXFIL}",
        f"Account / Region: {ACCOUNT} / us-east-1",
        "Resource: access key ASIAIOSFODNN7EXAMPLE (user web-server-role)",
        "Actor: 198.51.100.23 (Netherlands)",
        "Count: 1 (first seen 2026-11-24T10:00:00Z, last seen 2026-11-24T10:00:00Z)",
        f"Link: https://keibi.example/findings/{event['detail']['id']}",
    ):
        assert line in text.splitlines()
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_content_type() == "application/json"
    assert attachment.get_filename() == f"guardduty-finding-{event['detail']['id']}.json"
    assert orjson.loads(attachment.get_content()) == event


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_email_over_tls(mode: str, certificate: tuple[Path, Path], events: dict[str, dict[str, Any]]) -> None:
    cert_file, key_file = certificate
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert_file, key_file)
    inbox, port = Inbox(), _free_port()
    if mode == "starttls":
        controller = Controller(
            inbox,
            hostname="127.0.0.1",
            port=port,
            tls_context=server_tls,
            require_starttls=True,
            authenticator=inbox.authenticate,
        )
    else:
        controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=server_tls)
    controller.start()
    try:
        target = EmailTarget(
            name="mail",
            host="127.0.0.1",
            port=port,
            sender="keibi@corp.example",
            to=("soc@corp.example",),
            starttls=mode == "starttls",
            use_ssl=mode == "ssl",
            ca_file=str(cert_file),
            username="keibi" if mode == "starttls" else None,
            password="pw" if mode == "starttls" else None,
        )
        target.deliver(events[SSH])
        assert [m[3] for m in inbox.mails] == [mode == "starttls"]
        assert inbox.logins == ([b"keibi"] if mode == "starttls" else [])
        # Without the private CA the certificate is refused, which retrying cannot fix.
        untrusted = EmailTarget(
            name="mail",
            host="127.0.0.1",
            port=port,
            sender="k@corp.example",
            to=("s@corp.example",),
            starttls=mode == "starttls",
            use_ssl=mode == "ssl",
        )
        with pytest.raises(PublishError, match="certificate verify failed") as caught:
            untrusted.deliver(events[SSH])
        assert caught.value.retryable is False
        if mode == "starttls":
            wrong = EmailTarget(
                name="mail",
                host="127.0.0.1",
                port=port,
                sender="k@corp.example",
                to=("s@corp.example",),
                starttls=True,
                ca_file=str(cert_file),
                username="keibi",
                password="nope",
            )
            with pytest.raises(PublishError, match="SMTP 535") as denied:
                wrong.deliver(events[SSH])
            assert denied.value.retryable is False
    finally:
        controller.stop()
    assert len(inbox.mails) == 1


def test_email_refusals(smtp_server: tuple[Inbox, int], events: dict[str, dict[str, Any]]) -> None:
    inbox, port = smtp_server
    inbox.refuse = {"gone.example": "550 5.1.1 no such user", "busy.example": "451 4.3.0 try later"}

    def target(*to: str) -> EmailTarget:
        return EmailTarget(name="mail", host="127.0.0.1", port=port, sender="k@corp.example", to=to)

    with pytest.raises(
        PublishError, match=re.escape("refused every recipient: a@gone.example (550)")
    ) as permanent:
        target("a@gone.example").deliver(events[SSH])
    assert permanent.value.retryable is False
    with pytest.raises(PublishError) as temporary:
        target("a@busy.example").deliver(events[SSH])
    assert temporary.value.retryable is True
    with pytest.raises(
        PublishError, match=re.escape("refused a@gone.example (550); the others got the mail")
    ) as partial:
        target("ok@corp.example", "a@gone.example").deliver(events[SSH])
    assert partial.value.retryable is False
    assert [m[1] for m in inbox.mails] == [["ok@corp.example"]]


def test_email_server_down_is_retryable(events: dict[str, dict[str, Any]]) -> None:
    target = EmailTarget(
        name="mail", host="127.0.0.1", port=_free_port(), sender="k@c.example", to=("s@c.example",)
    )
    with pytest.raises(PublishError, match=re.escape("cannot reach 127.0.0.1:")) as caught:
        target.deliver(events[SSH])
    assert caught.value.retryable is True


# -- SNS and Lambda on moto's server --------------------------------------------------------------


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return moto_endpoint


def _moto_api(endpoint: str, path: str, body: Any = None) -> bytes:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(endpoint + path, data=data, method="GET" if body is None else "POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        reply: bytes = response.read()
        return reply


def test_sns_publishes_event_with_attributes(aws_env: str, events: dict[str, dict[str, Any]]) -> None:
    sns = boto3.client("sns", endpoint_url=aws_env, region_name="eu-west-1")
    sqs = boto3.client("sqs", endpoint_url=aws_env, region_name="eu-west-1")
    topic = sns.create_topic(Name="guardduty-findings")["TopicArn"]
    queue = sqs.create_queue(QueueName="soc-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    # The region comes from the ARN (AWS_DEFAULT_REGION says us-east-1), the endpoint from config.
    [target] = build_targets([{"name": "topic", "type": "sns", "topic_arn": topic, "endpoint_url": aws_env}])
    assert isinstance(target, SnsTarget) and target.region == "eu-west-1"
    event = events[EXFIL]
    target.deliver(event)
    [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    envelope = json.loads(message["Body"])
    assert json.loads(envelope["Message"]) == event
    assert envelope["Subject"] == f"[keibi] High 8.0 {EXFIL} in {ACCOUNT}/us-east-1"[:99]
    assert len(envelope["Subject"]) <= 100
    assert envelope["MessageAttributes"] == {
        "event_id": {"Type": "String", "Value": event["id"]},
        "severity": {"Type": "Number", "Value": "8.0"},
        "type": {"Type": "String", "Value": EXFIL},
    }


def test_sns_errors(aws_env: str, monkeypatch: pytest.MonkeyPatch, events: dict[str, dict[str, Any]]) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env)  # boto3's environment, as a user would set it
    missing = SnsTarget(name="topic", topic_arn=f"arn:aws:sns:us-east-1:{ACCOUNT}:nope", region="us-east-1")
    with pytest.raises(PublishError, match="sns publish: NotFound") as caught:
        missing.deliver(events[SSH])
    assert caught.value.retryable is False
    down = SnsTarget(
        name="topic",
        topic_arn=f"arn:aws:sns:us-east-1:{ACCOUNT}:t",
        region="us-east-1",
        endpoint_url=f"http://127.0.0.1:{_free_port()}",
    )
    started = time.monotonic()
    with pytest.raises(PublishError, match="cannot reach sns") as unreachable:
        down.deliver(events[SSH])
    assert unreachable.value.retryable is True
    assert time.monotonic() - started < 5  # boto3's own retries are off


@pytest.fixture
def lambda_without_docker(aws_env: str) -> Iterator[str]:
    """moto runs Lambda in docker unless told otherwise; its simple backend accepts invocations
    without running them. The setting is process-wide, so it is put back afterwards."""
    before = json.loads(_moto_api(aws_env, "/moto-api/config"))["lambda"]
    _moto_api(aws_env, "/moto-api/config", {"lambda": {"use_docker": False}})
    yield aws_env
    _moto_api(aws_env, "/moto-api/config", {"lambda": before})


def test_lambda_invokes_asynchronously_with_the_event(
    lambda_without_docker: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    events: dict[str, dict[str, Any]],
) -> None:
    endpoint = lambda_without_docker
    iam = boto3.client("iam", endpoint_url=endpoint)
    role = iam.create_role(RoleName=f"keibi-{time.time_ns()}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    function = boto3.client("lambda", endpoint_url=endpoint).create_function(
        FunctionName="on-finding",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]
    [target] = build_targets(
        [{"name": "fn", "type": "lambda", "function": function, "endpoint_url": endpoint}]
    )
    assert isinstance(target, LambdaTarget) and target.region == "us-east-1"
    # moto's recorder logs every request it serves to ./moto_recording: read it back over HTTP.
    monkeypatch.chdir(tmp_path)
    _moto_api(endpoint, "/moto-api/recorder/reset-recording", {})
    _moto_api(endpoint, "/moto-api/recorder/start-recording", {})
    try:
        target.deliver(events[EXFIL])
    finally:
        _moto_api(endpoint, "/moto-api/recorder/stop-recording", {})
    recorded = [
        json.loads(line) for line in _moto_api(endpoint, "/moto-api/recorder/download-recording").splitlines()
    ]
    [call] = [r for r in recorded if r["url"].endswith("/invocations")]
    assert call["method"] == "POST"
    assert urllib.parse.unquote(call["url"]).endswith(f"/functions/{function}/invocations")
    assert call["headers"]["X-Amz-Invocation-Type"] == "Event"
    body = base64.b64decode(call["body"]) if call["body_encoded"] else call["body"].encode()
    assert orjson.loads(body) == events[EXFIL]


def test_lambda_missing_function_is_not_retryable(aws_env: str, events: dict[str, dict[str, Any]]) -> None:
    target = LambdaTarget(name="fn", function="no-such-function", region="us-east-1", endpoint_url=aws_env)
    with pytest.raises(PublishError, match="lambda invoke: ResourceNotFoundException") as caught:
        target.deliver(events[SSH])
    assert caught.value.retryable is False


# -- a local command ------------------------------------------------------------------------------

WRITER = """
import os, sys
out = sys.argv[1]
open(out, "wb").write(sys.stdin.buffer.read())
open(out + ".env", "w").write(" ".join(os.environ[k] for k in ("KEIBI_EVENT_ID", "KEIBI_FINDING_ID", "KEIBI_SEVERITY")))
"""


def test_command_gets_event_on_stdin_and_ids_in_env(
    tmp_path: Path, events: dict[str, dict[str, Any]]
) -> None:
    out = tmp_path / "event.json"
    event = events[EXFIL]
    [target] = build_targets(
        [{"name": "script", "type": "command", "command": [sys.executable, "-c", WRITER, str(out)]}]
    )
    target.deliver(event)
    assert orjson.loads(out.read_bytes()) == event
    assert Path(f"{out}.env").read_text() == f"{event['id']} {event['detail']['id']} 8.0"


def test_command_failures(tmp_path: Path, events: dict[str, dict[str, Any]]) -> None:
    failing = CommandTarget(
        name="script",
        command=(
            sys.executable,
            "-c",
            "import sys; sys.stderr.write('first\\nboom: no token\\n'); sys.exit(3)",
        ),
    )
    with pytest.raises(PublishError) as failed:
        failing.deliver(events[SSH])
    assert failed.value.retryable is True
    assert str(failed.value) == f"script: {sys.executable} failed (exit status 3): first | boom: no token"
    missing = CommandTarget(name="script", command=(str(tmp_path / "no-such-program"),))
    with pytest.raises(PublishError, match=r"cannot run .*no-such-program: No such file") as not_found:
        missing.deliver(events[SSH])
    assert not_found.value.retryable is False
    slow = CommandTarget(
        name="script", command=(sys.executable, "-c", "import time; time.sleep(5)"), timeout=0.3
    )
    started = time.monotonic()
    with pytest.raises(PublishError, match=re.escape("timed out after 0.3 s")) as timed_out:
        slow.deliver(events[SSH])
    assert timed_out.value.retryable is True
    assert time.monotonic() - started < 3


# -- build_targets --------------------------------------------------------------------------------


def test_build_targets_from_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEIBI_TEST_HOOK_SECRET", "from-env")
    monkeypatch.setenv("KEIBI_TEST_SLACK_URL", "https://hooks.slack.com/services/T/B/env")
    targets = build_targets(
        [
            {
                "name": "siem",
                "type": "webhook",
                "url": "https://siem.example/gd",
                "secret_env": "KEIBI_TEST_HOOK_SECRET",
                "headers": {"Authorization": "Bearer x"},
                "timeout": 3,
            },
            {
                "name": "soc",
                "type": "slack",
                "url_env": "KEIBI_TEST_SLACK_URL",
                "min_severity": 7,
                "pattern": PREFIX_PATTERN,
            },
            {
                "name": "mail",
                "type": "email",
                "host": "smtp.example",
                "from": "k@corp.example",
                "to": ["s@corp.example"],
                "starttls": True,
                "username": "u",
                "password": "p",
            },
            {"name": "topic", "type": "sns", "topic_arn": f"arn:aws:sns:ap-northeast-1:{ACCOUNT}:gd"},
            {"name": "fn", "type": "lambda", "function": "on-finding", "region": "eu-central-1"},
            {"name": "script", "type": "command", "command": ["/usr/local/bin/page-oncall", "--quiet"]},
        ]
    )
    assert [(t.name, t.kind) for t in targets] == [
        ("siem", "webhook"),
        ("soc", "slack"),
        ("mail", "email"),
        ("topic", "sns"),
        ("fn", "lambda"),
        ("script", "command"),
    ]
    siem, soc, mail, topic, fn, script = targets
    assert isinstance(siem, WebhookTarget) and (siem.secret, siem.timeout, dict(siem.headers)) == (
        "from-env",
        3.0,
        {"Authorization": "Bearer x"},
    )
    assert isinstance(soc, SlackTarget) and soc.url.endswith("/env") and soc.min_severity == 7.0
    assert soc.pattern is not None and siem.pattern is None
    assert isinstance(mail, EmailTarget) and (mail.port, mail.starttls, mail.use_ssl, mail.timeout) == (
        587,
        True,
        False,
        10.0,
    )
    assert isinstance(topic, SnsTarget) and topic.region == "ap-northeast-1" and topic.endpoint_url is None
    assert isinstance(fn, LambdaTarget) and fn.region == "eu-central-1"
    assert isinstance(script, CommandTarget) and script.command == ("/usr/local/bin/page-oncall", "--quiet")
    assert build_targets([]) == []


SLACK = {"name": "soc", "type": "slack", "url": "https://hooks.slack.com/services/T/B/x"}
MAIL = {
    "name": "mail",
    "type": "email",
    "host": "smtp.example",
    "from": "k@corp.example",
    "to": ["s@corp.example"],
}


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (
            [{"name": "x"}],
            "publish.targets[0].type: required; one of command, email, lambda, slack, sns, webhook",
        ),
        (
            [{**SLACK, "type": "teams"}],
            "publish.targets[0].type: unknown target type 'teams'; one of command, email, lambda, slack, sns, webhook",
        ),
        (
            [{**SLACK, "chanel": "#soc"}],
            "publish.targets[0].chanel: unknown key for a slack target; allowed: console_url, min_severity, name, pattern, timeout, type, url, url_env",
        ),
        (
            [{"type": "slack", "url": "https://h.example"}],
            "publish.targets[0].name: required for a slack target",
        ),
        (
            [{"name": "soc", "type": "slack"}],
            "publish.targets[0].url: required for a slack target (or url_env naming an environment variable)",
        ),
        (
            [{**SLACK, "url": "ftp://h.example/x"}],
            "publish.targets[0].url: must be an http:// or https:// URL",
        ),
        ([{**SLACK, "url": 42}], "publish.targets[0].url: must be a non-empty string"),
        (
            [{**SLACK, "min_severity": "high"}],
            "publish.targets[0].min_severity: must be a number, got 'high'",
        ),
        (
            [{**SLACK, "min_severity": 11}],
            "publish.targets[0].min_severity: must be between 0 and 10, got 11",
        ),
        ([{**SLACK, "timeout": True}], "publish.targets[0].timeout: must be a number, got True"),
        ([SLACK, {**SLACK}], "publish.targets[1].name: duplicate target name 'soc'"),
        ([SLACK, "slack"], "publish.targets[1]: must be a table"),
        (
            [{**SLACK, "url_env": "KEIBI_TEST_UNSET_VAR"}],
            "publish.targets[0].url_env: give url or url_env, not both",
        ),
        (
            [{"name": "h", "type": "webhook", "url_env": "KEIBI_TEST_UNSET_VAR"}],
            "publish.targets[0].url_env: environment variable KEIBI_TEST_UNSET_VAR is not set",
        ),
        (
            [
                {
                    "name": "h",
                    "type": "webhook",
                    "url": "https://h.example",
                    "headers": {"X-Keibi-Signature": "x"},
                }
            ],
            "publish.targets[0].headers: X-Keibi-Signature is set by keibi and cannot be overridden",
        ),
        (
            [{"name": "h", "type": "webhook", "url": "https://h.example", "headers": ["X-A: b"]}],
            "publish.targets[0].headers: must be a table of header names to string values",
        ),
        ([{**SLACK, "pattern": "{not json"}], "publish.targets[0].pattern: "),
        (
            [{**SLACK, "pattern": 7}],
            "publish.targets[0].pattern: must be an EventBridge event pattern (JSON text or a table)",
        ),
        ([{**MAIL, "to": "s@corp.example"}], "publish.targets[0].to: must be a non-empty list of strings"),
        ([{**MAIL, "to": []}], "publish.targets[0].to: must be a non-empty list of strings"),
        ([{**MAIL, "from": "keibi"}], "publish.targets[0].from: 'keibi' is not an email address"),
        (
            [{**MAIL, "ssl": True, "starttls": True}],
            "publish.targets[0].starttls: give ssl (TLS from the start, port 465) or starttls (port 587), not both",
        ),
        ([{**MAIL, "starttls": "yes"}], "publish.targets[0].starttls: must be true or false, got 'yes'"),
        ([{**MAIL, "username": "u"}], "publish.targets[0].password: username and password go together"),
        ([{**MAIL, "port": 70000}], "publish.targets[0].port: must be between 1 and 65535, got 70000"),
        (
            [{**MAIL, "ca_file": "/no/such/ca.pem"}],
            "publish.targets[0].ca_file: no such file: /no/such/ca.pem",
        ),
        (
            [{"name": "t", "type": "sns", "topic_arn": "guardduty-findings"}],
            "publish.targets[0].topic_arn: 'guardduty-findings' is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
        ),
        ([{"name": "f", "type": "lambda"}], "publish.targets[0].function: required for a lambda target"),
        (
            [{"name": "c", "type": "command", "command": "notify --all"}],
            "publish.targets[0].command: must be a non-empty list of strings",
        ),
        (
            [{"name": "c", "type": "command", "command": ["notify", 3]}],
            "publish.targets[0].command: must be a non-empty list of strings",
        ),
    ],
)
def test_build_targets_rejects_mistakes(
    entries: list[Any], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KEIBI_TEST_UNSET_VAR", raising=False)
    with pytest.raises(ConfigError) as caught:
        build_targets(entries, source="/etc/keibi.toml")
    text = str(caught.value)
    assert text.startswith("/etc/keibi.toml:" + message)
    assert "\n" not in text
    assert caught.value.key == message.split(":")[0]


def test_wants_applies_severity_then_pattern(events: dict[str, dict[str, Any]]) -> None:
    high_only, unauthorized, both, pattern_table = build_targets(
        [
            {**SLACK, "name": "high", "min_severity": 7},
            {**SLACK, "name": "unauthorized", "pattern": PREFIX_PATTERN},
            {**SLACK, "name": "both", "min_severity": 7, "pattern": PREFIX_PATTERN},
            {**SLACK, "name": "table", "pattern": {"detail": {"type": [{"prefix": "Recon:"}]}}},
        ]
    )
    assert [high_only.wants(events[t]) for t in (EXFIL, SSH, BUCKET, PROBE)] == [True, False, True, False]
    assert [unauthorized.wants(events[t]) for t in (EXFIL, SSH, BUCKET, PROBE)] == [True, True, False, False]
    assert [both.wants(events[t]) for t in (EXFIL, SSH, BUCKET, PROBE)] == [True, False, False, False]
    assert [pattern_table.wants(events[t]) for t in (EXFIL, SSH, BUCKET, PROBE)] == [
        False,
        False,
        False,
        True,
    ]
    at = {sev: {**events[SSH], "detail": {**events[SSH]["detail"], "severity": sev}} for sev in (6.9, 7.0)}
    assert (high_only.wants(at[7.0]), high_only.wants(at[6.9])) == (True, False)  # the threshold is inclusive
