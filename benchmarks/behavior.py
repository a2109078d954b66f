"""Behaviour baselines on a generated month: detection, false positives, profile size, speed.

    python benchmarks/behavior.py [--days 30] [--seed 11] [--workdir benchmarks/out/behavior]

1. A month of an account's activity from ``keibi.tester.generate_history`` (written under
   ``<workdir>``): ~50 principals, 27 instances, 7 buckets, 20 attacks after day 21 and
   17 look-alikes inside the baseline.
2. Profile size: the first day is scanned into a fresh store, then the other days into the same
   store (a restart in between, as a live deployment would). After each, the bytes the
   ``profiles`` table and its index take in SQLite (``dbstat``) and the rows kept, per entity.
3. The modelling choice, on evidence: the month is scanned with the default rules and with the
   alternatives they were chosen against (novelty alone, one context signal, lower volume
   factors, shorter learning); attacks found and false positives for each.
Results go to ``<workdir>/results.json``; markdown tables to stdout.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from keibi.detect import DetectSettings
from keibi.detect.behavior.profile import ENTITY
from keibi.intel import Intel
from keibi.pipeline import scan
from keibi.store import Store
from keibi.tester import HistoryManifest, generate_history
from keibi.tester.history_score import score

VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "novelty alone (IAM, S3: 0 context signals)": {"iam_anomaly_min_signals": 0, "s3_anomaly_min_signals": 0},
    "one context signal (IAM, S3)": {"iam_anomaly_min_signals": 1, "s3_anomaly_min_signals": 1},
    "three context signals (IAM, S3)": {"iam_anomaly_min_signals": 3, "s3_anomaly_min_signals": 3},
    "volume factor 3 (S3, traffic)": {"s3_anomaly_volume_factor": 3.0, "traffic_volume_factor": 3.0},
    "learning 2 days, account 3 days": {
        "behavior_learning": timedelta(days=2),
        "behavior_account_learning": timedelta(days=3),
    },
}


def _history(workdir: Path, days: int, seed: int) -> tuple[Path, HistoryManifest]:
    """A fresh month under ``workdir`` (about 6 s to write)."""
    root = workdir / f"history-{days}d-seed{seed}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    return root / "AWSLogs", generate_history(root, seed=seed, days=days, delivery_minutes=60)


def _files_between(logs: Path, first: datetime, last: datetime) -> list[str]:
    """The log files whose path date (``…/YYYY/MM/DD/…``) is in [first, last]."""
    out = []
    for path in sorted(p for p in logs.rglob("*") if p.is_file()):
        parts = path.parts
        for i in range(len(parts) - 3):
            if (
                parts[i].isdigit()
                and len(parts[i]) == 4
                and parts[i + 1].isdigit()
                and parts[i + 2].isdigit()
            ):
                day = datetime(int(parts[i]), int(parts[i + 1]), int(parts[i + 2]), tzinfo=first.tzinfo)
                if first <= day <= last:
                    out.append(str(path))
                break
    return out


def _profile_size(db: Path, store: Store) -> dict[str, Any]:
    profiles = store.profiles()
    entities = sum(int((f["feature"] == ENTITY).sum()) for f in profiles.values())
    rows = sum(f.height for f in profiles.values())
    with sqlite3.connect(db) as conn:
        (size,) = conn.execute(
            "SELECT SUM(pgsize) FROM dbstat WHERE name IN "
            "(SELECT name FROM sqlite_master WHERE tbl_name = 'profiles')"
        ).fetchone()
    return {
        "entities": entities,
        "rows": rows,
        "bytes": int(size or 0),
        "rows_per_entity": round(rows / max(entities, 1), 1),
        "bytes_per_entity": round((size or 0) / max(entities, 1)),
        "per_detector": {
            did: {"entities": int((f["feature"] == ENTITY).sum()), "rows": f.height}
            for did, f in profiles.items()
        },
    }


def _sizes(logs: Path, manifest: HistoryManifest) -> dict[str, Any]:
    start = datetime.fromisoformat(manifest.start)
    end = datetime.fromisoformat(manifest.end)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.for_data_dir(Path(tmp))
        db = Path(tmp) / "keibi.db"
        out: dict[str, Any] = {}
        t0 = time.perf_counter()
        scan(_files_between(logs, start, start), store, intel=Intel.with_builtin_feeds(), parse_workers=0)
        out["after_1_day"] = _profile_size(db, store)
        scan(
            _files_between(logs, start + timedelta(days=1), end),
            store,
            intel=Intel.with_builtin_feeds(),
            parse_workers=0,
        )
        out["after_all_days"] = _profile_size(db, store)
        out["seconds"] = round(time.perf_counter() - t0, 1)
        store.close()
    return out


def _variant(logs: Path, manifest: HistoryManifest, changes: dict[str, Any]) -> dict[str, Any]:
    settings = replace(DetectSettings(), **changes)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.for_data_dir(Path(tmp))
        t0 = time.perf_counter()
        result = scan(
            [str(logs)], store, intel=Intel.with_builtin_feeds(), settings=settings, parse_workers=0
        )
        seconds = time.perf_counter() - t0
        store.close()
    scored = score(manifest, result.findings)
    records = sum(result.report.records.values())
    return {
        "found": scored.found,
        "scenarios": scored.scenarios,
        "false_positives": len(scored.false_positives) + len(scored.twins),
        "examples": (scored.false_positives + scored.twins)[:3],
        "missed": scored.missed,
        "seconds": round(seconds, 1),
        "events_per_second": round(records / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/out/behavior"))
    args = parser.parse_args()
    logs, manifest = _history(args.workdir, args.days, args.seed)
    print(f"month: {dict(manifest.records)} records, entities {dict(manifest.entities)}")
    sizes = _sizes(logs, manifest)
    variants = {name: _variant(logs, manifest, changes) for name, changes in VARIANTS.items()}
    (args.workdir / "results.json").write_text(json.dumps({"sizes": sizes, "variants": variants}, indent=2))

    print("\n| profiles | entities | rows | rows/entity | SQLite bytes/entity |\n|---|---|---|---|---|")
    for when in ("after_1_day", "after_all_days"):
        s = sizes[when]
        print(
            f"| {when.replace('_', ' ')} | {s['entities']} | {s['rows']:,} | {s['rows_per_entity']} | {s['bytes_per_entity']:,} |"
        )
    print("\n| rules | attacks found | false positives | scan s | events/s |\n|---|---|---|---|---|")
    for name, v in variants.items():
        print(
            f"| {name} | {v['found']}/{v['scenarios']} | {v['false_positives']} | {v['seconds']} | {v['events_per_second']:,} |"
        )
    for name, v in variants.items():
        if v["missed"] or v["examples"]:
            print(f"\n{name}: missed {v['missed'][:3]}; false positives e.g. {v['examples']}")


if __name__ == "__main__":
    main()
