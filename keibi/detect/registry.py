"""The detector registry: one decorator, explicit ids, entry-point plugins.

A detector is a pure ``(batch, ctx) -> hits`` function. Windowed detectors declare their
``window``: the engine then hands them only rows of event-time windows that are closed, each
row exactly once, so results do not depend on where batches or files happen to break.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module
from importlib.metadata import entry_points

import polars as pl

from keibi.detect.context import DetectContext
from keibi.detect.types import FindingType
from keibi.sources.schema import SourceName

DetectFn = Callable[[pl.DataFrame, DetectContext], pl.DataFrame]
WindowFn = Callable[[DetectContext], timedelta]

BUILTIN_MODULES = (
    "keibi.detect.iam.root_usage",
    "keibi.detect.iam.cloudtrail_logging",
    "keibi.detect.iam.pentest",
    "keibi.detect.iam.malicious_ip_custom",
    "keibi.detect.network.portscan",
    "keibi.detect.network.port_sweep",
    "keibi.detect.network.port_probe",
    "keibi.detect.network.brute_force",
    "keibi.detect.network.denial_of_service",
    "keibi.detect.network.malicious_ip_custom",
    "keibi.detect.network.threat_feeds",
    "keibi.detect.network.tor",
    "keibi.detect.dns.threat_feeds",
    "keibi.detect.dns.malicious_domain_custom",
    "keibi.detect.dns.data_exfiltration",
    "keibi.detect.dns.metadata_dns_rebind",
    "keibi.detect.dns.dga",
    "keibi.detect.dns.reputation",
    "keibi.detect.iam.password_policy",
    "keibi.detect.iam.bedrock_logging",
    "keibi.detect.s3.public_access",
    "keibi.detect.s3.access_logging",
    "keibi.detect.iam.malicious_ip",
    "keibi.detect.iam.tor_ip",
    "keibi.detect.s3.malicious_ip",
    "keibi.detect.s3.malicious_ip_custom",
    "keibi.detect.s3.tor_ip",
    "keibi.detect.s3.pentest",
    "keibi.detect.iam.credential_exfiltration",
    "keibi.detect.behavior.iam_anomaly",
    "keibi.detect.behavior.console_login",
    "keibi.detect.behavior.s3_anomaly",
    "keibi.detect.behavior.network_port",
    "keibi.detect.behavior.spambot",
    "keibi.detect.behavior.dns_bypass",
    "keibi.detect.behavior.traffic_volume",
)


@dataclass(frozen=True, slots=True)
class Detector:
    """A registered detector and its declared metadata.

    ``prefilter`` (optional) is applied by the engine before anything is buffered, so a
    windowed detector only keeps the rows it could ever use. ``window`` returns the
    window length from the settings. ``columns`` (optional) names the only columns the
    detector reads: the engine then hands it (and carries between batches) just those, plus
    what findings are built from, so an hour-long window of flows costs a few columns, not all.
    """

    id: str
    source: SourceName
    emits: tuple[FindingType, ...]
    fn: DetectFn
    window: WindowFn | None = None
    prefilter: pl.Expr | None = None
    columns: tuple[str, ...] | None = None

    def __call__(self, batch: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
        return self.fn(batch, ctx)


class DetectorRegistry:
    """Name → detector. Refuses duplicate ids and finding types claimed twice.

    >>> @detectors.register("iam.example", source="cloudtrail", emits=(EXAMPLE,))
    ... def example(batch: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame: ...
    """

    def __init__(self) -> None:
        self._detectors: dict[str, Detector] = {}
        self._owners: dict[str, str] = {}
        self._loaded = False

    def register(
        self,
        id: str,
        *,
        source: SourceName,
        emits: tuple[FindingType, ...],
        window: WindowFn | None = None,
        prefilter: pl.Expr | None = None,
        columns: tuple[str, ...] | None = None,
    ) -> Callable[[DetectFn], DetectFn]:
        def decorate(fn: DetectFn) -> DetectFn:
            self.add(Detector(id, source, emits, fn, window, prefilter, columns))
            return fn

        return decorate

    def add(self, detector: Detector) -> None:
        if detector.id in self._detectors:
            raise ValueError(f"detector id {detector.id!r} is registered twice")
        for ftype in detector.emits:
            owner = self._owners.get(ftype.type)
            if owner is not None:
                raise ValueError(f"finding type {ftype.type!r} is claimed by {owner!r} and {detector.id!r}")
        for ftype in detector.emits:
            self._owners[ftype.type] = detector.id
        self._detectors[detector.id] = detector

    def load(self) -> DetectorRegistry:
        """Import the built-in detector modules and the ``keibi.detectors`` entry points once."""
        if not self._loaded:
            self._loaded = True
            for name in BUILTIN_MODULES:
                import_module(name)
            for ep in entry_points(group="keibi.detectors"):
                ep.load()
        return self

    def __iter__(self) -> Iterator[Detector]:
        return iter(sorted(self._detectors.values(), key=lambda d: d.id))

    def __getitem__(self, id: str) -> Detector:
        return self._detectors[id]

    def for_source(self, source: SourceName) -> list[Detector]:
        return [d for d in self if d.source == source]

    def finding_types(self) -> dict[str, FindingType]:
        return {t.type: t for d in self for t in d.emits}


detectors = DetectorRegistry()
