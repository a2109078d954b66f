"""keibi: self-hosted threat detection for AWS logs, in Amazon GuardDuty's finding format."""

__version__ = "0.1.0"
