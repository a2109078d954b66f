"""Export writers: S3 with SSE-KMS through moto's server, and the envelope-encrypted directory."""

from __future__ import annotations

import base64
import gzip
import os
import re
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from keibi.errors import ConfigError, InputError, PublishError
from keibi.findings.samples import sample_findings
from keibi.publish.export import (
    ENCRYPTED_SUFFIX,
    LocalExport,
    S3Export,
    batch_name,
    decrypt_file,
    encode_batch,
    export_key,
    generate_key_file,
    key_id,
    open_export,
    read_key_file,
)
from keibi.publish.renderings import to_asff, to_guardduty

ACCOUNT, REGION = "111122223333", "us-east-1"
AT = datetime(2024, 5, 1, 18, 30, tzinfo=UTC)
TYPES = [
    "UnauthorizedAccess:EC2/SSHBruteForce",
    "Recon:IAMUser/MaliciousIPCaller",
    "Discovery:S3/TorIPCaller",
]
Findings = list[dict[str, Any]]
UUID_NAME = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def findings() -> Findings:
    return sample_findings(ACCOUNT, REGION, TYPES, now=AT)


def jsonl(findings: Findings, render: Any = to_guardduty) -> bytes:
    return b"".join(orjson.dumps(render(f)) + b"\n" for f in findings)


# ---------------------------------------------------------------- layout and names


def test_export_key_is_guardduty_layout() -> None:
    assert (
        export_key("gd/findings/", ACCOUNT, REGION, AT, "b1")
        == "gd/findings/AWSLogs/111122223333/GuardDuty/us-east-1/2024/05/01/b1.jsonl.gz"
    )
    assert export_key("", ACCOUNT, REGION, AT, "b1").startswith("AWSLogs/111122223333/")
    late = datetime(2024, 5, 1, 23, 30, tzinfo=timezone(timedelta(hours=-2)))  # 01:30 UTC next day
    assert "/2024/05/02/" in export_key("", ACCOUNT, REGION, late, "b1")
    assert "/2024/05/01/" in export_key("", ACCOUNT, REGION, datetime(2024, 5, 1, 23, 59), "b1")  # naive: UTC
    for bad in ("../escape", "a/b", "", ".hidden"):
        with pytest.raises(ValueError, match="export name"):
            export_key("", ACCOUNT, REGION, AT, bad)
    with pytest.raises(ValueError, match="region"):
        export_key("", ACCOUNT, "us-east-1/..", AT, "b1")


def test_batch_name_is_stable_per_batch(findings: Findings) -> None:
    name = batch_name(findings)
    assert UUID_NAME.fullmatch(name)
    assert batch_name([dict(f) for f in findings]) == name
    later = [*findings[:-1], {**findings[-1], "updatedAt": "2024-05-02T00:00:00.000Z"}]
    assert batch_name(later) != name
    assert batch_name(findings[:2]) != name
    assert encode_batch(findings, to_guardduty) == encode_batch(findings, to_guardduty)


# ---------------------------------------------------------------- S3 with SSE-KMS


@pytest.fixture
def kms_key(s3_bucket: tuple[Any, str]) -> str:
    return str(boto3.client("kms").create_key(Description="keibi export")["KeyMetadata"]["Arn"])


def test_s3_export_writes_one_kms_encrypted_gzip_jsonl_object(
    s3_bucket: tuple[Any, str], kms_key: str, findings: Findings
) -> None:
    client, bucket = s3_bucket
    export = S3Export(bucket, "/guardduty/", kms_key)
    name = batch_name(findings)
    where = export.write(findings, account=ACCOUNT, region=REGION, at=AT, name=name)
    key = f"guardduty/AWSLogs/{ACCOUNT}/GuardDuty/{REGION}/2024/05/01/{name}.jsonl.gz"
    assert where == f"s3://{bucket}/{key}"
    got = client.get_object(Bucket=bucket, Key=key)
    assert got["ServerSideEncryption"] == "aws:kms"
    assert got["SSEKMSKeyId"] == kms_key
    lines = gzip.decompress(got["Body"].read()).splitlines()
    assert [orjson.loads(line) for line in lines] == [to_guardduty(f) for f in findings]
    assert export.describe() == f"s3://{bucket}/guardduty"


def test_s3_export_in_asff_and_idempotent_by_name(
    s3_bucket: tuple[Any, str], kms_key: str, findings: Findings
) -> None:
    client, bucket = s3_bucket
    export = S3Export(bucket, "", kms_key, rendering="ASFF", client=client)
    for _ in range(2):  # a retried write replaces the same object
        export.write(findings, account=ACCOUNT, region=REGION, at=AT, name="batch-1")
    listed = client.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == [f"AWSLogs/{ACCOUNT}/GuardDuty/{REGION}/2024/05/01/batch-1.jsonl.gz"]
    body = client.get_object(Bucket=bucket, Key=listed[0]["Key"])["Body"].read()
    assert gzip.decompress(body) == jsonl(findings, to_asff)


def test_s3_export_to_a_missing_bucket_is_one_publish_error(
    s3_bucket: tuple[Any, str], kms_key: str, findings: Findings
) -> None:
    export = S3Export("no-such-bucket-keibi", "gd", kms_key)
    with pytest.raises(PublishError, match="the bucket does not exist") as caught:
        export.write(findings, account=ACCOUNT, region=REGION, at=AT, name="b")
    assert str(caught.value).startswith("s3://no-such-bucket-keibi/gd: cannot write gd/AWSLogs/")
    assert "\n" not in str(caught.value)
    assert caught.value.retryable is False, "a missing bucket stays missing"
    with pytest.raises(PublishError, match="bucket no-such-bucket-keibi: the bucket does not exist"):
        export.verify()


class _FailingS3:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def put_object(self, **_: Any) -> None:
        raise self.exc


@pytest.mark.parametrize(
    ("exc", "retryable"),
    [
        (
            ClientError(
                {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject"
            ),
            True,
        ),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), True),
        (
            ClientError(
                {
                    "Error": {"Code": "AccessDenied", "Message": "no"},
                    "ResponseMetadata": {"HTTPStatusCode": 403},
                },
                "PutObject",
            ),
            False,
        ),
    ],
)
def test_s3_errors_say_whether_a_retry_can_help(findings: Findings, exc: Exception, retryable: bool) -> None:
    kms = "arn:aws:kms:us-east-1:111122223333:key/k"
    export = S3Export("findings-bucket", "", kms, client=_FailingS3(exc), kms_client=object())
    with pytest.raises(PublishError) as caught:
        export.write(findings, account=ACCOUNT, region=REGION, at=AT, name="b")
    assert caught.value.retryable is retryable


def test_s3_verify_checks_bucket_and_key(s3_bucket: tuple[Any, str], kms_key: str) -> None:
    _, bucket = s3_bucket
    S3Export(bucket, "", kms_key).verify()
    missing = kms_key.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    with pytest.raises(PublishError, match=r"KMS key .*does not exist"):
        S3Export(bucket, "", missing).verify()
    kms = boto3.client("kms")
    kms.disable_key(KeyId=kms_key.rsplit("/", 1)[1])  # moto takes the id, not the ARN
    with pytest.raises(PublishError, match="the key is Disabled, not Enabled") as caught:
        S3Export(bucket, "", kms_key).verify()
    assert caught.value.retryable is False
    elsewhere = boto3.client("kms", region_name="eu-west-1").create_key()["KeyMetadata"]["Arn"]
    with pytest.raises(PublishError, match="the key is in eu-west-1 but the bucket in us-east-1"):
        S3Export(bucket, "", elsewhere).verify()


# ---------------------------------------------------------------- key files


def test_generate_key_file_is_private_and_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "export.key"
    made = generate_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert made == key_id(read_key_file(path))
    assert len(base64.b64decode(path.read_text())) == 32
    with pytest.raises(ConfigError, match="already exists"):
        generate_key_file(path)
    assert made == key_id(read_key_file(path))


def test_key_file_raw_or_base64_else_config_error(tmp_path: Path) -> None:
    raw = tmp_path / "raw.key"
    raw.write_bytes(os.urandom(32))
    assert read_key_file(raw) == raw.read_bytes()
    text = tmp_path / "b64.key"
    text.write_text(base64.b64encode(raw.read_bytes()).decode() + "\n")
    assert read_key_file(text) == raw.read_bytes()
    short = tmp_path / "short.key"
    short.write_bytes(os.urandom(16))
    for bad in (short, tmp_path / "missing.key"):
        with pytest.raises(ConfigError) as caught:
            LocalExport(tmp_path / "out", bad)
        assert str(caught.value).startswith(str(bad))
    junk = tmp_path / "junk.key"
    junk.write_text("not a key at all, clearly\n")
    with pytest.raises(ConfigError, match="256-bit key"):
        read_key_file(junk)


# ---------------------------------------------------------------- local directory, envelope-encrypted


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "export.key"
    generate_key_file(path)
    return path


def test_local_export_round_trip(tmp_path: Path, key_file: Path, findings: Findings) -> None:
    export = LocalExport(tmp_path / "out", key_file)
    name = batch_name(findings)
    where = Path(export.write(findings, account=ACCOUNT, region=REGION, at=AT, name=name))
    assert (
        where
        == tmp_path / "out" / f"AWSLogs/{ACCOUNT}/GuardDuty/{REGION}/2024/05/01/{name}{ENCRYPTED_SUFFIX}"
    )
    assert decrypt_file(where, key_file) == jsonl(findings)
    header = orjson.loads(where.read_bytes().split(b"\n", 1)[0])
    assert header["key_id"] == export.key_id
    assert (header["cipher"], header["version"]) == ("AES-256-GCM", 1)
    asff = LocalExport(tmp_path / "asff", key_file, "ASFF")
    assert decrypt_file(
        asff.write(findings, account=ACCOUNT, region=REGION, at=AT, name=name), key_file
    ) == jsonl(findings, to_asff)


def test_local_export_leaves_no_plaintext_on_disk(tmp_path: Path, key_file: Path, findings: Findings) -> None:
    out = tmp_path / "out"
    LocalExport(out, key_file).write(findings, account=ACCOUNT, region=REGION, at=AT, name="b")
    files = [p for p in out.rglob("*") if p.is_file()]
    assert [p.name for p in files] == [f"b{ENCRYPTED_SUFFIX}"], "no temporary or plain file is left"
    data = files[0].read_bytes()
    for finding in findings:
        for secret in (finding["id"], finding["title"], finding["service"]["detectorId"]):
            assert secret.encode() not in data
    body = data.split(b"\n", 1)[1]
    assert not body.startswith(b"\x1f\x8b"), "the body is ciphertext, not gzip"
    with pytest.raises(OSError):
        gzip.decompress(body)


def test_local_export_overwrites_the_same_name(tmp_path: Path, key_file: Path, findings: Findings) -> None:
    export = LocalExport(tmp_path / "out", key_file)
    first = export.write(findings, account=ACCOUNT, region=REGION, at=AT, name="batch")
    second = export.write(findings[:1], account=ACCOUNT, region=REGION, at=AT, name="batch")
    assert first == second
    assert len([p for p in (tmp_path / "out").rglob("*") if p.is_file()]) == 1
    assert decrypt_file(second, key_file) == jsonl(findings[:1])


def test_decrypt_with_the_wrong_key_fails(tmp_path: Path, key_file: Path, findings: Findings) -> None:
    written = LocalExport(tmp_path / "out", key_file).write(
        findings, account=ACCOUNT, region=REGION, at=AT, name="b"
    )
    other = tmp_path / "other.key"
    generate_key_file(other)
    with pytest.raises(InputError, match="encrypted with key sha256:"):
        decrypt_file(written, other)


def _tampered(path: Path, change: Any) -> Path:
    header, body = path.read_bytes().split(b"\n", 1)
    header, body = change(header, body)
    path.write_bytes(header + b"\n" + body)
    return path


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h, b: (h, b[:-1] + bytes([b[-1] ^ 1])), "InvalidTag"),  # the GCM tag
        (lambda h, b: (h, bytes([b[0] ^ 1]) + b[1:]), "InvalidTag"),  # the ciphertext
        (lambda h, b: (h.replace(b"jsonl+gzip", b"jsonl+gzip "), b), "InvalidTag"),  # authenticated header
        (lambda h, b: (_swap_nonce(h), b), "InvalidTag"),
        (lambda h, b: (_swap_wrapped_key(h), b), "InvalidUnwrap"),
    ],
)
def test_decrypt_of_a_tampered_file_fails(
    tmp_path: Path, key_file: Path, findings: Findings, change: Any, reason: str
) -> None:
    written = Path(
        LocalExport(tmp_path / "out", key_file).write(
            findings, account=ACCOUNT, region=REGION, at=AT, name="b"
        )
    )
    assert decrypt_file(written, key_file) == jsonl(findings)
    with pytest.raises(InputError, match=f"altered or damaged \\({reason}\\)") as caught:
        decrypt_file(_tampered(written, change), key_file)
    assert str(caught.value).startswith(str(written))


def _swap_nonce(header: bytes) -> bytes:
    meta = orjson.loads(header)
    meta["nonce"] = base64.b64encode(os.urandom(12)).decode()
    return orjson.dumps(meta, option=orjson.OPT_SORT_KEYS)


def _swap_wrapped_key(header: bytes) -> bytes:
    meta = orjson.loads(header)
    meta["wrapped_key"] = base64.b64encode(os.urandom(40)).decode()
    return orjson.dumps(meta, option=orjson.OPT_SORT_KEYS)


def test_decrypt_of_something_else_fails(tmp_path: Path, key_file: Path) -> None:
    plain = tmp_path / "plain.jsonl.gz"
    plain.write_bytes(gzip.compress(b'{"id": "x"}\n'))
    with pytest.raises(InputError, match="not a keibi encrypted export"):
        decrypt_file(plain, key_file)


def test_local_verify_and_write_failures(tmp_path: Path, key_file: Path, findings: Findings) -> None:
    LocalExport(tmp_path / "new" / "dir", key_file).verify()
    assert (tmp_path / "new" / "dir").is_dir()
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    export = LocalExport(blocker / "out", key_file)
    with pytest.raises(PublishError, match="cannot write there"):
        export.verify()
    with pytest.raises(PublishError, match="cannot write") as caught:
        export.write(findings, account=ACCOUNT, region=REGION, at=AT, name="b")
    assert caught.value.retryable is False


# ---------------------------------------------------------------- open_export


def test_open_export_by_destination(tmp_path: Path, key_file: Path) -> None:
    kms = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    fake: Any = object()
    s3 = open_export("arn:aws:s3:::findings-bucket/gd/x", kms, s3_client=fake, kms_client=fake)
    assert isinstance(s3, S3Export)
    assert (s3.describe(), s3.kms_key_arn) == ("s3://findings-bucket/gd/x", kms)
    assert open_export("s3://findings-bucket", kms, "OCSF", s3_client=fake, kms_client=fake).describe() == (
        "s3://findings-bucket"
    )
    local = open_export(str(tmp_path / "out"), str(key_file))
    assert isinstance(local, LocalExport)
    assert local.describe() == str(tmp_path / "out")


@pytest.mark.parametrize(
    ("destination", "key", "message"),
    [
        ("arn:aws:s3:::", "arn:aws:kms:us-east-1:111122223333:key/k", "not an S3 bucket ARN"),
        ("s3:///prefix", "arn:aws:kms:us-east-1:111122223333:key/k", "names no bucket"),
        ("arn:aws:s3:::findings-bucket", "alias/export", "not a KMS key ARN"),
        ("https://example.org/drop", "k", "unsupported export destination"),
        ("s3://findings-bucket", "arn:aws:kms:us-east-1:111122223333:key/k", "unknown rendering 'XML'"),
    ],
)
def test_open_export_refuses_bad_configuration(destination: str, key: str, message: str) -> None:
    fake: Any = object()
    rendering = "XML" if "rendering" in message else "GUARDDUTY"
    with pytest.raises(ConfigError, match=message):
        open_export(destination, key, rendering, s3_client=fake, kms_client=fake)
