"""Export destinations: one batch of findings as one gzipped JSON-lines file, to S3 or a directory.

GuardDuty's publishing destination writes findings to an S3 bucket under
``<prefix>/AWSLogs/<account>/GuardDuty/<region>/<yyyy>/<mm>/<dd>/<uuid>.jsonl.gz``, one finding
per line, encrypted with the destination's KMS key. keibi writes the same layout
(:func:`export_key`), so whatever reads GuardDuty's exports (Athena tables, SIEM S3 inputs,
Security Lake pipelines) reads keibi's unchanged. The day is the export's (UTC), not the
findings', as in GuardDuty: a file holds what one export run sent.

- **Idempotent names.** The caller names the file (:func:`batch_name` gives a UUID derived from
  the findings' ids and ``updatedAt``), so a retried write replaces the object it wrote before
  instead of adding a duplicate. The gzip stream carries no timestamp, so the same batch is the
  same bytes.
- **S3** (:class:`S3Export`): one ``PutObject`` with ``ServerSideEncryption=aws:kms`` and the
  destination's key, as GuardDuty's bucket policy demands. Every refusal (no bucket, access
  denied, a KMS key that is missing, disabled or in another region) becomes one
  ``PublishError(target, reason)`` line. :meth:`S3Export.verify` asks S3 and KMS before anything
  is written (``HeadBucket``, ``GetBucketLocation``, ``DescribeKey``): what moves a destination
  from ``PENDING_VERIFICATION`` to ``PUBLISHING``.
- **Directory** (:class:`LocalExport`): the same layout under a local directory, with envelope
  encryption in place of KMS. Each file gets a fresh random 256-bit data key that encrypts the
  gzip stream with AES-256-GCM; the data key is wrapped with the master key (AES key wrap,
  RFC 3394). The master key is 32 bytes in a key file (raw or base64; :func:`generate_key_file`
  makes one, mode 0600). A file is one JSON header line (format version, algorithms, wrapped
  key, nonce, the master key's SHA-256 fingerprint as key id) and then the ciphertext; the header
  line is the cipher's associated data, so changing either one fails decryption.
  :func:`decrypt_file` gives back the JSON lines. Plain output never reaches the disk: the batch
  is compressed and encrypted in memory, then written to a temporary file beside the target and
  renamed over it, so a reader never sees half a file. Local files end in ``.jsonl.gz.enc``:
  their bytes are not gzip.
- :func:`open_export` turns a destination (``arn:aws:s3:::bucket/prefix``, ``s3://bucket/prefix``
  or a directory) and its key (a KMS key ARN, or a key file) into an :class:`Exporter`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import gzip
import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

import boto3
import orjson
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ParamValidationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from keibi.errors import ConfigError, InputError, PublishError
from keibi.publish import renderings
from keibi.publish.renderings import Finding
from keibi.store.destinations import bucket_and_prefix, is_kms_key_arn

SUFFIX: Final = ".jsonl.gz"
ENCRYPTED_SUFFIX: Final = ".jsonl.gz.enc"
ENVELOPE_FORMAT: Final = "keibi-export-envelope"
ENVELOPE_VERSION: Final = 1
KEY_BYTES: Final = 32

_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_SEGMENT: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_BATCH_NAMESPACE: Final = uuid.UUID("5b0e3f0a-6b4e-5c1d-9a57-6b6569626900")  # keibi's, fixed
_NONCE_BYTES: Final = 12


class Exporter(Protocol):
    """Where an export goes: writes batches, checks it can, says what it is."""

    def write(
        self, findings: Sequence[Finding], *, account: str, region: str, at: datetime, name: str
    ) -> str:
        """Write the batch as one file; returns where it went (``s3://…`` or a path)."""
        ...

    def verify(self) -> None:
        """Raise ``PublishError`` unless a write can succeed now."""
        ...

    def describe(self) -> str:
        """The destination in one line, for logs and errors."""
        ...


def export_key(prefix: str, account: str, region: str, at: datetime, name: str) -> str:
    """GuardDuty's object key for an export file.

    >>> export_key("gd", "111122223333", "us-east-1", datetime(2024, 5, 1, tzinfo=UTC), "b1")
    'gd/AWSLogs/111122223333/GuardDuty/us-east-1/2024/05/01/b1.jsonl.gz'
    """
    for what, value in (("account", account), ("region", region)):
        if not _SEGMENT.fullmatch(value):
            raise ValueError(f"{what} {value!r} cannot be a key segment")
    if not _NAME.fullmatch(name):
        raise ValueError(f"export name {name!r}: letters, digits, '.', '_' and '-' only")
    day = (at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)).strftime("%Y/%m/%d")
    key = f"AWSLogs/{account}/GuardDuty/{region}/{day}/{name}{SUFFIX}"
    prefix = prefix.strip("/")
    return f"{prefix}/{key}" if prefix else key


def batch_name(findings: Sequence[Finding]) -> str:
    """A name for the batch that is the same whenever the same findings (id and ``updatedAt``)
    are exported again, shaped like GuardDuty's UUID file names."""
    text = "\n".join(f"{f.get('id', '')}|{f.get('updatedAt', '')}" for f in findings)
    return str(uuid.uuid5(_BATCH_NAMESPACE, text))


def encode_batch(findings: Sequence[Finding], render: Callable[[Finding], dict[str, Any]]) -> bytes:
    """The batch as gzipped JSON lines; no gzip timestamp, so the same batch gives the same bytes."""
    lines = b"".join(orjson.dumps(render(f)) + b"\n" for f in findings)
    return gzip.compress(lines, mtime=0)


# ---------------------------------------------------------------- S3 with SSE-KMS


def _region_of(arn: str) -> str | None:
    """The region of an ARN (``arn:partition:service:region:…``), or None."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        return None
    return parts[3] or None


def _reason(exc: ClientError | BotoCoreError) -> str:
    """One line a user can act on, from a boto error."""
    if isinstance(exc, BotoCoreError):
        return str(exc)
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    known = {
        "NoSuchBucket": "the bucket does not exist",
        "404": "the bucket does not exist",
        "403": "access denied",
        "NotFoundException": "the KMS key does not exist",
        "DisabledException": "the KMS key is disabled",
    }
    if code in known:
        return f"{known[code]} ({code})"
    return f"{code}: {message}" if message else code or str(exc)


_RETRY_CODES: Final = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError", "ServiceUnavailable"}
)


def _retryable(exc: ClientError | BotoCoreError) -> bool:
    """Whether trying again can help: a throttle, a 5xx or a lost connection can; a missing
    bucket, a refused permission or a bad key stays wrong until someone fixes the destination."""
    if isinstance(exc, NoCredentialsError | ParamValidationError):
        return False
    if isinstance(exc, BotoCoreError):
        return True
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return status >= 500 or exc.response.get("Error", {}).get("Code") in _RETRY_CODES


class S3Export:
    """Exports to ``s3://bucket/prefix`` encrypted with a KMS key, as GuardDuty does.

    >>> S3Export("findings-bucket", "gd", key_arn).write(batch, account=acct, region=r, at=now, name=n)
    's3://findings-bucket/gd/AWSLogs/…/….jsonl.gz'
    """

    def __init__(
        self,
        bucket: str,
        prefix: str,
        kms_key_arn: str,
        rendering: str = "GUARDDUTY",
        client: Any = None,
        kms_client: Any = None,
    ) -> None:
        if not bucket:
            raise ConfigError("an S3 export needs a bucket", key="destinationArn")
        if not kms_key_arn:
            raise ConfigError("an S3 export needs a KMS key ARN", key="kmsKeyArn")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.kms_key_arn = kms_key_arn
        self._render = renderings.rendering(rendering)
        self._s3 = client if client is not None else boto3.client("s3")
        self._kms = (
            kms_client if kms_client is not None else boto3.client("kms", region_name=_region_of(kms_key_arn))
        )

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def write(
        self, findings: Sequence[Finding], *, account: str, region: str, at: datetime, name: str
    ) -> str:
        key = export_key(self.prefix, account, region, at, name)
        body = encode_batch(findings, self._render)
        try:
            self._s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType="application/gzip",
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=self.kms_key_arn,
            )
        except (ClientError, BotoCoreError) as exc:
            reason = f"cannot write {key}: {_reason(exc)}"
            raise PublishError(self.describe(), reason, retryable=_retryable(exc)) from exc
        return f"s3://{self.bucket}/{key}"

    def verify(self) -> None:
        """The bucket exists and is ours to write; the key is an enabled symmetric key in the
        bucket's region (S3 encrypts only with a key of its own region)."""
        try:
            self._s3.head_bucket(Bucket=self.bucket)
            where = self._s3.get_bucket_location(Bucket=self.bucket).get("LocationConstraint")
        except (ClientError, BotoCoreError) as exc:
            reason = f"bucket {self.bucket}: {_reason(exc)}"
            raise PublishError(self.describe(), reason, retryable=_retryable(exc)) from exc
        try:
            meta = self._kms.describe_key(KeyId=self.kms_key_arn)["KeyMetadata"]
        except (ClientError, BotoCoreError) as exc:
            reason = f"KMS key {self.kms_key_arn}: {_reason(exc)}"
            raise PublishError(self.describe(), reason, retryable=_retryable(exc)) from exc
        problem = _key_problem(meta, where or "us-east-1", _region_of(self.kms_key_arn))
        if problem:
            raise PublishError(self.describe(), f"KMS key {self.kms_key_arn}: {problem}", retryable=False)


def _key_problem(meta: Mapping[str, Any], bucket_region: str, key_region: str | None) -> str | None:
    state = meta.get("KeyState") or ("Disabled" if meta.get("Enabled") is False else "Enabled")
    if state != "Enabled":
        return f"the key is {state}, not Enabled"
    if meta.get("KeyUsage", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT":
        return f"key usage is {meta['KeyUsage']}, not ENCRYPT_DECRYPT"
    spec = meta.get("KeySpec") or meta.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    if spec != "SYMMETRIC_DEFAULT":
        return f"S3 encrypts only with symmetric keys, this one is {spec}"
    if key_region and key_region != bucket_region:
        return f"the key is in {key_region} but the bucket in {bucket_region}; they must share a region"
    return None


# ---------------------------------------------------------------- local directory, envelope-encrypted


def key_id(master_key: bytes) -> str:
    """The key's fingerprint, kept in each file so a wrong key is named, not guessed at."""
    return "sha256:" + hashlib.sha256(master_key).hexdigest()


def read_key_file(key_file: str | os.PathLike[str]) -> bytes:
    """The 32-byte master key in ``key_file`` (raw, or base64 text); ``ConfigError`` otherwise."""
    path = Path(key_file)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("key file not found (generate_key_file makes one)", path=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the key file: {exc.strerror or exc}", path=str(path)) from None
    if len(data) == KEY_BYTES:
        return data
    try:
        key = base64.b64decode(data.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ConfigError(
            f"the key file must hold a {KEY_BYTES * 8}-bit key: {KEY_BYTES} raw bytes or their base64",
            path=str(path),
        )
    return key


def generate_key_file(path: str | os.PathLike[str]) -> str:
    """Write a new random master key (base64, mode 0600) to ``path``, which must not exist;
    returns its key id."""
    key = os.urandom(KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError("the key file already exists; not replacing a key", path=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot create the key file: {exc.strerror or exc}", path=str(path)) from None
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(base64.b64encode(key) + b"\n")
    return key_id(key)


def seal(plain: bytes, master_key: bytes) -> bytes:
    """``plain`` in the envelope format (module docstring), under a fresh data key."""
    data_key, nonce = AESGCM.generate_key(bit_length=256), os.urandom(_NONCE_BYTES)
    header = orjson.dumps(
        {
            "format": ENVELOPE_FORMAT,
            "version": ENVELOPE_VERSION,
            "cipher": "AES-256-GCM",
            "key_wrap": "AES-256-KW (RFC 3394)",
            "key_id": key_id(master_key),
            "wrapped_key": base64.b64encode(aes_key_wrap(master_key, data_key)).decode(),
            "nonce": base64.b64encode(nonce).decode(),
            "content": "application/jsonl+gzip",
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return header + b"\n" + AESGCM(data_key).encrypt(nonce, plain, header)


def _open_envelope(blob: bytes, master_key: bytes, where: str) -> bytes:
    """The gzip stream inside an envelope; ``InputError`` naming what is wrong with it."""
    header, newline, sealed = blob.partition(b"\n")
    try:
        meta = orjson.loads(header) if newline else None
    except orjson.JSONDecodeError:
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != ENVELOPE_FORMAT:
        raise InputError(where, None, "not a keibi encrypted export (no envelope header)")
    if meta.get("version") != ENVELOPE_VERSION:
        raise InputError(where, None, f"envelope version {meta.get('version')!r} is not {ENVELOPE_VERSION}")
    if meta.get("key_id") != key_id(master_key):
        raise InputError(
            where, None, f"encrypted with key {meta.get('key_id')}, not the key file's {key_id(master_key)}"
        )
    try:
        data_key = aes_key_unwrap(master_key, base64.b64decode(str(meta.get("wrapped_key")), validate=True))
        nonce = base64.b64decode(str(meta.get("nonce")), validate=True)
        return AESGCM(data_key).decrypt(nonce, sealed, header)
    except (InvalidTag, InvalidUnwrap, binascii.Error, ValueError) as exc:
        reason = type(exc).__name__
        raise InputError(where, None, f"cannot decrypt: the file was altered or damaged ({reason})") from exc


def decrypt_file(path: str | os.PathLike[str], key_file: str | os.PathLike[str]) -> bytes:
    """The plain JSON lines of a :class:`LocalExport` file; ``InputError`` if it was altered or
    is under another key, ``ConfigError`` for a bad key file."""
    master_key = read_key_file(key_file)
    try:
        blob = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(str(path), None, f"cannot read: {exc.strerror or exc}") from None
    stream = _open_envelope(blob, master_key, str(path))
    try:
        return gzip.decompress(stream)
    except (OSError, EOFError) as exc:
        raise InputError(str(path), None, f"decrypted, but not gzip: {exc}") from exc


def _write_atomically(path: Path, blob: bytes) -> None:
    """Temp file beside ``path``, fsync, rename: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # the rename itself durable; not every filesystem allows it
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


# Write errors that stay until someone changes the directory; others (a full disk) may pass.
_FIXED_ERRNOS: Final = frozenset({errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EROFS, errno.EISDIR})


class LocalExport:
    """Exports to a directory in GuardDuty's layout, each file envelope-encrypted.

    >>> LocalExport("/var/lib/keibi/export", "/etc/keibi/export.key").write(batch, account=a, region=r, at=now, name=n)
    '/var/lib/keibi/export/AWSLogs/…/….jsonl.gz.enc'
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        key_file: str | os.PathLike[str],
        rendering: str = "GUARDDUTY",
    ) -> None:
        self.directory = Path(directory)
        self.key_file = Path(key_file)
        self._render = renderings.rendering(rendering)
        self._master_key = read_key_file(self.key_file)
        self.key_id = key_id(self._master_key)

    def describe(self) -> str:
        return str(self.directory)

    def path_for(self, *, account: str, region: str, at: datetime, name: str) -> Path:
        return self.directory / (
            export_key("", account, region, at, name).removesuffix(SUFFIX) + ENCRYPTED_SUFFIX
        )

    def write(
        self, findings: Sequence[Finding], *, account: str, region: str, at: datetime, name: str
    ) -> str:
        path = self.path_for(account=account, region=region, at=at, name=name)
        blob = seal(encode_batch(findings, self._render), self._master_key)
        try:
            _write_atomically(path, blob)
        except OSError as exc:
            reason = f"cannot write {path}: {exc.strerror or exc}"
            raise PublishError(self.describe(), reason, retryable=exc.errno not in _FIXED_ERRNOS) from exc
        return str(path)

    def verify(self) -> None:
        """The directory exists (or can be made) and takes new files."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.directory):
                pass
        except OSError as exc:
            reason = f"cannot write there: {exc.strerror or exc}"
            raise PublishError(self.describe(), reason, retryable=exc.errno not in _FIXED_ERRNOS) from exc


# ---------------------------------------------------------------- from configuration


def _s3_location(destination: str) -> tuple[str, str]:
    if destination.startswith("arn:"):
        found = bucket_and_prefix(destination)
        if found is None:
            raise ConfigError(
                f"{destination!r} is not an S3 bucket ARN (arn:aws:s3:::bucket[/prefix])",
                key="destinationArn",
            )
        return found
    bucket, _, prefix = destination.removeprefix("s3://").partition("/")
    if not bucket:
        raise ConfigError(f"{destination!r} names no bucket (s3://bucket[/prefix])", key="destinationArn")
    return bucket, prefix


def open_export(
    destination: str,
    key: str,
    rendering: str = "GUARDDUTY",
    *,
    s3_client: Any = None,
    kms_client: Any = None,
) -> Exporter:
    """The exporter for a destination: an S3 bucket ARN or ``s3://`` URL with a KMS key ARN, or a
    local directory with a key file. ``ConfigError`` for anything else.

    >>> open_export("arn:aws:s3:::findings-bucket/gd", "arn:aws:kms:us-east-1:111122223333:key/k").describe()
    's3://findings-bucket/gd'
    """
    if destination.startswith(("arn:", "s3://")):
        bucket, prefix = _s3_location(destination)
        if not is_kms_key_arn(key):
            raise ConfigError(
                f"{key!r} is not a KMS key ARN (arn:aws:kms:region:account:key/id)", key="kmsKeyArn"
            )
        return S3Export(bucket, prefix, key, rendering, client=s3_client, kms_client=kms_client)
    if "://" in destination or not destination:
        raise ConfigError(
            f"unsupported export destination {destination!r}: an S3 bucket ARN, s3://bucket/prefix or a directory",
            key="destinationArn",
        )
    return LocalExport(destination, key, rendering)


__all__ = [
    "ENCRYPTED_SUFFIX",
    "ENVELOPE_FORMAT",
    "ENVELOPE_VERSION",
    "KEY_BYTES",
    "SUFFIX",
    "Exporter",
    "LocalExport",
    "S3Export",
    "batch_name",
    "decrypt_file",
    "encode_batch",
    "export_key",
    "generate_key_file",
    "key_id",
    "open_export",
    "read_key_file",
    "seal",
]
