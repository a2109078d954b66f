"""GuardDuty's catalogue of finding types, and how much of it keibi implements.

A copy of ``reference/finding_types.json`` ships in ``keibi/detect/data/``; ``coverage``
compares the registry with it (or with another copy given by path), so coverage is a number.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

import orjson

from keibi.detect.registry import DetectorRegistry
from keibi.errors import ConfigError


def load_catalogue(path: Path | None = None) -> list[dict[str, Any]]:
    """The active GuardDuty finding types on keibi's data sources."""
    try:
        raw = (
            path.read_bytes()
            if path
            else files("keibi.detect").joinpath("data/finding_types.json").read_bytes()
        )
        data = orjson.loads(raw)
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read finding type catalogue: {exc}", str(path) if path else None) from None
    return [t for t in data["finding_types"] if t.get("status") == "active"]


def coverage(registry: DetectorRegistry, path: Path | None = None) -> dict[str, Any]:
    """Each catalogue type with the detector that implements it (or None), plus keibi-only types."""
    owners = {t.type: d.id for d in registry for t in d.emits}
    catalogue = load_catalogue(path)
    rows = [
        {
            "type": t["type"],
            "severity": t["severity"]["label"],
            "data_sources": t["data_sources"],
            "detection": t["detection"],
            "detector": owners.get(t["type"]),
        }
        for t in sorted(catalogue, key=lambda t: str(t["type"]))
    ]
    known = {t["type"] for t in catalogue}
    custom = sorted(set(owners) - known)
    return {
        "total": len(rows),
        "implemented": sum(1 for r in rows if r["detector"]),
        "types": rows,
        "custom_types": custom,
    }
