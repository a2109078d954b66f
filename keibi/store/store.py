"""``Store``: findings and their evidence in SQLite (default) or PostgreSQL (by URL)."""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import orjson
import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from keibi.detect.behavior.profile import KEY as PROFILE_KEY
from keibi.detect.behavior.profile import PROFILE
from keibi.errors import ConfigError, StoreError
from keibi.findings import Evidence, FindingRecord, merge
from keibi.intel import IntelList
from keibi.intel.fetch import Fetched
from keibi.store import _intel
from keibi.store import engine as engines
from keibi.store._rows import finding_row, resource_ids
from keibi.store.intel_lists import (
    AWS_RANGES_FORMAT,
    VERSION_DIGITS,
    VERSIONS_KEPT,
    IntelListRecord,
    IntelListSpec,
)
from keibi.store.migrations import migrate
from keibi.store.query import FindingQuery
from keibi.store.tables import (
    detector_state,
    evidence,
    finding_resources,
    findings,
    intel_cache,
    intel_list_versions,
    intel_lists,
    processed_files,
    profiles,
)

DB_FILE: Final = "keibi.db"
EVIDENCE_KEPT: Final = 1000  # evidence rows kept per finding: the newest
_CHUNK: Final = 500  # ids per IN (...) list, well under SQLite's variable limit
_TRIES: Final = 2  # a concurrent writer may insert the same new finding first: merge again
INTEL_CACHE_KEPT: Final = 8  # cached intel entries kept per kind: the most recently used

InputFile = tuple[str, int, str | None]  # (uri, size, etag) of one log file


def chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    """``items`` in slices small enough for one ``IN (...)`` list on either database."""
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class Store:
    """Findings (GuardDuty JSON), the identifiers of their resources, and evidence pointers.

    ``url`` is ``sqlite:///path/keibi.db`` or ``postgresql+psycopg://user@host/db``
    (``postgresql://`` is sent to psycopg 3). Opening applies any missing migration; a bad
    URL, an unreachable server or a failed migration raises ``StoreError`` with one line.

    >>> store = Store.for_data_dir(Path("~/.keibi").expanduser())
    >>> stored = store.upsert_findings(build_findings(hits, batch, "cloudtrail", types, now=now))
    >>> store.list_findings(FindingQuery(severity="high"))
    """

    def __init__(self, url: str) -> None:
        self.url = engines.normalise_url(url)
        self._unit = threading.local()  # the connection of this thread's open ``unit``, if any
        self.engine = engines.create(self.url)
        try:
            self.migrated: list[int] = migrate(self.engine)
        except StoreError:
            self.engine.dispose()
            raise
        except sa.exc.SQLAlchemyError as exc:
            self.engine.dispose()
            raise StoreError(f"cannot open store {engines.safe(self.url)}: {engines.reason(exc)}") from exc

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> Store:
        """The SQLite store ``keibi.db`` under ``data_dir``, creating the directory."""
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the data directory {data_dir}: {exc.strerror or exc}") from exc
        return cls(f"sqlite:///{(data_dir / DB_FILE).resolve()}")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]
    ) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _transaction(self, what: str, *, read: bool = False) -> Iterator[Connection]:
        ambient: Connection | None = getattr(self._unit, "conn", None)
        if ambient is not None:  # inside ``unit``: its transaction, committed or rolled back there
            yield ambient
            return
        try:
            with self.engine.connect() as conn:
                if read:
                    conn.execution_options(**{engines.READ_ONLY: True})
                with conn.begin():
                    yield conn
        except sa.exc.IntegrityError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"store {engines.safe(self.url)}: cannot {what}: {engines.reason(exc)}") from exc

    @contextmanager
    def unit(self, what: str) -> Iterator[Connection]:
        """One transaction around everything this thread writes until the block ends: findings,
        detector state, usage, checkpoints, outbox. The watch loop processes a file in one unit,
        so a crash anywhere leaves either all of what the file gave or none of it (exactly
        once). Other threads keep their own transactions; units do not nest."""
        if getattr(self._unit, "conn", None) is not None:
            raise StoreError(f"store: cannot {what}: a unit is already open in this thread")
        with self._transaction(what) as conn:
            self._unit.conn = conn
            try:
                yield conn
            finally:
                self._unit.conn = None

    def transaction(self, what: str, *, read: bool = False) -> AbstractContextManager[Connection]:
        """One transaction, for the store modules that keep their own tables (``keibi.store.accounts``,
        ``keibi.store.detectors`` …); a database error becomes ``StoreError`` naming ``what``."""
        return self._transaction(what, read=read)

    # -- writing ---------------------------------------------------------------------------

    def upsert_findings(
        self,
        records: Sequence[FindingRecord],
        *,
        archive_new: Callable[[dict[str, Any]], bool] | None = None,
        created: set[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Store ``records``, merging each into the finding with its id (``keibi.findings.merge``),
        also records sharing an id within this call; all in one transaction. Returns the
        stored findings, in the order their ids first appear in ``records``.

        ``archive_new`` (suppression rules, ``keibi.store.filters.Suppression.archives``) is asked
        only about findings not stored yet, which are stored archived when it says so: only this
        transaction knows which findings are new, and a stored finding keeps its own state.
        The ids of the findings this call creates are added to ``created`` (publishing emits
        those at once and batches updates of the others)."""
        pending: dict[str, tuple[dict[str, Any], list[Evidence]]] = {}
        for record in records:
            if record.id in pending:
                found, pointers = pending[record.id]
                pending[record.id] = (merge(found, record.finding), [*pointers, *record.evidence])
            else:
                pending[record.id] = (record.finding, list(record.evidence))
        if not pending:
            return []
        # Inside a ``unit`` a failed statement has spoilt the transaction: no second try there.
        tries = 1 if getattr(self._unit, "conn", None) is not None else _TRIES
        for attempt in range(tries):
            try:
                new: set[str] = set()
                with self._transaction("store findings") as conn:
                    stored = self._upsert(conn, pending, archive_new, new)
                if created is not None:
                    created.update(new)
                return stored
            except sa.exc.IntegrityError as exc:
                if attempt + 1 == tries:
                    raise StoreError(
                        f"store {engines.safe(self.url)}: cannot store findings: {engines.reason(exc)}"
                    ) from exc
        raise AssertionError("unreachable")

    def _upsert(
        self,
        conn: Connection,
        pending: dict[str, tuple[dict[str, Any], list[Evidence]]],
        archive_new: Callable[[dict[str, Any]], bool] | None,
        created: set[str],
    ) -> list[dict[str, Any]]:
        ids = list(pending)
        existing = self._load(conn, ids, lock=True)
        stored: list[dict[str, Any]] = []
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for fid, (finding, _) in pending.items():
            old = existing.get(fid)
            final = merge(old, finding) if old is not None else finding
            if old is None and archive_new is not None and archive_new(final):
                final = {**final, "service": {**final.get("service", {}), "archived": True}}
            stored.append(final)
            row = finding_row(final)
            if old is None:
                inserts.append(row)
                created.add(fid)
            else:
                updates.append({"b_id": row.pop("id"), **row})
        if inserts:
            conn.execute(sa.insert(findings), inserts)
        if updates:
            conn.execute(sa.update(findings).where(findings.c.id == sa.bindparam("b_id")), updates)
        for chunk in chunks(ids):
            conn.execute(sa.delete(finding_resources).where(finding_resources.c.finding_id.in_(chunk)))
        owned = [
            {"finding_id": f["id"], "resource_id": rid}
            for f in stored
            for rid in resource_ids(f.get("resource", {}))
        ]
        if owned:
            conn.execute(sa.insert(finding_resources), owned)
        self._add_evidence(conn, {fid: ev for fid, (_, ev) in pending.items()})
        return stored

    def _add_evidence(self, conn: Connection, by_finding: dict[str, list[Evidence]]) -> None:
        rows = [
            {
                "finding_id": fid,
                "file": e.file,
                "line": e.line,
                "event_id": e.event_id,
                "event_time": e.event_time,
            }
            for fid, evs in by_finding.items()
            for e in sorted(evs, key=lambda e: e.event_time)[-EVIDENCE_KEPT:]
        ]
        if not rows:
            return
        conn.execute(sa.insert(evidence), rows)
        for chunk in chunks(list(by_finding)):
            full = conn.scalars(
                sa.select(evidence.c.finding_id)
                .where(evidence.c.finding_id.in_(chunk))
                .group_by(evidence.c.finding_id)
                .having(sa.func.count() > EVIDENCE_KEPT)
            ).all()
            for fid in full:
                keep = (
                    sa.select(evidence.c.id)
                    .where(evidence.c.finding_id == fid)
                    .order_by(evidence.c.event_time.desc(), evidence.c.id.desc())
                    .limit(EVIDENCE_KEPT)
                )
                conn.execute(
                    sa.delete(evidence).where(evidence.c.finding_id == fid, evidence.c.id.not_in(keep))
                )

    # -- input checkpoints ----------------------------------------------------------------

    def processed(self, files: Sequence[InputFile]) -> set[str]:
        """The uris of ``files`` already read by an earlier scan, with the same size and ETag."""
        done: set[str] = set()
        wanted = {uri: (size, etag) for uri, size, etag in files}
        with self._transaction("read checkpoints") as conn:
            for chunk in chunks(list(wanted)):
                rows = conn.execute(
                    sa.select(processed_files.c.uri, processed_files.c.size, processed_files.c.etag).where(
                        processed_files.c.uri.in_(chunk)
                    )
                )
                done.update(uri for uri, size, etag in rows if wanted[uri] == (size, etag))
        return done

    def mark_processed(
        self,
        files: Sequence[InputFile],
        at: datetime,
        details: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Record that ``files`` were read (replacing an older record of the same uri), with
        what each gave when ``details`` has its uri (``keibi.store.manifest.ManifestEntry``)."""
        rows = {
            uri: {
                "uri": uri,
                "size": size,
                "etag": etag,
                "processed_at": at,
                "state": "DONE",
                **(details or {}).get(uri, {}),
            }
            for uri, size, etag in files
        }
        if not rows:
            return
        with self._transaction("write checkpoints") as conn:
            for chunk in chunks(list(rows)):
                conn.execute(sa.delete(processed_files).where(processed_files.c.uri.in_(chunk)))
            conn.execute(sa.insert(processed_files), list(rows.values()))

    # -- detector state -------------------------------------------------------------------

    def detector_state(self) -> dict[str, bytes]:
        """What stateful detectors learned in earlier scans: detector id → its serialised state."""
        with self._transaction("read detector state") as conn:
            rows = conn.execute(sa.select(detector_state.c.detector_id, detector_state.c.state))
            return {str(did): bytes(blob) for did, blob in rows}

    def save_detector_state(
        self, states: Mapping[str, bytes], at: datetime, *, drop: Sequence[str] = ()
    ) -> None:
        """Replace the stored state of each detector in ``states`` and delete the entries named
        in ``drop``; others' entries stay."""
        if not states and not drop:
            return
        with self._transaction("write detector state") as conn:
            gone = [*states, *drop]
            for chunk in chunks(gone):
                conn.execute(sa.delete(detector_state).where(detector_state.c.detector_id.in_(chunk)))
            if states:
                conn.execute(
                    sa.insert(detector_state),
                    [{"detector_id": did, "state": blob, "updated_at": at} for did, blob in states.items()],
                )

    # -- behaviour profiles -----------------------------------------------------------------

    def profiles(
        self, detector_id: str | None = None, *, entity: str | None = None
    ) -> dict[str, pl.DataFrame]:
        """The stored behaviour profiles: detector id → its :data:`PROFILE` frame (only
        ``detector_id``'s, or only ``entity``'s rows, when given)."""
        query = sa.select(profiles)
        if detector_id is not None:
            query = query.where(profiles.c.detector_id == detector_id)
        if entity is not None:
            query = query.where(profiles.c.entity == entity)
        with self._transaction("read profiles", read=True) as conn:
            rows = conn.execute(query.order_by(profiles.c.detector_id)).all()
        out: dict[str, list[tuple[Any, ...]]] = {}
        for row in rows:
            out.setdefault(row[0], []).append(tuple(row[1:]))
        return {did: pl.DataFrame(data, schema=PROFILE, orient="row") for did, data in out.items()}

    def save_profile(self, detector_id: str, profile: pl.DataFrame, before: pl.DataFrame | None) -> int:
        """Write what changed from ``before`` (the frame as loaded) to ``profile``: rows new or
        different are replaced, rows gone are deleted. Returns the rows written or deleted."""
        key = list(PROFILE_KEY)
        profile = profile.cast(PROFILE)
        before = pl.DataFrame(schema=PROFILE) if before is None else before.cast(PROFILE)
        changed = profile.join(before, on=profile.columns, how="anti", nulls_equal=True)
        gone = before.join(profile, on=key, how="anti")
        stale = pl.concat([changed.select(key), gone.select(key)])
        if stale.is_empty():
            return 0
        c = profiles.c
        delete = sa.delete(profiles).where(
            c.detector_id == sa.bindparam("d"),
            c.entity == sa.bindparam("e"),
            c.feature == sa.bindparam("f"),
            c.value == sa.bindparam("v"),
        )
        with self._transaction("write profiles") as conn:
            conn.execute(
                delete, [{"d": detector_id, "e": e, "f": f, "v": v} for e, f, v in stale.iter_rows()]
            )
            if not changed.is_empty():
                conn.execute(
                    sa.insert(profiles),
                    [{"detector_id": detector_id, **row} for row in changed.iter_rows(named=True)],
                )
        return stale.height

    # -- threat and trusted lists (keibi.store.intel_lists) -----------------------------------

    def add_intel_list(self, spec: IntelListSpec, *, at: datetime | None = None) -> None:
        """Define a list; its content comes with its first refresh (``keibi.store.intel_sync``).

        Raises ``ConfigError`` when the name is taken or the definition is invalid (unknown
        format or category, a location keibi cannot fetch). A relative local path is stored
        absolute, so later runs from another directory still find it.
        """
        spec = _intel.checked(spec)
        row = _intel.spec_row(spec, at or datetime.now(UTC))
        taken = ConfigError(f"an intel list named {spec.name!r} already exists")
        try:
            with self._transaction("add an intel list") as conn:
                if conn.scalar(sa.select(intel_lists.c.name).where(intel_lists.c.name == spec.name)):
                    raise taken
                conn.execute(sa.insert(intel_lists).values(**row))
        except sa.exc.IntegrityError:  # added by another process since the check
            raise taken from None

    def intel_lists(self) -> list[IntelListRecord]:
        """Every stored list, in the order they were added."""
        with self._transaction("read intel lists", read=True) as conn:
            rows = conn.execute(sa.select(intel_lists).order_by(intel_lists.c.added_at, intel_lists.c.name))
            found = list(rows.mappings())
            previous = self._previous_versions(conn, {row["name"]: row["version"] for row in found})
        return [_intel.record(row, previous.get(row["name"])) for row in found]

    def intel_list(self, name: str) -> IntelListRecord | None:
        """The stored list ``name``, or ``None``."""
        with self._transaction("read intel lists", read=True) as conn:
            row = conn.execute(sa.select(intel_lists).where(intel_lists.c.name == name)).mappings().first()
            if row is None:
                return None
            previous = self._previous_versions(conn, {name: row["version"]})
        return _intel.record(row, previous.get(name))

    def _previous_versions(self, conn: Connection, current: Mapping[str, str | None]) -> dict[str, str]:
        stmt = sa.select(intel_list_versions.c.list_name, intel_list_versions.c.version).order_by(
            intel_list_versions.c.saved_at.desc(), intel_list_versions.c.version
        )
        if len(current) == 1:
            stmt = stmt.where(intel_list_versions.c.list_name == next(iter(current)))
        previous: dict[str, str] = {}
        for name, version in conn.execute(stmt):
            if name in current and name not in previous and version != current[name]:
                previous[name] = version
        return previous

    def remove_intel_list(self, name: str) -> bool:
        """Forget a list and its versions; ``False`` if there was none by that name."""
        with self._transaction("remove an intel list") as conn:
            conn.execute(sa.delete(intel_list_versions).where(intel_list_versions.c.list_name == name))
            return bool(conn.execute(sa.delete(intel_lists).where(intel_lists.c.name == name)).rowcount)

    def set_intel_list_active(self, name: str, active: bool) -> bool:
        """Switch a list on or off (an inactive list is kept and refreshed only when named);
        ``False`` if there is no list by that name."""
        with self._transaction("update an intel list") as conn:
            done = conn.execute(
                sa.update(intel_lists).where(intel_lists.c.name == name).values(active=active)
            )
            return bool(done.rowcount)

    def save_intel_version(self, name: str, lst: IntelList, fetched: Fetched, at: datetime) -> str:
        """Keep ``lst`` (parsed from ``fetched``) as the list's current version and return its id
        (the first 12 hex digits of the content's SHA-256). The version before stays as the
        previous one; older ones go. Saving the content already current only updates the
        fetch state."""
        return self._save_version(
            name,
            fetched,
            at,
            entries=len(lst),
            problems=lst.problems,
            blobs=_intel.encode_tables(lst),
        )

    def save_intel_document(self, name: str, fetched: Fetched, entries: int, at: datetime) -> str:
        """As :meth:`save_intel_version`, for a list kept as its document (AWS's ip-ranges.json)."""
        assert fetched.data is not None, "a not-modified fetch has no document to save"
        return self._save_version(
            name,
            fetched,
            at,
            entries=entries,
            problems=(),
            blobs={"document": gzip.compress(fetched.data, 6)},
        )

    def _save_version(
        self,
        name: str,
        fetched: Fetched,
        at: datetime,
        *,
        entries: int,
        problems: tuple[Any, ...],
        blobs: Mapping[str, bytes],
    ) -> str:
        if fetched.data is None or fetched.sha256 is None:
            raise ValueError(f"nothing to save for {name!r}: the fetch brought no content")
        version = fetched.sha256[:VERSION_DIGITS]
        with self._transaction("save an intel list version") as conn:
            locked = sa.select(intel_lists.c.name).where(intel_lists.c.name == name).with_for_update()
            if conn.scalar(locked) is None:
                raise ConfigError(f"no intel list named {name!r}")
            mine = intel_list_versions.c.list_name == name
            conn.execute(sa.delete(intel_list_versions).where(mine, intel_list_versions.c.version == version))
            conn.execute(
                sa.insert(intel_list_versions).values(
                    list_name=name,
                    version=version,
                    saved_at=at,
                    sha256=fetched.sha256,
                    etag=fetched.etag,
                    last_modified=fetched.last_modified,
                    entries=entries,
                    problems=len(problems),
                    problem_lines=_intel.encode_problems(problems),
                    **blobs,
                )
            )
            kept = (
                sa.select(intel_list_versions.c.version)
                .where(mine)
                .order_by(intel_list_versions.c.saved_at.desc(), intel_list_versions.c.version)
                .limit(VERSIONS_KEPT)
            )
            conn.execute(
                sa.delete(intel_list_versions).where(mine, intel_list_versions.c.version.not_in(kept))
            )
            conn.execute(
                sa.update(intel_lists)
                .where(intel_lists.c.name == name)
                .values(
                    version=version,
                    sha256=fetched.sha256,
                    entries=entries,
                    problems=len(problems),
                    etag=fetched.etag,
                    last_modified=fetched.last_modified,
                    fetched_at=at,
                    checked_at=at,
                    last_error=None,
                )
            )
        return version

    def record_intel_check(
        self, name: str, at: datetime, *, fetched: Fetched | None = None, error: str | None = None
    ) -> None:
        """Note a refresh attempt that saved no new version: a fetch whose content had not
        changed (``fetched``: its ETag and Last-Modified are kept for the next request) or a
        failure (``error``; the current version stays)."""
        values: dict[str, Any] = {"checked_at": at, "last_error": error}
        if error is None and fetched is not None:
            values |= {"fetched_at": at, "etag": fetched.etag, "last_modified": fetched.last_modified}
        with self._transaction("update an intel list") as conn:
            conn.execute(sa.update(intel_lists).where(intel_lists.c.name == name).values(**values))

    def load_intel_list(self, name: str, version: str | None = None) -> IntelList | None:
        """Stored list ``name`` as of ``version`` (default: the current one), or ``None`` when
        there is no such list or version."""
        with self._transaction("read an intel list", read=True) as conn:
            rows = self._version_rows(conn, name=name, version=version)
        return _intel.intel_list(rows[0]) if rows else None

    def active_intel_lists(self) -> list[IntelList]:
        """The current version of every active list (never-fetched lists have none), in the
        order the lists were added; ``version`` and ``source`` (the location) set."""
        with self._transaction("read intel lists", read=True) as conn:
            rows = self._version_rows(conn, active=True)
        return [_intel.intel_list(row) for row in rows]

    def intel_document(self, name: str) -> bytes | None:
        """The current version's document of a list kept as one (``aws-ip-ranges``), or ``None``."""
        with self._transaction("read an intel list", read=True) as conn:
            rows = self._version_rows(conn, name=name, documents=True)
        blob = rows[0]["document"] if rows else None
        return gzip.decompress(bytes(blob)) if blob is not None else None

    def _version_rows(
        self,
        conn: Connection,
        *,
        name: str | None = None,
        version: str | None = None,
        active: bool = False,
        documents: bool = False,
    ) -> list[RowMapping]:
        v = intel_list_versions.c
        lists = intel_lists.c
        stmt = sa.select(
            lists.name,
            lists.kind,
            lists.category,
            lists.location,
            v.version,
            v.problem_lines,
            v.ipv4,
            v.ipv6,
            v.domains,
            v.document,
        ).join(intel_list_versions, v.list_name == lists.name)
        stmt = stmt.where(v.version == (version if version is not None else lists.version))
        if name is not None:
            stmt = stmt.where(lists.name == name)
        if active:
            stmt = stmt.where(lists.active.is_(True))
        stmt = stmt.where(
            (lists.format == AWS_RANGES_FORMAT) if documents else (lists.format != AWS_RANGES_FORMAT)
        )
        return list(conn.execute(stmt.order_by(lists.added_at, lists.name)).mappings())

    def set_archived(self, ids: Sequence[str], archived: bool = True) -> int:
        """Archive (or unarchive) findings, as GuardDuty's ArchiveFindings; returns how many changed."""
        return self._set_service(ids, "archived", archived, "archive findings")

    def set_feedback(self, ids: Sequence[str], feedback: str) -> int:
        """Record the user's ``USEFUL``/``NOT_USEFUL`` (GuardDuty's UpdateFindingsFeedback)."""
        return self._set_service(ids, "userFeedback", feedback, "record feedback")

    def _set_service(self, ids: Sequence[str], key: str, value: Any, what: str) -> int:
        changed = 0
        with self._transaction(what) as conn:
            for fid, finding in self._load(conn, list(dict.fromkeys(ids)), lock=True).items():
                service = finding.setdefault("service", {})
                if key in service and service[key] == value:
                    continue
                service[key] = value
                values: dict[str, Any] = {"data": orjson.dumps(finding).decode()}
                if key == "archived":
                    values["archived"] = bool(value)
                conn.execute(sa.update(findings).where(findings.c.id == fid).values(**values))
                changed += 1
        return changed

    # -- work derived from lists, cached (keibi.store.intel_cache) ----------------------------

    def cached_intel(self, kind: str, key: str, *, at: datetime | None = None) -> bytes | None:
        """The blob saved under ``key`` as ``kind`` (``cache_intel``), or ``None``.

        A blob whose digest no longer matches (damaged in storage: a damaged Arrow file can
        still decode, to wrong tables) is dropped and is a miss. A hit is marked used ``at``
        (default now), so pruning keeps what scans use.
        """
        c = intel_cache.c
        mine = (c.kind == kind) & (c.key == key)
        with self._transaction("read the intel cache", read=True) as conn:
            row = conn.execute(sa.select(c.sha256, c.blob).where(mine)).first()
        if row is None:
            return None
        blob = bytes(row.blob)
        intact = hashlib.sha256(blob).hexdigest() == row.sha256
        with self._transaction("update the intel cache") as conn:
            if intact:
                conn.execute(sa.update(intel_cache).where(mine).values(last_used_at=at or datetime.now(UTC)))
            else:
                conn.execute(sa.delete(intel_cache).where(mine, c.sha256 == row.sha256))
        return blob if intact else None

    def cache_intel(
        self, kind: str, key: str, blob: bytes, *, at: datetime | None = None, keep: int = INTEL_CACHE_KEPT
    ) -> None:
        """Save ``blob`` under ``key`` as ``kind`` (replacing an entry of that key), then keep only
        the ``keep`` most recently used entries of ``kind``. When another process saves the
        same key at the same moment, its copy stays: a key names its content."""
        when = at or datetime.now(UTC)
        c = intel_cache.c
        try:
            with self._transaction("write the intel cache") as conn:
                conn.execute(sa.delete(intel_cache).where(c.key == key))
                conn.execute(
                    sa.insert(intel_cache).values(
                        key=key,
                        kind=kind,
                        created_at=when,
                        last_used_at=when,
                        size=len(blob),
                        sha256=hashlib.sha256(blob).hexdigest(),
                        blob=blob,
                    )
                )
                kept = (
                    sa.select(c.key)
                    .where(c.kind == kind)
                    .order_by(c.last_used_at.desc(), c.key)
                    .limit(max(keep, 1))
                )
                conn.execute(sa.delete(intel_cache).where(c.kind == kind, c.key.not_in(kept)))
        except sa.exc.IntegrityError:
            return

    def cached_matcher(self, key: str) -> bytes | None:
        """Built match tables saved under ``key`` (``keibi.intel.lookup.MatcherCache``)."""
        return self.cached_intel("matcher", key)

    def cache_matcher(self, key: str, blob: bytes) -> None:
        """Keep built match tables under ``key`` (``keibi.intel.lookup.MatcherCache``)."""
        self.cache_intel("matcher", key, blob)

    # -- reading ---------------------------------------------------------------------------

    def _load(self, conn: Connection, ids: Sequence[str], *, lock: bool = False) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for chunk in chunks(ids):
            stmt = sa.select(findings.c.id, findings.c.data).where(findings.c.id.in_(chunk))
            if lock:
                stmt = stmt.with_for_update()
            for fid, data in conn.execute(stmt):
                out[fid] = orjson.loads(data)
        return out

    def get_findings(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The stored findings with these ids, in the order asked (unknown ids are skipped)."""
        wanted = list(dict.fromkeys(ids))
        with self._transaction("read findings", read=True) as conn:
            found = self._load(conn, wanted)
        return [found[i] for i in wanted if i in found]

    def list_findings(self, q: FindingQuery) -> list[dict[str, Any]]:
        """The findings ``q`` selects, most severe first, then most recently updated."""
        with self._transaction("list findings", read=True) as conn:
            return [orjson.loads(data) for data in conn.scalars(q.select())]

    def evidence(self, finding_id: str) -> list[Evidence]:
        """The evidence records kept for a finding, oldest first (at most ``EVIDENCE_KEPT``)."""
        stmt = (
            sa.select(evidence.c.file, evidence.c.line, evidence.c.event_id, evidence.c.event_time)
            .where(evidence.c.finding_id == finding_id)
            .order_by(evidence.c.event_time, evidence.c.id)
        )
        with self._transaction("read evidence", read=True) as conn:
            return [
                Evidence(
                    file=file,
                    line=line,
                    event_id=event_id,
                    event_time=event_time or datetime.min.replace(tzinfo=UTC),
                )
                for file, line, event_id, event_time in conn.execute(stmt)
            ]
