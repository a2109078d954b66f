"""Load on ``keibi serve``: concurrent boto3 clients listing and getting findings.

    python benchmarks/api_load.py [--findings 100000] [--clients 50] [--requests 40]
                                  [--postgres]

1. A store (SQLite in a temporary directory, or a throwaway schema of the test PostgreSQL)
   holding ``--findings``
   findings of every GuardDuty type keibi knows, spread over an administrator and four member
   accounts, a month of ``updatedAt`` and all severities: copies of ``CreateSampleFindings``'
   samples with their own ids, written straight into the store.
2. ``keibi serve`` as a separate process on 127.0.0.1, the administrator's key, and
   ``--clients`` threads, each with its own boto3 ``guardduty`` client. Each thread runs a
   bounded loop of ``--requests`` requests, alternating ListFindings (high severity, active,
   sorted by updatedAt, a page of 50, following ``nextToken`` for up to three pages) and
   GetFindings of the 50 ids just listed.
3. Printed: requests/s over the whole run, the server's CPU time per request, and p50/p99
   latency per operation as the client sees it (signing, HTTP and parsing included). Clients
   and server share the machine's cores, so the server's CPU per request says what it could
   answer on cores of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from keibi.findings.build import detector_id
from keibi.store import Store
from keibi.store.accounts import create_key
from keibi.store.detectors import create_detector
from keibi.store.tables import members
from tests.api.bulk import add_findings
from tests.api.server import KeibiServer
from tests.dbs import postgres_url

REGION = "us-east-1"
ADMIN = "111111111111"
MEMBERS = ["222222222222", "333333333333", "444444444444", "555555555555"]


def fill(store: Store, count: int, now: datetime) -> None:
    """``count`` findings over the administrator and its members, and the members themselves."""
    add_findings(store, [ADMIN, *MEMBERS], count, region=REGION, now=now)
    with store.transaction("add members") as conn:
        conn.execute(
            sa.insert(members),
            [
                {
                    "detector_id": detector_id(ADMIN, REGION),
                    "account_id": m,
                    "administrator_id": ADMIN,
                    "region": REGION,
                    "email": f"security+{m}@example.com",
                    "relationship_status": "Enabled",
                    "invitation_id": uuid.uuid4().hex,
                    "invited_at": now,
                    "updated_at": now,
                }
                for m in MEMBERS
            ],
        )


def run_clients(server: KeibiServer, key: Any, clients: int, requests: int) -> dict[str, list[float]]:
    latencies: dict[str, list[float]] = {"ListFindings": [], "GetFindings": []}
    errors: list[BaseException] = []
    lock = threading.Lock()
    did = detector_id(ADMIN, REGION)
    criteria = {
        "Criterion": {"severity": {"GreaterThanOrEqual": 7}, "service.archived": {"Equals": ["false"]}}
    }
    start = threading.Barrier(clients)

    def work() -> None:
        gd = server.client(key, REGION, max_pool_connections=2)
        mine: dict[str, list[float]] = {"ListFindings": [], "GetFindings": []}
        ids: list[str] = []
        token: str | None = None
        start.wait()
        try:
            for i in range(requests):
                began = time.perf_counter()
                if i % 2 == 0:
                    args: dict[str, Any] = {
                        "DetectorId": did,
                        "FindingCriteria": criteria,
                        "SortCriteria": {"AttributeName": "updatedAt", "OrderBy": "DESC"},
                        "MaxResults": 50,
                    }
                    if token and i % 6:
                        args["NextToken"] = token
                    answer = gd.list_findings(**args)
                    ids, token = answer["FindingIds"], answer.get("NextToken")
                    mine["ListFindings"].append(time.perf_counter() - began)
                else:
                    assert len(gd.get_findings(DetectorId=did, FindingIds=ids)["Findings"]) == len(ids)
                    mine["GetFindings"].append(time.perf_counter() - began)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        with lock:
            for op, values in mine.items():
                latencies[op] += values

    threads = [threading.Thread(target=work) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return latencies


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=40, help="requests per client")
    parser.add_argument(
        "--postgres", action="store_true", help="use a throwaway schema of the test PostgreSQL (tests/dbs.py)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="keibi-load-") as tmp, contextlib.ExitStack() as stack:
        url = stack.enter_context(postgres_url()) if args.postgres else f"sqlite:///{Path(tmp) / 'keibi.db'}"
        now = datetime.now(UTC)
        store = Store(url)
        began = time.perf_counter()
        fill(store, args.findings, now)
        key = create_key(store, ADMIN)
        create_detector(store, ADMIN, REGION, enabled=True, frequency="SIX_HOURS", features=[], now=now)
        print(
            f"store: {args.findings:,} findings in {time.perf_counter() - began:.1f} s ({url.split(':')[0]})"
        )
        server = KeibiServer(url, Path(tmp))
        server.start()
        try:
            assert server.process is not None
            cpu_before = cpu_seconds(server.process.pid)
            began = time.perf_counter()
            latencies = run_clients(server, key, args.clients, args.requests)
            elapsed = time.perf_counter() - began
            server_cpu = cpu_seconds(server.process.pid) - cpu_before
        finally:
            server.stop()
            store.close()
    total = sum(len(v) for v in latencies.values())
    print(
        f"{args.clients} clients × {args.requests} requests: {total:,} in {elapsed:.1f} s = "
        f"{total / elapsed:,.0f} requests/s; server CPU {server_cpu / total * 1000:.1f} ms per request "
        f"({os.cpu_count()} cores shared with the clients)"
    )
    print("| operation | requests | p50 ms | p99 ms | mean ms |")
    print("|---|---|---|---|---|")
    for op, values in latencies.items():
        print(
            f"| {op} | {len(values):,} | {percentile(values, 0.5) * 1000:.1f} | "
            f"{percentile(values, 0.99) * 1000:.1f} | {statistics.fmean(values) * 1000:.1f} |"
        )


if __name__ == "__main__":
    main()
