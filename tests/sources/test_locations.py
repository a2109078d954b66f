from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from keibi.errors import ConfigError
from keibi.sources import LocalLocation, LogFile, S3Location, locate
from keibi.sources.locations import split_s3_uri


def test_directory_is_listed_recursively_in_order(files: Path) -> None:
    listed = list(locate(str(files / "AWSLogs")).list())
    names = [Path(f.uri).relative_to(files).as_posix() for f in listed]
    assert names[0].startswith("AWSLogs/111122223333/CloudTrail-Digest/")
    assert names == sorted(names)
    assert len(names) == 4
    assert names[1].startswith("AWSLogs/111122223333/CloudTrail/eu-west-1/2024/08/02/")
    assert all(f.size == Path(f.uri).stat().st_size and f.etag is None for f in listed)


def test_single_file_and_raw_bytes(files: Path) -> None:
    path = next((files / "AWSLogs").rglob("*_CloudTrail_*.json.gz"))
    location = locate(str(path))
    assert isinstance(location, LocalLocation)
    (only,) = location.list()
    with location.open(only) as raw:
        data = raw.read()
    assert data == path.read_bytes() and data[:2] == b"\x1f\x8b"  # gzip still on


def test_missing_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no such file or directory: .*nope"):
        locate(str(tmp_path / "nope"))


def test_s3_uri_parts() -> None:
    assert split_s3_uri("s3://bucket/AWSLogs/1/x.gz") == ("bucket", "AWSLogs/1/x.gz")
    assert split_s3_uri("s3://bucket") == ("bucket", "")
    assert isinstance(locate("s3://bucket/prefix/"), S3Location)
    with pytest.raises(ConfigError):
        locate("s3:///key")


def test_s3_prefix_is_listed_opened_and_read(s3_bucket: tuple[Any, str], files: Path, read_all: Any) -> None:
    client, bucket = s3_bucket
    local = sorted((p for p in (files / "AWSLogs").rglob("*") if p.is_file()), key=str)
    for p in local:
        client.put_object(Bucket=bucket, Key=p.relative_to(files).as_posix(), Body=p.read_bytes())
    client.put_object(Bucket=bucket, Key="AWSLogs/folder-marker/", Body=b"")
    client.put_object(Bucket=bucket, Key="elsewhere/x.json", Body=b"{}")

    listed = list(locate(f"s3://{bucket}/AWSLogs/").list())
    assert [f.uri for f in listed] == [f"s3://{bucket}/{p.relative_to(files).as_posix()}" for p in local]
    assert [f.size for f in listed] == [p.stat().st_size for p in local]
    assert all(f.etag and '"' not in f.etag for f in listed)

    location = locate(f"s3://{bucket}/AWSLogs/111122223333/CloudTrail/")
    (ct,) = location.list()
    with location.open(ct) as raw:
        assert gzip.decompress(raw.read()).startswith(b'{"Records":[')

    frames, report = read_all([f"s3://{bucket}/AWSLogs/"])
    assert report.ok, report.errors
    assert {s: f.height for s, f in frames.items()} == {"dns": 2, "cloudtrail": 3, "vpc_flow": 5}
    ct_frame = frames["cloudtrail"]
    assert ct_frame["_file"].unique().to_list() == [ct.uri]
    assert ct_frame["region"].unique().to_list() == ["eu-west-1"]
    assert report.bytes["cloudtrail"] == ct.size


def test_s3_object_gone_after_planning_is_reported(s3_bucket: tuple[Any, str]) -> None:
    from keibi.sources import PlannedFile, Report, read

    _, bucket = s3_bucket
    location = locate(f"s3://{bucket}/")
    report = Report()
    gone = PlannedFile(LogFile(f"s3://{bucket}/gone.log", 10), location, "vpc_flow", None)
    assert list(read(gone, report)) == []
    assert report.skipped_files == 1
    assert "cannot read" in report.errors[0].reason
