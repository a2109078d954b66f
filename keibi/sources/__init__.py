"""Log sources: find log files (local or S3), recognise their format from content, and parse
them into batches with one fixed schema per source (``schema.py``).

    >>> report = Report()
    >>> for planned in plan(["AWSLogs/"], report):          # doctest: +SKIP
    ...     for batch in read(planned, report):
    ...         ...
"""

from keibi.sources._flow_fields import DEFAULT_FORMAT as VPC_FLOW_DEFAULT_FORMAT
from keibi.sources.locations import LocalLocation, Location, LogFile, S3Location, locate
from keibi.sources.planning import PlannedFile, plan, plan_files
from keibi.sources.reading import read
from keibi.sources.report import Report
from keibi.sources.schema import CLOUDTRAIL, DNS, SCHEMAS, SOURCES, VPC_FLOW, SourceName
from keibi.sources.sniff import Layout, Sniffed, sniff

__all__ = [
    "CLOUDTRAIL",
    "DNS",
    "SCHEMAS",
    "SOURCES",
    "VPC_FLOW",
    "VPC_FLOW_DEFAULT_FORMAT",
    "Layout",
    "LocalLocation",
    "Location",
    "LogFile",
    "PlannedFile",
    "Report",
    "S3Location",
    "Sniffed",
    "SourceName",
    "locate",
    "plan",
    "plan_files",
    "read",
    "sniff",
]
