"""A run's summary of what was read and what was skipped, per source."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from keibi.errors import InputError
from keibi.sources.schema import SOURCES, SourceName

MAX_STORED_ERRORS: Final = 1000


def _per_source() -> dict[SourceName, int]:
    return dict.fromkeys(SOURCES, 0)


@dataclass
class Report:
    """Counts per source (files, records, bytes) and every skip, as ``InputError``s.

    Only the first ``MAX_STORED_ERRORS`` errors are kept; ``error_count`` counts them all.

        >>> r = Report()
        >>> r.error("flow.log", 812, "expected 14 fields, got 9")
        >>> r.ok, r.skipped_records, str(r.errors[0])
        (False, 1, 'flow.log:812: expected 14 fields, got 9')
    """

    files: dict[SourceName, int] = field(default_factory=_per_source)
    records: dict[SourceName, int] = field(default_factory=_per_source)
    bytes: dict[SourceName, int] = field(default_factory=_per_source)
    skipped_records: int = 0
    skipped_files: int = 0
    errors: list[InputError] = field(default_factory=list)
    error_count: int = 0

    def error(self, path: str, line: int | None, reason: str, *, file_skipped: bool = False) -> None:
        """Record one skipped record, or (``file_skipped``) a file skipped wholly or from ``line`` on."""
        self.error_count += 1
        if file_skipped:
            self.skipped_files += 1
        else:
            self.skipped_records += 1
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append(InputError(path, line, reason))

    def merge(self, other: Report) -> None:
        """Add ``other``'s counts and errors (a file read in a worker process) to this report."""
        for mine, theirs in (
            (self.files, other.files),
            (self.records, other.records),
            (self.bytes, other.bytes),
        ):
            for source, n in theirs.items():
                mine[source] = mine.get(source, 0) + n
        self.skipped_records += other.skipped_records
        self.skipped_files += other.skipped_files
        self.error_count += other.error_count
        self.errors.extend(other.errors[: max(0, MAX_STORED_ERRORS - len(self.errors))])

    @property
    def ok(self) -> bool:
        """True when nothing was skipped."""
        return self.skipped_records == 0 and self.skipped_files == 0


__all__ = ["MAX_STORED_ERRORS", "Report"]
