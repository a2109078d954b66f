"""The one fixed schema of each source's batches.

Declared once, never inferred: real CloudTrail carries the same field as a string in one
event and an object in the next, so free-form parts (``requestParameters``,
``responseElements``, ``additionalEventData``, ``resources``) stay JSON text. DNS ``answers``
has one fixed shape (``{Rdata, Type, Class}``), so it is typed.

Every source shares the columns in ``COMMON``:

- ``event_time``  event time (UTC, microseconds): CloudTrail ``eventTime``, flow ``start``,
  DNS ``query_timestamp``. Windows and baselines run on it, never on wall-clock time.
- ``account_id``, ``region``  where the activity belongs (region falls back to the
  ``AWSLogs/<account>/<service>/<region>/`` path, then to the configured default).
- ``_file``, ``_line``  the evidence pointer: the file as given to keibi (local path or
  ``s3://`` URL) and the 1-based line where the record starts (for a ``{"Records": [...]}``
  file, the record's 1-based position in the array instead; ``event_id`` names it exactly).
"""

from __future__ import annotations

from typing import Final, Literal

import polars as pl

SourceName = Literal["cloudtrail", "vpc_flow", "dns"]
SOURCES: Final[tuple[SourceName, ...]] = ("cloudtrail", "vpc_flow", "dns")

TIME = pl.Datetime("us", "UTC")

COMMON: Final[dict[str, pl.DataType]] = {
    "event_time": TIME,
    "account_id": pl.String(),
    "region": pl.String(),
    "_file": pl.String(),
    "_line": pl.UInt32(),
}

CLOUDTRAIL: Final[pl.Schema] = pl.Schema(
    {
        **COMMON,
        "event_id": pl.String(),
        "event_version": pl.String(),
        "event_source": pl.String(),  # e.g. "cloudtrail.amazonaws.com"
        "event_name": pl.String(),  # e.g. "StopLogging"
        "event_type": pl.String(),  # AwsApiCall | AwsConsoleSignIn | AwsServiceEvent | ...
        "event_category": pl.String(),  # Management | Data | Insight
        "read_only": pl.Boolean(),
        "management_event": pl.Boolean(),
        "source_ip": pl.String(),  # sourceIPAddress: an IP, or an AWS service host name
        "user_agent": pl.String(),
        "error_code": pl.String(),
        "error_message": pl.String(),
        "recipient_account_id": pl.String(),
        "vpc_endpoint_id": pl.String(),
        "vpc_endpoint_account_id": pl.String(),  # vpcEndpointAccountId: the endpoint owner (since 2024)
        # userIdentity, flattened
        "user_type": pl.String(),  # Root | IAMUser | AssumedRole | FederatedUser | AWSService | ...
        "principal_id": pl.String(),
        "user_arn": pl.String(),
        "user_account_id": pl.String(),
        "access_key_id": pl.String(),
        "user_name": pl.String(),
        "invoked_by": pl.String(),
        "session_issuer_type": pl.String(),
        "session_issuer_arn": pl.String(),
        "session_issuer_user_name": pl.String(),
        "session_mfa": pl.Boolean(),
        "session_creation_date": TIME,
        "ec2_role_delivery": pl.String(),
        "session_assumed_root": pl.Boolean(),  # sessionContext.assumedRoot: an sts:AssumeRoot session
        # free-form parts as JSON text
        "request_parameters": pl.String(),
        "response_elements": pl.String(),
        "additional_event_data": pl.String(),
        "resources": pl.String(),
    }
)

VPC_FLOW: Final[pl.Schema] = pl.Schema(
    {
        **COMMON,
        "version": pl.Int32(),
        "interface_id": pl.String(),
        "srcaddr": pl.String(),
        "dstaddr": pl.String(),
        "srcport": pl.Int32(),
        "dstport": pl.Int32(),
        "protocol": pl.Int32(),  # IANA number: 6 TCP, 17 UDP, 1 ICMP
        "packets": pl.Int64(),
        "bytes": pl.Int64(),
        "start": TIME,
        "end": TIME,
        "action": pl.String(),  # ACCEPT | REJECT
        "log_status": pl.String(),  # OK | NODATA | SKIPDATA
        "vpc_id": pl.String(),
        "subnet_id": pl.String(),
        "instance_id": pl.String(),
        "tcp_flags": pl.Int32(),
        "type": pl.String(),  # IPv4 | IPv6 | EFA
        "pkt_srcaddr": pl.String(),
        "pkt_dstaddr": pl.String(),
        "az_id": pl.String(),
        "sublocation_type": pl.String(),
        "sublocation_id": pl.String(),
        "pkt_src_aws_service": pl.String(),
        "pkt_dst_aws_service": pl.String(),
        "flow_direction": pl.String(),  # ingress | egress (v5+)
        "traffic_path": pl.Int32(),
        "ecs_cluster_arn": pl.String(),
        "ecs_cluster_name": pl.String(),
        "ecs_container_instance_arn": pl.String(),
        "ecs_container_instance_id": pl.String(),
        "ecs_container_id": pl.String(),
        "ecs_second_container_id": pl.String(),
        "ecs_service_name": pl.String(),
        "ecs_task_definition_arn": pl.String(),
        "ecs_task_arn": pl.String(),
        "ecs_task_id": pl.String(),
        "reject_reason": pl.String(),
    }
)

DNS_ANSWER: Final = pl.Struct({"Rdata": pl.String(), "Type": pl.String(), "Class": pl.String()})
"""One entry of a Resolver record's ``answers``, as Route 53 writes it."""

DNS: Final[pl.Schema] = pl.Schema(
    {
        **COMMON,
        "version": pl.String(),
        "vpc_id": pl.String(),
        "query_name": pl.String(),  # as logged (may end with ".")
        "query_type": pl.String(),
        "query_class": pl.String(),
        "rcode": pl.String(),
        "answers": pl.List(DNS_ANSWER),  # CNAME chain first, then the records
        "srcaddr": pl.String(),
        "srcport": pl.Int32(),
        "transport": pl.String(),
        "instance_id": pl.String(),  # srcids.instance
        "resolver_endpoint_id": pl.String(),  # srcids.resolver_endpoint
        "firewall_rule_action": pl.String(),
        "firewall_rule_group_id": pl.String(),
        "firewall_domain_list_id": pl.String(),
    }
)

SCHEMAS: Final[dict[SourceName, pl.Schema]] = {"cloudtrail": CLOUDTRAIL, "vpc_flow": VPC_FLOW, "dns": DNS}


def empty(source: SourceName) -> pl.DataFrame:
    """An empty batch of ``source``'s schema."""
    return pl.DataFrame(schema=SCHEMAS[source])
