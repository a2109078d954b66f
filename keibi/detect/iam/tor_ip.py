"""Recon:IAMUser/TorIPCaller and UnauthorizedAccess:IAMUser/TorIPCaller.

GuardDuty's trigger: an API call (management events) from a Tor exit node; discovery calls
(``keibi.detect.api_classes``) give the Recon type, every other call the UnauthorizedAccess
type. An address counts when the feed that matched it has the category :data:`TOR_CATEGORY`
(exit nodes, ``keibi.intel.feeds``). ``TorRelay`` does not: relays and guards only pass
traffic inside the Tor network, so a request reaching AWS over Tor always leaves through an
exit, and a relay's address in ``sourceIPAddress`` is that host calling for itself.

As for ``keibi.detect.iam.malicious_ip``: failed calls count, calls AWS services make on a
principal's behalf do not, a trusted address never arrives here, and there is one finding
per principal and feed, whose ``threatListName``/``threatNames`` fill
``service.evidence.threatIntelligenceDetails``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors
from keibi.detect.iam.malicious_ip import FEED_INFO, management_calls, recon_split

TOR_CATEGORY: Final = "Tor"
TOR_EXIT: Final = pl.col("remote_feed_category") == TOR_CATEGORY

RECON_TOR_IP = FindingType(
    type="Recon:IAMUser/TorIPCaller",
    severity=Severity.MEDIUM,
    data_sources=("cloudtrail_management",),
    resource_type="AccessKey",
    detection="threat_intel",
    action_type="AWS_API_CALL",
    title="Reconnaissance API {api} was invoked from a Tor exit node IP address.",
    description=(
        "API {api} was invoked by {principal_id} from Tor exit node IP address {remote_ip} "
        "(feed {threat_list}). Such APIs are commonly used to discover an account's resources."
    ),
)
UNAUTHORIZED_TOR_IP = FindingType(
    type="UnauthorizedAccess:IAMUser/TorIPCaller",
    severity=Severity.MEDIUM,
    data_sources=("cloudtrail_management",),
    resource_type="AccessKey",
    detection="threat_intel",
    action_type="AWS_API_CALL",
    title="API {api} was invoked from a Tor exit node IP address.",
    description="API {api} was invoked by {principal_id} from Tor exit node IP address {remote_ip} (feed {threat_list}).",
)


@detectors.register(
    "iam.tor_ip",
    source="cloudtrail",
    emits=(RECON_TOR_IP, UNAUTHORIZED_TOR_IP),
    prefilter=TOR_EXIT.fill_null(False),
)
def tor_ip(events: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    return recon_split(
        management_calls(events, TOR_EXIT),
        RECON_TOR_IP,
        UNAUTHORIZED_TOR_IP,
        key=("principal_id", "remote_feed"),
        info=FEED_INFO,
    )
