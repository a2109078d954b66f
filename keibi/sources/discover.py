"""Continuous discovery of new log files for ``keibi watch``: a directory, an S3 prefix, or an SQS
queue of S3 event notifications.

The loop owns a manifest of every file processed (uri, etag, size) and filters what it is given,
so discovery is built to over-report and never to under-report: ``poll()`` may return a file
that is already done (after a restart, a look-back, a redelivered message), but no file may be
lost. The decisions that follow from that:

* **A directory is watched in memory.** Every poll walks the tree with ``os.scandir`` and compares
  each file's (size, mtime, inode) with what it saw before. A file is returned once it has stayed
  the same for ``settle_seconds`` (a file still being written is not read half-way), and again
  whenever it changes. Nothing is persisted: after a restart every file comes back and the
  manifest skips the ones already done.
* **An S3 prefix is listed per partition, from a marker.** AWS delivers each log type under
  ``AWSLogs/[o-org/]<account>/<service>/<region or vpc>/YYYY/MM/DD/``, and within such a partition
  keys sort by time. The partitions are found with ``Delimiter="/"`` listings (a few calls per
  account); each one is then listed with ``StartAfter=<its marker>``, so a quiet poll costs about
  one call per partition. Keys outside that layout are listed as "other" partitions: each
  folder beside ``AWSLogs/``, plus the loose files at each level.
* **Markers move only over committed keys.** A marker is the greatest key K such that every key
  up to K that was listed has been committed (``commit()``), so a crash between listing and
  committing re-lists the uncommitted keys. Keys committed past a gap are remembered in memory
  and not returned again; after a restart they come back once and the manifest drops them.
  Folder markers and CloudTrail digests (integrity proofs, no events) count as done at once, so
  they never hold a marker back. A partition lists at most ``max_keys`` new keys per poll, which
  bounds a backlog without letting one stuck key stall the keys behind it.
* **Late deliveries are found by a look-back.** A key that arrives after its partition's marker
  has passed it is invisible to ``StartAfter``. Every ``lookback_every`` polls, the last
  ``lookback`` day folders up to each marker's day are listed in full and keys at or before the
  marker that were not committed are returned. Older late files are not looked for.
* **SQS messages are acknowledged per message, after all their files.** A message names one or
  more objects (an S3 notification, the same wrapped by SNS, or an EventBridge "Object Created"
  event). Every file carries its message's receipt handle; the loop deletes a message
  (``ack``) once all of its files are committed: ``handles_done`` says which. Messages with
  nothing to read (test events, deletions, digests) are deleted at once; a body that is not
  understood is logged with its message id and left for the queue's redrive policy.

The loop, per batch: ``poll()``; read the files; ``commit(done)``; save the files and
``markers()`` in one transaction (if that fails, ``restore()`` the markers saved last, which
rolls the discovery back); only then ``ack(handles_done(found, committed_uris))``.

    >>> source = open_discovery("s3://trail-bucket/")                   # doctest: +SKIP
    >>> source.restore(saved)                                           # doctest: +SKIP
    >>> found = source.poll()                                           # doctest: +SKIP
    >>> source.commit(done)                                             # doctest: +SKIP
    >>> saved = source.markers()                                        # doctest: +SKIP
    >>> source.ack(handles_done(found, {f.uri for f in done}))          # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar
from urllib.parse import unquote_plus

from keibi.errors import ConfigError
from keibi.sources.locations import LogFile, split_s3_uri

log = logging.getLogger(__name__)


# Source URIs that are not local directories (S3 prefixes, SQS queues by URL, name or ARN).
REMOTE_PREFIXES: Final = ("s3://", "sqs://", "https://", "http://", "arn:")


@dataclass(frozen=True, slots=True)
class Discovered:
    """A file that may be new; ``ack`` is the SQS receipt handle of the message that named it."""

    file: LogFile
    ack: str | None = None


class Discovery(Protocol):
    """A source followed continuously; see the module docstring for the contract."""

    name: str

    def poll(self) -> list[Discovered]:
        """Files that may be new, in a stable order; some may already be done."""
        ...

    @property
    def waiting(self) -> int:
        """Files seen but not handed out yet (a local file still being written); 0 elsewhere."""
        ...

    def markers(self) -> dict[str, str]:
        """State to save in the same transaction as the committed files."""
        ...

    def restore(self, markers: Mapping[str, str]) -> None:
        """Start over from saved markers: once at start, and again to roll back after the loop
        failed to save a batch (``commit()`` had already moved the markers in memory)."""
        ...

    def ack(self, handles: Sequence[str]) -> None:
        """Delete the SQS messages whose files are all committed (a no-op elsewhere)."""
        ...

    def commit(self, done: Sequence[LogFile]) -> None:
        """Record the files the loop has finished with, so markers can move past them."""
        ...


def _number(name: str, value: object, low: float, high: float | None = None) -> None:
    """Option values come from config files, so a wrong type is a user error, not a crash."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if value < low or (high is not None and value > high):
        limits = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ConfigError(f"{name} must be {limits}, got {value!r}")


# --- local directories -------------------------------------------------------------------------

_Signature = tuple[int, int, int]  # size, mtime_ns, inode: a rename over the file changes it too
_PARTIAL_SUFFIXES: Final = (".tmp", ".part")


def _ignored(name: str) -> bool:
    return name.startswith(".") or name.endswith(_PARTIAL_SUFFIXES)


class DirectoryDiscovery:
    """New or changed files under a directory tree, each returned once it has settled.

    Dot-files and dot-directories, ``*.tmp`` and ``*.part`` are ignored (writers use them for
    files in progress). ``clock`` is injectable so tests need no sleeps.

        >>> source = DirectoryDiscovery(Path("/srv/logs"), settle_seconds=2.0)   # doctest: +SKIP
        >>> source.poll()                    # a file written just now: not yet   # doctest: +SKIP
        []
    """

    def __init__(
        self, path: Path, settle_seconds: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        _number("settle_seconds", settle_seconds, 0)
        self.path = Path(path)
        self.settle_seconds = settle_seconds
        self.name = f"dir:{os.path.abspath(self.path)}"
        self._clock = clock
        self._returned: dict[str, _Signature] = {}
        self._pending: dict[str, tuple[_Signature, float]] = {}  # signature, and since when unchanged
        self._root_missing = False

    def poll(self) -> list[Discovered]:
        now = self._clock()
        present = dict(self._scan())
        ready: list[LogFile] = []
        for uri, sig in present.items():
            if self._returned.get(uri) == sig:
                continue
            seen = self._pending.get(uri)
            if seen is None or seen[0] != sig:
                seen = self._pending[uri] = (sig, now)
            if now - seen[1] >= self.settle_seconds:
                del self._pending[uri]
                self._returned[uri] = sig
                ready.append(LogFile(uri, sig[0]))
        for state in (self._returned, self._pending):
            for uri in [u for u in state if u not in present]:  # deleted: a new file there is new
                del state[uri]
        return [Discovered(f) for f in sorted(ready, key=lambda f: f.uri)]

    @property
    def waiting(self) -> int:
        """Files seen but not returned yet, because they are still changing (or just appeared)."""
        return len(self._pending)

    def _scan(self) -> Iterator[tuple[str, _Signature]]:
        root = str(self.path)
        stack = [root]
        while stack:
            top = stack.pop()
            try:
                with os.scandir(top) as it:
                    entries = list(it)
            except OSError as exc:  # a folder removed mid-walk, or the root itself gone
                if top == root and not self._root_missing:
                    log.warning("%s: cannot list the directory (%s)", self.name, exc)
                    self._root_missing = True
                continue
            if top == root:
                self._root_missing = False
            for entry in entries:
                if _ignored(entry.name):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                        continue
                    if not entry.is_file():
                        continue
                    st = entry.stat()
                except OSError:  # removed between listing and stat
                    continue
                yield entry.path, (st.st_size, st.st_mtime_ns, st.st_ino)

    def markers(self) -> dict[str, str]:
        return {}

    def restore(self, markers: Mapping[str, str]) -> None:
        """Forget what was returned, so a rolled-back batch comes back (the manifest filters)."""
        self._returned.clear()

    def ack(self, handles: Sequence[str]) -> None:
        return None

    def commit(self, done: Sequence[LogFile]) -> None:
        return None


# --- S3 prefixes -------------------------------------------------------------------------------

_AWSLOGS: Final = re.compile(r"(?:^|/)AWSLogs/")
_ORG: Final = re.compile(r"o-[a-z0-9]{10,32}")
_ACCOUNT: Final = re.compile(r"(?:aws-account-id=)?\d{12}")
_DIGEST: Final = "CloudTrail-Digest"
_DAY: Final = re.compile(r"(?:^|(?<=/))(?:(\d{4})/(\d{2})/(\d{2})|year=(\d{4})/month=(\d{2})/day=(\d{2}))/")
_FILES: Final = "files:"  # id prefix of a partition holding only the loose files at one level


class _Kind(Enum):
    """Where a prefix sits in the ``AWSLogs/`` layout."""

    ANCESTOR = "ancestor"  # AWSLogs/, an org, an account or a service folder: walk into it
    PARTITION = "partition"  # AWSLogs/[o-org/]<account>/<service>/<region or vpc>/
    INSIDE = "inside"  # deeper than a partition (a date folder)
    DIGEST = "digest"  # a CloudTrail-Digest folder: nothing to read
    OTHER = "other"  # not in the layout


def _classify(prefix: str) -> _Kind:
    """Only whole segments count: ``AWSLogs/1234`` is still an ancestor of ``AWSLogs/123456789012/``."""
    last = None
    for m in _AWSLOGS.finditer(prefix):
        last = m
    if last is None:
        return _Kind.OTHER
    segments = prefix[last.end() :].split("/")[:-1]
    if segments and _ORG.fullmatch(segments[0]):
        segments = segments[1:]
    if not segments:
        return _Kind.ANCESTOR
    if not _ACCOUNT.fullmatch(segments[0]):
        return _Kind.OTHER
    if len(segments) >= 2 and segments[1] == _DIGEST:
        return _Kind.DIGEST
    if len(segments) < 3:
        return _Kind.ANCESTOR
    return _Kind.PARTITION if len(segments) == 3 else _Kind.INSIDE


def _is_noise(key: str, size: int) -> bool:
    """Folder markers and CloudTrail digests: never returned, never holding a marker back."""
    return (key.endswith("/") and size == 0) or f"/{_DIGEST}/" in f"/{key}"


def _day_prefixes(prefix: str, marker: str, days: int) -> list[str]:
    """The day folders of ``marker``'s day and the ``days - 1`` before it, in its own style."""
    rest = marker[len(prefix) :]
    m = _DAY.search(rest)
    if m is None:
        return []
    hive = m.group(1) is None
    parts = m.group(4, 5, 6) if hive else m.group(1, 2, 3)
    try:
        day = dt.date(*(int(p) for p in parts))
    except ValueError:
        return []
    base = prefix + rest[: m.start()]
    found = []
    for back in range(days):
        d = day - dt.timedelta(days=back)
        path = f"year={d:%Y}/month={d:%m}/day={d:%d}/" if hive else f"{d:%Y}/{d:%m}/{d:%d}/"
        found.append(base + path)
    return found


@dataclass(slots=True)
class _Partition:
    """One listing unit and its commit frontier."""

    id: str
    prefix: str
    files_only: bool  # list with Delimiter="/": just the loose files directly under prefix
    marker: str | None = None
    listed: list[str] = field(default_factory=list)  # keys after the marker, as last listed
    done: set[str] = field(default_factory=set)  # committed keys after the marker
    passed: set[str] = field(default_factory=set)  # committed keys up to the marker (look-back)

    def advance(self, remember: bool) -> None:
        """Move the marker over the committed keys at the head of the last listing."""
        n = 0
        for key in self.listed:
            if key not in self.done:
                break
            self.done.discard(key)
            if remember:
                self.passed.add(key)
            self.marker = key
            n += 1
        del self.listed[:n]

    def reset(self) -> None:
        self.marker = None
        self.listed.clear()
        self.done.clear()
        self.passed.clear()


class S3PrefixDiscovery:
    """New objects under ``s3://bucket/prefix``, listed per AWS log partition from a marker.

    ``markers()`` maps partition ids (the partition's prefix, or ``files:<prefix>`` for loose
    files) to marker keys. Partitions are re-discovered every ``rediscover_every`` polls (every
    poll by default: a region that starts logging is worth seeing at once, and the walk costs
    a few calls per account). The client is ``boto3.client("s3")`` unless one is given.

        >>> source = S3PrefixDiscovery("trail-bucket", "")                 # doctest: +SKIP
        >>> [d.file.uri for d in source.poll()][:1]                         # doctest: +SKIP
        ['s3://trail-bucket/AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/02/...json.gz']
    """

    def __init__(
        self,
        bucket: str,
        prefix: str,
        client: Any = None,
        *,
        max_keys: int = 1000,
        lookback: int = 2,
        lookback_every: int = 10,
        rediscover_every: int = 1,
    ) -> None:
        if not bucket:
            raise ConfigError("an S3 discovery needs a bucket")
        _number("max_keys", max_keys, 1)
        _number("lookback", lookback, 0)
        _number("lookback_every", lookback_every, 1)
        _number("rediscover_every", rediscover_every, 1)
        self.bucket = bucket
        self.prefix = prefix
        self.name = f"s3://{bucket}/{prefix}"
        self.max_keys = max_keys
        self.lookback = lookback
        self.lookback_every = lookback_every
        self.rediscover_every = rediscover_every
        self._client = client
        self._parts: dict[str, _Partition] = {}
        self._saved: dict[str, str] = {}  # markers of partitions not (or no longer) discovered
        self._polls = 0

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("s3")
        return self._client

    @property
    def partitions(self) -> list[str]:
        """The ids of the partitions found by the last discovery, sorted."""
        return sorted(self._parts)

    def poll(self) -> list[Discovered]:
        self._polls += 1
        if (self._polls - 1) % self.rediscover_every == 0:
            self._discover()
        found: dict[str, LogFile] = {}
        for pid in sorted(self._parts):
            for f in self._list_new(self._parts[pid]):
                found[f.uri] = f
        if self.lookback and self._polls % self.lookback_every == 0:
            for f in self._look_back():
                found.setdefault(f.uri, f)
        return [Discovered(found[uri]) for uri in sorted(found)]

    @property
    def waiting(self) -> int:
        return 0  # a listing or a queue holds nothing back

    def markers(self) -> dict[str, str]:
        out = dict(self._saved)
        out.update({p.id: p.marker for p in self._parts.values() if p.marker is not None})
        return out

    def restore(self, markers: Mapping[str, str]) -> None:
        """The state becomes exactly ``markers``: a partition missing from them starts from
        its beginning."""
        self._saved = dict(markers)
        for p in self._parts.values():
            p.reset()
            self._attach(p)

    def ack(self, handles: Sequence[str]) -> None:
        return None

    def commit(self, done: Sequence[LogFile]) -> None:
        touched: dict[str, _Partition] = {}
        for f in done:
            if not f.uri.startswith("s3://"):
                continue
            bucket, key = split_s3_uri(f.uri)
            p = self._owner(key) if bucket == self.bucket else None
            if p is None:
                continue
            if p.marker is not None and key <= p.marker:  # a late file found by the look-back
                if self.lookback:
                    p.passed.add(key)
            else:
                p.done.add(key)
                touched[p.id] = p
        for p in touched.values():
            p.advance(bool(self.lookback))

    # discovery of partitions

    def _discover(self) -> None:
        live: dict[str, tuple[str, bool]] = {}
        kind = _classify(self.prefix)
        if kind in (_Kind.PARTITION, _Kind.INSIDE):
            live[self.prefix] = (self.prefix, False)
        elif kind is not _Kind.DIGEST:
            self._walk(self.prefix, live, root=True)
        for pid in [pid for pid in self._parts if pid not in live]:
            gone = self._parts.pop(pid)
            if gone.marker is not None:
                self._saved[pid] = gone.marker
        for pid, (prefix, files_only) in live.items():
            if pid not in self._parts:
                self._parts[pid] = p = _Partition(pid, prefix, files_only)
                self._attach(p)

    def _walk(self, level: str, live: dict[str, tuple[str, bool]], root: bool) -> None:
        has_files = False
        children: list[str] = []
        for page in self._pages(Prefix=level, Delimiter="/"):
            for obj in page.get("Contents", []):
                has_files = has_files or not _is_noise(obj["Key"], int(obj["Size"]))
            children.extend(cp["Prefix"] for cp in page.get("CommonPrefixes", []))
        if has_files:
            live[_FILES + level] = (level, True)
        for child in children:
            kind = _classify(child)
            if kind is _Kind.ANCESTOR or (root and child == level + "/"):  # "s3://b/logs" means logs/
                self._walk(child, live, root=False)
            elif kind in (_Kind.PARTITION, _Kind.OTHER):
                live[child] = (child, False)

    def _attach(self, p: _Partition) -> None:
        marker = self._saved.pop(p.id, None)
        if marker is None:
            return
        rest = marker[len(p.prefix) :]
        if marker.startswith(p.prefix) and not (p.files_only and "/" in rest):
            p.marker = marker
        else:
            log.warning("%s: ignoring saved marker %r, not under partition %r", self.name, marker, p.id)

    def _owner(self, key: str) -> _Partition | None:
        i = key.find("/")
        while i != -1:
            p = self._parts.get(key[: i + 1])
            if p is not None:
                return p
            i = key.find("/", i + 1)
        p = self._parts.get(self.prefix)  # a start prefix inside a partition, e.g. ".../2024/08"
        if p is not None and key.startswith(self.prefix):
            return p
        level = key[: key.rfind("/") + 1]
        for pid in (_FILES + level, _FILES + self.prefix):
            p = self._parts.get(pid)
            if p is not None and key.startswith(p.prefix) and "/" not in key[len(p.prefix) :]:
                return p
        return None

    # listings

    def _pages(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Pages one by one, so a caller that has enough stops before the next call."""
        kwargs["Bucket"] = self.bucket
        while True:
            page: dict[str, Any] = self.client.list_objects_v2(**kwargs)
            yield page
            if not page.get("IsTruncated"):
                return
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def _objects(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        for page in self._pages(**kwargs):
            yield from page.get("Contents", [])

    def _file(self, obj: Mapping[str, Any]) -> LogFile:
        etag = obj.get("ETag")
        return LogFile(
            f"s3://{self.bucket}/{obj['Key']}", int(obj["Size"]), etag.strip('"') if etag else None
        )

    def _list_new(self, p: _Partition) -> list[LogFile]:
        kwargs: dict[str, Any] = {"Prefix": p.prefix}
        if p.files_only:
            kwargs["Delimiter"] = "/"
        if p.marker is not None:
            kwargs["StartAfter"] = p.marker
        listed: list[str] = []
        fresh: list[LogFile] = []
        for obj in self._objects(**kwargs):
            key: str = obj["Key"]
            listed.append(key)
            if _is_noise(key, int(obj["Size"])):
                p.done.add(key)
            elif key not in p.done:
                fresh.append(self._file(obj))
                if len(fresh) >= self.max_keys:
                    break
        p.listed = listed
        p.advance(bool(self.lookback))  # over noise at the head
        return fresh

    def _look_back(self) -> list[LogFile]:
        found: list[LogFile] = []
        for p in self._parts.values():
            if p.files_only or p.marker is None:
                continue
            window: set[str] = set()
            for day in _day_prefixes(p.prefix, p.marker, self.lookback):
                for obj in self._objects(Prefix=day):
                    key = obj["Key"]
                    if _is_noise(key, int(obj["Size"])):
                        continue
                    window.add(key)
                    if key <= p.marker and key not in p.passed:
                        found.append(self._file(obj))
            p.passed &= window  # what left the window can no longer come back through it
        return found


# --- SQS queues of S3 notifications -------------------------------------------------------------

_QUEUE_URL: Final = re.compile(r"^https?://([^/]+)/(\d{12})/([^/?#]+)/?$")
_QUEUE_ARN: Final = re.compile(r"^arn:aws[a-z-]*:sqs:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_.-]+)$")
_QUEUE_NAME: Final = re.compile(r"^[A-Za-z0-9_-]{1,80}(?:\.fifo)?$")
_AWS_QUEUE_HOST: Final = re.compile(
    r"^(?:sqs\.([a-z0-9-]+)\.amazonaws\.com|([a-z0-9-]+)\.queue\.amazonaws\.com)(?:\.cn)?$"
)


class _NotUnderstood(Exception):
    """A message body that is not an S3 object notification in any known wrapping."""


def _object_file(bucket: Any, obj: Any, *, encoded: bool) -> LogFile | None:
    """S3 notifications URL-encode keys ("a b" arrives as "a+b"); EventBridge events do not."""
    if not isinstance(bucket, dict) or not isinstance(obj, dict):
        raise _NotUnderstood
    name, key, size = bucket.get("name"), obj.get("key"), obj.get("size", 0)
    if not isinstance(name, str) or not isinstance(key, str) or not name or not key:
        raise _NotUnderstood
    if isinstance(size, bool) or not isinstance(size, int):
        raise _NotUnderstood
    if encoded:
        key = unquote_plus(key)
    if _is_noise(key, size):
        return None
    etag = obj.get("eTag", obj.get("etag"))
    return LogFile(f"s3://{name}/{key}", size, etag.strip('"') if isinstance(etag, str) and etag else None)


def _notified(data: Any, *, unwrap: bool = True) -> list[LogFile]:
    """The created objects a message names; ``[]`` for one that names none (test, deletion)."""
    if not isinstance(data, dict):
        raise _NotUnderstood
    if unwrap and data.get("Type") == "Notification" and isinstance(data.get("Message"), str):
        try:  # an SNS envelope (a subscription without raw delivery)
            inner = json.loads(data["Message"])
        except ValueError:
            raise _NotUnderstood from None
        return _notified(inner, unwrap=False)
    if data.get("Event") == "s3:TestEvent":
        return []
    records = data.get("Records")
    if isinstance(records, list):
        files: list[LogFile] = []
        for record in records:
            if not isinstance(record, dict) or not isinstance(record.get("s3"), dict):
                raise _NotUnderstood
            event = str(record.get("eventName", "")).removeprefix("s3:")
            if event.startswith("ObjectCreated:"):
                s3 = record["s3"]
                f = _object_file(s3.get("bucket"), s3.get("object"), encoded=True)
                files.extend([f] if f is not None else [])
        return files
    detail = data.get("detail")
    if data.get("source") == "aws.s3" and isinstance(detail, dict):
        if data.get("detail-type") != "Object Created":
            return []
        f = _object_file(detail.get("bucket"), detail.get("object"), encoded=False)
        return [f] if f is not None else []
    raise _NotUnderstood


def notified_files(body: str) -> list[LogFile] | None:
    """The objects an SQS message body says were created, or None if the body is not understood.

    Reads a direct S3 notification, the same wrapped in an SNS envelope, and an EventBridge
    "Object Created" event; test events and other event types name no files.
    """
    try:
        return _notified(json.loads(body))
    except (ValueError, _NotUnderstood):
        return None


class SqsDiscovery:
    """Objects named by S3 event notifications on an SQS queue.

    ``queue_url`` is a queue URL, a queue ARN or a bare queue name (the last two are resolved
    with ``GetQueueUrl`` on first use). Each poll receives up to ``max_receives`` batches of
    ``max_messages``, long-polling ``wait_seconds`` only for the first. A message stays
    invisible for ``visibility_timeout`` seconds (the queue's default if None) and comes back if
    it is not acked by then, so set it longer than the loop takes to commit a batch.

        >>> source = SqsDiscovery("https://sqs.eu-west-1.amazonaws.com/111122223333/trail")  # doctest: +SKIP
        >>> found = source.poll()                                                             # doctest: +SKIP
        >>> source.ack(handles_done(found, committed_uris))                                   # doctest: +SKIP
    """

    def __init__(
        self,
        queue_url: str,
        client: Any = None,
        wait_seconds: int = 1,
        max_messages: int = 10,
        visibility_timeout: int | None = None,
        *,
        max_receives: int = 10,
    ) -> None:
        _number("wait_seconds", wait_seconds, 0, 20)
        _number("max_messages", max_messages, 1, 10)
        if visibility_timeout is not None:
            _number("visibility_timeout", visibility_timeout, 0, 43200)
        _number("max_receives", max_receives, 1)
        self.name = f"sqs:{queue_url}"
        self.wait_seconds = wait_seconds
        self.max_messages = max_messages
        self.visibility_timeout = visibility_timeout
        self.max_receives = max_receives
        self._client = client
        self._url: str | None = None
        self._lookup: dict[str, str] = {}
        self._region: str | None = None
        if m := _QUEUE_URL.match(queue_url):
            self._url = queue_url.rstrip("/")
            host = _AWS_QUEUE_HOST.match(m.group(1))
            self._region = (host.group(1) or host.group(2)) if host else None
        elif m := _QUEUE_ARN.match(queue_url):
            self._region = m.group(1)
            self._lookup = {"QueueName": m.group(3), "QueueOwnerAWSAccountId": m.group(2)}
        elif _QUEUE_NAME.match(queue_url):
            self._lookup = {"QueueName": queue_url}
        else:
            raise ConfigError(f"not an SQS queue URL, ARN or name: {queue_url}")

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = (
                boto3.client("sqs", region_name=self._region) if self._region else boto3.client("sqs")
            )
        return self._client

    @property
    def queue_url(self) -> str:
        if self._url is None:
            self._url = str(self.client.get_queue_url(**self._lookup)["QueueUrl"])
        return self._url

    def poll(self) -> list[Discovered]:
        found: list[Discovered] = []
        for round_ in range(self.max_receives):
            request: dict[str, Any] = {
                "QueueUrl": self.queue_url,
                "MaxNumberOfMessages": self.max_messages,
                "WaitTimeSeconds": self.wait_seconds if round_ == 0 else 0,
            }
            if self.visibility_timeout is not None:
                request["VisibilityTimeout"] = self.visibility_timeout
            messages = self.client.receive_message(**request).get("Messages", [])
            if not messages:
                break
            nothing_to_read: list[str] = []
            for message in messages:
                handle: str = message["ReceiptHandle"]
                files = notified_files(message.get("Body", ""))
                if files is None:
                    log.warning(
                        "%s: message %s is not an S3 object notification; left for the queue's redrive policy",
                        self.name,
                        message.get("MessageId"),
                    )
                elif files:
                    found.extend(Discovered(f, handle) for f in files)
                else:
                    nothing_to_read.append(handle)
            self.ack(nothing_to_read)
        return found

    def ack(self, handles: Sequence[str]) -> None:
        """Failures are logged, not raised: the files are committed, and a message that comes
        back is filtered by the manifest."""
        unique = list(dict.fromkeys(handles))
        for start in range(0, len(unique), 10):
            entries = [{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(unique[start : start + 10])]
            reply = self.client.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            for failed in reply.get("Failed", []):
                log.warning("%s: could not delete a message: %s", self.name, failed.get("Message", failed))

    @property
    def waiting(self) -> int:
        return 0  # a listing or a queue holds nothing back

    def markers(self) -> dict[str, str]:
        return {}

    def restore(self, markers: Mapping[str, str]) -> None:
        return None

    def commit(self, done: Sequence[LogFile]) -> None:
        return None


def handles_done(discovered: Sequence[Discovered], committed_uris: set[str]) -> list[str]:
    """The receipt handles whose files are all committed, in first-seen order.

    Pass everything one ``poll()`` returned: a message naming several objects must not be
    deleted until the last of them is committed, or a crash would lose the rest.
    """
    complete: dict[str, bool] = {}
    for d in discovered:
        if d.ack is not None:
            complete[d.ack] = complete.get(d.ack, True) and d.file.uri in committed_uris
    return [handle for handle, ok in complete.items() if ok]


# --- choosing one from a URI ---------------------------------------------------------------------

_D = TypeVar("_D", DirectoryDiscovery, S3PrefixDiscovery, SqsDiscovery)
_SCHEME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _build(cls: Callable[..., _D], uri: str, options: Mapping[str, Any], *args: Any) -> _D:
    allowed = list(inspect.signature(cls).parameters)[len(args) :]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown option {unknown[0]!r} for {uri} (expected one of: {', '.join(allowed)})")
    return cls(*args, **options)


def open_discovery(uri: str, **options: Any) -> Discovery:
    """The discovery for ``uri``, built with ``options`` (the class's keyword arguments).

    ``s3://bucket/prefix`` → :class:`S3PrefixDiscovery`; ``sqs://<queue name>``,
    ``sqs://<host>/<account>/<queue>``, a queue URL (``https://sqs.<region>.amazonaws.com/...``)
    or a queue ARN → :class:`SqsDiscovery`; an existing local directory →
    :class:`DirectoryDiscovery`. Anything else raises ``ConfigError``.
    """
    text = uri.strip()
    if not text:
        raise ConfigError("empty source URI")
    if text.startswith("s3://"):
        bucket, prefix = split_s3_uri(text)
        if not bucket:
            raise ConfigError(f"no bucket in S3 location: {uri}")
        return _build(S3PrefixDiscovery, uri, options, bucket, prefix)
    if text.startswith("sqs://"):
        rest = text.removeprefix("sqs://")
        queue = f"https://{rest}" if "/" in rest else rest
        if not (_QUEUE_NAME.match(queue) or _QUEUE_URL.match(queue)):
            raise ConfigError(f"expected sqs://<queue name> or sqs://<host>/<account>/<queue>: {uri}")
        return _build(SqsDiscovery, uri, options, queue)
    if text.startswith("arn:"):
        if not _QUEUE_ARN.match(text):
            raise ConfigError(f"not an SQS queue ARN: {uri}")
        return _build(SqsDiscovery, uri, options, text)
    if text.startswith(("https://", "http://")):
        if not _QUEUE_URL.match(text):
            raise ConfigError(
                f"not an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>): {uri}"
            )
        return _build(SqsDiscovery, uri, options, text)
    if _SCHEME.match(text):
        raise ConfigError(f"unsupported source (a directory, s3://, sqs://, an SQS queue URL or ARN): {uri}")
    path = Path(text)
    if not path.is_dir():
        raise ConfigError(f"not a directory: {uri}" if path.exists() else f"no such directory: {uri}")
    return _build(DirectoryDiscovery, uri, options, path)


__all__ = [
    "REMOTE_PREFIXES",
    "DirectoryDiscovery",
    "Discovered",
    "Discovery",
    "S3PrefixDiscovery",
    "SqsDiscovery",
    "handles_done",
    "notified_files",
    "open_discovery",
]
