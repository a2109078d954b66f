"""Finding types as frozen data, declared once at the top of each detector module."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

DataSource = Literal["cloudtrail_management", "cloudtrail_s3_data", "vpc_flow", "dns"]
Detection = Literal["signature", "policy", "threat_intel", "behavior"]
ResourceType = Literal["Instance", "AccessKey", "S3Bucket"]
ActionType = Literal["AWS_API_CALL", "NETWORK_CONNECTION", "PORT_PROBE", "DNS_REQUEST"]


class Severity(float, Enum):
    """GuardDuty's labels with the values real findings carry (Low 2, Medium 5, High 8)."""

    LOW = 2.0
    MEDIUM = 5.0
    HIGH = 8.0

    @property
    def label(self) -> str:
        return self.name.capitalize()

    @staticmethod
    def label_of(value: float) -> str:
        """GuardDuty's band for a numeric severity: Low 1-3.9, Medium 4-6.9, High 7-8.9, Critical 9+."""
        if value >= 9.0:
            return "Critical"
        if value >= 7.0:
            return "High"
        if value >= 4.0:
            return "Medium"
        return "Low"


@dataclass(frozen=True, slots=True)
class FindingType:
    """One GuardDuty finding type; its fields are the keys of ``reference/finding_types.json``.

    ``title`` and ``description`` are ``str.format`` templates over the finding's context
    (see ``keibi.findings.build``); ``custom=True`` marks a keibi type that is not in the
    GuardDuty catalogue.

    >>> ROOT = FindingType(type="Policy:IAMUser/RootCredentialUsage", severity=Severity.LOW,
    ...     data_sources=("cloudtrail_management",), resource_type="AccessKey",
    ...     detection="policy", action_type="AWS_API_CALL")
    """

    type: str
    severity: Severity
    data_sources: tuple[DataSource, ...]
    resource_type: ResourceType
    detection: Detection
    action_type: ActionType
    title: str = ""
    description: str = ""
    custom: bool = False
