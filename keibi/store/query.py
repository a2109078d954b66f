"""``FindingQuery``: what ``Store.list_findings`` filters on, compiled to one SELECT."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

import sqlalchemy as sa

from keibi.store.tables import finding_resources, findings

SeverityBand = Literal["low", "medium", "high", "critical"]

# GuardDuty's bands (finding_format.md §1): [low, high) on the numeric severity.
BANDS: Final[dict[SeverityBand, tuple[float | None, float | None]]] = {
    "low": (None, 4.0),
    "medium": (4.0, 7.0),
    "high": (7.0, 9.0),
    "critical": (9.0, None),
}


@dataclass(frozen=True, slots=True)
class FindingQuery:
    """Which stored findings to list; empty tuples and ``None`` mean "any".

    ``resource_ids`` match any identifier of the resource (instance, ENI, access key,
    principal, user name, bucket); ``since`` (inclusive) and ``until`` (exclusive) bound
    ``service.eventLastSeen``; ``archived=None`` lists archived and active findings.
    Results are sorted by severity, then ``updatedAt``, newest first.

    >>> FindingQuery(types=("Recon:EC2/Portscan",), severity="medium", limit=10)
    """

    types: tuple[str, ...] = ()
    severity: SeverityBand | None = None
    account_ids: tuple[str, ...] = ()
    resource_ids: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    archived: bool | None = False
    limit: int | None = None

    def select(self) -> sa.Select[str]:
        """The ``data`` column of the matching findings, in result order."""
        stmt = sa.select(findings.c.data)
        if self.types:
            stmt = stmt.where(findings.c.type.in_(self.types))
        if self.severity is not None:
            low, high = BANDS[self.severity]
            if low is not None:
                stmt = stmt.where(findings.c.severity >= low)
            if high is not None:
                stmt = stmt.where(findings.c.severity < high)
        if self.account_ids:
            stmt = stmt.where(findings.c.account_id.in_(self.account_ids))
        if self.resource_ids:
            owners = sa.select(finding_resources.c.finding_id).where(
                finding_resources.c.resource_id.in_(self.resource_ids)
            )
            stmt = stmt.where(findings.c.id.in_(owners))
        if self.since is not None:
            stmt = stmt.where(findings.c.event_last_seen >= self.since)
        if self.until is not None:
            stmt = stmt.where(findings.c.event_last_seen < self.until)
        if self.archived is not None:
            stmt = stmt.where(findings.c.archived == self.archived)
        stmt = stmt.order_by(findings.c.severity.desc(), findings.c.updated_at.desc(), findings.c.id)
        if self.limit is not None:
            stmt = stmt.limit(self.limit)
        return stmt
