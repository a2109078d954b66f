"""Days of history for behaviour tests: real CloudTrail JSON and VPC flow log files, scanned.

A behaviour finding needs a baseline first, so these tests write weeks of activity to files
in AWS's own formats (one CloudTrail file per hour of events, one v5 flow log file per day)
and run them through the real pipeline (``tests.helpers.scan_findings``), with a store kept
between scans when a test asks for one.

>>> events = [user_call(day(d, 9), "alice", "ec2.amazonaws.com", "DescribeInstances") for d in range(21)]
>>> findings = scan_history(tmp_path, cloudtrail=events)
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any, Final

import orjson

from keibi.detect import DetectSettings
from tests.helpers import scan_findings

ACCOUNT: Final = "123456789012"
REGION: Final = "us-east-1"
START: Final = datetime(2026, 10, 1, tzinfo=UTC)
OFFICE_IP: Final = "81.2.69.160"  # GB
HOME_IP: Final = "81.2.69.192"  # GB, same network as the office
ATTACKER_IP: Final = "45.33.32.156"  # US (Linode)
CLI_UA: Final = (
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off command/ec2.describe-instances"
)
BOTO_UA: Final = "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.8"
CONSOLE_UA: Final = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15"
FLOW_HEADER: Final = (
    "version account-id interface-id instance-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status flow-direction tcp-flags"
)
_ids = count()


def day(n: int, hour: int = 9, minute: int = 0) -> datetime:
    """``hour:minute`` UTC on day ``n`` of the history (day 0 is :data:`START`)."""
    return START + timedelta(days=n, hours=hour, minutes=minute)


def user_call(
    when: datetime,
    user: str,
    event_source: str,
    event_name: str,
    *,
    ip: str = OFFICE_IP,
    user_agent: str = CLI_UA,
    region: str = REGION,
    error_code: str | None = None,
    request_parameters: dict[str, Any] | None = None,
    resources: list[dict[str, Any]] | None = None,
    event_category: str = "Management",
    **fields: Any,
) -> dict[str, Any]:
    """A CloudTrail record of IAM user ``user`` (access key ``AKIA<user>``) calling an API."""
    key = ("AKIA" + user.upper().replace("-", ""))[:20].ljust(20, "X")
    identity = {
        "type": "IAMUser",
        "principalId": "AIDA" + user.upper().replace("-", "")[:16].ljust(16, "Q"),
        "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}",
        "accountId": ACCOUNT,
        "accessKeyId": key,
        "userName": user,
    }
    return _record(
        when,
        identity,
        event_source,
        event_name,
        ip,
        user_agent,
        region,
        error_code,
        request_parameters,
        resources,
        event_category,
        fields,
    )


def role_call(
    when: datetime,
    role: str,
    session: str,
    event_source: str,
    event_name: str,
    *,
    ip: str = OFFICE_IP,
    user_agent: str = BOTO_UA,
    region: str = REGION,
    error_code: str | None = None,
    request_parameters: dict[str, Any] | None = None,
    resources: list[dict[str, Any]] | None = None,
    event_category: str = "Management",
    invoked_by: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A CloudTrail record of a session of role ``role`` calling an API (``invoked_by``: an AWS
    service acting for it, e.g. ``cloudformation.amazonaws.com``)."""
    role_id = "AROA" + role.upper().replace("-", "")[:16].ljust(16, "R")
    identity: dict[str, Any] = {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIA" + f"{next(_ids):016d}",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                "accountId": ACCOUNT,
                "userName": role,
            },
            "attributes": {"creationDate": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "mfaAuthenticated": "false"},
        },
    }
    if invoked_by is not None:
        identity["invokedBy"] = invoked_by
    return _record(
        when,
        identity,
        event_source,
        event_name,
        ip,
        user_agent,
        region,
        error_code,
        request_parameters,
        resources,
        event_category,
        fields,
    )


def _record(
    when: datetime,
    identity: dict[str, Any],
    event_source: str,
    event_name: str,
    ip: str,
    user_agent: str,
    region: str,
    error_code: str | None,
    request_parameters: dict[str, Any] | None,
    resources: list[dict[str, Any]] | None,
    event_category: str,
    fields: dict[str, Any],
) -> dict[str, Any]:
    n = next(_ids)
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": user_agent,
        "requestParameters": request_parameters,
        "responseElements": None,
        "requestID": f"req-{n:08d}",
        "eventID": f"00000000-0000-4000-8000-{n:012d}",
        "readOnly": event_name.startswith(("Describe", "List", "Get", "Head")),
        "eventType": "AwsApiCall",
        "managementEvent": event_category == "Management",
        "recipientAccountId": ACCOUNT,
        "eventCategory": event_category,
        **fields,
    }
    if error_code is not None:
        record["errorCode"] = error_code
        record["errorMessage"] = f"{error_code}: not authorised"
    if resources is not None:
        record["resources"] = resources
    return record


def s3_call(
    when: datetime, caller: dict[str, Any], bucket: str, event_name: str, key: str = "data/report.csv"
) -> dict[str, Any]:
    """``caller`` (a :func:`user_call`/:func:`role_call` record) turned into an S3 data event on
    ``bucket``/``key``."""
    return {
        **caller,
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "s3.amazonaws.com",
        "eventName": event_name,
        "eventCategory": "Data",
        "managementEvent": False,
        "readOnly": event_name in ("GetObject", "HeadObject", "ListObjects", "ListObjectsV2", "GetObjectAcl"),
        "requestParameters": {"bucketName": bucket, "Host": f"{bucket}.s3.amazonaws.com", "key": key},
        "resources": [
            {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
            {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
        ],
        "additionalEventData": {"bytesTransferredIn": 0, "bytesTransferredOut": 52_000},
    }


def console_login(
    when: datetime, user: str, *, ip: str = OFFICE_IP, success: bool = True, user_agent: str = CONSOLE_UA
) -> dict[str, Any]:
    """IAM user ``user``'s console sign-in (``ConsoleLogin``, ``AwsConsoleSignIn``) from ``ip``."""
    record = user_call(
        when,
        user,
        "signin.amazonaws.com",
        "ConsoleLogin",
        ip=ip,
        user_agent=user_agent,
        eventType="AwsConsoleSignIn",
        readOnly=False,
        responseElements={"ConsoleLogin": "Success" if success else "Failure"},
        additionalEventData={
            "LoginTo": "https://console.aws.amazon.com/console/home",
            "MobileVersion": "No",
            "MFAUsed": "Yes",
        },
    )
    record["userIdentity"].pop("accessKeyId", None)
    if not success:
        record["errorMessage"] = "Failed authentication"
    return record


def flow(
    when: datetime,
    instance: str,
    local_ip: str,
    remote_ip: str,
    remote_port: int,
    *,
    local_port: int = 43210,
    protocol: int = 6,
    packets: int = 20,
    bytes_: int = 4_000,
    action: str = "ACCEPT",
    direction: str = "egress",
    flags: int = 19,
) -> str:
    """One v5 flow record of ``instance`` (ENI named after it) talking to ``remote_ip:remote_port``;
    ``direction`` ``egress`` is the instance's own packets, ``ingress`` the replies."""
    eni = "eni-" + instance.removeprefix("i-")[:17]
    start = int(when.timestamp())
    src, dst, sport, dport = (
        (local_ip, remote_ip, local_port, remote_port)
        if direction == "egress"
        else (remote_ip, local_ip, remote_port, local_port)
    )
    return (
        f"5 {ACCOUNT} {eni} {instance} {src} {dst} {sport} {dport} {protocol} {packets} {bytes_} "
        f"{start} {start + 59} {action} OK {direction} {flags}"
    )


def write_cloudtrail(folder: Path, events: Iterable[dict[str, Any]]) -> list[Path]:
    """CloudTrail files in AWS's layout, one gzipped ``{"Records": [...]}`` file per hour."""
    by_hour: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_hour.setdefault(event["eventTime"][:13], []).append(event)
    paths = []
    for hour, records in sorted(by_hour.items()):
        date, hh = hour.split("T")
        y, m, d = date.split("-")
        path = (
            folder
            / "AWSLogs"
            / ACCOUNT
            / "CloudTrail"
            / REGION
            / y
            / m
            / d
            / f"{ACCOUNT}_CloudTrail_{REGION}_{y}{m}{d}T{hh}00Z_{len(paths):04d}.json.gz"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        records.sort(key=lambda r: str(r["eventTime"]))
        path.write_bytes(gzip.compress(orjson.dumps({"Records": records}), 1))
        paths.append(path)
    return paths


def write_flows(folder: Path, lines: Iterable[str]) -> list[Path]:
    """v5 flow log files in AWS's layout, one per day (lines sorted by start time)."""
    by_day: dict[str, list[str]] = {}
    for line in lines:
        start = int(line.split()[11])
        by_day.setdefault(datetime.fromtimestamp(start, UTC).strftime("%Y/%m/%d"), []).append(line)
    paths = []
    for date, rows in sorted(by_day.items()):
        rows.sort(key=lambda r: int(r.split()[11]))
        path = (
            folder
            / "AWSLogs"
            / ACCOUNT
            / "vpcflowlogs"
            / REGION
            / date
            / (
                f"{ACCOUNT}_vpcflowlogs_{REGION}_fl-0behavior_{date.replace('/', '')}T0000Z_{len(paths):04d}.log.gz"
            )
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(("\n".join([FLOW_HEADER, *rows]) + "\n").encode(), 1))
        paths.append(path)
    return paths


FLOW_HEADER_V2: Final = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"


def write_flows_v2(folder: Path, lines: Iterable[str]) -> list[Path]:
    """:func:`flow` lines written as default-format (v2) flow logs, one file per day: no
    ``instance-id`` and no ``flow-direction``, so the ENI is all a detector can name."""
    by_day: dict[str, list[str]] = {}
    for line in lines:
        f = line.split()
        by_day.setdefault(datetime.fromtimestamp(int(f[11]), UTC).strftime("%Y/%m/%d"), []).append(
            " ".join(["2", f[1], f[2], *f[4:15]])
        )
    paths = []
    for date, rows in sorted(by_day.items()):
        rows.sort(key=lambda r: int(r.split()[10]))
        name = f"{ACCOUNT}_vpcflowlogs_{REGION}_fl-0behaviorv2_{date.replace('/', '')}T0000Z_{len(paths):04d}.log.gz"
        path = folder / "AWSLogs" / ACCOUNT / "vpcflowlogs" / REGION / date / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(("\n".join([FLOW_HEADER_V2, *rows]) + "\n").encode(), 1))
        paths.append(path)
    return paths


def scan_history(
    folder: Path,
    *,
    cloudtrail: Sequence[dict[str, Any]] = (),
    flows: Sequence[str] = (),
    flows_v2: Sequence[str] = (),
    settings: DetectSettings | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """Write the events and flows (``flows_v2``: as v2 files) under ``folder`` and scan them;
    the findings created."""
    paths = [
        *write_cloudtrail(folder, cloudtrail),
        *write_flows(folder, flows),
        *write_flows_v2(folder, flows_v2),
    ]
    return scan_findings([folder] if paths else [], settings=settings, **kwargs)


def of_type(findings: Sequence[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [f for f in findings if f["type"] == type_]


def additional(finding: dict[str, Any]) -> dict[str, Any]:
    """A finding's ``service.additionalInfo`` value, decoded."""
    value = finding["service"]["additionalInfo"]["value"]
    decoded: dict[str, Any] = orjson.loads(value)
    return decoded
