"""Discovery:S3/TorIPCaller (Medium) and UnauthorizedAccess:S3/TorIPCaller (High).

GuardDuty's trigger: an S3 API call (CloudTrail S3 data events) from a Tor exit node.
Discovery APIs (class ``s3_discovery`` in ``keibi.detect.api_classes``) give the Discovery
type; any other S3 data API, classified or not, the UnauthorizedAccess type, which GuardDuty
rates higher because it reads or changes data. Exit nodes are the addresses of feeds of
category ``Tor`` (``keibi.detect.iam.tor_ip`` says why relays do not count).

Failed calls count; calls AWS services make on a principal's behalf do not; trusted addresses
never arrive here. Anonymous callers count too, keyed by their address. One finding per
bucket, caller and feed; ``threatListName`` (the feed) and ``threatNames`` (``Tor``) fill
``service.evidence.threatIntelligenceDetails``.
"""

from __future__ import annotations

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits, no_hits
from keibi.detect.iam.malicious_ip import FEED_INFO
from keibi.detect.iam.tor_ip import TOR_EXIT
from keibi.detect.s3._data_events import API_CLASS, BUCKET, CALLER, S3_DATA, s3_data_calls

DISCOVERY_TOR_IP = FindingType(
    type="Discovery:S3/TorIPCaller",
    severity=Severity.MEDIUM,
    data_sources=("cloudtrail_s3_data",),
    resource_type="S3Bucket",
    detection="threat_intel",
    action_type="AWS_API_CALL",
    title="An S3 API commonly used to discover resources, {api}, was invoked on bucket {bucket} from a Tor exit node IP address.",
    description="S3 API {api} was invoked on bucket {bucket} from Tor exit node IP address {remote_ip} (feed {threat_list}).",
)
UNAUTHORIZED_TOR_IP = FindingType(
    type="UnauthorizedAccess:S3/TorIPCaller",
    severity=Severity.HIGH,
    data_sources=("cloudtrail_s3_data",),
    resource_type="S3Bucket",
    detection="threat_intel",
    action_type="AWS_API_CALL",
    title="S3 API {api} was invoked on bucket {bucket} from a Tor exit node IP address.",
    description="S3 API {api} was invoked on bucket {bucket} from Tor exit node IP address {remote_ip} (feed {threat_list}).",
)


@detectors.register(
    "s3.tor_ip",
    source="cloudtrail",
    emits=(DISCOVERY_TOR_IP, UNAUTHORIZED_TOR_IP),
    prefilter=(S3_DATA & TOR_EXIT).fill_null(False),
)
def tor_ip(events: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    calls = s3_data_calls(events, TOR_EXIT)
    discovery = (pl.col(API_CLASS) == "s3_discovery").fill_null(False)
    key = (BUCKET, CALLER, "remote_feed")
    found = [
        hits(calls.filter(discovery), DISCOVERY_TOR_IP, key=key, info=FEED_INFO),
        hits(calls.filter(~discovery), UNAUTHORIZED_TOR_IP, key=key, info=FEED_INFO),
    ]
    found = [f for f in found if not f.is_empty()]
    return pl.concat(found) if found else no_hits()
