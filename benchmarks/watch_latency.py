"""Latency of continuous monitoring: from a CloudTrail file landing to its finding stored and
delivered to a webhook.

    python benchmarks/watch_latency.py [--files 20] [--mb 5] [--postgres] [--poll-seconds 1]

1. Input: background CloudTrail from ``keibi.tester.bulk``, packed into delivery files of
   ``--mb`` MB *as delivered* (gzip JSON, ``{"Records": [...]}``), each for an account of its
   own and holding one root-credential call, so every file raises a new finding
   (``Policy:IAMUser/RootCredentialUsage``), which GuardDuty publishes at once.
2. ``keibi watch`` runs as its own process on an empty directory with keibi.toml's defaults
   (``poll_seconds = 1``) except ``settle_seconds = 0``: files land by atomic rename, as
   S3 and SQS deliveries are whole objects (a local writer that appends would add the settle
   time). A webhook target points at a receiver in this process.
3. Files land one at a time, each after the previous one's event arrived (plus a pause). The
   latency of a file is the receiver's arrival time of its event minus the rename. Reported:
   p50, p99 and max over the files, the events per file, and the breakdown the watch log gives
   (ms to read, detect and commit each file).
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

from keibi.tester.bulk import write_bulk


class Receiver:
    """Records the arrival time of each event by the account it names."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                now = time.perf_counter()
                event = orjson.loads(body)
                with receiver.lock:
                    receiver.arrived.setdefault(event["account"], now)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _records(workdir: Path, wanted: int) -> list[dict[str, Any]]:
    source = workdir / "bulk"
    if not source.exists():
        write_bulk(source, "cloudtrail", wanted, seed=7)
    out: list[dict[str, Any]] = []
    for path in sorted(source.rglob("*.json.gz")):
        out.extend(orjson.loads(gzip.decompress(path.read_bytes()))["Records"])
        if len(out) >= wanted:
            break
    return out


def _root_call(account: str, when: str) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "Root",
            "principalId": account,
            "arn": f"arn:aws:iam::{account}:root",
            "accountId": account,
            "accessKeyId": "AKIAROOTBENCH000001",
        },
        "eventTime": when,
        "eventSource": "iam.amazonaws.com",
        "eventName": "ListUsers",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.23",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": None,
        "responseElements": None,
        "eventID": f"bench-root-{account}",
        "eventType": "AwsApiCall",
        "recipientAccountId": account,
    }


def _file(
    records: list[dict[str, Any]], account: str, target_bytes: int, rng: random.Random
) -> tuple[bytes, int]:
    """A delivery file of about ``target_bytes`` gzip bytes, every record in ``account``."""
    chosen: list[dict[str, Any]] = []
    blob = b""
    step = 2000
    while len(blob) < target_bytes:
        start = rng.randrange(0, max(1, len(records) - step))
        for record in records[start : start + step]:
            copy = dict(record)
            copy["recipientAccountId"] = account
            ident = dict(copy.get("userIdentity") or {})
            if "accountId" in ident:
                ident["accountId"] = account
            copy["userIdentity"] = ident
            copy["eventID"] = f"{account}-{len(chosen)}"
            chosen.append(copy)
        last = chosen[-1]["eventTime"]
        blob = gzip.compress(orjson.dumps({"Records": [*chosen, _root_call(account, last)]}), 6)
    return blob, len(chosen) + 1


WARMUP = 2  # the first files also pay for start-up (lists, models): not counted


def _land(
    args: argparse.Namespace,
    records: list[dict[str, Any]],
    rng: random.Random,
    receiver: Receiver,
    staging: Path,
    watched: Path,
    root: Path,
    latencies: list[float],
    events: list[int],
    sizes: list[int],
) -> None:
    """Land the files one at a time and time each one's event."""
    for i in range(args.files + WARMUP):
        account = f"{900000000000 + i:012d}"
        blob, n = _file(records, account, int(args.mb * (1 << 20)), rng)
        name = f"{account}_CloudTrail_us-east-1_20241101T{i % 24:02d}00Z_bench{i:04d}.json.gz"
        staged = staging / name
        staged.write_bytes(blob)
        landed = time.perf_counter()
        os.rename(staged, watched / name)
        deadline = landed + 120
        while account not in receiver.arrived and time.perf_counter() < deadline:
            time.sleep(0.005)
        if account not in receiver.arrived:
            raise SystemExit(f"no event for file {i} within 120 s; see {root / 'watch.log'}")
        if i >= WARMUP:
            latencies.append(receiver.arrived[account] - landed)
            events.append(n)
            sizes.append(len(blob))
        time.sleep(0.3)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--mb", type=float, default=5.0, help="size of each file as delivered (gzip)")
    parser.add_argument("--postgres", action="store_true", help="store in the PostgreSQL at 127.0.0.1")
    parser.add_argument("--poll-seconds", type=float, default=1.0)
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/out/latency"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(11)
    records = _records(args.workdir, 400_000)
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        watched, staging = root / "watched", root / "staging"
        watched.mkdir()
        staging.mkdir()
        url = "postgresql+psycopg://postgres@127.0.0.1:5432/test" if args.postgres else ""
        if args.postgres:
            import psycopg

            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
                conn.execute("DROP SCHEMA IF EXISTS keibi_latency CASCADE")
                conn.execute("CREATE SCHEMA keibi_latency")
            url += "?options=-csearch_path%3Dkeibi_latency"
        (root / "keibi.toml").write_text(
            f"""
[keibi]
data_dir = "{root / "data"}"
database_url = "{url}"
[watch]
sources = ["{watched}"]
settle_seconds = 0
poll_seconds = {args.poll_seconds}
[[publish.targets]]
name = "bench"
type = "webhook"
url = "{receiver.url}"
"""
        )
        latencies: list[float] = []
        events: list[int] = []
        sizes: list[int] = []
        with open(root / "watch.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "keibi.cli", "watch", "--config", str(root / "keibi.toml")],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            try:
                _land(args, records, rng, receiver, staging, watched, root, latencies, events, sizes)
            finally:
                proc.terminate()
                proc.wait(timeout=60)
        processing = [
            float(line.rsplit(" in ", 1)[1].split(" ms")[0])
            for line in (root / "watch.log").read_text().splitlines()
            if "events emitted in" in line and "bench" in line
        ][WARMUP:]
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    store = "PostgreSQL" if args.postgres else "SQLite"
    print(
        "| store | files | MB per file (gzip) | events per file | p50 s | p99 s | max s | read+detect+commit p50 ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {store} | {len(latencies)} | {statistics.mean(sizes) / (1 << 20):.1f} | {statistics.mean(events):,.0f} "
        f"| {statistics.median(latencies):.2f} | {p99:.2f} | {latencies[-1]:.2f} "
        f"| {statistics.median(processing) if processing else float('nan'):,.0f} |"
    )


if __name__ == "__main__":
    main()
