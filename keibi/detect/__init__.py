"""Detection: the registry, the finding types and the batch → hits contract."""

from keibi.detect.context import DetectContext
from keibi.detect.hits import HITS, ROW, hits, no_hits
from keibi.detect.registry import Detector, DetectorRegistry, detectors
from keibi.detect.settings import DetectSettings
from keibi.detect.types import FindingType, Severity

__all__ = [
    "HITS",
    "ROW",
    "DetectContext",
    "DetectSettings",
    "Detector",
    "DetectorRegistry",
    "FindingType",
    "Severity",
    "detectors",
    "hits",
    "no_hits",
]
