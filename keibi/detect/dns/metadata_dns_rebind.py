"""UnauthorizedAccess:EC2/MetadataDNSRebind: a name the instance resolves answers with the metadata address.

GuardDuty's trigger: the instance looks up a domain whose answer is the instance metadata
service, ``169.254.169.254`` (IPv6 on Nitro: ``fd00:ec2::254``). A DNS rebinding attack
serves a page from the attacker's address, then re-answers the same name with the metadata
address, so a vulnerable application (or a browser) on the instance hands the attacker its
metadata, role credentials included. Services such as ``rbndr.us``, ``1u.ms`` or ``nip.io``
make such names on demand.

Route 53 Resolver logs the response: ``answers`` is a list of ``{"Rdata", "Type", "Class"}``
(the CNAME chain first, then the records), a typed list column in keibi's batches. keibi
reads each answer's ``Rdata``, parses it as an address (``keibi.intel.addresses``, so
``fd00:ec2:0:0:0:0:0:254`` and ``fd00:ec2::254`` are the same) and counts a query whose
answer is the metadata address. A CNAME target or TXT text that merely spells the address
(``169.254.169.254.nip.io.``) is not an answer; the A record it leads to is. The engine
first keeps only responses with an ``Rdata`` starting ``169.254.169.254`` or ``fd00:``, so
the parse runs on a handful of rows.

Quiet on purpose: AWS's own aliases of the service (``instance-data``,
``instance-data.ec2.internal``, ``instance-data.<region>.compute.internal``); other link-local
service addresses (Route 53 Resolver ``169.254.169.253``, Time Sync ``169.254.169.123``,
ECS task metadata ``169.254.170.2``, ``fd00:ec2::123``); reverse (PTR) lookups of the
address; and a domain on a trusted list (an intentional private mapping; GuardDuty's advice
is a suppression rule on ``dnsRequestAction.domain``). One finding per instance (or source
address) and domain, with the instance as ``ACTOR``; ``additionalInfo.resolvedAddress`` is
the metadata address it resolved to.
"""

from __future__ import annotations

import ipaddress
from typing import Final

import polars as pl

from keibi.detect import ROW, DetectContext, FindingType, Severity, detectors, hits, no_hits
from keibi.intel.addresses import address_table, v4_to_int

METADATA_DNS_REBIND = FindingType(
    type="UnauthorizedAccess:EC2/MetadataDNSRebind",
    severity=Severity.HIGH,
    data_sources=("dns",),
    resource_type="Instance",
    detection="signature",
    action_type="DNS_REQUEST",
    title="EC2 instance {resource_id} is performing DNS lookups that resolve to the instance metadata service.",
    description=(
        "EC2 instance {resource_id} is querying {domain}, which resolves to the EC2 metadata address "
        "{resolvedAddress}. This may be a DNS rebinding attempt to read the instance's metadata, including "
        "the IAM credentials of its role, through a vulnerable application or a browser on the instance."
    ),
)

IMDS_V4: Final = "169.254.169.254"
IMDS_V6: Final = "fd00:ec2::254"
_V6: Final = int(ipaddress.IPv6Address(IMDS_V6))
_V6_HI: Final = _V6 >> 64
_V6_LO: Final = _V6 & ((1 << 64) - 1)

AWS_ALIASES: Final = r"^instance-data(\.ec2\.internal|\.[a-z0-9-]+\.compute\.internal)?$"
"""AWS's own names for the metadata service: resolving them is no attack."""

_RDATA: Final = pl.col("answers").list.eval(pl.element().struct.field("Rdata"))
CANDIDATE = _RDATA.list.eval(
    pl.element().str.starts_with(IMDS_V4) | pl.element().str.to_lowercase().str.starts_with("fd00:")
).list.any().fill_null(False) & ~pl.col("domain_trusted").fill_null(False)


def metadata_answers(queries: pl.DataFrame) -> pl.DataFrame:
    """``_row`` → ``resolvedAddress`` for each query with an answer that is the metadata address.

    Each answer is read on its own; one without ``Rdata`` is skipped, never an error.
    """
    records = (
        queries.select(ROW, _RDATA.alias("rdata")).explode("rdata").filter(pl.col("rdata").is_not_null())
    )
    table = address_table(records["rdata"])
    metadata = table.filter(
        (pl.col("v4") == v4_to_int(IMDS_V4)) | ((pl.col("hi") == _V6_HI) & (pl.col("lo") == _V6_LO))
    ).select(
        "value",
        pl.when(pl.col("v4").is_not_null())
        .then(pl.lit(IMDS_V4))
        .otherwise(pl.lit(IMDS_V6))
        .alias("resolvedAddress"),
    )
    found = records.join(metadata, left_on="rdata", right_on="value")
    return found.group_by(ROW).agg(pl.col("resolvedAddress").first())


@detectors.register(
    "dns.metadata_dns_rebind", source="dns", emits=(METADATA_DNS_REBIND,), prefilter=CANDIDATE
)
def metadata_dns_rebind(queries: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    rows = queries.filter(CANDIDATE, ~pl.col("domain").str.contains(AWS_ALIASES).fill_null(False))
    if rows.is_empty():
        return no_hits()
    rebound = rows.join(metadata_answers(rows), on=ROW, how="inner").with_columns(
        pl.coalesce("instance_id", "srcaddr").alias("resource")
    )
    info = pl.struct("resolvedAddress").struct.json_encode()
    return hits(rebound, METADATA_DNS_REBIND, key=("resource", "domain"), resource_role="ACTOR", info=info)
