"""The context a finding type's ``title`` and ``description`` templates are formatted with.

Templates are ``str.format`` strings (``"The API {api} was invoked using root credentials."``).
Any key the finding cannot fill, or a misspelt one, reads ``unknown`` instead of failing.

Keys, for every finding:
    ``type``, ``account_id``, ``region``, ``count`` (records aggregated), ``resource_type``,
    ``resource_id`` (instance id, else ENI, else source address; access key id, else
    principal id; bucket name), ``resource_role``, ``first_seen``, ``last_seen``,
    ``threat_list`` (the info's ``threatListName``), ``threat_names`` (comma-separated), and
    every top-level key of the hit's ``info`` object as it is spelt there (``trailName``).
CloudTrail (from the latest record):
    ``api``, ``service`` (event source), ``caller`` (``sourceIPAddress`` as logged),
    ``remote_ip`` (when that is an IP), ``user_agent``, ``error_code``, ``user_name``,
    ``user_type``, ``principal_id``, ``access_key_id``, ``bucket``.
VPC flow:
    ``instance_id``, ``interface_id``, ``local_ip``, ``local_port``, ``remote_ip``,
    ``remote_port``, ``port`` (the service side: the local port of an INBOUND connection,
    else the remote one), ``protocol`` (TCP, UDP, …), ``direction``.
DNS:
    ``instance_id``, ``domain`` (without the trailing dot), ``local_ip`` (the querying
    address), ``protocol``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from keibi.findings.actions import ip_details, protocol_name
from keibi.findings.resources import user_name
from keibi.sources.schema import SourceName

UNKNOWN: Final = "unknown"


class TemplateContext(dict[str, Any]):
    """A ``format_map`` mapping whose missing keys read ``unknown``."""

    def __missing__(self, key: str) -> str:
        return UNKNOWN


def render(template: str, context: Mapping[str, Any]) -> str:
    """``template`` filled from ``context``; a malformed template comes back as it is."""
    try:
        return template.format_map(context)
    except (ValueError, IndexError, AttributeError, KeyError, TypeError):
        return template


def source_context(row: Mapping[str, Any], source: SourceName) -> dict[str, Any]:
    """The per-source keys above, from the latest record's details."""
    if source == "cloudtrail":
        caller = row.get("source_ip")
        return {
            "api": row.get("event_name"),
            "service": row.get("event_source"),
            "caller": caller,
            "remote_ip": caller if ip_details(caller) else None,
            "user_agent": row.get("user_agent"),
            "error_code": row.get("error_code"),
            "user_name": user_name(row),
            "user_type": row.get("user_type"),
            "principal_id": row.get("principal_id"),
            "access_key_id": row.get("access_key_id"),
            "bucket": row.get("bucket_name"),
        }
    if source == "vpc_flow":
        inbound = row.get("direction") == "INBOUND"
        return {
            "instance_id": row.get("instance_id"),
            "interface_id": row.get("interface_id"),
            "local_ip": row.get("local_ip"),
            "local_port": row.get("local_port"),
            "remote_ip": row.get("remote_ip"),
            "remote_port": row.get("remote_port"),
            "port": row.get("local_port") if inbound else row.get("remote_port"),
            "protocol": protocol_name(row.get("protocol")),
            "direction": row.get("direction"),
        }
    name = row.get("domain") or row.get("query_name")
    return {
        "instance_id": row.get("instance_id"),
        "domain": name.rstrip(".").lower() if isinstance(name, str) else None,
        "local_ip": row.get("srcaddr"),
        "protocol": row.get("transport"),
    }


def template_context(
    base: Mapping[str, Any], info: Mapping[str, Any], row: Mapping[str, Any], source: SourceName
) -> TemplateContext:
    """All keys above; ``None`` values are dropped so that they read ``unknown``."""
    names = info.get("threatNames")
    merged: dict[str, Any] = {k: v for k, v in info.items() if not isinstance(v, dict | list)}
    merged.update(base)
    merged["threat_list"] = info.get("threatListName")
    merged["threat_names"] = ", ".join(map(str, names)) if isinstance(names, list) else names
    merged.update(source_context(row, source))
    return TemplateContext({k: v for k, v in merged.items() if v is not None})
