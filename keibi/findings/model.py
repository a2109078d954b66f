"""What the builder hands the store: a GuardDuty finding plus the raw records behind it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Evidence:
    """A pointer to one raw log record: the file as given to keibi, its 1-based line
    (for ``{"Records": [...]}`` files the record's position), CloudTrail's ``eventID`` when
    there is one, and the record's event time.

    >>> Evidence(file="trail.json", line=3, event_id="3f1c…", event_time=datetime(2026, 1, 1))
    Evidence(file='trail.json', line=3, event_id='3f1c…', event_time=datetime.datetime(2026, 1, 1, 0, 0))
    """

    file: str
    line: int | None
    event_id: str | None
    event_time: datetime


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """One occurrence group of a finding: GuardDuty's lowerCamelCase JSON (``finding``) and
    the evidence records (``evidence``, oldest first, at most ``EVIDENCE_CAP`` of the newest)."""

    finding: dict[str, Any]
    evidence: list[Evidence]

    @property
    def id(self) -> str:
        return str(self.finding["id"])
