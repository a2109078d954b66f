"""ARNs of the API's resources, as GuardDuty spells them (tags are kept by ARN)."""

from __future__ import annotations

import re
from typing import Final

PARTITION: Final = "aws"
_ARN: Final = re.compile(r"^arn:aws:guardduty:([a-z0-9-]+):(\d{12}):detector/([0-9a-f]{32})(/.*)?$")


def detector_arn(region: str, account_id: str, detector_id: str) -> str:
    return f"arn:{PARTITION}:guardduty:{region}:{account_id}:detector/{detector_id}"


def child_arn(region: str, account_id: str, detector_id: str, kind: str, name: str) -> str:
    """A detector's filter, list or destination: ``.../detector/ID/filter/NAME``."""
    return f"{detector_arn(region, account_id, detector_id)}/{kind}/{name}"


def parse(arn: str) -> tuple[str, str, str, str] | None:
    """(region, account, detector id, rest) of a GuardDuty ARN, or ``None``."""
    found = _ARN.match(arn)
    if found is None:
        return None
    region, account, detector, rest = found.groups()
    return region, account, detector, rest or ""
