"""The store's tables as the code reads and writes them (``migrations`` creates them).

``findings`` holds one row per finding: the GuardDuty JSON in ``data`` plus the columns
queries filter and sort on. ``finding_resources`` lists every identifier of a finding's
resource (instance, ENI, access key, principal, user, bucket) so ``--resource`` matches any
of them. ``evidence`` points at raw log records, at most ``EVIDENCE_KEPT`` per finding.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (naive text) and PostgreSQL
    (``timestamptz``) alike."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return as_utc(value)


def as_utc(value: Any) -> datetime | None:
    """A stored timestamp as an aware UTC datetime; also for aggregates (``max`` …), which
    bypass the column type and come back from SQLite as text."""
    if value is None:
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


# SQLite's rowid alias must be spelt INTEGER; PostgreSQL gets a 64-bit identity.
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)

findings = sa.Table(
    "findings",
    metadata,
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
)

finding_resources = sa.Table(
    "finding_resources",
    metadata,
    sa.Column(
        "finding_id", sa.String(64), sa.ForeignKey("findings.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("resource_id", sa.String(256), primary_key=True),
)

evidence = sa.Table(
    "evidence",
    metadata,
    sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("finding_id", sa.String(64), sa.ForeignKey("findings.id", ondelete="CASCADE"), nullable=False),
    sa.Column("file", sa.Text, nullable=False),
    sa.Column("line", sa.Integer),
    sa.Column("event_id", sa.String(128)),
    sa.Column("event_time", UTCDateTime, nullable=False),
)

# The manifest: every input file read, by uri with the size and ETag it had. A scan fills the
# first four columns; the watch loop also what the file gave (``keibi.store.manifest``).
processed_files = sa.Table(
    "processed_files",
    metadata,
    sa.Column("uri", sa.String(1024), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("etag", sa.String(128)),
    sa.Column("processed_at", UTCDateTime, nullable=False),
    sa.Column("source", sa.String(512)),
    sa.Column("state", sa.String(16)),
    sa.Column("events", sa.BigInteger),
    sa.Column("errors", sa.BigInteger),
    sa.Column("detail", sa.Text),
    sa.Column("first_event_at", UTCDateTime),
    sa.Column("last_event_at", UTCDateTime),
)

# Where each watched source's listing stands (e.g. the last S3 key committed, per partition).
watch_markers = sa.Table(
    "watch_markers",
    metadata,
    sa.Column("source", sa.String(512), primary_key=True),
    sa.Column("key", sa.String(1024), primary_key=True),
    sa.Column("value", sa.String(1024), nullable=False),
)

detector_state = sa.Table(
    "detector_state",
    metadata,
    sa.Column("detector_id", sa.String(128), primary_key=True),
    sa.Column("state", sa.LargeBinary, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Behaviour baselines (``keibi.detect.behavior.profile``): what each entity did, per detector.
profiles = sa.Table(
    "profiles",
    metadata,
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
)

# Threat and trusted lists kept in the store (``keibi intel add``), one row each, with the state
# of their last refresh; ``intel_list_versions`` holds the parsed content of the current and the
# previous version (Arrow IPC tables, or the raw document for ``aws-ip-ranges``).
intel_lists = sa.Table(
    "intel_lists",
    metadata,
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

intel_list_versions = sa.Table(
    "intel_list_versions",
    metadata,
    sa.Column(
        "list_name", sa.String(128), sa.ForeignKey("intel_lists.name", ondelete="CASCADE"), primary_key=True
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

# Work derived from threat lists, kept so the next scan need not redo it (``Store.cached_intel``):
# ``kind`` "matcher" (built match tables, ``keibi.intel.match``) or "list" (a list file's
# parsed tables), keyed by a SHA-256 naming the inputs; ``sha256`` is the blob's own digest.
intel_cache = sa.Table(
    "intel_cache",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("blob", sa.LargeBinary, nullable=False),
)

# The GuardDuty API's own state (``keibi.api``), all per detector: one detector per account and
# region, its id ``keibi.findings.build.detector_id(account, region)`` as findings carry it.
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("access_key_id", sa.String(32), primary_key=True),
    sa.Column("secret_access_key", sa.String(64), nullable=False),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("name", sa.String(128)),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

detectors = sa.Table(
    "detectors",
    metadata,
    sa.Column("detector_id", sa.String(32), primary_key=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # ENABLED | DISABLED
    sa.Column("finding_publishing_frequency", sa.String(32), nullable=False),
    sa.Column("data_sources", sa.Text, nullable=False),  # JSON: DataSourceConfigurationsResult (wire)
    sa.Column("features", sa.Text, nullable=False),  # JSON: [DetectorFeatureConfigurationResult] (wire)
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Saved filters and suppression rules (action ARCHIVE); ``criteria`` is FindingCriteria (wire JSON).
filters = sa.Table(
    "filters",
    metadata,
    sa.Column("detector_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("rank", sa.Integer, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("criteria", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# An administrator's member accounts: ``detector_id`` is the administrator's detector. An
# invitation is a row in status Invited; the member sees it through ``account_id`` + ``region``.
members = sa.Table(
    "members",
    metadata,
    sa.Column("detector_id", sa.String(32), primary_key=True),
    sa.Column("account_id", sa.String(12), primary_key=True),
    sa.Column("administrator_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("email", sa.String(256), nullable=False),
    sa.Column("relationship_status", sa.String(32), nullable=False),
    sa.Column("invitation_id", sa.String(64)),
    sa.Column("invited_at", UTCDateTime),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# IPSets, ThreatIntelSets, TrustedEntitySets and ThreatEntitySets made through the API; each is
# backed by the intel list ``intel_name`` (``intel_lists``), which the scan matches.
api_lists = sa.Table(
    "api_lists",
    metadata,
    sa.Column("list_id", sa.String(32), primary_key=True),
    sa.Column("detector_id", sa.String(32), nullable=False),
    # IPSet | ThreatIntelSet | TrustedEntitySet | ThreatEntitySet
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
)

publishing_destinations = sa.Table(
    "publishing_destinations",
    metadata,
    sa.Column("destination_id", sa.String(32), primary_key=True),
    sa.Column("detector_id", sa.String(32), nullable=False),
    sa.Column("destination_type", sa.String(16), nullable=False),
    sa.Column("destination_arn", sa.Text, nullable=False),
    sa.Column("kms_key_arn", sa.Text, nullable=False),
    sa.Column("status", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Tags of any API resource (detector, filter, list, destination), by its ARN.
tags = sa.Table(
    "tags",
    metadata,
    sa.Column("arn", sa.String(512), primary_key=True),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

# What scans analysed, appended per scan: events and bytes per day, account, region, data source
# (GuardDuty's DataSource names) and resource; GetUsageStatistics sums it.
usage = sa.Table(
    "usage",
    metadata,
    sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("account_id", sa.String(32), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("data_source", sa.String(32), nullable=False),
    sa.Column("resource_id", sa.String(256), nullable=False),
    sa.Column("events", sa.BigInteger, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
)

# Publishing (``keibi.publish.outbox``): per finding, whether it may be published (not
# suppressed), the count last published and since when an update waits for the publishing
# frequency; the events emitted (EventBridge JSON, written with the findings they carry); their
# delivery per target; and the deliveries that gave up.
published_findings = sa.Table(
    "published_findings",
    metadata,
    sa.Column("finding_id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(32), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("suppressed", sa.Boolean, nullable=False),
    sa.Column("published_count", sa.Integer, nullable=False),
    sa.Column("pending_since", UTCDateTime),
    sa.Column("published_at", UTCDateTime),
)

publish_events = sa.Table(
    "publish_events",
    metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("finding_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("account_id", sa.String(32), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("target", sa.String(256), primary_key=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("last_failed_at", UTCDateTime),
    sa.Column("delivered_at", UTCDateTime),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("target", sa.String(256), primary_key=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text, nullable=False),
    sa.Column("failed_at", UTCDateTime, nullable=False),
)

# GuardDuty's idempotent Create calls: the answer given to each (account, region, operation,
# clientToken), with a hash of the request it answered (``keibi.store.client_tokens``).
client_tokens = sa.Table(
    "client_tokens",
    metadata,
    sa.Column("account_id", sa.String(32), primary_key=True),
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("operation", sa.String(64), primary_key=True),
    sa.Column("token", sa.String(128), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("response", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)
