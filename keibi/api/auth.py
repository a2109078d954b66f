"""Signature Version 4, checked on every request as AWS checks it, with botocore's own signer.

The signature is recomputed by ``botocore.auth.SigV4Auth`` (canonical request, string to sign,
signing key) from the request exactly as it arrived: method, raw path (still percent-encoded),
raw query string, the headers the client signed and the body. The same code that signs boto3's
requests therefore checks them, quirks included: a path such as
``/tags/arn%3Aaws%3Aguardduty%3A…`` is encoded once more, as botocore did when it signed.

Errors carry AWS's own codes and wording, so SDKs react to them as they would to AWS: a
``MissingAuthenticationTokenException`` for an unsigned request, ``UnrecognizedClientException``
for an unknown or inactive key, ``InvalidSignatureException`` for a wrong signature, an
expired or future timestamp or a replay, ``IncompleteSignatureException`` for a malformed
``Authorization`` header.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

from keibi.api.protocol import find_route
from keibi.store.accounts import AccessKey

ALGORITHM: Final = "AWS4-HMAC-SHA256"
TERMINATOR: Final = "aws4_request"
KEY_CACHE_TTL: Final = timedelta(seconds=10)
KEY_CACHE_CAP: Final = 10_000
REPLAY_CAP: Final = 200_000
_READ_ONLY: Final = ("Get", "List", "Describe")
_REGION: Final = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
_SIGNATURE: Final = re.compile(r"[0-9a-f]{64}")
_AMZ_DATE: Final = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_SHOWN: Final = 256  # characters of a malformed Authorization header quoted back


@dataclass(frozen=True, slots=True)
class Caller:
    """Who signed a request: the key's account, and the region of its credential scope (the
    region boto3 was configured with, which selects the detector and findings it sees)."""

    account_id: str
    access_key_id: str
    region: str


class AuthError(Exception):
    """A request refused before any handler runs; ``code`` and ``message`` are AWS's own."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def _missing_token() -> AuthError:
    return AuthError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)


def _unrecognized() -> AuthError:
    return AuthError(
        "UnrecognizedClientException", "The security token included in the request is invalid.", 403
    )


def _invalid(message: str) -> AuthError:
    return AuthError("InvalidSignatureException", message, 403)


def _incomplete(message: str) -> AuthError:
    return AuthError("IncompleteSignatureException", message, 400)


def _mismatch() -> AuthError:
    return _invalid(
        "The request signature we calculated does not match the signature you provided. Check your AWS "
        "Secret Access Key and signing method. Consult the service documentation for details."
    )


@dataclass(frozen=True, slots=True)
class _Authorization:
    """The parts of ``Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…``."""

    access_key_id: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str


def _quoted(header: str) -> str:
    return header if len(header) <= _SHOWN else header[:_SHOWN] + "…"


def _parse_authorization(header: str, has_date: bool) -> _Authorization:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm.startswith("AWS4-") and algorithm != ALGORITHM:
        raise _incomplete(f"Unsupported AWS 'algorithm': '{algorithm}'. Sign with {ALGORITHM}.")
    params: dict[str, str] = {}
    if algorithm == ALGORITHM:
        for pair in (p.strip() for p in rest.split(",")):
            name, equals, value = pair.partition("=")
            if not equals:
                raise _incomplete(
                    f"'{pair}' not a valid key=value pair (missing equal-sign) in Authorization header: "
                    f"'{_quoted(header)}'."
                )
            params[name.strip()] = value.strip()
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not params.get(name)
    ]
    if not has_date:
        missing.append("Authorization header requires existence of a 'X-Amz-Date' header.")
    if missing:
        raise _incomplete(" ".join(missing) + f" Authorization={_quoted(header)}")
    credential = params["Credential"].split("/")
    if len(credential) != 5:
        raise _incomplete(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{params['Credential']}'"
        )
    key_id, date, region, service, terminator = credential
    return _Authorization(
        access_key_id=key_id,
        date=date,
        region=region,
        service=service,
        terminator=terminator,
        signed_headers=tuple(h.strip().lower() for h in params["SignedHeaders"].split(";")),
        signature=params["Signature"],
    )


class _Resigner(SigV4Auth):  # type: ignore[misc]  # botocore is untyped
    """botocore's signer, told which headers the client signed instead of choosing them itself:
    it would otherwise skip a few (``user-agent``, ``expect``) that other SDKs do sign."""

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        chosen = HTTPHeaders()
        for name, value in request.headers.items():
            chosen[name.lower()] = value
        return chosen


def read_only_request(method: str, raw_path: str) -> bool:
    """Whether the request only reads (a GET, or a Get/List/Describe operation sent by POST).

    Replaying a read changes nothing, and botocore signs no per-call value: the same call made
    twice in one second (``X-Amz-Date`` has whole seconds) is signed identically, so refusing
    repeated reads would break ordinary polling clients.
    """
    if method.upper() in ("GET", "HEAD"):
        return True
    found = find_route(method.upper(), raw_path)
    return found is not None and found[0].operation.name.startswith(_READ_ONLY)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _skew_text(skew: timedelta) -> str:
    seconds = int(skew.total_seconds())
    return f"{seconds // 60} min." if seconds % 60 == 0 else f"{seconds} sec."


class _SeenSignatures:
    """Signatures accepted while their requests could still be replayed, each kept until its
    own ``X-Amz-Date`` + skew (after which the timestamp check refuses the request anyway).

    A released signature keeps its entry (marked free) until it expires, so releasing and
    accepting the same request over and over does not grow the memory.
    """

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._held: dict[str, bool] = {}  # signature → accepted and not released
        self._expiry: list[tuple[datetime, str]] = []
        self._lock = threading.Lock()

    def add(self, signature: str, until: datetime, now: datetime) -> bool:
        """False if ``signature`` is held already; raises a throttling error at the cap."""
        with self._lock:
            while self._expiry and self._expiry[0][0] < now:
                _, old = heapq.heappop(self._expiry)
                self._held.pop(old, None)
            held = self._held.get(signature)
            if held:
                return False
            if held is None:
                if len(self._held) >= self._cap:
                    raise AuthError("ThrottlingException", "Rate exceeded", 429)
                heapq.heappush(self._expiry, (until, signature))
            self._held[signature] = True
            return True

    def release(self, signature: str) -> None:
        with self._lock:
            if signature in self._held:
                self._held[signature] = False

    def __len__(self) -> int:
        return len(self._held)


class Verifier:
    """Checks requests' Signature V4 against the keys ``lookup`` finds.

    >>> verifier = Verifier(lambda key_id: find_key(store, key_id))
    >>> caller = verifier.verify("GET", "/detector", "", headers, b"")  # AuthError if refused

    Keys are cached for ``key_ttl`` (unknown ones too, so a flood of made-up key ids does not
    reach the database): a deleted or deactivated key keeps working for at most that long in a
    running server, and a key is looked up again as soon as its entry is older.

    Replays: a request that changes something (``replay_exempt`` says which do not; by default
    :func:`read_only_request`) is accepted once. Its signature is remembered until its timestamp
    leaves the ``max_skew`` window, and the same signature again is refused with
    ``InvalidSignatureException``. botocore signs no per-call value — ``amz-sdk-invocation-id``
    and ``amz-sdk-request`` are added after signing — so two identical calls in the same second
    are one signature. That is harmless for the operations that carry a ``clientToken`` (boto3
    fills it with a fresh UUID per call), and :meth:`release` frees the signature of a request
    that was answered with an error, so a retry or a repeat after a failure goes through; the
    second of two identical *successful* updates, deletes or archive calls within one second is
    still refused. The memory is bounded by ``replay_cap`` signatures; at the cap, requests that
    would need remembering are refused with ``ThrottlingException`` (429, which SDKs retry with
    back-off) until entries expire, rather than letting replays through.
    """

    def __init__(
        self,
        lookup: Callable[[str], AccessKey | None],
        *,
        service: str = "guardduty",
        max_skew: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = _utc_now,
        key_ttl: timedelta = KEY_CACHE_TTL,
        replay_cap: int = REPLAY_CAP,
        replay_exempt: Callable[[str, str], bool] = read_only_request,
    ) -> None:
        self._lookup = lookup
        self._service = service
        self._max_skew = max_skew
        self._clock = clock
        self._key_ttl = key_ttl
        self._keys: dict[str, tuple[datetime, AccessKey | None]] = {}
        self._keys_lock = threading.Lock()
        self._seen = _SeenSignatures(replay_cap)
        self._replay_exempt = replay_exempt

    def verify(
        self, method: str, raw_path: str, query_string: str, headers: Mapping[str, str], body: bytes
    ) -> Caller:
        """The caller who signed this request, or :class:`AuthError`.

        ``raw_path`` and ``query_string`` are as received, still percent-encoded (ASGI's
        ``raw_path`` and ``query_string``); header names may be in any case.
        """
        lower = {name.lower(): value for name, value in headers.items()}
        authorization = lower.get("authorization", "").strip()
        if not authorization:
            raise _missing_token()
        amz_date = lower.get("x-amz-date", "").strip()
        auth = _parse_authorization(authorization, bool(amz_date))
        signed_at = self._check_scope(auth, amz_date)
        now = self._clock()
        self._check_time(signed_at, now)
        if "x-amz-security-token" in lower:
            raise _unrecognized()  # keibi issues no temporary credentials
        key = self._key(auth.access_key_id, now)
        if key is None or not key.active:
            raise _unrecognized()
        if "host" not in auth.signed_headers:
            raise _incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
        if not all(name in lower for name in auth.signed_headers):
            raise _mismatch()
        claimed_hash = (
            lower.get("x-amz-content-sha256") if "x-amz-content-sha256" in auth.signed_headers else None
        )
        if claimed_hash is not None and claimed_hash != hashlib.sha256(body).hexdigest():
            raise _invalid("The provided 'x-amz-content-sha256' header does not match what was computed.")
        expected = self._signature(key, auth, amz_date, method, raw_path, query_string, lower, body)
        if not _SIGNATURE.fullmatch(auth.signature) or not hmac.compare_digest(
            expected.encode(), auth.signature.encode()
        ):
            raise _mismatch()
        if not self._replay_exempt(method, raw_path) and not self._seen.add(
            auth.signature, signed_at + self._max_skew, now
        ):
            raise _invalid(
                "The request signature has already been used: each signed request is accepted once. "
                "Sign the request again to repeat it."
            )
        return Caller(account_id=key.account_id, access_key_id=key.access_key_id, region=auth.region)

    def release(self, headers: Mapping[str, str]) -> None:
        """Let the request signed in ``headers`` be sent again: call it when an accepted request
        was answered with an error, so that repeating it (a botocore retry, or the same call
        once what it needed exists) is not refused as a replay. Replaying a request that failed
        can do no more than its signer asked for, within the same ``max_skew`` window.
        """
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        for part in authorization.split(","):
            name, _, value = part.strip().rpartition(" ")[2].partition("=")
            if name == "Signature":
                self._seen.release(value.strip())

    def _check_scope(self, auth: _Authorization, amz_date: str) -> datetime:
        """The signing time, once the credential scope is one this server answers for."""
        if auth.terminator != TERMINATOR:
            raise _invalid(
                f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{auth.terminator}'."
            )
        if auth.service != self._service:
            raise _invalid(f"Credential should be scoped to correct service: '{self._service}'. ")
        if len(auth.region) > 32 or not _REGION.fullmatch(auth.region):
            raise _invalid(f"Credential should be scoped to a valid region, not '{auth.region}'. ")
        try:
            if not _AMZ_DATE.fullmatch(amz_date):
                raise ValueError(amz_date)
            signed_at = datetime.strptime(amz_date, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
        except ValueError:
            raise _incomplete(
                f"Date must be in ISO-8601 'basic format' (20261124T103010Z). Got '{_quoted(amz_date)}'."
            ) from None
        if auth.date != amz_date[:8]:
            raise _invalid(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{auth.date}' != '{amz_date[:8]}', from '{amz_date}'."
            )
        return signed_at

    def _check_time(self, signed_at: datetime, now: datetime) -> None:
        shown = SIGV4_TIMESTAMP
        if signed_at < now - self._max_skew:
            raise _invalid(
                f"Signature expired: {signed_at.strftime(shown)} is now earlier than "
                f"{(now - self._max_skew).strftime(shown)} ({now.strftime(shown)} - {_skew_text(self._max_skew)})"
            )
        if signed_at > now + self._max_skew:
            raise _invalid(
                f"Signature not yet current: {signed_at.strftime(shown)} is still later than "
                f"{(now + self._max_skew).strftime(shown)} ({now.strftime(shown)} + {_skew_text(self._max_skew)})"
            )

    def _key(self, access_key_id: str, now: datetime) -> AccessKey | None:
        with self._keys_lock:
            cached = self._keys.get(access_key_id)
        if cached is not None and now - cached[0] < self._key_ttl:
            return cached[1]
        key = self._lookup(access_key_id)
        with self._keys_lock:
            if len(self._keys) >= KEY_CACHE_CAP:
                self._keys = {k: v for k, v in self._keys.items() if now - v[0] < self._key_ttl}
                if len(self._keys) >= KEY_CACHE_CAP:
                    self._keys.clear()
            self._keys[access_key_id] = (now, key)
        return key

    def _signature(
        self,
        key: AccessKey,
        auth: _Authorization,
        amz_date: str,
        method: str,
        raw_path: str,
        query_string: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> str:
        """What botocore would have signed: the URL's host is a placeholder, because ``host``
        comes from the signed headers like every other header."""
        url = f"http://keibi.invalid{raw_path}" + (f"?{query_string}" if query_string else "")
        request = AWSRequest(
            method=method.upper(),
            url=url,
            headers={name: headers[name] for name in auth.signed_headers},
            data=body,
        )
        request.context["timestamp"] = amz_date
        signer = _Resigner(Credentials(key.access_key_id, key.secret_access_key), auth.service, auth.region)
        canonical: str = signer.canonical_request(request)
        string_to_sign: str = signer.string_to_sign(request, canonical)
        signature: Any = signer.signature(string_to_sign, request)
        return str(signature)
