"""What a detector may consult besides its batch: settings, which AWS ranges, a small per-scan state."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from keibi.detect.settings import DetectSettings


@dataclass(frozen=True, slots=True)
class DetectContext:
    """Handed to every detector call. Threat-list matches arrive as columns on the batch
    (added by ``keibi.enrich``), so a detector reads ``settings`` here, and ``state``.

    ``aws_ip_ranges_date`` is the ``createDate`` of the ``ip-ranges.json`` behind the batch's
    ``remote_aws_*`` columns (None: not told), so a finding can say which snapshot decided.

    ``state`` maps a detector id to a frame that detector carries from one batch to the next:
    facts that join records which may land in different batches, such as the access key an
    ``sts:AssumeRole`` handed to a Lambda function and that key's later use. Only the owning
    detector reads or writes its entry; it keeps the frame bounded (pruned on event time every
    batch) and its results independent of where batches break. The engine loads the state
    from the store when a scan starts and saves it when the scan ends, so what one scan
    learned holds in the next.

    ``profiles`` maps a behaviour detector's id to its profile frame
    (``keibi.detect.behavior.profile``): what each entity it watches has done. The engine loads
    them from the store's ``profiles`` table when a scan starts and writes back the rows that
    changed when it ends; the detector replaces its entry with the folded frame.
    """

    settings: DetectSettings = field(default_factory=DetectSettings)
    state: dict[str, pl.DataFrame] = field(default_factory=dict)
    aws_ip_ranges_date: str | None = None
    profiles: dict[str, pl.DataFrame] = field(default_factory=dict)
