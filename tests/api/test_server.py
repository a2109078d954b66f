"""The server around the API: health, Prometheus metrics, OpenAPI for keibi's own endpoints,
the evidence endpoint's access control, JSON logs, and a clean stop on SIGTERM."""

from __future__ import annotations

import signal
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from keibi.findings import Evidence, FindingRecord
from keibi.findings.samples import sample_findings
from keibi.store.accounts import AccessKey
from tests.api.server import KeibiServer
from tests.dbs import sqlite_url


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _signed_get(url: str, key: AccessKey, region: str = "us-east-1") -> tuple[int, Any]:
    request = AWSRequest("GET", url)
    SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), "guardduty", region).add_auth(request)
    status, body = _get(url, dict(request.prepare().headers))
    return status, orjson.loads(body)


def test_health_metrics_and_openapi(api: KeibiServer) -> None:
    status, body = _get(f"{api.url}/healthz")
    assert (status, orjson.loads(body)["status"]) == (200, "ok")
    gd = api.client(api.account())
    gd.list_detectors()
    status, body = _get(f"{api.url}/metrics")
    text = body.decode()
    assert status == 200
    assert 'keibi_api_requests_total{operation="ListDetectors",status="200"}' in text
    assert "keibi_api_request_seconds_bucket" in text
    status, body = _get(f"{api.url}/openapi.json")
    paths = orjson.loads(body)["paths"]
    assert {"/keibi/v1/detectors", "/keibi/v1/findings/{finding_id}/evidence", "/healthz", "/metrics"} <= set(
        paths
    )
    status, body = _get(f"{api.url}/keibi/v1/detectors")
    catalogue = orjson.loads(body)
    assert catalogue["total"] == 88 and catalogue["implemented"] >= 87


def test_evidence_only_for_findings_the_caller_sees(api: KeibiServer) -> None:
    owner, other = api.account(), api.account()
    api.client(owner).create_detector(Enable=True)
    (finding,) = sample_findings(owner.account_id, "us-east-1", ["Recon:EC2/Portscan"], now=datetime.now(UTC))
    pointer = Evidence(
        file="/logs/flow.log.gz", line=17, event_id=None, event_time=datetime(2026, 11, 1, tzinfo=UTC)
    )
    api.store.upsert_findings([FindingRecord(finding, [pointer])])
    url = f"{api.url}/keibi/v1/findings/{finding['id']}/evidence"
    status, body = _signed_get(url, owner)
    assert status == 200
    assert body["evidence"] == [
        {"file": "/logs/flow.log.gz", "line": 17, "eventId": None, "eventTime": "2026-11-01T00:00:00Z"}
    ]
    assert _signed_get(url, other)[0] == 400
    assert _signed_get(url, owner, region="eu-west-1")[0] == 400
    assert _get(url)[0] == 403  # unsigned


def test_json_logs_and_graceful_stop(tmp_path: Path) -> None:
    server = KeibiServer(sqlite_url(tmp_path), tmp_path)
    server.start()
    try:
        gd = server.client(server.account())
        gd.create_detector(Enable=True)
    finally:
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=20)
        server.store.close()
    assert code == 0
    assert server.log is not None
    lines = [orjson.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("msg") == "request"]
    assert any(r["operation"] == "CreateDetector" and r["status"] == 200 for r in requests)
    assert all({"time", "level", "request_id", "ms"} <= set(r) for r in requests)
    assert any("shutdown" in line["msg"].lower() for line in lines)


def test_a_failing_store_gives_guardduty_500s_and_an_unhealthy_server(tmp_path: Path) -> None:
    """The database vanishes under a running server: requests get GuardDuty's 500 shape (never a
    traceback), /healthz says 503, and the log names the request that failed."""
    import psycopg
    from psycopg import sql

    from tests.dbs import POSTGRES_URL, postgres_url

    with postgres_url() as url:
        server = KeibiServer(url, tmp_path)
        server.start()
        try:
            key = server.account()
            gd = server.client(key)
            gd.list_detectors()  # the key is now cached by the server
            schema = url.rsplit("search_path%3D", 1)[1]
            with psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), autocommit=True) as admin:
                admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
                admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            with pytest.raises(gd.exceptions.InternalServerErrorException) as err:
                gd.list_detectors()
            assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
            assert "internal error" in err.value.response["Error"]["Message"]
            status, body = _get(f"{server.url}/healthz")
            assert status == 503 and b"schema_migrations" in body
        finally:
            server.stop()
            server.store.close()
    assert server.log is not None
    failed = [
        orjson.loads(line)
        for line in server.log.read_text().splitlines()
        if line.startswith("{") and '"status":500' in line
    ]
    assert failed and failed[0]["operation"] == "ListDetectors"
