"""Throughput and memory of ``keibi scan`` against plain parsing, per log source, on the same files.

    python benchmarks/run.py [--cloudtrail-events 1000000] [--flow-records 10000000]
                             [--dns-queries 1000000] [--workdir benchmarks/out]

1. Input: background logs from ``keibi.tester.bulk`` in AWS's delivery layouts, cached in
   ``<workdir>/data/<source>/`` (regenerated only when missing or of another size).
2. Parse-only baseline, per file: CloudTrail ``orjson.loads`` of the gunzipped file with the
   cyclic GC paused; VPC flow ``pl.read_csv(separator=" ")`` of the gunzipped bytes; DNS
   ``orjson.loads`` per line. Decompression is included, as ``keibi scan`` pays it too.
3. End-to-end: ``keibi scan <dir> --format json --output /dev/null`` in a fresh process (a
   small runner reports its child's wall time and peak RSS), with the tester's threat and
   trusted lists and every feed it writes, and a throwaway ``KEIBI_DATA_DIR``; again on half
   the files, to show that peak memory does not grow with the input.

The yardstick is end-to-end over parse-only throughput. The marginal ratio uses the
difference between the full and the half run, leaving out the fixed costs both pay (start-up,
detector models, lists): on the 1M-query DNS set they are about a quarter of the run. Results go to
``<workdir>/results.json``; the markdown table goes to stdout.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson
import polars as pl

from keibi.tester.bulk import BulkSource, write_bulk
from keibi.tester.lists import INTEL_FEEDS

SOURCES: tuple[BulkSource, ...] = ("cloudtrail", "vpc_flow", "dns")
# The tester's feeds (``keibi.tester.lists``), passed so every scan pays for the feed lookups too.
FEEDS: tuple[tuple[str, str], ...] = (
    ("Tor", "tor-exits.txt"),
    ("Malicious", "malicious-ips.txt"),
    *((category, path.name) for category, path in INTEL_FEEDS),
)
_RUNNER = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.perf_counter() - t
print(json.dumps({"wall": wall, "maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "returncode": done.returncode, "stderr": done.stderr.decode(errors="replace")[-2000:]}))
"""


@dataclass
class Measure:
    seconds: float
    events_per_s: float
    mb_per_s: float
    peak_rss_mb: float | None = None


@dataclass
class SourceResult:
    source: str
    files: int
    events: int
    mb_uncompressed: float
    mb_compressed: float
    parse_only: Measure | None = None
    end_to_end: Measure | None = None
    end_to_end_half: Measure | None = None
    ratio: float | None = None
    marginal_ratio: float | None = None  # (full - half) events over (full - half) seconds, vs parse-only
    notes: list[str] = field(default_factory=list)


def log_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "AWSLogs").rglob("*.gz"))


def ensure_data(workdir: Path, source: BulkSource, records: int) -> Path:
    """Generate ``records`` records of ``source`` unless the cache already holds them."""
    root = workdir / "data" / source
    stamp = root / "generated.json"
    if stamp.is_file() and json.loads(stamp.read_text()).get("requested") == records:
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    print(f"generating {records:,} {source} records in {root} …", file=sys.stderr, flush=True)
    started = time.perf_counter()
    written = write_bulk(root, source, records)
    took = time.perf_counter() - started
    stamp.write_text(json.dumps({"requested": records, "written": written, "seconds": round(took, 1)}))
    print(f"  {written:,} records in {took:.1f} s", file=sys.stderr, flush=True)
    return root


def parse_only(source: BulkSource, files: list[Path]) -> tuple[int, int, float]:
    """Events, uncompressed bytes and seconds for the plain parse of every file."""
    events = raw_bytes = 0
    elapsed = 0.0
    for path in files:
        blob = path.read_bytes()
        gc.disable()
        try:
            t = time.perf_counter()
            data = gzip.decompress(blob)
            if source == "cloudtrail":
                events += len(orjson.loads(data)["Records"])
            elif source == "vpc_flow":
                events += pl.read_csv(io.BytesIO(data), separator=" ").height
            else:
                events += sum(1 for line in data.splitlines() if line and orjson.loads(line))
            elapsed += time.perf_counter() - t
        finally:
            gc.enable()
        raw_bytes += len(data)
        del data
    return events, raw_bytes, elapsed


def keibi_command() -> list[str] | None:
    """``keibi`` beside this interpreter, if installed and ``keibi scan`` can run."""
    exe = Path(sys.executable).parent / "keibi"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "keibi.cli"]
    try:
        probe = subprocess.run([*command, "scan", "--help"], capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return command if probe.returncode == 0 else None


def end_to_end(command: list[str], target: Path, lists: Path) -> tuple[float, float, str | None]:
    """Wall seconds and peak RSS (MB) of one ``keibi scan`` of ``target``, in a fresh process."""
    with tempfile.TemporaryDirectory(prefix="keibi-bench-") as data_dir:
        env = dict(os.environ, KEIBI_DATA_DIR=data_dir)
        env.pop("KEIBI_DATABASE_URL", None)
        env.pop("KEIBI_CONFIG", None)
        scan = [*command, "scan", str(target), "--format", "json", "--output", "/dev/null", "--no-progress"]
        scan += ["--threat-list", str(lists / "threat.txt"), "--trusted-list", str(lists / "trusted.txt")]
        for category, name in FEEDS:
            if (lists / name).exists():
                scan += ["--feed", f"{category}={lists / name}"]
        out = subprocess.run(
            [sys.executable, "-c", _RUNNER, *scan], capture_output=True, env=env, cwd=data_dir, check=True
        )
    report = json.loads(out.stdout)
    last = (report["stderr"].strip().splitlines() or [""])[-1]
    error = (
        None
        if report["returncode"] in (0, 3)
        else f"end-to-end skipped: keibi scan exited {report['returncode']}: {last}"
    )
    return report["wall"], report["maxrss_kb"] / 1024, error


def half_of(root: Path, files: list[Path], workdir: Path) -> Path:
    """A directory holding the first half of ``files`` (hard links, same layout)."""
    half = workdir / "half" / root.name
    shutil.rmtree(half, ignore_errors=True)
    for path in files[: max(1, len(files) // 2)]:
        target = half / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copyfile(path, target)
    return half


def run_source(source: BulkSource, records: int, workdir: Path, command: list[str] | None) -> SourceResult:
    root = ensure_data(workdir, source, records)
    files = log_files(root)
    compressed = sum(p.stat().st_size for p in files)
    events, raw, seconds = parse_only(source, files)
    mb = raw / 1e6
    result = SourceResult(source, len(files), events, round(mb, 1), round(compressed / 1e6, 1))
    result.parse_only = Measure(round(seconds, 2), round(events / seconds), round(mb / seconds, 1))
    if command is None:
        result.notes.append("end-to-end skipped: `keibi scan` is not available yet")
        return result
    wall, rss, error = end_to_end(command, root / "AWSLogs", root / "lists")
    if error:
        result.notes.append(error)
        return result
    result.end_to_end = Measure(round(wall, 2), round(events / wall), round(mb / wall, 1), round(rss, 1))
    result.ratio = round(result.end_to_end.events_per_s / result.parse_only.events_per_s, 3)
    half = half_of(root, files, workdir)
    half_files = log_files(half)
    half_events, half_raw, _ = parse_only(source, half_files)
    wall, rss, error = end_to_end(command, half / "AWSLogs", root / "lists")
    if error:
        result.notes.append(f"half input: {error}")
    else:
        result.end_to_end_half = Measure(
            round(wall, 2), round(half_events / wall), round(half_raw / 1e6 / wall, 1), round(rss, 1)
        )
        # Without the fixed costs (start-up, detector models, lists, AWS ranges) both runs pay.
        marginal = (events - half_events) / max(1e-9, result.end_to_end.seconds - wall)
        result.marginal_ratio = round(marginal / result.parse_only.events_per_s, 3)
    return result


def markdown(results: list[SourceResult]) -> str:
    head = (
        "| source | files | MB (raw / gz) | events | parse-only events/s | parse-only MB/s "
        "| end-to-end events/s | end-to-end MB/s | e2e / parse (marginal) | peak RSS MB (full / half input) |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in results:
        p, e, h = r.parse_only, r.end_to_end, r.end_to_end_half
        row = f"| {r.source} | {r.files} | {r.mb_uncompressed:,.0f} / {r.mb_compressed:,.0f} | {r.events:,} "
        row += f"| {p.events_per_s:,.0f} | {p.mb_per_s:,.1f} " if p else "| - | - "
        if e:
            half = f"{h.peak_rss_mb:,.0f}" if h and h.peak_rss_mb is not None else "-"
            marginal = f" ({r.marginal_ratio:.2f})" if r.marginal_ratio is not None else ""
            row += f"| {e.events_per_s:,.0f} | {e.mb_per_s:,.1f} | {r.ratio:.2f}{marginal} "
            row += f"| {e.peak_rss_mb:,.0f} / {half} |"
        else:
            row += "| - | - | - | - |"
        lines.append(row)
    notes = [f"- {r.source}: {n}" for r in results for n in r.notes]
    return "\n".join(lines + (["", *notes] if notes else []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--cloudtrail-events", type=int, default=1_000_000)
    parser.add_argument("--flow-records", type=int, default=10_000_000)
    parser.add_argument("--dns-queries", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=Path(__file__).resolve().parent / "out")
    parser.add_argument("--sources", nargs="*", choices=SOURCES, default=list(SOURCES))
    args = parser.parse_args(argv)
    workdir: Path = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    command = keibi_command()
    if command is None:
        print(
            "note: `keibi scan` is not available (is keibi installed in this venv?); measuring parse-only",
            file=sys.stderr,
        )
    sizes: dict[BulkSource, int] = {
        "cloudtrail": args.cloudtrail_events,
        "vpc_flow": args.flow_records,
        "dns": args.dns_queries,
    }
    results = []
    for source in args.sources:
        if sizes[source] <= 0:
            continue
        result = run_source(source, sizes[source], workdir, command)
        print(f"{source}: {json.dumps(asdict(result))}", file=sys.stderr, flush=True)
        results.append(result)
    machine = {"cpus": os.cpu_count(), "python": sys.version.split()[0], "polars": pl.__version__}
    (workdir / "results.json").write_bytes(
        orjson.dumps(
            {"machine": machine, "results": [asdict(r) for r in results]}, option=orjson.OPT_INDENT_2
        )
    )
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
