"""Notification targets: where a finding's EventBridge event goes (webhook, Slack, email, SNS, Lambda,
a local command), built once from the ``[[publish.targets]]`` tables of ``keibi.toml``.

Decisions:

- **The payload is GuardDuty's EventBridge event, unchanged.** Webhook bodies, SNS messages, Lambda
  payloads, a command's stdin and the email attachment are the event's JSON, so a receiver written
  for GuardDuty behind EventBridge works as it is. Slack and email add a human rendering
  (:class:`FindingSummary`), the same fields in both.
- **At-least-once, de-duplicated by the event id.** The delivery loop (elsewhere) retries with
  backoff and dead-letters; targets never retry themselves (boto3 gets ``total_max_attempts=1``),
  so a failure surfaces at once. Each channel carries the event id where its receivers look:
  the ``X-Keibi-Event-Id`` header, the email ``Message-ID``, the SNS ``event_id`` attribute, the
  ``KEIBI_EVENT_ID`` variable.
- **A failure says whether to retry.** :class:`~keibi.errors.PublishError` has ``retryable``:
  connection errors, timeouts, HTTP 429/5xx, SMTP 4xx, AWS throttling/5xx and a command's non-zero
  exit are retryable; other HTTP 4xx, SMTP 5xx, a refused TLS certificate, AWS validation or
  permission errors and a program that cannot be started are not. Reasons name the host, never a
  URL path: a Slack webhook's path is its secret.
- **Redirects are not followed.** urllib turns a redirected POST into a bodiless GET, whose 200
  would look like a delivery; a 3xx is reported (not retryable) so the user configures the final URL.
- **Webhook signatures, Stripe/GitHub style.** With a secret, ``X-Keibi-Signature`` is
  ``sha256=`` + hex HMAC-SHA256(secret, ``f"{X-Keibi-Timestamp}."`` + raw body). A receiver
  recomputes it over the raw bytes it received (before parsing JSON), compares in constant time,
  and rejects timestamps older than a few minutes so a captured request cannot be replayed;
  :func:`verify_signature` does exactly that.
- **Config is checked at load time.** :func:`build_targets` turns each table into a dataclass
  (not frozen: the routing protocols declare a plain ``name: str``, which mypy will not match to
  a read-only field), rejecting unknown keys, missing or mistyped values and duplicate names with a
  ``keibi.toml:publish.targets[N].key: reason`` line. Secrets (``url``, ``secret``, ``password``) may be
  given inline or as ``<key>_env = "VAR"``, read from the environment then. ``pattern`` is an
  EventBridge event pattern (JSON text or inline table) checked by ``wants`` after ``min_severity``.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import os
import smtplib
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from functools import cached_property
from typing import IO, Any, ClassVar, Final, Protocol
from urllib.parse import quote, urlsplit

import boto3
import orjson
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)

from keibi.errors import ConfigError, PublishError
from keibi.publish.patterns import EventPattern, PatternError
from keibi.publish.renderings import severity_label

__all__ = [
    "DEFAULT_TIMEOUT",
    "CommandTarget",
    "EmailTarget",
    "Entry",
    "FindingSummary",
    "LambdaTarget",
    "SlackTarget",
    "SnsTarget",
    "Target",
    "WebhookTarget",
    "build_targets",
    "message_id",
    "passes",
    "sign",
    "slack_message",
    "verify_signature",
]

DEFAULT_TIMEOUT: Final = 10.0
_REPLY_LIMIT: Final = 300  # characters of a receiver's reply or a command's stderr kept in a reason
_SUBJECT_LIMIT: Final = 99  # SNS: "less than 100 characters"


class Target(Protocol):
    """Where events go. ``deliver`` raises ``PublishError(name, reason, retryable=...)``."""

    name: str  # the user's name for it, from config
    kind: str  # webhook, slack, email, sns, lambda or command
    min_severity: float

    def wants(self, event: Mapping[str, Any]) -> bool: ...
    def deliver(self, event: Mapping[str, Any]) -> None: ...


# -- the human rendering --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FindingSummary:
    """The fields a person triages on, read once from an event so Slack and email agree.

    >>> FindingSummary.of(event).subject
    '[keibi] High 8.0 UnauthorizedAccess:EC2/SSHBruteForce in 123456789012/us-east-1'
    """

    event_id: str
    finding_id: str
    severity: float
    type: str
    title: str
    description: str
    account: str
    region: str
    resource: str
    actor: str
    count: int
    first_seen: str
    last_seen: str

    @classmethod
    def of(cls, event: Mapping[str, Any]) -> FindingSummary:
        detail = _dict(event.get("detail"))
        service = _dict(detail.get("service"))
        return cls(
            event_id=str(event.get("id", "")),
            finding_id=str(detail.get("id", "")),
            severity=_severity(event),
            type=str(detail.get("type", "")),
            title=str(detail.get("title", "")),
            description=str(detail.get("description", "")),
            account=str(detail.get("accountId") or event.get("account", "")),
            region=str(detail.get("region") or event.get("region", "")),
            resource=_resource(_dict(detail.get("resource"))),
            actor=_actor(detail),
            count=int(service.get("count") or 1),
            first_seen=str(service.get("eventFirstSeen", "")),
            last_seen=str(service.get("eventLastSeen", "")),
        )

    @property
    def severity_text(self) -> str:
        return f"{severity_label(self.severity)} {self.severity:.1f}"

    @property
    def subject(self) -> str:
        return f"[keibi] {self.severity_text} {self.type} in {self.account}/{self.region}"

    def link(self, console_url: str | None) -> str | None:
        if not console_url or not self.finding_id:
            return None
        return f"{console_url.rstrip('/')}/findings/{quote(self.finding_id, safe='')}"

    def fields(self) -> list[tuple[str, str]]:
        return [
            ("Severity", self.severity_text),
            ("Finding type", self.type),
            ("Account / Region", f"{self.account} / {self.region}"),
            ("Resource", self.resource),
            ("Actor", self.actor),
            ("Count", f"{self.count} (first seen {self.first_seen}, last seen {self.last_seen})"),
        ]


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def passes(event: Mapping[str, Any], min_severity: float, pattern: EventPattern | None) -> bool:
    """The filter every publishing destination applies: severity threshold, then pattern."""
    return _severity(event) >= min_severity and (pattern is None or pattern.matches(event))


def _severity(event: Mapping[str, Any]) -> float:
    value = _dict(event.get("detail")).get("severity")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


# (resource detail key, id key, what to call it) for resource types beyond the three log-based ones.
_OTHER_RESOURCES: Final = (
    ("eksClusterDetails", "name", "EKS cluster"),
    ("ecsClusterDetails", "name", "ECS cluster"),
    ("rdsDbInstanceDetails", "dbInstanceIdentifier", "RDS instance"),
    ("lambdaDetails", "functionName", "Lambda function"),
)


def _resource(resource: Mapping[str, Any]) -> str:
    parts: list[str] = []
    buckets = [
        str(b["name"])
        for b in resource.get("s3BucketDetails") or []
        if isinstance(b, Mapping) and b.get("name")
    ]
    if buckets:
        parts.append("bucket " + ", ".join(buckets))
    instance = _dict(resource.get("instanceDetails")).get("instanceId")
    if instance:
        parts.append(f"instance {instance}")
    key = _dict(resource.get("accessKeyDetails"))
    if key.get("accessKeyId") or key.get("userName"):
        user = f" (user {key['userName']})" if key.get("userName") else ""
        parts.append(f"access key {key.get('accessKeyId') or '-'}{user}")
    for details, id_key, label in _OTHER_RESOURCES:
        name = _dict(resource.get(details)).get(id_key)
        if name:
            parts.append(f"{label} {name}")
    return "; ".join(parts) or str(resource.get("resourceType") or "unknown")


def _place(remote: Mapping[str, Any]) -> str | None:
    address = remote.get("ipAddressV4") or remote.get("ipAddressV6")
    if not address:
        return None
    country = _dict(remote.get("country")).get("countryName")
    return f"{address} ({country})" if country else str(address)


def _actor(detail: Mapping[str, Any]) -> str:
    """The other party: remote addresses where the action has them, else the domain or principal."""
    action = _dict(_dict(detail.get("service")).get("action"))
    remotes = [
        _dict(action_detail.get("remoteIpDetails"))
        for action_detail in map(_dict, action.values())
        if action_detail.get("remoteIpDetails")
    ]
    for probe in _dict(action.get("portProbeAction")).get("portProbeDetails") or []:
        remotes.append(_dict(_dict(probe).get("remoteIpDetails")))
    places = list(dict.fromkeys(p for p in map(_place, remotes) if p))
    if places:
        more = f" and {len(places) - 3} more" if len(places) > 3 else ""
        return ", ".join(places[:3]) + more
    domain = _dict(action.get("dnsRequestAction")).get("domain")
    if domain:
        return f"DNS query for {domain}"
    call = _dict(action.get("awsApiCallAction"))
    account = _dict(call.get("remoteAccountDetails")).get("accountId")
    if account:
        return f"account {account}"
    key = _dict(_dict(detail.get("resource")).get("accessKeyDetails"))
    principal = key.get("userName") or key.get("principalId")
    if principal:
        return f"{principal} ({key.get('userType') or 'principal'})"
    return "unknown"


def _json(event: Mapping[str, Any], option: int = 0) -> bytes:
    return orjson.dumps(event if isinstance(event, dict) else dict(event), option=option)


def _one_line(text: str, limit: int = _REPLY_LIMIT) -> str:
    flat = " | ".join(line.strip() for line in text.splitlines() if line.strip())
    return flat if len(flat) <= limit else "…" + flat[-limit:]


@dataclass(kw_only=True)
class _Base:
    """What every target shares: its name and the filter ``wants`` applies before delivery."""

    kind: str = field(default="", init=False)
    name: str
    min_severity: float = 0.0
    pattern: EventPattern | None = None
    timeout: float = DEFAULT_TIMEOUT

    def wants(self, event: Mapping[str, Any]) -> bool:
        return passes(event, self.min_severity, self.pattern)

    def _fail(self, reason: str, *, retryable: bool) -> PublishError:
        return PublishError(self.name, reason, retryable=retryable)


# -- HTTP: webhook and Slack ----------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


_OPENER: Final = urllib.request.build_opener(_NoRedirect)


def _post(target: _Base, url: str, body: bytes, headers: Mapping[str, str]) -> None:
    host = urlsplit(url).netloc
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with _OPENER.open(request, timeout=target.timeout) as response:
            response.read(65536)
    except urllib.error.HTTPError as err:
        with err:
            reply = _one_line(err.read(4096).decode("utf-8", "replace"))
        note = "; redirects are not followed, configure the final URL" if 300 <= err.code < 400 else ""
        retryable = err.code == 429 or err.code >= 500
        raise target._fail(
            f"HTTP {err.code} from {host}: {reply or err.reason}{note}", retryable=retryable
        ) from None
    except urllib.error.URLError as err:
        raise target._fail(f"cannot reach {host}: {err.reason}", retryable=True) from None
    except (OSError, http.client.HTTPException) as err:
        raise target._fail(f"cannot reach {host}: {err!r}", retryable=True) from None


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-Keibi-Signature`` value for a body sent at ``timestamp`` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str,
    timestamp: int | str,
    body: bytes,
    header: str,
    tolerance_s: float = 300,
    *,
    now: float | None = None,
) -> bool:
    """What a receiver runs on the raw body and the two headers; False for a wrong secret, a changed
    body or timestamp, or a timestamp more than ``tolerance_s`` away from ``now`` (replays).

    >>> verify_signature(secret, request.headers["X-Keibi-Timestamp"], request.body,
    ...                  request.headers["X-Keibi-Signature"])
    True
    """
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, sent, body).encode(), header.strip().encode())


@dataclass(kw_only=True)
class WebhookTarget(_Base):
    """POSTs the event JSON, signed when a secret is set.

    >>> WebhookTarget(name="siem", url="https://siem.example/hooks/guardduty", secret="s3cret")
    """

    kind: str = field(default="webhook", init=False)
    url: str
    secret: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def deliver(self, event: Mapping[str, Any]) -> None:
        body = _json(event)
        timestamp = int(time.time())
        headers = {
            **self.headers,
            "Content-Type": "application/json",
            "User-Agent": "keibi",
            "X-Keibi-Event-Id": str(event.get("id", "")),
            "X-Keibi-Timestamp": str(timestamp),
        }
        if self.secret:
            headers["X-Keibi-Signature"] = sign(self.secret, timestamp, body)
        _post(self, self.url, body, headers)


def _mrkdwn(text: str, limit: int) -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


def slack_message(event: Mapping[str, Any], console_url: str | None = None) -> dict[str, Any]:
    """Block Kit for one finding, with ``text`` as the notification and screen-reader fallback."""
    summary = FindingSummary.of(event)
    header = f"{summary.severity_text} · {summary.type}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header[:150]}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _mrkdwn(f"*{summary.title}*\n{summary.description}", 3000)},
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{label}*\n{_mrkdwn(value, 1900)}"}
                for label, value in summary.fields()
            ],
        },
    ]
    link = summary.link(console_url)
    if link:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"<{link}|View finding {summary.finding_id}>"},
            }
        )
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"keibi · event {summary.event_id}"}]}
    )
    return {"text": f"{summary.subject}: {summary.title}", "blocks": blocks}


@dataclass(kw_only=True)
class SlackTarget(_Base):
    """Posts a readable message to a Slack incoming webhook (which answers 200 ``ok``)."""

    kind: str = field(default="slack", init=False)
    url: str
    console_url: str | None = None

    def deliver(self, event: Mapping[str, Any]) -> None:
        body = orjson.dumps(slack_message(event, self.console_url))
        _post(self, self.url, body, {"Content-Type": "application/json", "User-Agent": "keibi"})


# -- email ----------------------------------------------------------------------------------------


def message_id(event_id: str) -> str:
    """One Message-ID per event, so a retried delivery is the same mail to clients that de-duplicate."""
    safe = "".join(c if c.isalnum() or c in "-._" else "-" for c in event_id) or "event"
    return f"<{safe}@keibi>"


@dataclass(kw_only=True)
class EmailTarget(_Base):
    """Mails a plain-text summary over SMTP with the event JSON attached.

    ``starttls`` upgrades a plain connection (port 587), ``use_ssl`` (config ``ssl``) speaks TLS
    from the start (port 465); ``ca_file`` trusts a private CA, e.g. an internal relay's.
    """

    kind: str = field(default="email", init=False)
    host: str
    sender: str
    to: tuple[str, ...]
    port: int = 25
    starttls: bool = False
    use_ssl: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    console_url: str | None = None

    def message(self, event: Mapping[str, Any]) -> EmailMessage:
        summary = FindingSummary.of(event)
        mail = EmailMessage()
        mail["Subject"] = " ".join(summary.subject.split())
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.to)
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = message_id(summary.event_id)
        lines = [summary.title, "", summary.description, ""]
        lines += [f"{label}: {value}" for label, value in summary.fields()]
        link = summary.link(self.console_url)
        if link:
            lines.append(f"Link: {link}")
        filename = f"guardduty-finding-{summary.finding_id or 'event'}.json"
        lines += ["", f"Event {summary.event_id}; the EventBridge event is attached as {filename}.", ""]
        mail.set_content("\n".join(lines))
        mail.add_attachment(
            _json(event, orjson.OPT_INDENT_2), maintype="application", subtype="json", filename=filename
        )
        return mail

    def deliver(self, event: Mapping[str, Any]) -> None:
        mail = self.message(event)
        where = f"{self.host}:{self.port}"
        try:
            with self._connect() as smtp:
                if self.starttls:
                    smtp.starttls(context=self._context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                refused = smtp.send_message(mail, self.sender, list(self.to))
        except smtplib.SMTPRecipientsRefused as err:
            codes = [code for code, _ in err.recipients.values()]
            reason = f"{where} refused every recipient: {_refusals(err.recipients)}"
            raise self._fail(reason, retryable=all(400 <= c < 500 for c in codes)) from None
        except smtplib.SMTPResponseException as err:
            text = _one_line(
                err.smtp_error.decode("utf-8", "replace")
                if isinstance(err.smtp_error, bytes)
                else str(err.smtp_error)
            )
            raise self._fail(
                f"SMTP {err.smtp_code} from {where}: {text}", retryable=400 <= err.smtp_code < 500
            ) from None
        except (smtplib.SMTPNotSupportedError, ssl.SSLCertVerificationError) as err:
            raise self._fail(f"{where}: {err}", retryable=False) from None
        except (smtplib.SMTPException, OSError) as err:
            raise self._fail(f"cannot reach {where}: {err}", retryable=True) from None
        if refused:
            # Retrying would mail the accepted recipients again; report instead.
            raise self._fail(
                f"{where} refused {_refusals(refused)}; the others got the mail", retryable=False
            )

    def _connect(self) -> smtplib.SMTP:
        if self.use_ssl:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._context())
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)


def _refusals(recipients: Mapping[str, tuple[int, bytes]]) -> str:
    return ", ".join(f"{to} ({code})" for to, (code, _) in recipients.items())


# -- AWS: SNS and Lambda --------------------------------------------------------------------------

# Error codes worth another try even though their HTTP status is 4xx.
_AWS_RETRYABLE: Final = frozenset(
    [
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestTimeout",
        "RequestTimeoutException",
        "ResourceConflictException",
        "ResourceNotReadyException",
        "KMSThrottlingException",
    ]
)


@dataclass(kw_only=True)
class _AwsTarget(_Base):
    region: str | None = None
    endpoint_url: str | None = None

    service: ClassVar[str]

    @cached_property
    def client(self) -> Any:
        """One client per target (thread-safe); boto3's own retries are off, the delivery loop retries."""
        config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
        )
        session = boto3.session.Session()
        return session.client(
            self.service, region_name=self.region, endpoint_url=self.endpoint_url, config=config
        )

    def _call(self, method: str, **params: Any) -> Any:
        try:
            return getattr(self.client, method)(**params)
        except ClientError as err:
            error = err.response.get("Error", {})
            code = str(error.get("Code", "Unknown"))
            status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            retryable = status >= 500 or status == 429 or code in _AWS_RETRYABLE
            reason = f"{self.service} {method}: {code}: {_one_line(str(error.get('Message', '')))}"
            raise self._fail(reason, retryable=retryable) from None
        except (NoCredentialsError, PartialCredentialsError, NoRegionError, ParamValidationError) as err:
            raise self._fail(f"{self.service} {method}: {_one_line(str(err))}", retryable=False) from None
        except BotoCoreError as err:
            raise self._fail(f"cannot reach {self.service}: {_one_line(str(err))}", retryable=True) from None


@dataclass(kw_only=True)
class SnsTarget(_AwsTarget):
    """Publishes the event JSON to a topic; subscribers filter on the ``severity``/``type`` attributes."""

    kind: str = field(default="sns", init=False)
    service: ClassVar[str] = "sns"
    topic_arn: str

    def deliver(self, event: Mapping[str, Any]) -> None:
        summary = FindingSummary.of(event)
        subject = "".join(c for c in summary.subject if " " <= c <= "~")[:_SUBJECT_LIMIT]
        attributes = {
            "event_id": {"DataType": "String", "StringValue": summary.event_id or "-"},
            "severity": {"DataType": "Number", "StringValue": repr(summary.severity)},
            "type": {"DataType": "String", "StringValue": summary.type or "-"},
        }
        self._call(
            "publish",
            TopicArn=self.topic_arn,
            Message=_json(event).decode(),
            Subject=subject,
            MessageAttributes=attributes,
        )


@dataclass(kw_only=True)
class LambdaTarget(_AwsTarget):
    """Invokes a function asynchronously with the event, as an EventBridge rule would."""

    kind: str = field(default="lambda", init=False)
    service: ClassVar[str] = "lambda"
    function: str

    def deliver(self, event: Mapping[str, Any]) -> None:
        self._call("invoke", FunctionName=self.function, InvocationType="Event", Payload=_json(event))


# -- a local program ------------------------------------------------------------------------------


@dataclass(kw_only=True)
class CommandTarget(_Base):
    """Runs ``command`` (an argv list, no shell) with the event JSON on stdin and the ids in
    ``KEIBI_EVENT_ID``, ``KEIBI_FINDING_ID``, ``KEIBI_SEVERITY``; exit 0 means delivered."""

    kind: str = field(default="command", init=False)
    command: tuple[str, ...]

    def deliver(self, event: Mapping[str, Any]) -> None:
        summary = FindingSummary.of(event)
        env = {
            **os.environ,
            "KEIBI_EVENT_ID": summary.event_id,
            "KEIBI_FINDING_ID": summary.finding_id,
            "KEIBI_SEVERITY": repr(summary.severity),
        }
        program = self.command[0]
        try:
            done = subprocess.run(
                self.command,
                input=_json(event),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise self._fail(f"{program} timed out after {self.timeout:g} s", retryable=True) from None
        except OSError as err:
            raise self._fail(f"cannot run {program}: {err.strerror or err}", retryable=False) from None
        if done.returncode != 0:
            status = (
                f"killed by signal {-done.returncode}"
                if done.returncode < 0
                else f"exit status {done.returncode}"
            )
            tail = _one_line(done.stderr.decode("utf-8", "replace"))
            raise self._fail(f"{program} failed ({status}): {tail or 'no stderr'}", retryable=True)


# -- building from config -------------------------------------------------------------------------

_COMMON: Final = frozenset({"name", "type", "min_severity", "pattern", "timeout"})
_KEYS: Final[dict[str, frozenset[str]]] = {
    "webhook": frozenset({"url", "url_env", "secret", "secret_env", "headers"}),
    "slack": frozenset({"url", "url_env", "console_url"}),
    "email": frozenset(
        {
            "host",
            "port",
            "from",
            "to",
            "starttls",
            "ssl",
            "username",
            "password",
            "password_env",
            "ca_file",
            "console_url",
        }
    ),
    "sns": frozenset({"topic_arn", "region", "endpoint_url"}),
    "lambda": frozenset({"function", "region", "endpoint_url"}),
    "command": frozenset({"command"}),
}
# Headers the webhook sets itself; a static header may not replace them.
_OWN_HEADERS: Final = frozenset(
    {"content-type", "user-agent", "x-keibi-event-id", "x-keibi-timestamp", "x-keibi-signature"}
)


class Entry:
    """One ``[[publish.targets]]`` (or ``[[publish.exports]]``) table, read with errors that name
    ``publish.targets[N].key``."""

    def __init__(
        self, raw: Mapping[str, Any], index: int, source: str, section: str = "publish.targets"
    ) -> None:
        self.raw = raw
        self.index = index
        self.source = source
        self.section = section

    def error(self, key: str, reason: str) -> ConfigError:
        return ConfigError(reason, path=self.source, key=f"{self.section}[{self.index}].{key}")

    def text(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, "must be a non-empty string")
        return value

    def required(self, key: str, kind: str) -> str:
        value = self.text(key)
        if value is None:
            raise self.error(key, f"required for a {kind} target")
        return value

    def secret(self, key: str, kind: str, *, required: bool = False) -> str | None:
        """``key`` inline, or ``key_env`` naming an environment variable that holds it."""
        inline, env = self.text(key), self.text(f"{key}_env")
        if inline is not None and env is not None:
            raise self.error(f"{key}_env", f"give {key} or {key}_env, not both")
        if env is not None:
            value = os.environ.get(env)
            if not value:
                raise self.error(f"{key}_env", f"environment variable {env} is not set")
            return value
        if inline is None and required:
            raise self.error(
                key, f"required for a {kind} target (or {key}_env naming an environment variable)"
            )
        return inline

    def url(self, key: str, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise self.error(key, "must be an http:// or https:// URL")
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number, got {value!r}")
        if not low <= value <= high:
            raise self.error(key, f"must be between {low:g} and {high:g}, got {value!r}")
        return float(value)

    def flag(self, key: str) -> bool:
        value = self.raw.get(key, False)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {value!r}")
        return value

    def strings(self, key: str, kind: str) -> tuple[str, ...]:
        value = self.raw.get(key)
        if value is None:
            raise self.error(key, f"required for a {kind} target")
        if isinstance(value, str) or not isinstance(value, Sequence) or not value:
            raise self.error(key, "must be a non-empty list of strings")
        if not all(isinstance(v, str) and v for v in value):
            raise self.error(key, "must be a non-empty list of strings")
        return tuple(value)

    def headers(self, key: str) -> dict[str, str]:
        value = self.raw.get(key, {})
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise self.error(key, "must be a table of header names to string values")
        for name in value:
            if name.lower() in _OWN_HEADERS:
                raise self.error(key, f"{name} is set by keibi and cannot be overridden")
        return dict(value)

    def pattern(self) -> EventPattern | None:
        value = self.raw.get("pattern")
        if value is None:
            return None
        if not isinstance(value, str | Mapping):
            raise self.error("pattern", "must be an EventBridge event pattern (JSON text or a table)")
        try:
            return EventPattern.parse(value)
        except PatternError as err:
            raise self.error("pattern", str(err)) from None


def _region_of(arn: str | None) -> str | None:
    parts = arn.split(":") if arn and arn.startswith("arn:") else []
    return parts[3] if len(parts) > 4 and parts[3] else None


def _webhook(entry: Entry, common: dict[str, Any]) -> Target:
    url = entry.url("url", entry.secret("url", "webhook", required=True))
    secret = entry.secret("secret", "webhook")
    return WebhookTarget(url=url or "", secret=secret, headers=entry.headers("headers"), **common)


def _slack(entry: Entry, common: dict[str, Any]) -> Target:
    url = entry.url("url", entry.secret("url", "slack", required=True))
    return SlackTarget(
        url=url or "", console_url=entry.url("console_url", entry.text("console_url")), **common
    )


def _email(entry: Entry, common: dict[str, Any]) -> Target:
    use_ssl, starttls = entry.flag("ssl"), entry.flag("starttls")
    if use_ssl and starttls:
        raise entry.error(
            "starttls", "give ssl (TLS from the start, port 465) or starttls (port 587), not both"
        )
    port = entry.number("port", 465 if use_ssl else 587 if starttls else 25, 1, 65535)
    if not port.is_integer():
        raise entry.error("port", f"must be a whole number, got {port:g}")
    sender = entry.required("from", "email")
    to = entry.strings("to", "email")
    for key, address in [("from", sender), *(("to", a) for a in to)]:
        if "@" not in address:
            raise entry.error(key, f"{address!r} is not an email address")
    username, password = entry.text("username"), entry.secret("password", "email")
    if (username is None) != (password is None):
        raise entry.error("password" if username else "username", "username and password go together")
    ca_file = entry.text("ca_file")
    if ca_file is not None and not os.path.isfile(ca_file):
        raise entry.error("ca_file", f"no such file: {ca_file}")
    return EmailTarget(
        host=entry.required("host", "email"),
        port=int(port),
        sender=sender,
        to=to,
        starttls=starttls,
        use_ssl=use_ssl,
        username=username,
        password=password,
        ca_file=ca_file,
        console_url=entry.url("console_url", entry.text("console_url")),
        **common,
    )


def _sns(entry: Entry, common: dict[str, Any]) -> Target:
    arn = entry.required("topic_arn", "sns")
    if not arn.startswith("arn:") or arn.split(":")[2:3] != ["sns"] or len(arn.split(":")) != 6:
        raise entry.error("topic_arn", f"{arn!r} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)")
    region = entry.text("region") or _region_of(arn)
    endpoint = entry.url("endpoint_url", entry.text("endpoint_url"))
    return SnsTarget(topic_arn=arn, region=region, endpoint_url=endpoint, **common)


def _lambda(entry: Entry, common: dict[str, Any]) -> Target:
    function = entry.required("function", "lambda")
    region = entry.text("region") or _region_of(function)
    endpoint = entry.url("endpoint_url", entry.text("endpoint_url"))
    return LambdaTarget(function=function, region=region, endpoint_url=endpoint, **common)


def _command(entry: Entry, common: dict[str, Any]) -> Target:
    return CommandTarget(command=entry.strings("command", "command"), **common)


_BUILDERS: Final[dict[str, Callable[[Entry, dict[str, Any]], Target]]] = {
    "webhook": _webhook,
    "slack": _slack,
    "email": _email,
    "sns": _sns,
    "lambda": _lambda,
    "command": _command,
}


def build_targets(entries: Sequence[Mapping[str, Any]], *, source: str = "keibi.toml") -> list[Target]:
    """The targets of ``[[publish.targets]]`` tables, in order; the first mistake raises ``ConfigError``.

    >>> build_targets([{"name": "soc", "type": "slack", "url": "https://hooks.slack.com/services/T/B/x",
    ...                 "min_severity": 7}])
    [SlackTarget(name='soc', min_severity=7.0, ...)]
    """
    targets: list[Target] = []
    seen: set[str] = set()
    kinds = ", ".join(sorted(_BUILDERS))
    for index, raw in enumerate(entries):
        if not isinstance(raw, Mapping):
            raise ConfigError("must be a table", path=source, key=f"publish.targets[{index}]")
        entry = Entry(raw, index, source)
        kind = raw.get("type")
        if kind is None:
            raise entry.error("type", f"required; one of {kinds}")
        if kind not in _BUILDERS:
            raise entry.error("type", f"unknown target type {kind!r}; one of {kinds}")
        allowed = _COMMON | _KEYS[kind]
        unknown = sorted(str(k) for k in raw if k not in allowed)
        if unknown:
            raise entry.error(
                unknown[0], f"unknown key for a {kind} target; allowed: {', '.join(sorted(allowed))}"
            )
        name = entry.required("name", kind)
        if name in seen:
            raise entry.error("name", f"duplicate target name {name!r}")
        seen.add(name)
        common: dict[str, Any] = {
            "name": name,
            "min_severity": entry.number("min_severity", 0.0, 0.0, 10.0),
            "timeout": entry.number("timeout", DEFAULT_TIMEOUT, 0.001, 3600.0),
            "pattern": entry.pattern(),
        }
        targets.append(_BUILDERS[kind](entry, common))
    return targets
