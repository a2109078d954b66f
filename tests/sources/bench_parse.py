"""Parse microbenchmark, run by hand (not collected by pytest):

    .venv/bin/python -m tests.sources.bench_parse [events] [flow_lines]

CloudTrail: events/s of ``read`` on a generated S3-delivery gzip file (``{"Records": [...]}``)
and the same events as gzipped JSON lines, against plain ``gzip`` + ``orjson.loads``.
Flow logs: lines/s of ``read`` on a generated v2 text file, against plain ``pl.read_csv``.
"""

from __future__ import annotations

import gc
import gzip
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from keibi.sources import Report, plan, read

NAMES = [
    ("ec2.amazonaws.com", "DescribeInstances", True),
    ("s3.amazonaws.com", "GetObject", True),
    ("sts.amazonaws.com", "AssumeRole", False),
    ("iam.amazonaws.com", "CreateAccessKey", False),
    ("kms.amazonaws.com", "Decrypt", True),
]


def _event(rng: random.Random, i: int) -> dict[str, Any]:
    source, name, read_only = rng.choice(NAMES)
    acct = "123456789012"
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": f"AROAEXAMPLE{i % 97}:session-{i % 13}",
            "arn": f"arn:aws:sts::{acct}:assumed-role/app-role-{i % 7}/session-{i % 13}",
            "accountId": acct,
            "accessKeyId": f"ASIAEXAMPLE{i % 1000:06d}",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": f"AROAEXAMPLE{i % 97}",
                    "arn": f"arn:aws:iam::{acct}:role/app-role-{i % 7}",
                    "accountId": acct,
                    "userName": f"app-role-{i % 7}",
                },
                "attributes": {"creationDate": "2024-08-02T07:00:00Z", "mfaAuthenticated": "false"},
            },
        },
        "eventTime": f"2024-08-02T08:{(i // 3600) % 60:02d}:{(i // 60) % 60:02d}Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": f"10.0.{i % 250}.{i % 200}",
        "userAgent": "aws-sdk-java/1.12.400 Linux/5.10 OpenJDK_64-Bit_Server_VM/17",
        "requestParameters": {
            "bucketName": f"bucket-{i % 31}",
            "key": f"data/{i}.parquet",
            "Host": "s3.amazonaws.com",
        },
        "responseElements": None if read_only else {"credentials": {"accessKeyId": f"ASIA{i:012d}"}},
        "additionalEventData": {"SignatureVersion": "SigV4", "bytesTransferredOut": i % 4096},
        "requestID": f"{i:032x}",
        "eventID": f"{i:08x}-0000-4000-8000-{i:012x}",
        "readOnly": read_only,
        "resources": [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::bucket-{i % 31}/data/{i}.parquet"}],
        "eventType": "AwsApiCall",
        "managementEvent": source != "s3.amazonaws.com",
        "recipientAccountId": acct,
        "eventCategory": "Management" if source != "s3.amazonaws.com" else "Data",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256"},
    }


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f}/s ({seconds:.2f} s)"


def _read_all(path: Path) -> tuple[int, float]:
    report = Report()
    start = time.perf_counter()
    rows = sum(frame.height for p in plan([str(path)], report) for frame in read(p, report))
    assert report.ok, report.errors[:3]
    return rows, time.perf_counter() - start


def bench_cloudtrail(n: int, tmp: Path) -> None:
    rng = random.Random(1)
    events = [_event(rng, i) for i in range(n)]
    records = tmp / "AWSLogs/123456789012/CloudTrail/us-east-1/2024/08/02/records.json.gz"
    records.parent.mkdir(parents=True)
    records.write_bytes(gzip.compress(orjson.dumps({"Records": events}), compresslevel=6))
    lines = tmp / "lines.jsonl.gz"
    lines.write_bytes(gzip.compress(b"\n".join(orjson.dumps(e) for e in events), compresslevel=6))
    del events
    gc.collect()
    print(f"CloudTrail, {n:,} events ({records.stat().st_size / 1e6:.1f} MB gz)")
    for label, path in (("{Records} gz", records), ("JSON lines gz", lines)):
        start = time.perf_counter()
        data = gzip.decompress(path.read_bytes())
        if path is records:
            baseline = len(orjson.loads(data)["Records"])
        else:
            baseline = sum(1 for line in data.split(b"\n") if orjson.loads(line))
        base_s = time.perf_counter() - start
        del data
        gc.collect()
        rows, seconds = _read_all(path)
        assert rows == baseline == n
        print(f"  {label:14} keibi read {_rate(rows, seconds)}   gzip+orjson only {_rate(n, base_s)}")


def bench_flow(n: int, tmp: Path) -> None:
    rng = random.Random(2)
    path = tmp / "flow.log"
    header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
    rows = [
        f"2 123456789012 eni-{i % 50:017x} 10.0.{i % 250}.{i % 200} 203.0.113.{i % 254} {rng.randrange(1024, 65535)} "
        f"{rng.choice((22, 80, 443, 3389))} 6 {i % 40 + 1} {i % 9000 + 40} {1722585600 + i // 100} {1722585660 + i // 100} "
        f"{'ACCEPT' if i % 5 else 'REJECT'} OK"
        for i in range(n)
    ]
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    del rows
    print(f"VPC flow, {n:,} lines ({path.stat().st_size / 1e6:.1f} MB)")
    start = time.perf_counter()
    base = pl.read_csv(path, separator=" ", quote_char=None, has_header=True)
    base_s = time.perf_counter() - start
    assert base.height == n
    count, seconds = _read_all(path)
    assert count == n
    print(f"  text           keibi read {_rate(count, seconds)}   pl.read_csv only  {_rate(n, base_s)}")
    gz = tmp / "flow.log.gz"
    gz.write_bytes(gzip.compress(path.read_bytes(), compresslevel=6))
    count, seconds = _read_all(gz)
    print(f"  gzip           keibi read {_rate(count, seconds)}")


def main() -> None:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    flows = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000_000
    with tempfile.TemporaryDirectory() as tmp:
        bench_cloudtrail(events, Path(tmp) / "ct")
        bench_flow(flows, Path(tmp))


if __name__ == "__main__":
    main()
