"""Renderings: one GuardDuty finding as GuardDuty JSON, as ASFF (Security Hub) or as OCSF.

Every rendering is a pure function of the finding dict (GuardDuty's lowerCamelCase wire JSON) to
a new dict, so an export, a target or a test can pick one by name (:data:`RENDERINGS`) and
nothing else about the pipeline changes.

**GUARDDUTY** is the native format: a deep copy, so a caller may change its result freely.

**ASFF** is the AWS Security Finding Format exactly as GuardDuty itself sends a finding to Security
Hub (GuardDuty user guide, "Integration with Security Hub", and findings captured from Security
Hub in 2020 and 2025):

- ``Id`` is the finding ARN, ``GeneratorId`` the detector ARN, ``ProductArn``
  ``arn:aws:securityhub:<region>::product/aws/guardduty``, ``ProductName``/``CompanyName``
  ``GuardDuty``/``Amazon``. Security Hub accepts that product ARN only from GuardDuty itself; a
  ``BatchImportFindings`` call from a customer account must swap in its own
  ``product/<account>/default`` ARN (the rest of the finding stays valid).
- ``Types`` holds one ``namespace/category/classifier``: the classifier is the GuardDuty type with
  its ``/`` turned into ``-``; the namespace and category come from the guide's mapping table,
  which follows the threat purpose with documented exceptions (:data:`_ASFF_PREFIXES`). Types the
  table predates take the ASFF category named like their threat purpose, and S3 types take
  plain ``TTPs``, as every S3 type in the table does.
- ``Severity``: ``Product`` and ``Original`` are GuardDuty's number, ``Label`` its band
  (Low < 4 <= Medium < 7 <= High < 9 <= Critical). ``Normalized`` is the number x 10, which lies
  inside Security Hub's normalized band for that label (Low 1-39, Medium 40-69, High 70-89,
  Critical 90-100); GuardDuty's own values have varied (a Low sent as 40 in 2025).
- ``Resources``: ``AwsEc2Instance`` (ARN id), ``AwsIamAccessKey``
  (``AWS::IAM::AccessKey:<key id>``), ``AwsS3Bucket`` (bucket ARN) and ``AwsS3Object``, with the
  details GuardDuty knows; an instance the logs name only by its interface becomes an
  ``AwsEc2NetworkInterface``.
- ``Action`` carries ``service.action`` in ASFF's shapes (``CallerType`` as ``remoteIp`` /
  ``domain``), ``Network`` the flow's direction, addresses and ports; ``ProductFields`` the
  ``service`` tree flattened to ``aws/guardduty/service/<path>`` strings (list items as
  ``.<n>_``), as GuardDuty writes them, within ASFF's limits: at most 47 pairs (50, less the 3
  ``aws/securityhub/*`` keys Security Hub adds), keys under 128 characters, values cut at 2048.
- ``RecordState`` is ``ARCHIVED`` for an archived finding, else ``ACTIVE``; ``Workflow`` is
  ``NEW`` (triage state belongs to Security Hub); ``Sample`` is GuardDuty's
  ``additionalInfo.sample``. ``Title``/``Description`` are cut to ASFF's 256/1024 characters.
- No ``SourceUrl``: GuardDuty's points at the AWS console, where a keibi finding does not exist.

**OCSF** is a Detection Finding (class 2004, category 2 Findings) of OCSF 1.1.0 with the
``cloud`` profile:

- ``activity_id`` 1 Create for a finding seen once (``count`` 1 and ``createdAt`` equal to
  ``updatedAt``), else 2 Update; ``type_uid`` = 2004 x 100 + activity; ``time`` (epoch ms) is
  ``updatedAt``, the moment this version of the finding was made.
- ``severity_id`` from the same bands: Low 2, Medium 3, High 4, Critical 5; ``status_id`` 1 New,
  or 3 Suppressed for an archived finding.
- ``finding_info``: ``uid`` the finding ARN (unique across accounts and regions), title,
  description, ``types`` the GuardDuty type, the four times in epoch ms.
- ``metadata.product`` names keibi (``feature`` GuardDuty's ``featureName`` when set);
  ``cloud`` the account and region; ``resources`` the same resources as ASFF with GuardDuty's
  own details in ``data``; ``evidences`` the action as OCSF ``api`` / ``connection_info`` /
  ``query`` with endpoints (remote IPs with location and AS); ``observables`` the remote IPs,
  domains, resource ids and user names; ``unmapped`` GuardDuty fields OCSF has no place for
  (id, native severity, role, ``additionalInfo`` decoded, threat-intel evidence, anomaly detail).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from keibi import __version__
from keibi.errors import ConfigError

Finding = Mapping[str, Any]

ASFF_SCHEMA_VERSION: Final = "2018-10-08"
OCSF_VERSION: Final = "1.1.0"
DETECTION_FINDING: Final = 2004  # OCSF class_uid
FINDINGS_CATEGORY: Final = 2  # OCSF category_uid

_TITLE_MAX: Final = 256
_DESCRIPTION_MAX: Final = 1024
_RESOURCES_MAX: Final = 32
_PRODUCT_FIELDS_MAX: Final = 47
_FIELD_KEY_MAX: Final = 127
_FIELD_VALUE_MAX: Final = 2048
_FIELD_ROOT: Final = "aws/guardduty/service"

# GuardDuty type prefix -> ASFF namespace/category, first match wins: the exceptions of the
# guide's Security Hub table first, then one default per threat purpose (the part before ":").
# PenTest:IAMUser follows what Security Hub shows ("TTPs/Discovery/PenTest:IAMUser-KaliLinux");
# the table prints that row with a stray "/".
_ASFF_PREFIXES: Final[tuple[tuple[str, str], ...]] = (
    ("Policy:S3/BucketBlockPublicAccessDisabled", "Effects/Data Exposure"),
    ("Trojan:EC2/DriveBySourceTraffic", "TTPs/Initial Access"),
    ("Trojan:EC2/DropPoint", "Effects/Data Exfiltration"),
    ("UnauthorizedAccess:EC2/MaliciousIPCaller", "TTPs/Command and Control"),
    ("UnauthorizedAccess:EC2/MetadataDNSRebind", "TTPs"),
    ("UnauthorizedAccess:EC2/Tor", "Effects/Resource Consumption"),
    ("UnauthorizedAccess:IAMUser/ConsoleLoginSuccess", "TTPs"),
    ("UnauthorizedAccess:IAMUser/ConsoleLogin", "Unusual Behaviors/User"),
    ("UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration", "Effects/Data Exfiltration"),
    ("UnauthorizedAccess:IAMUser/ResourceCredentialExfiltration", "Effects/Data Exfiltration"),
    ("UnauthorizedAccess:IAMUser/MaliciousIPCaller", "TTPs"),
    ("UnauthorizedAccess:IAMUser/TorIPCaller", "TTPs/Command and Control"),
    ("Backdoor:", "TTPs/Command and Control"),
    ("Behavior:", "Unusual Behaviors/VM"),
    ("CredentialAccess:", "TTPs/Credential Access"),
    ("CryptoCurrency:", "TTPs/Command and Control"),
    ("DefenseEvasion:", "TTPs/Defense Evasion"),
    ("Discovery:", "TTPs/Discovery"),
    ("Execution:", "TTPs/Execution"),
    ("Exfiltration:", "Effects/Data Exfiltration"),
    ("Impact:", "TTPs/Impact"),
    ("InitialAccess:", "TTPs/Initial Access"),
    ("PenTest:", "TTPs/Discovery"),
    ("Persistence:", "TTPs/Persistence"),
    ("Policy:", "TTPs"),
    ("PrivilegeEscalation:", "TTPs/Privilege Escalation"),
    ("Recon:", "TTPs/Discovery"),
    ("ResourceConsumption:", "Unusual Behaviors/User"),
    ("Stealth:", "TTPs/Defense Evasion"),
    ("Trojan:", "TTPs/Command and Control"),
    ("UnauthorizedAccess:", "TTPs/Initial Access"),
)
# Classifiers the table spells otherwise than "type with / as -".
_ASFF_CLASSIFIERS: Final = {"Trojan:EC2/DNSDataExfiltration": "Trojan:EC2-DNSDataExfiltration!DNS"}

_CALLER_TYPES: Final = {"Remote IP": "remoteIp", "Domain": "domain"}
_DIRECTIONS: Final = {"INBOUND": (1, "Inbound"), "OUTBOUND": (2, "Outbound")}
_BLOCK_PUBLIC_ACCESS: Final = {
    "blockPublicAcls": "BlockPublicAcls",
    "blockPublicPolicy": "BlockPublicPolicy",
    "ignorePublicAcls": "IgnorePublicAcls",
    "restrictPublicBuckets": "RestrictPublicBuckets",
}


# ---------------------------------------------------------------- small shared helpers


def _clean(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``obj`` without members that say nothing (None, blank text, empty containers): ASFF
    rejects blank strings, and an empty object only adds noise in either format."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if isinstance(value, dict | list) and not value:
            continue
        out[key] = value
    return out


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _int(value: Any) -> int | None:
    """An integer from GuardDuty's number or digit string (``asn`` is a string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _time(value: Any) -> datetime | None:
    """GuardDuty's times: ISO 8601 text, or epoch seconds for nested ``timestamp`` members."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _epoch_ms(value: Any) -> int | None:
    parsed = _time(value)
    return None if parsed is None else round(parsed.timestamp() * 1000)


def _iso(value: Any) -> str | None:
    """An ISO 8601 time as GuardDuty wrote it, or epoch seconds in GuardDuty's text form."""
    parsed = _time(value)
    if parsed is None:
        return None
    if isinstance(value, str):
        return value
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def severity_label(severity: float) -> str:
    """GuardDuty's band for a severity number: Low, Medium, High or Critical."""
    if severity >= 9.0:
        return "Critical"
    if severity >= 7.0:
        return "High"
    if severity >= 4.0:
        return "Medium"
    return "Low"


def _severity(finding: Finding) -> float:
    return _float(finding.get("severity")) or 0.0


def _action(finding: Finding) -> dict[str, Any]:
    return _dict(_dict(finding.get("service")).get("action"))


def _additional_info(finding: Finding) -> dict[str, Any] | str | None:
    """``service.additionalInfo`` decoded: the API shape holds JSON text in ``value``."""
    info = _dict(finding.get("service")).get("additionalInfo")
    if not isinstance(info, dict):
        return None
    value = info.get("value")
    if not isinstance(value, str):
        return {k: v for k, v in info.items() if k != "type"} or None
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value or None
    return decoded if isinstance(decoded, dict) else value


def _is_sample(finding: Finding) -> bool:
    info = _additional_info(finding)
    return isinstance(info, dict) and info.get("sample") is True


# ---------------------------------------------------------------- resources (ASFF and OCSF)


@dataclass(frozen=True, slots=True)
class _Resource:
    """One affected resource, named as ASFF names it; OCSF reuses type and uid."""

    type: str
    uid: str
    name: str | None = None
    details: dict[str, Any] = field(default_factory=dict)  # ASFF Details.<type>
    tags: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)  # GuardDuty's own details
    owner: dict[str, Any] = field(default_factory=dict)  # OCSF user owning the resource


def _tags(value: Any) -> dict[str, str]:
    return {
        str(t["key"]): str(t["value"]) for t in _dicts(value) if _text(t.get("key")) and _text(t.get("value"))
    }


def _instance(finding: Finding, arn_base: str) -> _Resource:
    inst = _dict(_dict(finding.get("resource")).get("instanceDetails"))
    enis = _dicts(inst.get("networkInterfaces"))
    first = enis[0] if enis else {}
    v4: list[str] = []
    for eni in enis:
        v4 += [eni["publicIp"]] if _text(eni.get("publicIp")) else []
        v4 += [eni["privateIpAddress"]] if _text(eni.get("privateIpAddress")) else []
        v4 += [
            a["privateIpAddress"]
            for a in _dicts(eni.get("privateIpAddresses"))
            if _text(a.get("privateIpAddress"))
        ]
    v6 = [a for eni in enis for a in eni.get("ipv6Addresses") or [] if _text(a)]
    instance_id = _text(inst.get("instanceId"))
    if instance_id is not None:
        details = _clean(
            {
                "Type": _text(inst.get("instanceType")),
                "ImageId": _text(inst.get("imageId")),
                "IpV4Addresses": list(dict.fromkeys(v4)),
                "IpV6Addresses": list(dict.fromkeys(v6)),
                "IamInstanceProfileArn": _text(_dict(inst.get("iamInstanceProfile")).get("arn")),
                "VpcId": _text(first.get("vpcId")),
                "SubnetId": _text(first.get("subnetId")),
                "LaunchedAt": _iso(inst.get("launchTime")),
                "NetworkInterfaces": [
                    {"NetworkInterfaceId": e["networkInterfaceId"]}
                    for e in enis
                    if _text(e.get("networkInterfaceId"))
                ],
            }
        )
        return _Resource(
            "AwsEc2Instance",
            f"{arn_base}:instance/{instance_id}",
            instance_id,
            details,
            _tags(inst.get("tags")),
            inst,
        )
    eni_id = _text(first.get("networkInterfaceId"))
    if eni_id is not None:
        details = _clean(
            {
                "NetworkInterfaceId": eni_id,
                "PublicIp": _text(first.get("publicIp")),
                "PrivateIpAddresses": [
                    {"PrivateIpAddress": ip} for ip in dict.fromkeys(v4) if ip != first.get("publicIp")
                ],
                "SecurityGroups": [
                    _clean({"GroupId": _text(g.get("groupId")), "GroupName": _text(g.get("groupName"))})
                    for g in _dicts(first.get("securityGroups"))
                ],
            }
        )
        return _Resource(
            "AwsEc2NetworkInterface", f"{arn_base}:network-interface/{eni_id}", eni_id, details, {}, inst
        )
    return _Resource("Other", "AWS::EC2::Instance:unknown", None, {}, {}, inst)


def _access_key(finding: Finding) -> _Resource | None:
    key = _dict(_dict(finding.get("resource")).get("accessKeyDetails"))
    if not key:
        return None
    ident = _text(key.get("accessKeyId")) or _text(key.get("principalId")) or "unknown"
    details = _clean(
        {
            "PrincipalId": _text(key.get("principalId")),
            "PrincipalType": _text(key.get("userType")),
            "PrincipalName": _text(key.get("userName")),
        }
    )
    owner = _clean(
        {
            "name": _text(key.get("userName")),
            "uid": _text(key.get("principalId")),
            "type": _text(key.get("userType")),
        }
    )
    return _Resource(
        "AwsIamAccessKey",
        f"AWS::IAM::AccessKey:{ident}",
        _text(key.get("accessKeyId")),
        details,
        {},
        key,
        owner,
    )


def _bucket(bucket: dict[str, Any], partition: str) -> _Resource | None:
    name = _text(bucket.get("name"))
    uid = _text(bucket.get("arn")) or (f"arn:{partition}:s3:::{name}" if name else None)
    if uid is None:
        return None
    encryption = _dict(bucket.get("defaultServerSideEncryption"))
    levels = _dict(
        _dict(_dict(bucket.get("publicAccess")).get("permissionConfiguration")).get("bucketLevelPermissions")
    )
    blocks = _dict(levels.get("blockPublicAccess"))
    details = _clean(
        {
            "Name": name,
            "OwnerId": _text(_dict(bucket.get("owner")).get("id")),
            "CreatedAt": _iso(bucket.get("createdAt")),
            "ServerSideEncryptionConfiguration": {
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": _clean(
                            {
                                "SSEAlgorithm": _text(encryption.get("encryptionType")),
                                "KMSMasterKeyID": _text(encryption.get("kmsMasterKeyArn")),
                            }
                        )
                    }
                ]
            }
            if _text(encryption.get("encryptionType"))
            else None,
            "PublicAccessBlockConfiguration": {
                asff: blocks[gd]
                for gd, asff in _BLOCK_PUBLIC_ACCESS.items()
                if isinstance(blocks.get(gd), bool)
            },
        }
    )
    return _Resource("AwsS3Bucket", uid, name, details, _tags(bucket.get("tags")), bucket)


def _objects(bucket: dict[str, Any], partition: str) -> Iterator[_Resource]:
    for obj in _dicts(bucket.get("s3ObjectDetails")):
        key, name = _text(obj.get("key")), _text(bucket.get("name"))
        uid = _text(obj.get("objectArn")) or (f"arn:{partition}:s3:::{name}/{key}" if key and name else None)
        if uid is not None:
            details = _clean({"ETag": _text(obj.get("eTag")), "VersionId": _text(obj.get("versionId"))})
            yield _Resource("AwsS3Object", uid, key, details, {}, obj)


def _resources(finding: Finding) -> list[_Resource]:
    """The finding's resources, the one its ``resourceType`` names first."""
    resource = _dict(finding.get("resource"))
    kind = resource.get("resourceType")
    partition = _text(finding.get("partition")) or "aws"
    arn_base = f"arn:{partition}:ec2:{finding.get('region', '')}:{finding.get('accountId', '')}"
    found: list[_Resource] = []
    if kind == "Instance" or (kind is None and resource.get("instanceDetails")):
        found.append(_instance(finding, arn_base))
    buckets = _dicts(resource.get("s3BucketDetails"))
    found += [r for b in buckets if (r := _bucket(b, partition)) is not None]
    found += [r for b in buckets for r in _objects(b, partition)]
    key = _access_key(finding)
    if key is not None:
        found.append(key)
    if not found:
        label = _text(kind) or "Unknown"
        found.append(_Resource("Other", f"{label}:{finding.get('id', 'unknown')}", None, {}, {}, resource))
    return found[:_RESOURCES_MAX]


# ---------------------------------------------------------------- ASFF


def asff_type(finding_type: str) -> str:
    """The ASFF ``Types`` entry GuardDuty sends for a finding type.

    >>> asff_type("UnauthorizedAccess:EC2/SSHBruteForce")
    'TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce'
    """
    classifier = _ASFF_CLASSIFIERS.get(finding_type, finding_type.replace("/", "-", 1))
    if ":S3/" in finding_type and not finding_type.startswith(("Policy:S3/BucketBlock", "Stealth:")):
        return f"TTPs/{classifier}"
    for prefix, category in _ASFF_PREFIXES:
        if finding_type.startswith(prefix):
            return f"{category}/{classifier}"
    return f"TTPs/{classifier}"


def _asff_ip(details: Any) -> dict[str, Any]:
    rid = _dict(details)
    org, country = _dict(rid.get("organization")), _dict(rid.get("country"))
    geo = _dict(rid.get("geoLocation"))
    return _clean(
        {
            "IpAddressV4": _text(rid.get("ipAddressV4")),
            "Organization": _clean(
                {
                    "Asn": _int(org.get("asn")),
                    "AsnOrg": _text(org.get("asnOrg")),
                    "Isp": _text(org.get("isp")),
                    "Org": _text(org.get("org")),
                }
            ),
            "Country": _clean(
                {
                    "CountryCode": _text(country.get("countryCode")),
                    "CountryName": _text(country.get("countryName")),
                }
            ),
            "City": _clean({"CityName": _text(_dict(rid.get("city")).get("cityName"))}),
            "GeoLocation": _clean({"Lon": _float(geo.get("lon")), "Lat": _float(geo.get("lat"))}),
        }
    )


def _asff_port(details: Any) -> dict[str, Any]:
    port = _dict(details)
    return _clean({"Port": _int(port.get("port")), "PortName": _text(port.get("portName"))})


def _blocked(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _asff_action(finding: Finding) -> dict[str, Any] | None:
    action = _action(finding)
    kind = _text(action.get("actionType"))
    if kind == "AWS_API_CALL":
        call = _dict(action.get("awsApiCallAction"))
        caller = _text(call.get("callerType"))
        body = {
            "AwsApiCallAction": _clean(
                {
                    "Api": _text(call.get("api")),
                    "ServiceName": _text(call.get("serviceName")),
                    "CallerType": _CALLER_TYPES.get(caller or "", caller),
                    "RemoteIpDetails": _asff_ip(call.get("remoteIpDetails")),
                    "DomainDetails": _clean(
                        {"Domain": _text(_dict(call.get("domainDetails")).get("domain"))}
                    ),
                    "AffectedResources": {
                        str(k): v
                        for k, v in _dict(call.get("affectedResources")).items()
                        if _text(k) and _text(v)
                    },
                }
            )
        }
    elif kind == "NETWORK_CONNECTION":
        conn = _dict(action.get("networkConnectionAction"))
        body = {
            "NetworkConnectionAction": _clean(
                {
                    "ConnectionDirection": _text(conn.get("connectionDirection")),
                    "RemoteIpDetails": _asff_ip(conn.get("remoteIpDetails")),
                    "RemotePortDetails": _asff_port(conn.get("remotePortDetails")),
                    "LocalPortDetails": _asff_port(conn.get("localPortDetails")),
                    "Protocol": _text(conn.get("protocol")),
                    "Blocked": _blocked(conn.get("blocked")),
                }
            )
        }
    elif kind == "PORT_PROBE":
        probe = _dict(action.get("portProbeAction"))
        details = [
            _clean(
                {
                    "LocalPortDetails": _asff_port(d.get("localPortDetails")),
                    "LocalIpDetails": _clean(
                        {"IpAddressV4": _text(_dict(d.get("localIpDetails")).get("ipAddressV4"))}
                    ),
                    "RemoteIpDetails": _asff_ip(d.get("remoteIpDetails")),
                }
            )
            for d in _dicts(probe.get("portProbeDetails"))
        ]
        body = {
            "PortProbeAction": _clean(
                {"PortProbeDetails": details, "Blocked": _blocked(probe.get("blocked"))}
            )
        }
    elif kind == "DNS_REQUEST":
        dns = _dict(action.get("dnsRequestAction"))
        body = {
            "DnsRequestAction": _clean(
                {
                    "Domain": _text(dns.get("domain")),
                    "Protocol": _text(dns.get("protocol")),
                    "Blocked": _blocked(dns.get("blocked")),
                }
            )
        }
    else:
        return None
    return {"ActionType": kind, **_clean(body)}


def _asff_endpoint(prefix: str, ip: Any, port: Any) -> dict[str, Any]:
    details = _dict(ip)
    return _clean(
        {
            f"{prefix}IpV4": _text(details.get("ipAddressV4")),
            f"{prefix}IpV6": _text(details.get("ipAddressV6")),
            f"{prefix}Port": _int(_dict(port).get("port")),
        }
    )


def _asff_network(finding: Finding) -> dict[str, Any] | None:
    """``Network`` for flow findings whose direction is known: which side is the source."""
    action = _action(finding)
    conn = _dict(action.get("networkConnectionAction"))
    probes = _dicts(_dict(action.get("portProbeAction")).get("portProbeDetails"))
    if conn.get("connectionDirection") in _DIRECTIONS:
        local = ("localIpDetails", "localPortDetails")
        remote = ("remoteIpDetails", "remotePortDetails")
        inbound = conn["connectionDirection"] == "INBOUND"
        src, dst = (remote, local) if inbound else (local, remote)
        return _clean(
            {
                "Direction": "IN" if inbound else "OUT",
                "Protocol": _text(conn.get("protocol")),
                **_asff_endpoint("Source", conn.get(src[0]), conn.get(src[1])),
                **_asff_endpoint("Destination", conn.get(dst[0]), conn.get(dst[1])),
            }
        )
    if probes:
        first = probes[0]
        return _clean(
            {
                "Direction": "IN",
                **_asff_endpoint("Source", first.get("remoteIpDetails"), None),
                **_asff_endpoint("Destination", first.get("localIpDetails"), first.get("localPortDetails")),
            }
        )
    return None


def _field_value(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value.strip():
        return _cut(value, _FIELD_VALUE_MAX)
    return None


def _flatten(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """GuardDuty's ProductFields keys: ``a/b`` for members, ``a.<n>_`` for list items."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{path}/{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _flatten(item, f"{path}.{n}_")
    else:
        text = _field_value(value)
        if text is not None and len(path) <= _FIELD_KEY_MAX:
            yield path, text


def _product_fields(finding: Finding) -> dict[str, str]:
    """``service`` flattened, scalars first, then additionalInfo, action, evidence, detection:
    when the 47 pairs run out, the least needed go."""
    service = _dict(finding.get("service"))
    order = ["additionalInfo", "action", "evidence", "detection"]
    scalars = {k: v for k, v in service.items() if not isinstance(v, dict | list)}
    rest = sorted(
        (k for k in service if k not in scalars), key=lambda k: order.index(k) if k in order else len(order)
    )
    fields: dict[str, str] = {}
    for key in [*scalars, *rest]:
        for path, text in _flatten(service[key], f"{_FIELD_ROOT}/{key}"):
            if len(fields) == _PRODUCT_FIELDS_MAX:
                return fields
            fields[path] = text
    return fields


def to_asff(finding: Finding) -> dict[str, Any]:
    """The finding as GuardDuty sends it to Security Hub (module docstring)."""
    region, partition = str(finding.get("region", "")), _text(finding.get("partition")) or "aws"
    arn = str(finding.get("arn") or finding.get("id") or "")
    severity = _severity(finding)
    label = severity_label(severity).upper()
    service = _dict(finding.get("service"))
    ftype = str(finding.get("type", ""))
    types = [asff_type(ftype)] if ftype else []
    title = _text(finding.get("title")) or ftype or "GuardDuty finding"
    resources = [
        _clean(
            {
                "Type": r.type,
                "Id": r.uid,
                "Partition": partition,
                "Region": region,
                "Tags": r.tags,
                "Details": {r.type: r.details} if r.details and r.type != "Other" else None,
            }
        )
        for r in _resources(finding)
    ]
    return _clean(
        {
            "SchemaVersion": ASFF_SCHEMA_VERSION,
            "Id": arn,
            "ProductArn": f"arn:{partition}:securityhub:{region}::product/aws/guardduty",
            "ProductName": "GuardDuty",
            "CompanyName": "Amazon",
            "Region": region,
            "GeneratorId": arn.rsplit("/finding/", 1)[0],
            "AwsAccountId": str(finding.get("accountId", "")),
            "Types": types,
            "FirstObservedAt": _iso(service.get("eventFirstSeen")),
            "LastObservedAt": _iso(service.get("eventLastSeen")),
            "CreatedAt": _iso(finding.get("createdAt")) or str(finding.get("createdAt", "")),
            "UpdatedAt": _iso(finding.get("updatedAt")) or str(finding.get("updatedAt", "")),
            "Severity": {
                "Product": severity,
                "Label": label,
                "Normalized": min(100, round(severity * 10)),
                "Original": str(severity),
            },
            "Title": _cut(title, _TITLE_MAX),
            "Description": _cut(_text(finding.get("description")) or title, _DESCRIPTION_MAX),
            "ProductFields": _product_fields(finding),
            "Resources": resources,
            "Network": _asff_network(finding),
            "Action": _asff_action(finding),
            "Workflow": {"Status": "NEW"},
            "RecordState": "ARCHIVED" if service.get("archived") is True else "ACTIVE",
            "FindingProviderFields": {
                "Severity": {"Label": label, "Original": str(severity)},
                "Types": types,
            },
            "Sample": _is_sample(finding),
        }
    )


# ---------------------------------------------------------------- OCSF


_OCSF_SEVERITY: Final = {"Low": 2, "Medium": 3, "High": 4, "Critical": 5}


def _endpoint(ip_details: Any, port: Any = None, **extra: Any) -> dict[str, Any]:
    """An OCSF network endpoint from GuardDuty's ``remoteIpDetails``/``localIpDetails``."""
    rid = _dict(ip_details)
    org, country, geo = (
        _dict(rid.get("organization")),
        _dict(rid.get("country")),
        _dict(rid.get("geoLocation")),
    )
    lon, lat = _float(geo.get("lon")), _float(geo.get("lat"))
    return _clean(
        {
            "ip": _text(rid.get("ipAddressV4")) or _text(rid.get("ipAddressV6")),
            "port": _int(_dict(port).get("port")),
            "location": _clean(
                {
                    "city": _text(_dict(rid.get("city")).get("cityName")),
                    "country": _text(country.get("countryCode")),
                    "coordinates": [lon, lat] if lon is not None and lat is not None else None,
                    "isp": _text(org.get("isp")),
                }
            ),
            "autonomous_system": _clean({"number": _int(org.get("asn")), "name": _text(org.get("asnOrg"))}),
            **extra,
        }
    )


def _actor(finding: Finding) -> dict[str, Any]:
    key = _dict(_dict(finding.get("resource")).get("accessKeyDetails"))
    user = _clean(
        {
            "name": _text(key.get("userName")),
            "uid": _text(key.get("principalId")),
            "type": _text(key.get("userType")),
            "credential_uid": _text(key.get("accessKeyId")),
        }
    )
    return {"user": user} if user else {}


def _evidences(finding: Finding) -> list[dict[str, Any]]:
    return [e for e in _action_evidences(finding) if e]


def _action_evidences(finding: Finding) -> list[dict[str, Any]]:
    """``service.action`` as OCSF evidence: the API call, the connection or probes, the query."""
    action = _action(finding)
    kind = action.get("actionType")
    instance = _text(_dict(_dict(finding.get("resource")).get("instanceDetails")).get("instanceId"))
    if kind == "AWS_API_CALL":
        call = _dict(action.get("awsApiCallAction"))
        api = _clean(
            {
                "operation": _text(call.get("api")),
                "service": _clean({"name": _text(call.get("serviceName"))}),
                "response": _clean({"error": _text(call.get("errorCode"))}),
            }
        )
        source = _endpoint(
            call.get("remoteIpDetails"), domain=_text(_dict(call.get("domainDetails")).get("domain"))
        )
        return [
            _clean(
                {
                    "api": api if api.get("operation") else None,
                    "src_endpoint": source,
                    "actor": _actor(finding),
                }
            )
        ]
    if kind == "NETWORK_CONNECTION":
        conn = _dict(action.get("networkConnectionAction"))
        direction_id, direction = _DIRECTIONS.get(str(conn.get("connectionDirection")), (0, "Unknown"))
        local = _endpoint(
            conn.get("localIpDetails"),
            conn.get("localPortDetails"),
            interface_uid=_text(conn.get("localNetworkInterface")),
            instance_uid=instance,
        )
        remote = _endpoint(conn.get("remoteIpDetails"), conn.get("remotePortDetails"))
        src, dst = (local, remote) if direction_id == 2 else (remote, local)
        info = _clean(
            {
                "direction_id": direction_id,
                "direction": direction,
                "protocol_name": (_text(conn.get("protocol")) or "").lower(),
            }
        )
        return [_clean({"connection_info": info, "src_endpoint": src, "dst_endpoint": dst})]
    if kind == "PORT_PROBE":
        return [
            _clean(
                {
                    "connection_info": {"direction_id": 1, "direction": "Inbound"},
                    "src_endpoint": _endpoint(d.get("remoteIpDetails")),
                    "dst_endpoint": _endpoint(
                        d.get("localIpDetails"), d.get("localPortDetails"), instance_uid=instance
                    ),
                }
            )
            for d in _dicts(_dict(action.get("portProbeAction")).get("portProbeDetails"))
        ]
    if kind == "DNS_REQUEST":
        dns = _dict(action.get("dnsRequestAction"))
        if not _text(dns.get("domain")):
            return []
        info = _clean(
            {
                "direction_id": 2,
                "direction": "Outbound",
                "protocol_name": (_text(dns.get("protocol")) or "").lower(),
            }
        )
        return [
            _clean(
                {
                    "query": {"hostname": dns["domain"]},
                    "connection_info": info,
                    "src_endpoint": _clean({"instance_uid": instance}),
                }
            )
        ]
    return []


def _observables(evidences: list[dict[str, Any]], resources: list[_Resource]) -> list[dict[str, Any]]:
    """What a SIEM indexes: remote IPs, queried and calling domains, resource ids, user names."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}

    def add(name: str, type_id: int, kind: str, value: Any) -> None:
        if _text(value):
            seen.setdefault((name, value), {"name": name, "type_id": type_id, "type": kind, "value": value})

    for ev in evidences:
        for side in ("src_endpoint", "dst_endpoint"):
            endpoint = _dict(ev.get(side))
            add(f"evidences.{side}.ip", 2, "IP Address", endpoint.get("ip"))
            add(f"evidences.{side}.domain", 1, "Hostname", endpoint.get("domain"))
        add("evidences.query.hostname", 1, "Hostname", _dict(ev.get("query")).get("hostname"))
        add(
            "evidences.actor.user.name", 4, "User Name", _dict(_dict(ev.get("actor")).get("user")).get("name")
        )
    for r in resources:
        add("resources.uid", 10, "Resource UID", r.uid)
    return list(seen.values())


def _ocsf_resource(r: _Resource, region: str, partition: str) -> dict[str, Any]:
    return _clean(
        {
            "uid": r.uid,
            "type": r.type,
            "name": r.name,
            "region": region,
            "cloud_partition": partition,
            "labels": [f"{k}={v}" for k, v in r.tags.items()],
            "owner": r.owner,
            "data": copy.deepcopy(r.data),
        }
    )


def to_ocsf(finding: Finding) -> dict[str, Any]:
    """The finding as an OCSF 1.1.0 Detection Finding (module docstring)."""
    service = _dict(finding.get("service"))
    region, partition = str(finding.get("region", "")), _text(finding.get("partition")) or "aws"
    created, updated = finding.get("createdAt"), finding.get("updatedAt")
    count = _int(service.get("count")) or 1
    activity_id = 1 if count <= 1 and _time(created) == _time(updated) else 2
    label = severity_label(_severity(finding))
    archived = service.get("archived") is True
    title = _text(finding.get("title")) or str(finding.get("type", "GuardDuty finding"))
    resources = _resources(finding)
    evidences = _evidences(finding)
    feature = _text(service.get("featureName"))
    return _clean(
        {
            "activity_id": activity_id,
            "activity_name": "Create" if activity_id == 1 else "Update",
            "category_uid": FINDINGS_CATEGORY,
            "category_name": "Findings",
            "class_uid": DETECTION_FINDING,
            "class_name": "Detection Finding",
            "type_uid": DETECTION_FINDING * 100 + activity_id,
            "type_name": f"Detection Finding: {'Create' if activity_id == 1 else 'Update'}",
            "severity_id": _OCSF_SEVERITY[label],
            "severity": label,
            "status_id": 3 if archived else 1,
            "status": "Suppressed" if archived else "New",
            "time": _epoch_ms(updated) or _epoch_ms(created) or 0,
            "start_time": _epoch_ms(service.get("eventFirstSeen")),
            "end_time": _epoch_ms(service.get("eventLastSeen")),
            "count": count,
            "message": title,
            "finding_info": _clean(
                {
                    "uid": str(finding.get("arn") or finding.get("id") or ""),
                    "title": title,
                    "desc": _text(finding.get("description")),
                    "types": [finding["type"]] if _text(finding.get("type")) else None,
                    "created_time": _epoch_ms(created),
                    "modified_time": _epoch_ms(updated),
                    "first_seen_time": _epoch_ms(service.get("eventFirstSeen")),
                    "last_seen_time": _epoch_ms(service.get("eventLastSeen")),
                }
            ),
            "metadata": _clean(
                {
                    "version": OCSF_VERSION,
                    "product": _clean(
                        {
                            "name": "keibi",
                            "vendor_name": "keibi",
                            "version": __version__,
                            "feature": _clean({"name": feature}),
                        }
                    ),
                    "profiles": ["cloud"],
                    "original_time": _text(updated),
                }
            ),
            "cloud": _clean(
                {
                    "provider": "AWS",
                    "region": region,
                    "account": _clean(
                        {"uid": _text(finding.get("accountId")), "type": "AWS Account", "type_id": 10}
                    ),
                }
            ),
            "resources": [_ocsf_resource(r, region, partition) for r in resources],
            "evidences": evidences,
            "observables": _observables(evidences, resources),
            "unmapped": _clean(
                {
                    "id": finding.get("id"),
                    "schemaVersion": finding.get("schemaVersion"),
                    "severity": finding.get("severity"),
                    "detectorId": service.get("detectorId"),
                    "resourceRole": service.get("resourceRole"),
                    "archived": service.get("archived"),
                    "userFeedback": service.get("userFeedback"),
                    "additionalInfo": _additional_info(finding),
                    "evidence": copy.deepcopy(service.get("evidence")),
                    "detection": copy.deepcopy(service.get("detection")),
                }
            ),
        }
    )


# ---------------------------------------------------------------- by name


def to_guardduty(finding: Finding) -> dict[str, Any]:
    """The native format, as a copy the caller owns."""
    return copy.deepcopy(dict(finding))


RENDERINGS: Final[dict[str, Callable[[Finding], dict[str, Any]]]] = {
    "GUARDDUTY": to_guardduty,
    "ASFF": to_asff,
    "OCSF": to_ocsf,
}


def rendering(name: str) -> Callable[[Finding], dict[str, Any]]:
    """The rendering called ``name`` (any case); ``ConfigError`` for another name."""
    found = RENDERINGS.get(name.upper()) if isinstance(name, str) else None
    if found is None:
        raise ConfigError(
            f"unknown rendering {name!r}: expected one of {', '.join(RENDERINGS)}", key="rendering"
        )
    return found


def render(name: str, finding: Finding) -> dict[str, Any]:
    """``finding`` in the rendering called ``name``.

    >>> render("ocsf", finding)["class_uid"]
    2004
    """
    return rendering(name)(finding)


__all__ = [
    "ASFF_SCHEMA_VERSION",
    "DETECTION_FINDING",
    "FINDINGS_CATEGORY",
    "OCSF_VERSION",
    "RENDERINGS",
    "Finding",
    "asff_type",
    "render",
    "rendering",
    "severity_label",
    "to_asff",
    "to_guardduty",
    "to_ocsf",
]
