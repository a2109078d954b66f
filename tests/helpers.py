"""Test helpers: run the real pipeline (parse → enrich → detect → findings → store) on files."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from keibi.detect import DetectSettings
from keibi.intel import AwsRanges, GeoIP, Intel, load_feed, load_txt
from keibi.pipeline import ScanResult, scan
from keibi.store import Store

FIXED_NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def scan_result(
    paths: Sequence[str | Path],
    *,
    threat_lists: Sequence[str | Path] = (),
    trusted_lists: Sequence[str | Path] = (),
    feeds: Sequence[tuple[str, str | Path]] = (),
    store: Store | None = None,
    batch_rows: int = 250_000,
    settings: DetectSettings | None = None,
    parse_workers: int = 0,
    pool_min_bytes: int = 0,
    rescan: bool = False,
    aws_ip_ranges: str | Path | None = None,
    geoip_city: str | Path | None = None,
    geoip_asn: str | Path | None = None,
) -> ScanResult:
    """Scan ``paths`` with the given TXT lists into ``store`` (a throwaway SQLite store if None).

    ``feeds`` are (category, path) pairs, e.g. ``("Tor", tor_exits)``. ``aws_ip_ranges``: an
    ``ip-ranges.json`` to use instead of the shipped snapshot. ``geoip_city``/``geoip_asn``:
    MaxMind-format databases placing remote addresses (without them: country only).

    Parsing stays in this process unless ``parse_workers`` asks for a pool."""
    geo = GeoIP.open(city=geoip_city, asn=geoip_asn)
    intel = Intel.with_builtin_feeds(
        threat=[load_txt(p) for p in threat_lists],
        trusted=[load_txt(p, kind="trusted") for p in trusted_lists],
        feeds=[load_feed(path, category) for category, path in feeds],
        aws_ranges=AwsRanges.load(aws_ip_ranges) if aws_ip_ranges is not None else None,
        geo=geo,
    )
    uris = [str(p) for p in paths]
    options: dict[str, Any] = {
        "intel": intel,
        "settings": settings,
        "batch_rows": batch_rows,
        "now": FIXED_NOW,
        "parse_workers": parse_workers,
        "pool_min_bytes": pool_min_bytes,
        "rescan": rescan,
    }
    try:
        if store is not None:
            return scan(uris, store, **options)
        with tempfile.TemporaryDirectory() as tmp:
            own = Store.for_data_dir(Path(tmp))
            try:
                return scan(uris, own, **options)
            finally:
                own.close()
    finally:
        geo.close()


def scan_findings(paths: Sequence[str | Path], **kwargs: Any) -> list[dict[str, Any]]:
    """The findings a scan of ``paths`` creates (GuardDuty JSON dicts)."""
    return scan_result(paths, **kwargs).findings


def types_of(findings: Sequence[dict[str, Any]]) -> list[str]:
    return sorted(f["type"] for f in findings)


def essence(findings: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What must not change between two ways of reading the same logs: each finding's id, type,
    occurrence count and event-time span (wall-clock times such as ``updatedAt`` left out)."""
    return sorted(
        (
            f["id"],
            f["type"],
            f["service"]["count"],
            f["service"]["eventFirstSeen"],
            f["service"]["eventLastSeen"],
        )
        for f in findings
    )


def stored_findings(store: Store) -> list[dict[str, Any]]:
    """Every finding in ``store``."""
    with store.transaction("read findings", read=True) as conn:
        ids = list(conn.scalars(sa.text("SELECT id FROM findings")))
    return store.get_findings(ids)


def generated_intel(generated: Path) -> Intel:
    """The intel a scan of ``keibi tester generate`` output uses: its threat and trusted lists."""
    return Intel.with_builtin_feeds(
        threat=[load_txt(generated / "lists" / "threat.txt")],
        trusted=[load_txt(generated / "lists" / "trusted.txt", kind="trusted")],
    )
