"""The store: findings and evidence in SQLite by default, PostgreSQL by URL (SQLAlchemy Core).

It also keeps threat and trusted lists with their versions (``keibi.store.intel_lists``);
``keibi.store.intel_sync`` refreshes them from where they live.
"""

from keibi.store.intel_lists import AWS_RANGES_LIST, IntelListRecord, IntelListSpec
from keibi.store.migrations import MIGRATIONS, migrate
from keibi.store.query import FindingQuery, SeverityBand
from keibi.store.store import DB_FILE, EVIDENCE_KEPT, Store

__all__ = [
    "AWS_RANGES_LIST",
    "DB_FILE",
    "EVIDENCE_KEPT",
    "MIGRATIONS",
    "FindingQuery",
    "IntelListRecord",
    "IntelListSpec",
    "SeverityBand",
    "Store",
    "migrate",
]
