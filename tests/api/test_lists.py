"""IPSets, ThreatIntelSets, TrustedEntitySets and ThreatEntitySets through boto3 against a real
``keibi serve`` that reaches moto's S3: create from a local file and from S3, get, list, update,
delete; ERROR for a location that cannot be read; quotas, names, member accounts; and a scan that
raises a ``.Custom`` finding named after the list its owner made through the API.

The module runs its own servers (``api`` below), started with moto's endpoint and dummy
credentials in their environment, as a user's ``keibi serve`` would have its AWS settings.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest

from keibi.api.arns import child_arn
from keibi.intel import Intel, IntelList
from keibi.pipeline import scan
from keibi.store.api_lists import scan_lists
from tests.api.server import KeibiServer, serving
from tests.dbs import sqlite_url

SAMPLES = Path(__file__).resolve().parents[1] / "detect/network/samples/malicious_ip_custom"
ATTACKER = "92.55.146.245"  # the remote address of hit_attacker_ssh.log; listed only by the scan test
NOT_FOUND = "The request is rejected since no such resource found."


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str
) -> Iterator[KeibiServer]:
    """A ``keibi serve`` whose S3 is moto's (this module's own; see the module docstring)."""
    data_dir = tmp_path_factory.mktemp("keibi-serve-lists")
    env = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    with serving(request.param, data_dir, env) as server:
        yield server


@pytest.fixture
def bucket(moto_endpoint: str) -> tuple[Any, str]:
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    name = f"lists-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return s3, name


def _setup(api: KeibiServer) -> tuple[Any, str, str]:
    """A new account's client, its detector id and its account id."""
    key = api.account()
    gd = api.client(key)
    return gd, gd.create_detector(Enable=True)["DetectorId"], key.account_id


def _message(err: pytest.ExceptionInfo[Any]) -> str:
    return str(err.value.response["Error"]["Message"])


def _txt(tmp_path: Path, *entries: str) -> str:
    path = tmp_path / f"{uuid.uuid4().hex[:8]}.txt"
    path.write_text("# listed for a test\n" + "\n".join(entries) + "\n")
    return str(path)


def test_threat_intel_set_from_a_local_file(api: KeibiServer, tmp_path: Path) -> None:
    gd, did, account = _setup(api)
    location = _txt(tmp_path, "198.51.100.7", "203.0.113.0/24")
    made = gd.create_threat_intel_set(
        DetectorId=did,
        Name="bad actors",
        Format="TXT",
        Location=location,
        Activate=True,
        Tags={"team": "secops"},
    )
    set_id = made["ThreatIntelSetId"]
    assert len(set_id) == 32 and int(set_id, 16) >= 0
    got = gd.get_threat_intel_set(DetectorId=did, ThreatIntelSetId=set_id)
    got.pop("ResponseMetadata")
    assert got == {
        "Name": "bad actors",
        "Format": "TXT",
        "Location": location,
        "Status": "ACTIVE",
        "Tags": {"team": "secops"},
    }
    assert gd.list_threat_intel_sets(DetectorId=did)["ThreatIntelSetIds"] == [set_id]
    assert gd.list_ip_sets(DetectorId=did)["IpSetIds"] == []

    gd.update_threat_intel_set(DetectorId=did, ThreatIntelSetId=set_id, Name="worse actors", Activate=False)
    got = gd.get_threat_intel_set(DetectorId=did, ThreatIntelSetId=set_id)
    assert (got["Name"], got["Status"]) == ("worse actors", "INACTIVE")
    gd.update_threat_intel_set(DetectorId=did, ThreatIntelSetId=set_id, Activate=True)
    assert gd.get_threat_intel_set(DetectorId=did, ThreatIntelSetId=set_id)["Status"] == "ACTIVE"

    arn = child_arn("us-east-1", account, did, "threatintelset", set_id)
    assert gd.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "secops"}
    gd.delete_threat_intel_set(DetectorId=did, ThreatIntelSetId=set_id)
    assert gd.list_threat_intel_sets(DetectorId=did)["ThreatIntelSetIds"] == []
    with pytest.raises(gd.exceptions.BadRequestException) as err:
        gd.get_threat_intel_set(DetectorId=did, ThreatIntelSetId=set_id)
    assert _message(err) == NOT_FOUND
    with pytest.raises(gd.exceptions.BadRequestException):
        gd.list_tags_for_resource(ResourceArn=arn)


def test_entity_sets_from_s3(api: KeibiServer, bucket: tuple[Any, str]) -> None:
    s3, name = bucket
    s3.put_object(Bucket=name, Key="threats/entities.txt", Body=b"198.51.100.9\n*.evil.example\n")
    s3.put_object(Bucket=name, Key="trusted/office.txt", Body=b"192.0.2.0/24\n")
    gd, did, _ = _setup(api)
    threat = gd.create_threat_entity_set(
        DetectorId=did,
        Name="entities",
        Format="TXT",
        Location=f"s3://{name}/threats/entities.txt",
        Activate=True,
        ExpectedBucketOwner="111122223333",
    )["ThreatEntitySetId"]
    got = gd.get_threat_entity_set(DetectorId=did, ThreatEntitySetId=threat)
    assert (got["Status"], got["Location"], got["ExpectedBucketOwner"]) == (
        "ACTIVE",
        f"s3://{name}/threats/entities.txt",
        "111122223333",
    )
    assert isinstance(got["CreatedAt"], datetime) and got["UpdatedAt"] >= got["CreatedAt"]
    assert "ErrorDetails" not in got
    # GuardDuty's HTTPS form of an S3 location is fetched from S3 too.
    https = f"https://s3.amazonaws.com/{name}/trusted/office.txt"
    trusted = gd.create_trusted_entity_set(
        DetectorId=did, Name="office", Format="TXT", Location=https, Activate=True
    )["TrustedEntitySetId"]
    got = gd.get_trusted_entity_set(DetectorId=did, TrustedEntitySetId=trusted)
    assert (got["Status"], got["Location"]) == ("ACTIVE", https)
    assert gd.list_trusted_entity_sets(DetectorId=did)["TrustedEntitySetIds"] == [trusted]

    # Moved to an object that is not there: ERROR, and why.
    gone = f"s3://{name}/threats/gone.txt"
    gd.update_threat_entity_set(DetectorId=did, ThreatEntitySetId=threat, Location=gone)
    got = gd.get_threat_entity_set(DetectorId=did, ThreatEntitySetId=threat)
    assert (got["Status"], got["Location"]) == ("ERROR", gone)
    assert got["ErrorDetails"].startswith(f"{gone}: cannot fetch: NoSuchKey")
    s3.put_object(Bucket=name, Key="threats/gone.txt", Body=b"198.51.100.10\n")
    gd.update_threat_entity_set(DetectorId=did, ThreatEntitySetId=threat, Activate=True)
    got = gd.get_threat_entity_set(DetectorId=did, ThreatEntitySetId=threat)
    assert got["Status"] == "ACTIVE" and "ErrorDetails" not in got
    gd.delete_threat_entity_set(DetectorId=did, ThreatEntitySetId=threat)
    gd.delete_trusted_entity_set(DetectorId=did, TrustedEntitySetId=trusted)
    assert gd.list_threat_entity_sets(DetectorId=did)["ThreatEntitySetIds"] == []


def test_missing_file_is_error(api: KeibiServer, tmp_path: Path) -> None:
    gd, did, _ = _setup(api)
    missing = str(tmp_path / "nowhere.txt")
    ip_set = gd.create_ip_set(DetectorId=did, Name="office", Format="TXT", Location=missing, Activate=True)[
        "IpSetId"
    ]
    got = gd.get_ip_set(DetectorId=did, IpSetId=ip_set)
    assert got["Status"] == "ERROR"
    assert "ErrorDetails" not in got  # GuardDuty's IPSet has no such member: the server log says why
    assert api.log is not None
    logged = api.log.read_text()
    assert ip_set in logged and "cannot read" in logged
    entity = gd.create_trusted_entity_set(
        DetectorId=did, Name="office", Format="STIX", Location=missing, Activate=True
    )["TrustedEntitySetId"]
    got = gd.get_trusted_entity_set(DetectorId=did, TrustedEntitySetId=entity)
    assert got["Status"] == "ERROR"
    assert got["ErrorDetails"].startswith(f"{missing}: cannot read: ")
    # A file that is there but not a list: ERROR, without quoting the file.
    garbage = tmp_path / "passwd"
    garbage.write_text("root:x:0:0:root:/root:/bin/bash\n")
    gd.update_trusted_entity_set(DetectorId=did, TrustedEntitySetId=entity, Location=str(garbage))
    got = gd.get_trusted_entity_set(DetectorId=did, TrustedEntitySetId=entity)
    assert got["Status"] == "ERROR"
    assert got["ErrorDetails"] == f"{garbage}: the file could not be read as a STIX list"


def test_inactive_list_is_not_fetched(api: KeibiServer, tmp_path: Path) -> None:
    gd, did, _ = _setup(api)
    missing = str(tmp_path / "later.txt")
    made = gd.create_ip_set(DetectorId=did, Name="later", Format="TXT", Location=missing, Activate=False)
    assert gd.get_ip_set(DetectorId=did, IpSetId=made["IpSetId"])["Status"] == "INACTIVE"
    Path(missing).write_text("192.0.2.44\n")
    gd.update_ip_set(DetectorId=did, IpSetId=made["IpSetId"], Activate=True)
    assert gd.get_ip_set(DetectorId=did, IpSetId=made["IpSetId"])["Status"] == "ACTIVE"


def test_quotas(api: KeibiServer, tmp_path: Path) -> None:
    gd, did, _ = _setup(api)
    location = _txt(tmp_path, "192.0.2.1")
    gd.create_ip_set(DetectorId=did, Name="one", Format="TXT", Location=location, Activate=False)
    with pytest.raises(gd.exceptions.BadRequestException) as err:
        gd.create_ip_set(DetectorId=did, Name="two", Format="TXT", Location=location, Activate=False)
    assert _message(err) == (
        "The request is rejected because it's an attempt to create resources beyond the current AWS account "
        "limits: an account has at most one IPSet per Region."
    )
    gd.create_trusted_entity_set(DetectorId=did, Name="one", Format="TXT", Location=location, Activate=False)
    with pytest.raises(gd.exceptions.BadRequestException) as err:
        gd.create_trusted_entity_set(
            DetectorId=did, Name="two", Format="TXT", Location=location, Activate=False
        )
    assert "at most one TrustedEntitySet per Region" in _message(err)
    for i in range(3):
        gd.create_threat_intel_set(
            DetectorId=did, Name=f"i{i}", Format="TXT", Location=location, Activate=False
        )
        gd.create_threat_entity_set(
            DetectorId=did, Name=f"e{i}", Format="TXT", Location=location, Activate=False
        )
    for create in (gd.create_threat_intel_set, gd.create_threat_entity_set):
        with pytest.raises(gd.exceptions.BadRequestException) as err:
            create(DetectorId=did, Name="seventh", Format="TXT", Location=location, Activate=False)
        assert "at most six ThreatIntelSets and ThreatEntitySets together per Region" in _message(err)
    # Another account, or another Region of the same account, has quotas of its own.
    other, other_did, _ = _setup(api)
    other.create_ip_set(DetectorId=other_did, Name="one", Format="TXT", Location=location, Activate=False)
    page = gd.list_threat_intel_sets(DetectorId=did, MaxResults=2)
    rest = gd.list_threat_intel_sets(DetectorId=did, NextToken=page["NextToken"])
    assert len(page["ThreatIntelSetIds"]) == 2 and len(rest["ThreatIntelSetIds"]) == 1
    assert "NextToken" not in rest


@pytest.mark.parametrize(
    ("create", "name", "location", "wrong"),
    [
        ("create_ip_set", "bad.name", "s3://b/k.txt", "parameter name"),
        ("create_threat_entity_set", "with space", "s3://b/k.txt", "parameter name"),
        ("create_threat_intel_set", "ok", "ftp://example.org/k.txt", "parameter location"),
        ("create_trusted_entity_set", "ok", "s3://bucket-only", "parameter location"),
    ],
)
def test_refused_input(api: KeibiServer, create: str, name: str, location: str, wrong: str) -> None:
    gd, did, _ = _setup(api)
    with pytest.raises(gd.exceptions.BadRequestException) as err:
        getattr(gd, create)(DetectorId=did, Name=name, Format="TXT", Location=location, Activate=False)
    assert wrong in _message(err)


def test_names_unique_and_ip_list_names_with_spaces(api: KeibiServer, tmp_path: Path) -> None:
    gd, did, _ = _setup(api)
    location = _txt(tmp_path, "192.0.2.1")
    first = gd.create_threat_intel_set(
        DetectorId=did, Name="bad list", Format="TXT", Location=location, Activate=False
    )
    with pytest.raises(gd.exceptions.BadRequestException) as err:
        gd.create_threat_intel_set(
            DetectorId=did, Name="bad list", Format="TXT", Location=location, Activate=False
        )
    assert (
        _message(err)
        == "The request is rejected because a ThreatIntelSet with the name bad list already exists."
    )
    second = gd.create_threat_intel_set(
        DetectorId=did, Name="other", Format="TXT", Location=location, Activate=False
    )
    with pytest.raises(gd.exceptions.BadRequestException):
        gd.update_threat_intel_set(
            DetectorId=did, ThreatIntelSetId=second["ThreatIntelSetId"], Name="bad list"
        )
    gd.update_threat_intel_set(DetectorId=did, ThreatIntelSetId=first["ThreatIntelSetId"], Name="renamed")
    assert (
        gd.get_threat_intel_set(DetectorId=did, ThreatIntelSetId=first["ThreatIntelSetId"])["Name"]
        == "renamed"
    )


def test_other_accounts_and_members(api: KeibiServer, tmp_path: Path) -> None:
    gd, did, account = _setup(api)
    location = _txt(tmp_path, "192.0.2.1")
    set_id = gd.create_ip_set(DetectorId=did, Name="office", Format="TXT", Location=location, Activate=False)[
        "IpSetId"
    ]
    intruder, own, intruder_id = _setup(api)
    with pytest.raises(intruder.exceptions.BadRequestException) as err:
        intruder.get_ip_set(DetectorId=did, IpSetId=set_id)
    assert "not owned by the current account" in _message(err)
    for call in (intruder.get_ip_set, intruder.delete_ip_set):
        with pytest.raises(intruder.exceptions.BadRequestException) as err:
            call(DetectorId=own, IpSetId=set_id)
        assert _message(err) == NOT_FOUND
    assert gd.get_ip_set(DetectorId=did, IpSetId=set_id)["Name"] == "office"

    # A member account cannot manage lists: its administrator's apply to it.
    gd.create_members(DetectorId=did, AccountDetails=[{"AccountId": intruder_id, "Email": "m@example.com"}])
    gd.invite_members(DetectorId=did, AccountIds=[intruder_id])
    (invitation,) = intruder.list_invitations()["Invitations"]
    intruder.accept_administrator_invitation(
        DetectorId=own, AdministratorId=account, InvitationId=invitation["InvitationId"]
    )
    with pytest.raises(intruder.exceptions.BadRequestException) as err:
        intruder.create_threat_intel_set(
            DetectorId=own, Name="mine", Format="TXT", Location=location, Activate=False
        )
    assert (
        _message(err)
        == "The request is rejected because users from GuardDuty member accounts cannot run this API."
    )
    assert intruder.list_threat_intel_sets(DetectorId=own)["ThreatIntelSetIds"] == []


def _flow_log(tmp_path: Path, account: str) -> str:
    """The sample flow log of a listed attacker's SSH session, as seen in ``account``."""
    text = (SAMPLES / "hit_attacker_ssh.log").read_text().replace("493859302102", account)
    path = tmp_path / "flow" / account / "attacker.log"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return str(path)


def _custom(result_findings: list[dict[str, Any]], account: str) -> list[dict[str, Any]]:
    return [
        f
        for f in result_findings
        if f["type"] == "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom" and f["accountId"] == account
    ]


def _intel(api: KeibiServer, threat: tuple[IntelList, ...] = ()) -> Intel:
    """The store's lists as a scan assembles them (``keibi.cli._assemble_intel``), after
    ``threat`` (a scan's ``--threat-list``)."""
    lists = scan_lists(api.store)
    return Intel(
        threat=[*threat, *(lst for lst in lists if lst.kind == "threat" and lst.category == "custom")],
        trusted=[lst for lst in lists if lst.kind == "trusted"],
        feeds=[lst for lst in lists if lst.kind == "threat" and lst.category != "custom"],
    )


def test_scan_raises_custom_finding_named_after_the_api_list(
    api: KeibiServer, tmp_path: Path, bucket: tuple[Any, str]
) -> None:
    s3, name = bucket
    s3.put_object(Bucket=name, Key="attackers.txt", Body=f"{ATTACKER}\n".encode())
    gd, did, account = _setup(api)
    set_id = gd.create_threat_intel_set(
        DetectorId=did,
        Name="attackers seen",
        Format="TXT",
        Location=f"s3://{name}/attackers.txt",
        Activate=True,
    )["ThreatIntelSetId"]
    assert gd.get_threat_intel_set(DetectorId=did, ThreatIntelSetId=set_id)["Status"] == "ACTIVE"
    log = _flow_log(tmp_path, account)

    result = scan([log], api.store, intel=_intel(api), parse_workers=0)
    (finding,) = _custom(result.findings, account)
    info = orjson.loads(finding["service"]["additionalInfo"]["value"])
    assert info["threatListName"] == "attackers seen"
    assert finding["service"]["evidence"] == {
        "threatIntelligenceDetails": [{"threatListName": "attackers seen"}]
    }
    assert (
        finding["service"]["action"]["networkConnectionAction"]["remoteIpDetails"]["ipAddressV4"] == ATTACKER
    )

    # Switched off through the API, the list no longer raises findings.
    gd.update_threat_intel_set(DetectorId=did, ThreatIntelSetId=set_id, Activate=False)
    again = scan([log], api.store, intel=_intel(api), parse_workers=0, rescan=True)
    assert _custom(again.findings, account) == []


def _threat_list(gd: Any, did: str, tmp_path: Path, name: str) -> str:
    return str(
        gd.create_threat_intel_set(
            DetectorId=did, Name=name, Format="TXT", Location=_txt(tmp_path, ATTACKER), Activate=True
        )["ThreatIntelSetId"]
    )


def _names(findings: list[dict[str, Any]], account: str) -> list[str]:
    """The threat list names of ``account``'s ``.Custom`` findings."""
    return sorted(
        orjson.loads(f["service"]["additionalInfo"]["value"])["threatListName"]
        for f in _custom(findings, account)
    )


def test_an_api_list_applies_to_its_own_account_only(api: KeibiServer, tmp_path: Path) -> None:
    gd, did, account = _setup(api)
    _, _, other = _setup(api)
    _threat_list(gd, did, tmp_path, "mine only")
    logs = [_flow_log(tmp_path, account), _flow_log(tmp_path, other)]

    result = scan(logs, api.store, intel=_intel(api), parse_workers=0)
    assert _names(result.findings, account) == ["mine only"]
    assert _custom(result.findings, other) == []


def test_an_api_trusted_list_silences_its_own_account_only(api: KeibiServer, tmp_path: Path) -> None:
    gd, did, account = _setup(api)
    _, _, other = _setup(api)
    gd.create_ip_set(
        DetectorId=did, Name="office", Format="TXT", Location=_txt(tmp_path, ATTACKER), Activate=True
    )
    logs = [_flow_log(tmp_path, account), _flow_log(tmp_path, other)]
    everyone = IntelList.from_entries("everyone's", [ATTACKER])  # a scan's --threat-list: global

    result = scan(logs, api.store, intel=_intel(api, threat=(everyone,)), parse_workers=0)
    assert _custom(result.findings, account) == []
    assert _names(result.findings, other) == ["everyone's"]
    # Without the IPSet's account's lists, the global list raises the account's finding too.
    assert _names(
        scan(logs, api.store, intel=Intel(threat=[everyone]), parse_workers=0, rescan=True).findings, account
    ) == ["everyone's"]


def test_an_administrators_list_applies_to_its_enabled_members(api: KeibiServer, tmp_path: Path) -> None:
    gd, did, admin = _setup(api)
    member, member_did, member_id = _setup(api)
    _, _, outsider = _setup(api)
    _threat_list(gd, did, tmp_path, "admin list")
    gd.create_members(DetectorId=did, AccountDetails=[{"AccountId": member_id, "Email": "m@example.com"}])
    gd.invite_members(DetectorId=did, AccountIds=[member_id])
    logs = [_flow_log(tmp_path, a) for a in (admin, member_id, outsider)]

    # Invited, not yet Enabled: the administrator's list is not the member's.
    result = scan(logs, api.store, intel=_intel(api), parse_workers=0)
    assert (_names(result.findings, admin), _custom(result.findings, member_id)) == (["admin list"], [])

    (invitation,) = member.list_invitations()["Invitations"]
    member.accept_administrator_invitation(
        DetectorId=member_did, AdministratorId=admin, InvitationId=invitation["InvitationId"]
    )
    result = scan(logs, api.store, intel=_intel(api), parse_workers=0, rescan=True)
    assert _names(result.findings, member_id) == ["admin list"]
    assert _names(result.findings, admin) == ["admin list"]
    assert _custom(result.findings, outsider) == []

    gd.disassociate_members(DetectorId=did, AccountIds=[member_id])
    result = scan(logs, api.store, intel=_intel(api), parse_workers=0, rescan=True)
    assert _custom(result.findings, member_id) == []
    assert _names(result.findings, admin) == ["admin list"]


def test_by_default_the_server_reads_lists_only_from_s3_and_https(tmp_path: Path) -> None:
    """Lists are fetched by the server itself: without ``[server] list_locations`` saying so, an
    API caller cannot make it read a local file or a plain-http (internal) URL."""
    local = tmp_path / "threat.txt"
    local.write_text(f"{ATTACKER}\n")
    server = KeibiServer(sqlite_url(tmp_path), tmp_path)
    server.start(extra_env={"KEIBI_SERVER_LIST_LOCATIONS": ""})  # "" → the default
    try:
        gd = server.client(server.account())
        did = gd.create_detector(Enable=True)["DetectorId"]
        for location in (str(local), f"file://{local}", "http://169.254.169.254/latest/meta-data/"):
            with pytest.raises(gd.exceptions.BadRequestException) as err:
                gd.create_threat_intel_set(
                    DetectorId=did, Name="bad", Format="TXT", Location=location, Activate=True
                )
            assert "reads lists only from s3, https locations" in err.value.response["Error"]["Message"]
        assert gd.list_threat_intel_sets(DetectorId=did)["ThreatIntelSetIds"] == []
    finally:
        server.stop()
        server.store.close()
