"""behavior.s3_anomaly: a month of S3 activity by a dozen principals, scanned once.

Each principal has its own bucket and story: a baseline, then on day 24 either an anomaly
(one finding of one type) or more of the same, varied the way real workloads vary (volume
swings, a monthly job, a new bucket, a traveller, a service acting for a role). The tests
assert which (type, principal, bucket) findings the scan made, and what they say.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pytest

from keibi.detect import DetectSettings
from keibi.detect.behavior.s3_anomaly import DELETE, DISCOVERY, EXFILTRATION, PERMISSION, WRITE
from keibi.findings.validate import validate
from tests.detect._frames import check, samples
from tests.detect.behavior._history import (
    ATTACKER_IP,
    additional,
    day,
    role_call,
    s3_call,
    scan_history,
    user_call,
)

DAYS: Final = 31  # days 0-30; the anomalies come on day 24, the monthly job's second run on day 30
ANOMALY_DAY: Final = 24
DROPLET_IP: Final = "139.59.1.1"  # SG
PYTHON_UA: Final = "python-requests/2.31.0"
CURL_UA: Final = "curl/8.4.0"
ETL_PEAK: Final = 37
ETL_BURST: Final = 2431
ERIN_DELETES: Final = 400
TYPES: Final = tuple(t.type for t in (DISCOVERY, EXFILTRATION, WRITE, DELETE, PERMISSION))

Event = dict[str, Any]


def user(name: str, **kw: Any) -> Event:
    return user_call(day(0), name, "s3.amazonaws.com", "GetObject", **kw)


def role(name: str, **kw: Any) -> Event:
    return role_call(day(0), name, "session-1", "s3.amazonaws.com", "GetObject", **kw)


def burst(when: datetime, caller: Event, bucket: str, api: str, n: int) -> list[Event]:
    """``n`` calls spread over the minutes of one hour."""
    return [
        s3_call(when.replace(minute=i % 60, second=0), caller, bucket, api, key=f"data/part-{i:05d}.csv")
        for i in range(n)
    ]


def bucket_policy(when: datetime, name: str, bucket: str, **kw: Any) -> Event:
    """A PutBucketPolicy/PutBucketAcl-style management event of user ``name`` on ``bucket``."""
    api = kw.pop("api", "PutBucketPolicy")
    return user_call(
        when, name, "s3.amazonaws.com", api, request_parameters={"bucketName": bucket, "Host": bucket}, **kw
    )


def world() -> list[Event]:
    ev: list[Event] = []
    for d in range(DAYS):
        today = d == ANOMALY_DAY
        # Exfiltration by volume: a reader of 20-37 objects an hour suddenly reads 2,431.
        etl = role("etl-reader")
        ev += burst(day(d, 10), etl, "finance-exports", "GetObject", 20 + (d * 7) % (ETL_PEAK - 19))
        if today:
            ev += burst(day(d, 14), etl, "finance-exports", "GetObject", ETL_BURST)
        # Steady reader whose volume swings (20-80 an hour, 300 on day 24): quiet.
        ev += burst(
            day(d, 11), role("report-reader"), "reports", "GetObject", 300 if today else (20, 35, 80)[d % 3]
        )
        # Discovery by novelty: alice reads team-data; on day 24 lists it from a new network,
        # country and client. bob lists it every day (quiet); carol lists it every day and
        # travels on day 24 (a familiar API from a new place: quiet).
        ev.append(s3_call(day(d, 9), user("alice"), "team-data", "GetObject"))
        ev.append(s3_call(day(d, 9, 5), user("bob"), "team-data", "ListObjects"))
        ev.append(s3_call(day(d, 9, 10), user("carol"), "team-data", "ListObjects"))
        if today:
            attacker = user("alice", ip=ATTACKER_IP, user_agent=PYTHON_UA)
            ev += [s3_call(day(d, 16, m), attacker, "team-data", "ListObjects") for m in range(3)]
            ev.append(s3_call(day(d, 16, 20), user("carol", ip=ATTACKER_IP), "team-data", "ListObjects"))
        # Write by novelty: dave reads backups; on day 24 writes to it from elsewhere.
        ev.append(s3_call(day(d, 8), user("dave"), "backups", "GetObject"))
        if today:
            stolen = user("dave", ip=ATTACKER_IP, user_agent=PYTHON_UA)
            ev += [s3_call(day(d, 17, m), stolen, "backups", "PutObject", key=f"x/{m}") for m in range(3)]
        # Write inside the baseline: an ingest role uploads 40-60 objects an hour.
        ev += burst(day(d, 12), role("ingest"), "landing", "PutObject", 40 + (d * 3) % 21)
        # Delete by volume: erin only ever reads archive; on day 24 deletes 400 objects.
        ev.append(s3_call(day(d, 7), user("erin"), "archive", "GetObject"))
        if today:
            ev += burst(day(d, 15), user("erin"), "archive", "DeleteObject", ERIN_DELETES)
        # Delete inside the baseline: a monthly job lists daily and deletes 500 objects on
        # day 2 and again on day 30.
        job = role("retention-job")
        ev.append(s3_call(day(d, 2), job, "logs-archive", "ListObjects"))
        if d in (2, 30):
            ev += burst(day(d, 3), job, "logs-archive", "DeleteObjects", 500)
        # Permission by novelty: frank reads public-site; on day 24 puts a bucket policy
        # (a management event) from elsewhere. grace re-ACLs media daily and weekly.
        ev.append(s3_call(day(d, 13), user("frank"), "public-site", "GetObject"))
        if today:
            ev.append(bucket_policy(day(d, 18), "frank", "public-site", ip=ATTACKER_IP, user_agent=PYTHON_UA))
        ev.append(s3_call(day(d, 14, 30), user("grace"), "media", "PutObjectAcl"))
        if d % 7 == 0 or today:
            ev.append(bucket_policy(day(d, 14, 40), "grace", "media", api="PutBucketAcl"))
        # A service reading for a role (Athena), from its own host: never profiled.
        athena = role("analyst", ip="athena.amazonaws.com", invoked_by="athena.amazonaws.com")
        ev += burst(day(d, 19), athena, "lake", "GetObject", 300 if today else 5)
        if today:
            ev.append(s3_call(day(d, 19, 30), athena, "lake", "DeleteObject"))
        # An application reads a new bucket from its usual network and client: quiet.
        app = role("app")
        ev += burst(day(d, 6), app, "app-config", "GetObject", 20)
        if today:
            ev += burst(day(d, 20), app, "app-assets", "GetObject", 25)
            # A principal new on day 24: from the account's usual network (quiet) ...
            ev += burst(day(d, 21), role("new-app"), "app-config", "GetObject", 20)
            # ... and from a network, country and client the account never used.
            intruder = user("mallory", ip=DROPLET_IP, user_agent=CURL_UA)
            ev += burst(day(d, 22), intruder, "finance-exports", "GetObject", 10)
    return ev


@pytest.mark.parametrize("sample", samples("behavior.s3_anomaly"), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    """Five users' 16-day baselines in one file; on day 16 each calls from a new network,
    country and client: a new API there raises its type, the usual API nothing."""
    check("behavior.s3_anomaly", sample)


EXPECTED: Final = {
    (DISCOVERY.type, "alice", "team-data"),
    (EXFILTRATION.type, "etl-reader", "finance-exports"),
    (EXFILTRATION.type, "mallory", "finance-exports"),
    (WRITE.type, "dave", "backups"),
    (DELETE.type, "erin", "archive"),
    (PERMISSION.type, "frank", "public-site"),
}
# For each type: the principal and bucket whose activity stayed inside its baseline.
INSIDE_BASELINE: Final = {
    DISCOVERY.type: ("bob", "team-data"),
    EXFILTRATION.type: ("report-reader", "reports"),
    WRITE.type: ("ingest", "landing"),
    DELETE.type: ("retention-job", "logs-archive"),
    PERMISSION.type: ("grace", "media"),
}


def who(finding: dict[str, Any]) -> tuple[str, str, str]:
    res = finding["resource"]
    return finding["type"], res["accessKeyDetails"]["userName"], res["s3BucketDetails"][0]["name"]


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    found = scan_history(tmp_path_factory.mktemp("s3_anomaly"), cloudtrail=world())
    return [f for f in found if f["type"] in TYPES]


def by_key(findings: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {who(f): f for f in findings}


def explanation(finding: dict[str, Any]) -> list[str]:
    sentences: list[str] = additional(finding)["explanation"]
    return sentences


def test_exactly_the_anomalies_raise(findings: list[dict[str, Any]]) -> None:
    assert sorted(who(f) for f in findings) == sorted(EXPECTED)


def test_findings_keep_guardduty_shape(findings: list[dict[str, Any]]) -> None:
    severities = {t.type: float(t.severity) for t in (DISCOVERY, EXFILTRATION, WRITE, DELETE, PERMISSION)}
    for finding in findings:
        validate(finding)
        assert finding["severity"] == severities[finding["type"]]
        assert finding["resource"]["resourceType"] == "S3Bucket"
        assert finding["service"]["detection"]["anomaly"]["unusual"]["behavior"]


@pytest.mark.parametrize("type_", TYPES)
def test_each_type_raises_after_a_baseline(findings: list[dict[str, Any]], type_: str) -> None:
    raised = [f for f in findings if f["type"] == type_]
    assert raised
    for finding in raised:
        assert finding["service"]["eventFirstSeen"].startswith(day(ANOMALY_DAY).strftime("%Y-%m-%d"))


@pytest.mark.parametrize("type_", TYPES)
def test_same_activity_inside_baseline_is_quiet(findings: list[dict[str, Any]], type_: str) -> None:
    principal, bucket = INSIDE_BASELINE[type_]
    assert not [f for f in findings if who(f)[1:] == (principal, bucket)]


def test_volume_explains_against_the_peak(findings: list[dict[str, Any]]) -> None:
    finding = by_key(findings)[(EXFILTRATION.type, "etl-reader", "finance-exports")]
    assert finding["service"]["count"] == ETL_BURST
    assert explanation(finding)[0] == (
        f"{ETL_BURST:,} GetObject calls on bucket finance-exports in one hour vs. a peak of {ETL_PEAK} per hour "
        f"over {ANOMALY_DAY} days"
    )
    info = additional(finding)
    assert info["unusual"]["callsPerWindow"] == ETL_BURST
    assert info["unusual"]["baselinePeakPerWindow"] == ETL_PEAK
    volume = finding["service"]["detection"]["anomaly"]["unusual"]["behavior"]["PRINCIPAL"]["CALL_VOLUME"]
    assert volume["observations"]["text"] == [f"{ETL_BURST} GetObject calls in one hour"]


def test_first_deletes_explain_there_was_none(findings: list[dict[str, Any]]) -> None:
    finding = by_key(findings)[(DELETE.type, "erin", "archive")]
    sentences = explanation(finding)
    assert sentences[0] == (
        f"{ERIN_DELETES} DeleteObject calls on bucket archive in one hour, the first delete calls by this "
        f"principal in {ANOMALY_DAY} days of history"
    )
    assert "first DeleteObject call by this principal on bucket archive (usual: GetObject)" in sentences


def test_novelty_names_what_was_new_and_what_is_usual(findings: list[dict[str, Any]]) -> None:
    finding = by_key(findings)[(DISCOVERY.type, "alice", "team-data")]
    sentences = explanation(finding)
    assert "first ListObjects call by this principal on bucket team-data (usual: GetObject)" in sentences
    assert "from network 45.33.0.0/16, never seen for this principal (usual: 81.2.0.0/16)" in sentences
    assert "from country US, never seen for this principal (usual: GB)" in sentences
    assert "with user agent python-requests/2, never seen for this principal (usual: aws-cli/2)" in sentences
    assert finding["service"]["count"] == 3
    info = additional(finding)
    assert info["unusual"] == {
        "apiCalls": ["ListObjects"],
        "networks": ["45.33.0.0/16"],
        "countries": ["US"],
        "userAgents": ["python-requests/2"],
    }
    anomaly = finding["service"]["detection"]["anomaly"]
    country = anomaly["unusual"]["behavior"]["PRINCIPAL"]["COUNTRY"]
    assert (country["profileSubtype"], country["observations"]["text"]) == ("UNSEEN", ["US"])
    usual = anomaly["profiles"]["PRINCIPAL"]["COUNTRY"]
    assert [(o["profileSubtype"], o["observations"]["text"]) for o in usual] == [("FREQUENT", ["GB"])]
    callers = anomaly["profiles"]["BUCKET"]["PRINCIPAL"][0]["observations"]["text"]
    assert {c.rsplit("/", 1)[1] for c in callers} == {"alice", "bob", "carol"}


def test_permission_counts_management_events(findings: list[dict[str, Any]]) -> None:
    finding = by_key(findings)[(PERMISSION.type, "frank", "public-site")]
    assert finding["service"]["action"]["awsApiCallAction"]["api"] == "PutBucketPolicy"
    assert (
        "first PutBucketPolicy call by this principal on bucket public-site (usual: GetObject)"
        in explanation(finding)
    )


def test_young_principal_is_judged_against_the_account(findings: list[dict[str, Any]]) -> None:
    finding = by_key(findings)[(EXFILTRATION.type, "mallory", "finance-exports")]
    sentences = explanation(finding)
    assert (
        sentences[0] == "principal known for less than a day only, so judged against the account's baseline"
    )
    # alice's and dave's stolen keys were used from the US earlier that day.
    assert "from country SG, never seen for this account (usual: GB, US)" in sentences
    assert "ACCOUNT" in finding["service"]["detection"]["anomaly"]["unusual"]["behavior"]
    # new-app, also new on day 24, called from the account's usual network and client.
    assert not [f for f in findings if who(f)[1] == "new-app"]


@pytest.mark.parametrize(
    ("principal", "bucket"),
    [
        ("report-reader", "reports"),  # volume swings within a factor of ten of its peak
        ("retention-job", "logs-archive"),  # a monthly job, last run 28 days before
        ("carol", "team-data"),  # a familiar API from a new country
        ("app", "app-assets"),  # a new bucket, from the usual network and client
        ("analyst", "lake"),  # calls Athena makes for the role
    ],
)
def test_benign_variations_are_quiet(findings: list[dict[str, Any]], principal: str, bucket: str) -> None:
    assert not [f for f in findings if who(f)[1:] == (principal, bucket)]


def test_young_account_is_quiet(tmp_path: Path) -> None:
    """The same anomalies on day 9, in an account known for 9 days, raise nothing; with a
    learning period the account has passed, they do."""
    cutoff = day(10, 0).strftime("%Y-%m-%dT%H:%M:%SZ")
    anomaly_date, moved_date = day(ANOMALY_DAY).strftime("%Y-%m-%d"), day(9).strftime("%Y-%m-%d")
    events = [e for e in world() if e["eventTime"] < cutoff or e["eventTime"].startswith(anomaly_date)]
    for event in events:
        event["eventTime"] = event["eventTime"].replace(anomaly_date, moved_date)
    found = scan_history(tmp_path / "young", cloudtrail=events)
    assert not [f for f in found if f["type"] in TYPES]
    settings = DetectSettings(behavior_account_learning=timedelta(days=7))
    found = scan_history(tmp_path / "learnt", cloudtrail=events, settings=settings)
    assert (DISCOVERY.type, "alice", "team-data") in {who(f) for f in found if f["type"] in TYPES}
