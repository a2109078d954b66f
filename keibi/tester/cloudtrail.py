"""CloudTrail records, complete as CloudTrail writes them, and their delivery files.

A record is a plain dict in CloudTrail's own key order (``eventVersion`` … ``tlsDetails``);
``Trail`` collects them with an event-time sort key, a region and a tag (which scenario or
background activity made it), then writes one ``{"Records": [...]}`` file per region per
five-minute delivery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import orjson

from keibi.tester.delivery import DELIVERY_SECONDS, cloudtrail_path, write_gz
from keibi.tester.world import Ids, Person, World

GLOBAL_SERVICES: Final = frozenset({"iam.amazonaws.com", "sts.amazonaws.com", "signin.amazonaws.com"})

CONSOLE_UA: Final = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36"
UBUNTU_CLI_UA: Final = (
    "aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0-1014-aws exe/x86_64.ubuntu.22 prompt/off command/{command}"
)
BOTO3_UA: Final = (
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.226-214.880.amzn2.x86_64 md/arch#x86_64 "
    "lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69"
)
MAC_CLI_UA: Final = (
    "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/macos#23.5.0 md/arch#arm64 lang/python#3.11.9 "
    "md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#{command}"
)
"""A laptop's AWS CLI: where stolen instance or function credentials end up."""
LAMBDA_BOTO3_UA: Final = (
    "Boto3/1.34.145 md/Botocore#1.34.145 ua/2.0 os/linux#5.10.224-236.876.amzn2.x86_64 md/arch#x86_64 "
    "lang/python#3.12.6 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.145"
)
ECS_BOTO3_UA: Final = (
    "Boto3/1.34.145 md/Botocore#1.34.145 ua/2.0 os/linux#5.10.225-213.878.amzn2.x86_64 md/arch#x86_64 "
    "lang/python#3.12.6 md/pyimpl#CPython exec-env/AWS_ECS_FARGATE cfg/retry-mode#legacy Botocore/1.34.145"
)
TERRAFORM_UA: Final = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.70.0 "
    "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.2 ua/2.1 os/linux lang/go#1.23.1 "
    "md/GOOS#linux md/GOARCH#amd64 api/ec2#1.181.0"
)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iam_user(world: World, person: Person) -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": person.principal_id,
        "arn": world.arn("user", person.user_name),
        "accountId": world.account_id,
        "accessKeyId": person.access_key_id,
        "userName": person.user_name,
    }


def console_user(world: World, person: Person, session_key: str, since: float) -> dict[str, Any]:
    """An IAM user signed in to the console: temporary key, MFA in the session context."""
    return {
        "type": "IAMUser",
        "principalId": person.principal_id,
        "arn": world.arn("user", person.user_name),
        "accountId": world.account_id,
        "accessKeyId": session_key,
        "userName": person.user_name,
        "sessionContext": {
            "sessionIssuer": {},
            "webIdFederationData": {},
            "attributes": {"creationDate": iso(since), "mfaAuthenticated": "true"},
        },
    }


def root(world: World, access_key: str | None) -> dict[str, Any]:
    ident: dict[str, Any] = {
        "type": "Root",
        "principalId": world.account_id,
        "arn": f"arn:aws:iam::{world.account_id}:root",
        "accountId": world.account_id,
    }
    if access_key:
        ident["accessKeyId"] = access_key
    return ident


def assumed_root(world: World, session_key: str, since: float) -> dict[str, Any]:
    """A centralized root access session (``sts:AssumeRoot`` from the management account), as the
    member account's trail shows it: type ``Root``, a temporary key, ``assumedRoot`` in the context."""
    ident = root(world, session_key)
    ident["sessionContext"] = {
        "attributes": {"creationDate": iso(since), "mfaAuthenticated": "false"},
        "assumedRoot": "true",
    }
    return ident


@dataclass(frozen=True, slots=True)
class Role:
    """An IAM role and one of its sessions."""

    name: str
    role_id: str
    session: str
    access_key: str
    since: float
    ec2_delivery: bool = False

    def identity(self, world: World) -> dict[str, Any]:
        ident: dict[str, Any] = {
            "type": "AssumedRole",
            "principalId": f"{self.role_id}:{self.session}",
            "arn": f"arn:aws:sts::{world.account_id}:assumed-role/{self.name}/{self.session}",
            "accountId": world.account_id,
            "accessKeyId": self.access_key,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": self.role_id,
                    "arn": world.arn("role", self.name),
                    "accountId": world.account_id,
                    "userName": self.name,
                },
                "webIdFederationData": {},
                "attributes": {"creationDate": iso(self.since), "mfaAuthenticated": "false"},
            },
        }
        if self.ec2_delivery:
            ident["sessionContext"]["ec2RoleDelivery"] = "2.0"
        return ident


def _host(source: str, region: str) -> str:
    service = source.split(".", 1)[0]
    if source in GLOBAL_SERVICES or service == "s3":
        return source
    return f"{service}.{region}.amazonaws.com"


_TLS: Final = (("TLSv1.3", "TLS_AES_128_GCM_SHA256"), ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"))


@dataclass
class Trail:
    """Collects records for one account; ``write`` delivers them."""

    world: World
    events: list[tuple[float, str, str, dict[str, Any]]] = field(default_factory=list)

    @property
    def ids(self) -> Ids:
        return self.world.ids

    def call(
        self,
        t: float,
        identity: dict[str, Any],
        source: str,
        name: str,
        *,
        tag: str,
        ip: str,
        ua: str,
        region: str | None = None,
        read_only: bool,
        request: dict[str, Any] | None = None,
        response: dict[str, Any] | None = None,
        error: tuple[str, str] | None = None,
        resources: list[dict[str, Any]] | None = None,
        data_event: bool = False,
        version: str = "1.09",
        vpc_endpoint: tuple[str, str] | None = None,
        transferred: tuple[int, int] = (0, 0),
    ) -> dict[str, Any]:
        """Record one API call (``AwsApiCall``); ``data_event`` makes it an S3 data event.

        ``vpc_endpoint`` is (endpoint id, the account owning it) when the call came through a
        VPC endpoint; ``transferred`` the bytes in and out S3 reports in ``additionalEventData``
        (S3 writes that block for its management calls too).
        """
        if region is None:
            region = "us-east-1" if source in GLOBAL_SERVICES else self.world.region
        rec: dict[str, Any] = {
            "eventVersion": version,
            "userIdentity": identity,
            "eventTime": iso(t),
            "eventSource": source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": ip,
            "userAgent": ua,
        }
        if error is not None:
            rec["errorCode"], rec["errorMessage"] = error
        rec["requestParameters"] = request
        rec["responseElements"] = None if error is not None else response
        if data_event or source == "s3.amazonaws.com":
            rec["additionalEventData"] = {
                "SignatureVersion": "SigV4",
                "CipherSuite": "TLS_AES_128_GCM_SHA256",
                "bytesTransferredIn": transferred[0],
                "AuthenticationMethod": "AuthHeader",
                "x-amz-id-2": self.ids.token(76),
                "bytesTransferredOut": transferred[1],
            }
        rec["requestID"] = self.ids.token(16).upper() if source.startswith("s3.") else self.ids.uuid()
        rec["eventID"] = self.ids.uuid()
        rec["readOnly"] = read_only
        if resources is not None:
            rec["resources"] = resources
        rec["eventType"] = "AwsApiCall"
        rec["managementEvent"] = not data_event
        rec["recipientAccountId"] = self.world.account_id
        if vpc_endpoint is not None:
            rec["vpcEndpointId"], rec["vpcEndpointAccountId"] = vpc_endpoint
        rec["eventCategory"] = "Data" if data_event else "Management"
        if "invokedBy" not in identity and not ip.endswith(".amazonaws.com"):
            version_, suite = _TLS[int(t) % 2 if not data_event else 0]
            rec["tlsDetails"] = {
                "tlsVersion": version_,
                "cipherSuite": suite,
                "clientProvidedHostHeader": (request or {}).get("Host") or _host(source, region),
            }
        self.events.append((t, region, tag, rec))
        return rec

    def service_call(
        self,
        t: float,
        service: str,
        source: str,
        name: str,
        *,
        tag: str,
        request: dict[str, Any],
        response: Any,
    ) -> None:
        """An AWS service acting in the account (``AWSService`` identity, host name as source IP)."""
        rec: dict[str, Any] = {
            "eventVersion": "1.08",
            "userIdentity": {"type": "AWSService", "invokedBy": service},
            "eventTime": iso(t),
            "eventSource": source,
            "eventName": name,
            "awsRegion": self.world.region,
            "sourceIPAddress": service,
            "userAgent": service,
            "requestParameters": request,
            "responseElements": response,
            "requestID": self.ids.uuid(),
            "eventID": self.ids.uuid(),
            "readOnly": True,
            "resources": [
                {
                    "accountId": self.world.account_id,
                    "type": "AWS::IAM::Role",
                    "ARN": request.get("roleArn", ""),
                }
            ],
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": self.world.account_id,
            "sharedEventID": self.ids.uuid(),
            "eventCategory": "Management",
        }
        self.events.append((t, self.world.region, tag, rec))

    def console_login(self, t: float, identity: dict[str, Any], ip: str, *, tag: str, mfa: bool) -> None:
        """A console sign-in: ``AwsConsoleSignIn``, not an API call."""
        rec: dict[str, Any] = {
            "eventVersion": "1.09",
            "userIdentity": identity,
            "eventTime": iso(t),
            "eventSource": "signin.amazonaws.com",
            "eventName": "ConsoleLogin",
            "awsRegion": "us-east-1",
            "sourceIPAddress": ip,
            "userAgent": CONSOLE_UA,
            "requestParameters": None,
            "responseElements": {"ConsoleLogin": "Success"},
            "additionalEventData": {
                "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
                "MobileVersion": "No",
                "MFAIdentifier": f"arn:aws:iam::{self.world.account_id}:mfa/root-account-mfa-device",
                "MFAUsed": "Yes" if mfa else "No",
            },
            "eventID": self.ids.uuid(),
            "readOnly": False,
            "eventType": "AwsConsoleSignIn",
            "managementEvent": True,
            "recipientAccountId": self.world.account_id,
            "eventCategory": "Management",
            "tlsDetails": {
                "tlsVersion": "TLSv1.3",
                "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": "signin.aws.amazon.com",
            },
        }
        self.events.append((t, "us-east-1", tag, rec))

    def write(self, outdir: Path, *, max_records: int = 5000, level: int = 5) -> dict[str, set[str]]:
        """One file per region per delivery (split past ``max_records``); return tag → files."""
        self.events.sort(key=lambda e: (e[1], e[0]))
        tag_files: dict[str, set[str]] = {}
        i = 0
        while i < len(self.events):
            region = self.events[i][1]
            delivery = (int(self.events[i][0]) // DELIVERY_SECONDS + 1) * DELIVERY_SECONDS
            j = i
            while (
                j < len(self.events)
                and j - i < max_records
                and self.events[j][1] == region
                and (int(self.events[j][0]) // DELIVERY_SECONDS + 1) * DELIVERY_SECONDS == delivery
            ):
                j += 1
            chunk = self.events[i:j]
            rel = cloudtrail_path(self.world.account_id, region, delivery, self.ids.token(16))
            write_gz(outdir, rel, orjson.dumps({"Records": [e[3] for e in chunk]}), level)
            for tag in {e[2] for e in chunk}:
                tag_files.setdefault(tag, set()).add(rel.as_posix())
            i = j
        return tag_files
