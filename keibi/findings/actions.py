"""``service.action``: one builder per action type, so the shape is the same for every detector.

Each builder takes the details of a hit's latest evidence record (``row``: column name →
value, the columns listed in ``keibi.findings.build.DETAIL_COLUMNS``) and returns the
``action`` object. Unknown values are left out rather than invented. ``remoteIpDetails`` is
the remote address placed by the run's ``keibi.intel.GeoIP`` (country, city, geoLocation,
organization) when one is given, else the address alone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from publicsuffixlist import PublicSuffixList

if TYPE_CHECKING:
    from keibi.intel.geo import GeoIP

# IANA protocol numbers → the names GuardDuty shows.
PROTOCOLS: Final[dict[int, str]] = {
    1: "ICMP",
    2: "IGMP",
    6: "TCP",
    17: "UDP",
    41: "IPV6",
    47: "GRE",
    50: "ESP",
    51: "AH",
    58: "ICMPV6",
    132: "SCTP",
}

# Service names of the ports findings usually name; anything else is "Unknown", as in GuardDuty.
PORT_NAMES: Final[dict[int, str]] = {
    20: "FTP-DATA",
    21: "FTP",
    22: "SSH",
    23: "Telnet",
    25: "SMTP",
    53: "DNS",
    80: "HTTP",
    110: "POP3",
    111: "RPC",
    123: "NTP",
    135: "MSRPC",
    137: "NetBIOS",
    139: "NetBIOS",
    143: "IMAP",
    161: "SNMP",
    389: "LDAP",
    443: "HTTPS",
    445: "SMB",
    465: "SMTPS",
    587: "SMTP",
    636: "LDAPS",
    993: "IMAPS",
    995: "POP3S",
    1389: "LDAP",
    1433: "MSSQL",
    1521: "Oracle",
    2049: "NFS",
    2375: "Docker",
    2376: "Docker",
    3306: "MySQL",
    3389: "RDP",
    5432: "PostgreSQL",
    5900: "VNC",
    5985: "WinRM",
    5986: "WinRM",
    6379: "Redis",
    8080: "HTTP",
    8443: "HTTPS",
    9200: "Elasticsearch",
    9300: "Elasticsearch",
    11211: "Memcached",
    27017: "MongoDB",
}


def clean(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``obj`` without its ``None`` values: GuardDuty leaves unknown members out."""
    return {k: v for k, v in obj.items() if v is not None}


def ip_details(address: str | None) -> dict[str, Any] | None:
    """``{ipAddressV4}`` or ``{ipAddressV6}`` for an IP address; None for anything else."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    return {"ipAddressV4": str(ip)} if ip.version == 4 else {"ipAddressV6": str(ip)}


def remote_ip_details(address: str | None, geo: GeoIP | None = None) -> dict[str, Any] | None:
    """``remoteIpDetails``: :func:`ip_details` plus what ``geo`` knows of a public address."""
    return ip_details(address) if geo is None else geo.remote_ip_details(address)


def port_details(port: int | None) -> dict[str, Any] | None:
    if port is None:
        return None
    return {"port": int(port), "portName": PORT_NAMES.get(int(port), "Unknown")}


def protocol_name(number: int | None) -> str | None:
    if number is None:
        return None
    return PROTOCOLS.get(int(number), "Unknown")


@cache
def _suffixes() -> PublicSuffixList:
    # The ICANN section only: the registrable domain is then who owns it (amazonaws.com),
    # not a customer's piece of a cloud namespace (bucket.s3.amazonaws.com).
    return PublicSuffixList(only_icann=True)


def registrable_domain(domain: str) -> str:
    """``xmr-eu1.nanopool.org`` → ``nanopool.org``; a bare suffix or single label stays as it is."""
    found = _suffixes().privatesuffix(domain.lower())
    return str(found) if found else domain.lower()


def aws_api_call_action(
    row: Mapping[str, Any], info: Mapping[str, Any] | None = None, geo: GeoIP | None = None
) -> dict[str, Any]:
    """``AWS_API_CALL`` from a CloudTrail record and the hit's ``info``.

    ``callerType`` is ``Remote IP`` when ``sourceIPAddress`` is an address and ``Domain``
    when it is a host name (an AWS service such as ``ec2.amazonaws.com``), which then fills
    ``domainDetails.domain``. ``affectedResources`` names the bucket the request names
    (``{"AWS::S3::Bucket": name}``), else stays empty. ``remoteAccountDetails`` appears when
    the detector found the caller's account (``info`` ``remoteAccountId``, ``affiliated``).
    """
    source = row.get("source_ip")
    remote = remote_ip_details(source, geo)
    is_domain = bool(source) and remote is None
    call = clean(
        {
            "api": row.get("event_name"),
            "serviceName": row.get("event_source"),
            "callerType": "Domain" if is_domain else ("Remote IP" if remote else None),
            "domainDetails": {"domain": source} if is_domain else None,
            "userAgent": row.get("user_agent"),
            "errorCode": row.get("error_code"),
            "remoteIpDetails": remote,
            "remoteAccountDetails": remote_account_details(info or {}),
        }
    )
    bucket = row.get("bucket_name")
    call["affectedResources"] = {"AWS::S3::Bucket": bucket} if isinstance(bucket, str) and bucket else {}
    return {"actionType": "AWS_API_CALL", "awsApiCallAction": call}


def remote_account_details(info: Mapping[str, Any]) -> dict[str, Any] | None:
    """``{accountId, affiliated}`` from a hit's ``remoteAccountId`` / ``affiliated``; None without an id."""
    account = info.get("remoteAccountId")
    if account is None or isinstance(account, dict | list) or str(account) == "":
        return None
    affiliated = info.get("affiliated")
    return clean(
        {"accountId": str(account), "affiliated": affiliated if isinstance(affiliated, bool) else None}
    )


def network_connection_action(row: Mapping[str, Any], geo: GeoIP | None = None) -> dict[str, Any]:
    """``NETWORK_CONNECTION`` from a flow record and its ``keibi.enrich`` sides.

    ``connectionDirection`` is who opened the connection (``direction``), ``blocked`` is
    ``action == "REJECT"``, and the local side is the logging network interface's.
    """
    action = row.get("action")
    conn = clean(
        {
            "connectionDirection": row.get("direction") or "UNKNOWN",
            "protocol": protocol_name(row.get("protocol")),
            "blocked": None if action is None else action == "REJECT",
            "localNetworkInterface": row.get("interface_id"),
            "localPortDetails": port_details(row.get("local_port")),
            "remotePortDetails": port_details(row.get("remote_port")),
            "localIpDetails": ip_details(row.get("local_ip")),
            "remoteIpDetails": remote_ip_details(row.get("remote_ip"), geo),
        }
    )
    return {"actionType": "NETWORK_CONNECTION", "networkConnectionAction": conn}


PORT_PROBES: Final = "portProbes"
"""The hit ``info`` member listing a probe finding's probers: ``[{localPort, localIp, remoteIp}]``.

It becomes ``portProbeDetails`` and is left out of ``additionalInfo``."""


def port_probe_action(
    row: Mapping[str, Any], geo: GeoIP | None = None, info: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``PORT_PROBE``: one ``portProbeDetails`` entry per prober the detector listed in
    ``info[PORT_PROBES]``, else the latest flow record's probed local port and prober."""
    action = row.get("action")
    listed = (info or {}).get(PORT_PROBES)
    probes = (
        [(p.get("localPort"), p.get("localIp"), p.get("remoteIp")) for p in listed if isinstance(p, dict)]
        if isinstance(listed, list)
        else [(row.get("local_port"), row.get("local_ip"), row.get("remote_ip"))]
    )
    details = [
        clean(
            {
                "localPortDetails": port_details(port),
                "localIpDetails": ip_details(local),
                "remoteIpDetails": remote_ip_details(remote, geo),
            }
        )
        for port, local, remote in probes
    ]
    probe = clean({"blocked": None if action is None else action == "REJECT", "portProbeDetails": details})
    return {"actionType": "PORT_PROBE", "portProbeAction": probe}


def dns_request_action(row: Mapping[str, Any], account_id: str | None) -> dict[str, Any]:
    """``DNS_REQUEST`` from a Route 53 Resolver query log record.

    ``domain`` is the query name without its trailing dot; ``domainWithSuffix`` the
    registrable domain by the public suffix list; ``blocked`` whether DNS Firewall blocked it.
    """
    name = row.get("domain") or row.get("query_name")
    domain = name.rstrip(".").lower() if isinstance(name, str) and name.rstrip(".") else None
    firewall = row.get("firewall_rule_action")
    request = clean(
        {
            "domain": domain,
            "domainWithSuffix": registrable_domain(domain) if domain else None,
            "protocol": row.get("transport"),
            "blocked": firewall == "BLOCK",
            "vpcOwnerAccountId": account_id or None,
        }
    )
    return {"actionType": "DNS_REQUEST", "dnsRequestAction": request}
