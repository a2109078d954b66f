"""The store: findings and evidence in SQLite by default, PostgreSQL by URL (SQLAlchemy Core)."""

from keibi.store.migrations import MIGRATIONS, migrate
from keibi.store.query import FindingQuery, SeverityBand
from keibi.store.store import DB_FILE, EVIDENCE_KEPT, Store

__all__ = ["DB_FILE", "EVIDENCE_KEPT", "MIGRATIONS", "FindingQuery", "SeverityBand", "Store", "migrate"]
