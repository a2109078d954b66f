"""Findings: GuardDuty finding JSON built from hits, checked, and aggregated across repeats."""

from keibi.findings.aggregate import merge
from keibi.findings.build import (
    DETAIL_COLUMNS,
    EVIDENCE_CAP,
    EVIDENCE_COLUMNS,
    build_findings,
    detector_id,
    finding_id,
)
from keibi.findings.model import Evidence, FindingRecord
from keibi.findings.pointers import POINTERS_KEPT, decode_info
from keibi.findings.validate import validate

__all__ = [
    "DETAIL_COLUMNS",
    "EVIDENCE_CAP",
    "EVIDENCE_COLUMNS",
    "POINTERS_KEPT",
    "Evidence",
    "FindingRecord",
    "build_findings",
    "decode_info",
    "detector_id",
    "finding_id",
    "merge",
    "validate",
]
