"""AWS's S3 delivery layouts: where each service puts a log file and what it names it.

CloudTrail   AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/
             <account>_CloudTrail_<region>_YYYYMMDDTHHMMZ_<16 alphanumerics>.json.gz
VPC flow     AWSLogs/<account>/vpcflowlogs/<region>/YYYY/MM/DD/
             <account>_vpcflowlogs_<region>_<fl-id>_YYYYMMDDTHHMMZ_<8 hex>.log.gz
Resolver     AWSLogs/<account>/vpcdnsquerylogs/<vpc-id>/YYYY/MM/DD/
             <account>_vpcdnsquerylogs_<vpc-id>_YYYYMMDDTHHMMZ_<8 hex>.log.gz

Files are gzip'd with a zero mtime in the header, so the same content is the same bytes.
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

DELIVERY_SECONDS = 300
"""Every service here delivers a file per stream about every five minutes."""

GZIP_LEVEL = 5


def _stamp(epoch: int) -> tuple[str, str]:
    t = datetime.fromtimestamp(epoch, UTC)
    return t.strftime("%Y/%m/%d"), t.strftime("%Y%m%dT%H%MZ")


def cloudtrail_path(account: str, region: str, epoch: int, suffix: str) -> Path:
    day, stamp = _stamp(epoch)
    return Path(
        "AWSLogs",
        account,
        "CloudTrail",
        region,
        day,
        f"{account}_CloudTrail_{region}_{stamp}_{suffix}.json.gz",
    )


def flow_path(account: str, region: str, flow_log_id: str, epoch: int, suffix: str) -> Path:
    day, stamp = _stamp(epoch)
    name = f"{account}_vpcflowlogs_{region}_{flow_log_id}_{stamp}_{suffix}.log.gz"
    return Path("AWSLogs", account, "vpcflowlogs", region, day, name)


def dns_path(account: str, vpc_id: str, epoch: int, suffix: str) -> Path:
    day, stamp = _stamp(epoch)
    return Path(
        "AWSLogs",
        account,
        "vpcdnsquerylogs",
        vpc_id,
        day,
        f"{account}_vpcdnsquerylogs_{vpc_id}_{stamp}_{suffix}.log.gz",
    )


def write_gz(outdir: Path, relpath: Path, data: bytes, level: int = GZIP_LEVEL) -> None:
    """Write ``data`` gzip'd at ``outdir/relpath``, byte-for-byte reproducible."""
    target = outdir / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(gzip.compress(data, compresslevel=level, mtime=0))
