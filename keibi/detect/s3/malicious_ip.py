"""Discovery:S3/MaliciousIPCaller, Exfiltration:S3/MaliciousIPCaller, Impact:S3/MaliciousIPCaller.

GuardDuty's trigger: an S3 API call (CloudTrail S3 data events) from an address on its threat
intelligence of known-malicious hosts; the API's tactic picks the type. keibi reads the tactic
from ``keibi.detect.api_classes`` (``s3_discovery``, ``s3_exfiltration``, ``s3_impact``) and the
address's from the feed that matched it: a category in
``keibi.detect.iam.malicious_ip.MALICIOUS_CATEGORIES`` (which also says why Tor, mining pools
and sinkholes are not counted). An S3 data call in none of the three classes raises nothing:
GuardDuty has no catch-all type for known-malicious callers on S3.

Failed calls count; calls AWS services make on a principal's behalf do not; trusted addresses
never arrive here. Anonymous callers count too, keyed by their address. One finding per
bucket, caller and feed; ``threatListName`` (the feed) and ``threatNames`` (its category)
fill ``service.evidence.threatIntelligenceDetails``.
"""

from __future__ import annotations

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits, no_hits
from keibi.detect.iam.malicious_ip import FEED_INFO, MALICIOUS
from keibi.detect.s3._data_events import API_CLASS, BUCKET, CALLER, S3_DATA, s3_data_calls


def _malicious(tactic: str, verb: str) -> FindingType:
    return FindingType(
        type=f"{tactic}:S3/MaliciousIPCaller",
        severity=Severity.HIGH,
        data_sources=("cloudtrail_s3_data",),
        resource_type="S3Bucket",
        detection="threat_intel",
        action_type="AWS_API_CALL",
        title=f"An S3 API commonly used to {verb}, {{api}}, was invoked on bucket {{bucket}} from a known malicious IP address.",
        description=(
            "S3 API {api} was invoked on bucket {bucket} from IP address {remote_ip}, which is on the "
            "threat feed {threat_list} ({threat_names})."
        ),
    )


DISCOVERY_MALICIOUS_IP = _malicious("Discovery", "discover resources")
EXFILTRATION_MALICIOUS_IP = _malicious("Exfiltration", "collect data")
IMPACT_MALICIOUS_IP = _malicious("Impact", "tamper with data")
CLASS_TYPES = (
    ("s3_discovery", DISCOVERY_MALICIOUS_IP),
    ("s3_exfiltration", EXFILTRATION_MALICIOUS_IP),
    ("s3_impact", IMPACT_MALICIOUS_IP),
)


@detectors.register(
    "s3.malicious_ip",
    source="cloudtrail",
    emits=tuple(t for _, t in CLASS_TYPES),
    prefilter=(S3_DATA & MALICIOUS).fill_null(False),
)
def malicious_ip(events: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    calls = s3_data_calls(events, MALICIOUS)
    key = (BUCKET, CALLER, "remote_feed")
    found = [
        hits(calls.filter(pl.col(API_CLASS) == klass), ftype, key=key, info=FEED_INFO)
        for klass, ftype in CLASS_TYPES
    ]
    found = [f for f in found if not f.is_empty()]
    return pl.concat(found) if found else no_hits()
