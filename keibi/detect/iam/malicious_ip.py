"""Recon:IAMUser/MaliciousIPCaller and UnauthorizedAccess:IAMUser/MaliciousIPCaller.

GuardDuty's trigger: an API call (management events) from an address on its own threat
intelligence of known-malicious hosts; discovery calls (``keibi.detect.api_classes``) give the
Recon type, every other call the UnauthorizedAccess type. keibi's threat intelligence is the
operator's feeds (``keibi.intel.feeds``): an address counts when the feed that matched it has a
category in :data:`MALICIOUS_CATEGORIES`. Those categories name infrastructure attackers run
(attack and scanning hosts, C2 servers, drop points for stolen data, malware hosts, phishing
sites), so a call from one means someone there holds the principal's credentials. Not counted:
``Tor``/``TorRelay`` (anonymity, not malice: the TorIPCaller types, ``keibi.detect.iam.tor_ip``),
``CryptoCurrency`` (mining pools are destinations; their type is ``CryptoCurrency:*``) and
``Blackhole`` (sinkholes belong to defenders; traffic to them marks a victim, not an attacker).

Failed calls count: the caller is listed, whatever the outcome. Calls an AWS service makes on
a principal's behalf (``invokedBy`` set, or a ``userIdentity.type`` of ``AWSService``) do not:
the address is the service's. A trusted address never arrives here (enrichment nulls its threat
columns). One finding per principal and feed; ``threatListName`` (the feed) and
``threatNames`` (its category) fill ``service.evidence.threatIntelligenceDetails``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits, no_hits
from keibi.detect.api_classes import is_recon

MALICIOUS_CATEGORIES: Final[tuple[str, ...]] = (
    "CommandAndControl",
    "DropPoint",
    "Malicious",
    "MalwareDistribution",
    "Phishing",
)

RECON_MALICIOUS_IP = FindingType(
    type="Recon:IAMUser/MaliciousIPCaller",
    severity=Severity.MEDIUM,
    data_sources=("cloudtrail_management",),
    resource_type="AccessKey",
    detection="threat_intel",
    action_type="AWS_API_CALL",
    title="Reconnaissance API {api} was invoked from a known malicious IP address.",
    description=(
        "API {api} was invoked by {principal_id} from IP address {remote_ip}, which is on the "
        "threat feed {threat_list} ({threat_names}). Such APIs are commonly used to discover an "
        "account's resources."
    ),
)
UNAUTHORIZED_MALICIOUS_IP = FindingType(
    type="UnauthorizedAccess:IAMUser/MaliciousIPCaller",
    severity=Severity.MEDIUM,
    data_sources=("cloudtrail_management",),
    resource_type="AccessKey",
    detection="threat_intel",
    action_type="AWS_API_CALL",
    title="API {api} was invoked from a known malicious IP address.",
    description=(
        "API {api} was invoked by {principal_id} from IP address {remote_ip}, which is on the "
        "threat feed {threat_list} ({threat_names})."
    ),
)

# Calls an AWS service makes for a principal: the address is the service's, not the caller's.
BY_AWS_SERVICE: Final = pl.col("invoked_by").is_not_null() | (pl.col("user_type") == "AWSService").fill_null(
    False
)
FEED_INFO: Final = pl.struct(
    pl.col("remote_feed").alias("threatListName"),
    pl.concat_list(pl.col("remote_feed_category")).alias("threatNames"),
).struct.json_encode()


def management_calls(events: pl.DataFrame, listed: pl.Expr) -> pl.DataFrame:
    """The management events whose caller is ``listed``, without calls AWS services make."""
    return events.filter(
        listed.fill_null(False),
        (pl.col("event_category") != "Data").fill_null(True),
        ~BY_AWS_SERVICE,
    )


def recon_split(
    calls: pl.DataFrame,
    recon_type: FindingType,
    other_type: FindingType,
    *,
    key: tuple[str, ...],
    info: pl.Expr,
) -> pl.DataFrame:
    """Hits of ``recon_type`` for discovery calls and ``other_type`` for the rest."""
    recon = is_recon(pl.col("event_source"), pl.col("event_name"))
    found = [
        hits(calls.filter(recon), recon_type, key=key, info=info),
        hits(calls.filter(~recon), other_type, key=key, info=info),
    ]
    found = [f for f in found if not f.is_empty()]
    return pl.concat(found) if found else no_hits()


MALICIOUS: Final = pl.col("remote_feed_category").is_in(list(MALICIOUS_CATEGORIES))


@detectors.register(
    "iam.malicious_ip",
    source="cloudtrail",
    emits=(RECON_MALICIOUS_IP, UNAUTHORIZED_MALICIOUS_IP),
    prefilter=MALICIOUS.fill_null(False),
)
def malicious_ip(events: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    return recon_split(
        management_calls(events, MALICIOUS),
        RECON_MALICIOUS_IP,
        UNAUTHORIZED_MALICIOUS_IP,
        key=("principal_id", "remote_feed"),
        info=FEED_INFO,
    )
