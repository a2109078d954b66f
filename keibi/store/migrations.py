"""Schema migrations: an ordered list of functions, each applied once, in its own transaction.

``MIGRATIONS[i]`` is version ``i + 1``. ``migrate`` records each applied version in
``schema_migrations``; opening an up-to-date database applies nothing. A migration is
frozen once released: it spells out the DDL of its own time (not ``keibi.store.tables``,
which always describes the latest schema), and a later change is a new function appended
to the list. Concurrent openers are serialised (``BEGIN IMMEDIATE`` on SQLite, an advisory
lock on PostgreSQL), so two processes starting at once do not both migrate.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from keibi.errors import StoreError
from keibi.store.tables import ROW_ID, UTCDateTime, schema_migrations

Migration = Callable[[Connection], None]

_LOCK_KEY: Final = 0x6B656962  # "keib": PostgreSQL advisory lock id for migrations


def _v1_findings_and_evidence(conn: Connection) -> None:
    """findings, finding_resources and evidence, with the indexes queries use."""
    meta = sa.MetaData()
    findings = sa.Table(
        "findings",
        meta,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("severity", sa.Float, nullable=False),
        sa.Column("resource_type", sa.String(32)),
        sa.Column("resource_id", sa.String(256)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("event_first_seen", UTCDateTime),
        sa.Column("event_last_seen", UTCDateTime),
        sa.Column("archived", sa.Boolean, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Index("ix_findings_type", "type"),
        sa.Index("ix_findings_account_id", "account_id"),
        sa.Index("ix_findings_event_last_seen", "event_last_seen"),
        sa.Index("ix_findings_resource_id", "resource_id"),
        sa.Index("ix_findings_severity_updated_at", "severity", "updated_at"),
    )
    resources = sa.Table(
        "finding_resources",
        meta,
        sa.Column(
            "finding_id", sa.String(64), sa.ForeignKey("findings.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("resource_id", sa.String(256), primary_key=True),
        sa.Index("ix_finding_resources_resource_id", "resource_id"),
    )
    evidence = sa.Table(
        "evidence",
        meta,
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column(
            "finding_id", sa.String(64), sa.ForeignKey("findings.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("file", sa.Text, nullable=False),
        sa.Column("line", sa.Integer),
        sa.Column("event_id", sa.String(128)),
        sa.Column("event_time", UTCDateTime, nullable=False),
        sa.Index("ix_evidence_finding_id_event_time", "finding_id", "event_time"),
    )
    for table in (findings, resources, evidence):
        table.create(conn)


def _v2_processed_files(conn: Connection) -> None:
    """processed_files: which input files (by uri, size and ETag) a scan has already read."""
    sa.Table(
        "processed_files",
        sa.MetaData(),
        sa.Column("uri", sa.String(1024), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("etag", sa.String(128)),
        sa.Column("processed_at", UTCDateTime, nullable=False),
    ).create(conn)


def _v3_detector_state(conn: Connection) -> None:
    """detector_state: what stateful detectors learned (an Arrow IPC frame each), kept across scans."""
    sa.Table(
        "detector_state",
        sa.MetaData(),
        sa.Column("detector_id", sa.String(128), primary_key=True),
        sa.Column("state", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    ).create(conn)


def _v4_intel_lists(conn: Connection) -> None:
    """intel_lists and intel_list_versions: threat and trusted lists kept in the store, their
    refresh state, and the parsed content of their current and previous versions."""
    meta = sa.MetaData()
    lists = sa.Table(
        "intel_lists",
        meta,
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("feed", sa.String(128)),
        sa.Column("refresh_minutes", sa.Integer),
        sa.Column("added_at", UTCDateTime, nullable=False),
        sa.Column("version", sa.String(64)),
        sa.Column("sha256", sa.String(64)),
        sa.Column("entries", sa.BigInteger),
        sa.Column("problems", sa.BigInteger),
        sa.Column("etag", sa.String(1024)),
        sa.Column("last_modified", sa.String(64)),
        sa.Column("fetched_at", UTCDateTime),
        sa.Column("checked_at", UTCDateTime),
        sa.Column("last_error", sa.Text),
    )
    versions = sa.Table(
        "intel_list_versions",
        meta,
        sa.Column(
            "list_name",
            sa.String(128),
            sa.ForeignKey("intel_lists.name", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("saved_at", UTCDateTime, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("etag", sa.String(1024)),
        sa.Column("last_modified", sa.String(64)),
        sa.Column("entries", sa.BigInteger, nullable=False),
        sa.Column("problems", sa.BigInteger, nullable=False),
        sa.Column("problem_lines", sa.Text, nullable=False),
        sa.Column("ipv4", sa.LargeBinary),
        sa.Column("ipv6", sa.LargeBinary),
        sa.Column("domains", sa.LargeBinary),
        sa.Column("document", sa.LargeBinary),
    )
    for table in (lists, versions):
        table.create(conn)


def _v5_intel_cache(conn: Connection) -> None:
    """intel_cache: work derived from threat lists (built match tables, parsed list files),
    kept by a key naming what it was derived from, with a digest to catch a damaged blob."""
    sa.Table(
        "intel_cache",
        sa.MetaData(),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_used_at", UTCDateTime, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("blob", sa.LargeBinary, nullable=False),
        sa.Index("ix_intel_cache_kind_last_used_at", "kind", "last_used_at"),
    ).create(conn)


def _v6_profiles(conn: Connection) -> None:
    """profiles: the behaviour baselines, one row per (detector, entity, feature, value)."""
    sa.Table(
        "profiles",
        sa.MetaData(),
        sa.Column("detector_id", sa.String(128), primary_key=True),
        sa.Column("entity", sa.String(512), primary_key=True),
        sa.Column("feature", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(256), primary_key=True),
        sa.Column("first_seen", UTCDateTime, nullable=False),
        sa.Column("last_seen", UTCDateTime, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("peak", sa.Float, nullable=True),
        sa.Column("total", sa.Float, nullable=True),
    ).create(conn)


def _v7_guardduty_api(conn: Connection) -> None:
    """The GuardDuty API's own state (``keibi.api``): access keys per account, detectors,
    filters, members, API-managed lists, publishing destinations, tags, and usage counts."""
    meta = sa.MetaData()
    sa.Table(
        "api_keys",
        meta,
        sa.Column("access_key_id", sa.String(32), primary_key=True),
        sa.Column("secret_access_key", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("name", sa.String(128)),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Index("ix_api_keys_account_id", "account_id"),
    )
    sa.Table(
        "detectors",
        meta,
        sa.Column("detector_id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("finding_publishing_frequency", sa.String(32), nullable=False),
        sa.Column("data_sources", sa.Text, nullable=False),
        sa.Column("features", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("account_id", "region", name="uq_detectors_account_region"),
    )
    sa.Table(
        "filters",
        meta,
        sa.Column("detector_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("criteria", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    sa.Table(
        "members",
        meta,
        sa.Column("detector_id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(12), primary_key=True),
        sa.Column("administrator_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("email", sa.String(256), nullable=False),
        sa.Column("relationship_status", sa.String(32), nullable=False),
        sa.Column("invitation_id", sa.String(64)),
        sa.Column("invited_at", UTCDateTime),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Index("ix_members_account_id_region", "account_id", "region"),
    )
    sa.Table(
        "api_lists",
        meta,
        sa.Column("list_id", sa.String(32), primary_key=True),
        sa.Column("detector_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("intel_name", sa.String(128), nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("expected_bucket_owner", sa.String(12)),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Index("ix_api_lists_detector_id_kind", "detector_id", "kind"),
    )
    sa.Table(
        "publishing_destinations",
        meta,
        sa.Column("destination_id", sa.String(32), primary_key=True),
        sa.Column("detector_id", sa.String(32), nullable=False),
        sa.Column("destination_type", sa.String(16), nullable=False),
        sa.Column("destination_arn", sa.Text, nullable=False),
        sa.Column("kms_key_arn", sa.Text, nullable=False),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Index("ix_publishing_destinations_detector_id", "detector_id"),
    )
    sa.Table(
        "tags",
        meta,
        sa.Column("arn", sa.String(512), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
    )
    sa.Table(
        "usage",
        meta,
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("data_source", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(256), nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.Index("ix_usage_account_id_region_day", "account_id", "region", "day"),
    )
    meta.create_all(conn)


def _v8_finding_list_indexes(conn: Connection) -> None:
    """Indexes for the API's ListFindings: per region, in ``updatedAt`` or ``severity`` order with
    the id as tie-break, holding the columns filters test most (account, severity, archived), so
    a page is read from the index in order instead of sorting every finding of the accounts."""
    for name, columns in (
        (
            "ix_findings_region_updated_at",
            ("region", "updated_at", "id", "account_id", "severity", "archived"),
        ),
        ("ix_findings_region_severity", ("region", "severity", "id", "account_id", "archived", "updated_at")),
    ):
        conn.execute(sa.text(f"CREATE INDEX {name} ON findings ({', '.join(columns)})"))


def _v9_continuous_monitoring(conn: Connection) -> None:
    """The watch manifest (``processed_files`` gains what each file gave: its source, state,
    events, errors, event-time span), the watch sources' listing markers, and the publishing
    outbox: per-finding publish state, the events emitted, their deliveries per target, and the
    dead letters of deliveries that gave up; and the API's answered clientTokens (idempotent
    Create calls)."""
    for column in (
        "source VARCHAR(512)",
        "state VARCHAR(16)",
        "events BIGINT",
        "errors BIGINT",
        "detail TEXT",
        "first_event_at TIMESTAMP",
        "last_event_at TIMESTAMP",
    ):
        if conn.dialect.name == "postgresql" and column.endswith("TIMESTAMP"):
            column += " WITH TIME ZONE"
        conn.execute(sa.text(f"ALTER TABLE processed_files ADD COLUMN {column}"))
    conn.execute(sa.text("CREATE INDEX ix_processed_files_source ON processed_files (source, processed_at)"))
    meta = sa.MetaData()
    tables = [
        sa.Table(
            "watch_markers",
            meta,
            sa.Column("source", sa.String(512), primary_key=True),
            sa.Column("key", sa.String(1024), primary_key=True),
            sa.Column("value", sa.String(1024), nullable=False),
        ),
        sa.Table(
            "published_findings",
            meta,
            sa.Column("finding_id", sa.String(64), primary_key=True),
            sa.Column("account_id", sa.String(32), nullable=False),
            sa.Column("region", sa.String(32), nullable=False),
            sa.Column("suppressed", sa.Boolean, nullable=False),
            sa.Column("published_count", sa.Integer, nullable=False),
            sa.Column("pending_since", UTCDateTime),
            sa.Column("published_at", UTCDateTime),
            sa.Index("ix_published_findings_pending", "pending_since"),
        ),
        sa.Table(
            "publish_events",
            meta,
            sa.Column("event_id", sa.String(36), primary_key=True),
            sa.Column("finding_id", sa.String(64), nullable=False),
            sa.Column("kind", sa.String(8), nullable=False),
            sa.Column("account_id", sa.String(32), nullable=False),
            sa.Column("region", sa.String(32), nullable=False),
            sa.Column("created_at", UTCDateTime, nullable=False),
            sa.Column("body", sa.Text, nullable=False),
            sa.Index("ix_publish_events_created_at", "created_at"),
        ),
        sa.Table(
            "deliveries",
            meta,
            sa.Column("event_id", sa.String(36), primary_key=True),
            sa.Column("target", sa.String(256), primary_key=True),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("next_attempt_at", UTCDateTime, nullable=False),
            sa.Column("last_error", sa.Text),
            sa.Column("last_failed_at", UTCDateTime),
            sa.Column("delivered_at", UTCDateTime),
            sa.Index("ix_deliveries_due", "target", "delivered_at", "next_attempt_at"),
        ),
        sa.Table(
            "client_tokens",
            meta,
            sa.Column("account_id", sa.String(32), primary_key=True),
            sa.Column("region", sa.String(32), primary_key=True),
            sa.Column("operation", sa.String(64), primary_key=True),
            sa.Column("token", sa.String(128), primary_key=True),
            sa.Column("request_hash", sa.String(64), nullable=False),
            sa.Column("response", sa.Text, nullable=False),
            sa.Column("created_at", UTCDateTime, nullable=False),
        ),
        sa.Table(
            "dead_letters",
            meta,
            sa.Column("event_id", sa.String(36), primary_key=True),
            sa.Column("target", sa.String(256), primary_key=True),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("last_error", sa.Text, nullable=False),
            sa.Column("failed_at", UTCDateTime, nullable=False),
        ),
    ]
    for table in tables:
        table.create(conn)


MIGRATIONS: list[Migration] = [
    _v1_findings_and_evidence,
    _v2_processed_files,
    _v3_detector_state,
    _v4_intel_lists,
    _v5_intel_cache,
    _v6_profiles,
    _v7_guardduty_api,
    _v8_finding_list_indexes,
    _v9_continuous_monitoring,
]


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def _applied(conn: Connection) -> set[int]:
    return set(conn.scalars(sa.select(schema_migrations.c.version)))


def migrate(engine: Engine, migrations: list[Migration] | None = None) -> list[int]:
    """Apply the migrations ``engine``'s database lacks; return the versions applied now."""
    steps = MIGRATIONS if migrations is None else migrations
    with engine.begin() as conn:
        _lock(conn)
        schema_migrations.create(conn, checkfirst=True)
        known = _applied(conn)
    newer = sorted(v for v in known if v > len(steps))
    if newer:
        raise StoreError(
            f"the database is at schema version {newer[-1]}, newer than this keibi knows ({len(steps)}); upgrade keibi"
        )
    done: list[int] = []
    for version, step in enumerate(steps, start=1):
        if version in known:
            continue
        with engine.begin() as conn:
            _lock(conn)
            if version in _applied(conn):  # another process got here first
                continue
            step(conn)
            conn.execute(sa.insert(schema_migrations).values(version=version, applied_at=datetime.now(UTC)))
        done.append(version)
    return done
