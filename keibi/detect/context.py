"""What a detector may consult besides its batch: settings and intelligence, never I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

from keibi.detect.settings import DetectSettings


@dataclass(frozen=True, slots=True)
class DetectContext:
    """Handed to every detector call. Threat-list matches arrive as columns on the batch
    (added by ``keibi.enrich``), so a detector only reads ``settings`` here."""

    settings: DetectSettings = field(default_factory=DetectSettings)
