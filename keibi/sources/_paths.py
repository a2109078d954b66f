"""What a file's AWS delivery path says about it: ``AWSLogs/[o-org/]<account>/<service>/<region>/``.

Used only when a record lacks its own account or region (flow logs without ``region``,
CloudTrail records without ``recipientAccountId``).
"""

from __future__ import annotations

import re
from typing import Final

DEFAULT_REGION: Final = "us-east-1"

_AWSLOGS = re.compile(r"(?:^|/)AWSLogs/(?:o-[a-z0-9]+/)?(\d{12})/([^/]+)/([^/]+)/")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+$")


def account_region(uri: str) -> tuple[str | None, str | None]:
    """``(account, region)`` from an ``AWSLogs/`` path; either is None when the path lacks it.

    >>> account_region("s3://b/AWSLogs/123456789012/CloudTrail/eu-west-1/2024/08/02/x.json.gz")
    ('123456789012', 'eu-west-1')
    >>> account_region("AWSLogs/123456789012/vpcdnsquerylogs/vpc-0abc/2024/08/02/x.log.gz")
    ('123456789012', None)
    """
    m = _AWSLOGS.search(uri.replace("\\", "/"))
    if m is None:
        return None, None
    region = m.group(3)
    return m.group(1), region if _REGION.match(region) else None


__all__ = ["DEFAULT_REGION", "account_region"]
