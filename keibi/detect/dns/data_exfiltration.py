"""Trojan:EC2/DNSDataExfiltration: the instance encodes data into the names it resolves.

GuardDuty's trigger: the pattern of an instance's DNS queries shows data encoded into query
names and sent to a name server the attacker controls (DNS tunnelling). Whoever runs the
authoritative name server of a zone sees every query for a name under it, so the tell is
volume: many *distinct*, long, high-entropy names under *one* registrable domain from one
instance. keibi measures, per instance (or source address), registrable domain and
event-time window of ``settings.dns_exfil_window`` (1 hour):

- the *encoded part* of each name: the labels left of the registrable domain
  (``<data>.<data>.evil.co.uk`` → ``<data>.<data>``). The registrable domain is taken from
  the whole public suffix list, private section included, so that a tenant's piece of a
  cloud namespace (``d111111abcdef8.cloudfront.net``, ``bucket.s3.amazonaws.com``, an ELB,
  API Gateway or Lambda URL name) is its own parent and thousands of such names never pile
  up under ``amazonaws.com``;
- a name counts when its longest encoded label has at least
  ``settings.dns_exfil_min_label_length`` (20) characters and the encoded characters (dots
  left out) carry at least ``settings.dns_exfil_min_entropy`` (3.5) bits each (Shannon
  entropy: hex is ~4, base32/base64 ~4.5-5; decimal session ids at most 3.3, a counter or
  padding much less);
- it is exfiltration at ``settings.dns_exfil_min_subdomains`` (50) distinct counted names
  together holding ``settings.dns_exfil_min_bytes`` (3000) encoded characters.

AWS's GuardDuty tester resolves 914 such names (930 queries, labels of up to 62 characters)
under ``guarddutyc2activityb.com`` within minutes: about 105,000 encoded characters.

Benign look-alikes and how each stays quiet:

- CDN and AWS service names that look random (CloudFront distributions, S3 virtual-host
  buckets, ELB, API Gateway, Lambda URLs, Global Accelerator): a separate parent each by the
  private section of the public suffix list, and their providers' zones are in
  :data:`BENIGN_ZONES` besides;
- anti-virus and reputation lookups that put file or URL hashes in labels (Sophos
  ``*.sophosxl.net``, McAfee GTI ``*.avqs.mcafee.com``/``*.avts.mcafee.com``, Team Cymru's
  malware hash registry ``*.malware.hash.cymru.com``) and DNS block lists (Spamhaus ZEN/DBL and
  the hashed DQS lists ``*.dq.spamhaus.net``, SpamCop, Barracuda, SORBS, URIBL, SURBL, …):
  their zones are in :data:`BENIGN_ZONES`. Reversed-IP block-list queries
  (``4.3.2.1.zen.spamhaus.org``) have short labels anyway;
- mail and certificate TXT lookups (DKIM ``<selector>._domainkey.<domain>``, with Amazon
  SES's 32-character selectors; DMARC, MTA-STS, TLS-RPT, SPF ``_spf`` records and ACME
  ``_acme-challenge`` validation): TXT queries of a name holding one of these service
  labels are left out (:data:`SERVICE_LABELS`); a receiving mail server asks for few
  selectors per sender domain anyway. An exfiltration tool that dressed its TXT queries as
  DKIM lookups would be missed: the price of keeping every mail server quiet;
- telemetry and content hosts with per-object names (Microsoft's
  ``*.events.data.microsoft.com``, Google's ``*.googleusercontent.com``/``*.gvt1.com``,
  Dropbox's ``*.dropboxusercontent.com``, Akamai, Fastly, Azure Front Door):
  :data:`BENIGN_ZONES`;
- names under a top-level domain that is not on the public suffix list (``ec2.internal``,
  ``compute.internal``, ``cluster.local``, ``consul``, a private ``corp``) and reverse
  lookups (``in-addr.arpa``, ``ip6.arpa``, one- to three-character labels) never reach an
  outside name server or carry no long label;
- a domain on a trusted list never counts.

:data:`BENIGN_ZONES` only names zones whose name servers the provider runs itself, so an
attacker cannot receive queries under them. One finding per instance and registrable domain,
the instance as ``ACTOR``; the evidence is every counted query.
"""

from __future__ import annotations

import re
from typing import Final

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits, no_hits
from keibi.detect.dns._lexical import split_domains

DNS_DATA_EXFILTRATION = FindingType(
    type="Trojan:EC2/DNSDataExfiltration",
    severity=Severity.HIGH,
    data_sources=("dns",),
    resource_type="Instance",
    detection="signature",
    action_type="DNS_REQUEST",
    title="EC2 instance {resource_id} is exfiltrating data through DNS queries.",
    description=(
        "EC2 instance {resource_id} is encoding data into DNS queries: {distinctSubdomains} distinct long, "
        "high-entropy subdomains of {parentDomain} carrying {encodedBytes} encoded characters were resolved, "
        "so the data reaches whoever runs that domain's name server."
    ),
)

PREFILTER_LABEL: Final = 16
"""The engine keeps only names with a label at least this long (``dns_exfil_min_label_length``
below it acts as this), so open windows buffer little of ordinary traffic."""

BENIGN_ZONES: Final[dict[str, str]] = {
    # AWS: service endpoints, per-resource names (S3, ELB, API Gateway, Lambda URLs, IoT)
    "amazonaws.com": "AWS service and per-resource endpoints",
    "amazonaws.com.cn": "AWS China service endpoints",
    "api.aws": "AWS dual-stack service endpoints",
    "on.aws": "Lambda function URLs and App Runner services",
    "cloudfront.net": "CloudFront distributions (d<14 random>.cloudfront.net)",
    "awsglobalaccelerator.com": "Global Accelerator endpoints",
    "amazontrust.com": "Amazon Trust Services OCSP/CRL",
    # CDNs and edge networks with per-customer or per-object host names
    "akamai.net": "Akamai edge",
    "akamaiedge.net": "Akamai edge",
    "akamaihd.net": "Akamai HD delivery",
    "akamaized.net": "Akamai delivery",
    "akadns.net": "Akamai DNS/GTM",
    "edgekey.net": "Akamai edge",
    "edgesuite.net": "Akamai edge",
    "fastly.net": "Fastly",
    "fastlylb.net": "Fastly load balancing",
    "cloudflare.net": "Cloudflare",
    "azureedge.net": "Azure CDN",
    "azurefd.net": "Azure Front Door",
    "trafficmanager.net": "Azure Traffic Manager",
    "windows.net": "Azure storage and service endpoints",
    # telemetry and per-object content hosts
    "microsoft.com": "Windows/Office telemetry (*.events.data.microsoft.com)",
    "googleusercontent.com": "Google-hosted user content",
    "googlevideo.com": "Google video caches",
    "gstatic.com": "Google static content and connectivity probes",
    "gvt1.com": "Google update downloads",
    "gvt2.com": "Google update downloads",
    "1e100.net": "Google servers' reverse names",
    "dropboxusercontent.com": "Dropbox file downloads (per-file host names)",
    # anti-virus and reputation lookups: file/URL hashes as labels
    "sophosxl.net": "Sophos Live Protection (SXL) lookups",
    "mcafee.com": "McAfee GTI file reputation (*.avqs/*.avts.mcafee.com)",
    "cymru.com": "Team Cymru malware hash registry",
    # DNS block and allow lists (reversed IPs, domains, hashed addresses)
    "spamhaus.org": "Spamhaus ZEN/SBL/XBL/PBL/DBL",
    "spamhaus.net": "Spamhaus Data Query Service, incl. hashed HBL lookups",
    "spamcop.net": "SpamCop block list",
    "barracudacentral.org": "Barracuda reputation block list",
    "sorbs.net": "SORBS block lists",
    "uribl.com": "URIBL domain block list",
    "surbl.org": "SURBL domain block list",
    "mailspike.net": "Mailspike reputation",
    "senderscore.com": "Validity Sender Score",
    "abuseat.org": "Composite Blocking List",
    "dnswl.org": "DNSWL allow list",
}
"""Zones (and everything under them) whose queries never count; the value says why."""

SERVICE_LABELS: Final = ("_domainkey", "_dmarc", "_mta-sts", "_tls", "_spf", "_acme-challenge", "_bimi")
"""RFC 8552 service labels of mail and certificate TXT lookups (DKIM, DMARC and its
``_report._dmarc`` checks, MTA-STS, TLS-RPT ``_smtp._tls``, SPF, ACME, BIMI)."""

_ZONES_RE: Final = r"(^|\.)(" + "|".join(re.escape(z) for z in BENIGN_ZONES) + r")$"
_SERVICE_RE: Final = r"(^|\.)(" + "|".join(re.escape(lbl) for lbl in SERVICE_LABELS) + r")(\.|$)"

CANDIDATE = (
    pl.col("domain").str.contains(f"[^.]{{{PREFILTER_LABEL},}}")
    & ~pl.col("domain").str.contains(_ZONES_RE)
    & ~pl.col("domain_trusted").fill_null(False)
)
"""A name with a long label, outside the benign zones and the trusted lists (~0.07 s per
million queries; of the tester's background it keeps a few rows in a million)."""


def parent_domains(domains: pl.Series) -> pl.DataFrame:
    """``domain`` → ``parent``, its registrable domain by the whole public suffix list (private
    section included, see the module docstring).

    ``parent`` is null for a name under no public suffix (``ip-10-0-1-5.ec2.internal``) or
    that is a public suffix itself.
    """
    split = split_domains(domains.drop_nulls(), private=True)
    return split.select("domain", pl.col("registrable").alias("parent"))


def entropy(text: pl.Expr) -> pl.Expr:
    """Shannon entropy of each string's characters, in bits per character (null when empty)."""
    n = text.str.len_chars().cast(pl.Float64)
    counts = text.str.split("").list.eval(pl.element().unique_counts().cast(pl.Float64))
    plogp = counts.list.eval(pl.element() * pl.element().log(2)).list.sum()
    return pl.when(n > 0).then(n.log(2) - plogp / n)


def encoded_names(domains: pl.Series, min_label: int, min_entropy: float) -> pl.DataFrame:
    """The distinct names that carry encoded data: ``domain``, ``parent``, ``sub`` (the
    encoded part), ``encoded`` (its characters, dots left out), ``longest`` (its longest
    label) and ``entropy`` (bits per encoded character)."""
    names = parent_domains(domains).filter(pl.col("parent").is_not_null())
    sub = pl.col("domain").str.head(pl.col("domain").str.len_chars() - pl.col("parent").str.len_chars() - 1)
    measured = (
        names.with_columns(sub.alias("sub"))
        .filter(pl.col("sub").str.len_chars() > 0)
        .with_columns(
            pl.col("sub").str.replace_all(".", "", literal=True).alias("_chars"),
            pl.col("sub").str.split(".").list.eval(pl.element().str.len_chars()).list.max().alias("longest"),
        )
        .with_columns(
            pl.col("_chars").str.len_chars().alias("encoded"), entropy(pl.col("_chars")).alias("entropy")
        )
    )
    return measured.filter(pl.col("longest") >= min_label, pl.col("entropy") >= min_entropy).drop("_chars")


@detectors.register(
    "dns.data_exfiltration",
    source="dns",
    emits=(DNS_DATA_EXFILTRATION,),
    window=lambda ctx: ctx.settings.dns_exfil_window,
    prefilter=CANDIDATE,
)
def dns_data_exfiltration(queries: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    s = ctx.settings
    service_lookup = (pl.col("query_type") == "TXT") & pl.col("domain").str.contains(_SERVICE_RE)
    rows = queries.filter(CANDIDATE, ~service_lookup.fill_null(False))
    if rows.is_empty():
        return no_hits()
    names = encoded_names(
        rows["domain"], max(s.dns_exfil_min_label_length, PREFILTER_LABEL), s.dns_exfil_min_entropy
    )
    counted = rows.join(names, on="domain", how="inner").with_columns(
        pl.coalesce("instance_id", "srcaddr").alias("resource"),
        pl.col("event_time").dt.truncate(s.dns_exfil_window).alias("bucket"),
    )
    group = ["account_id", "region", "resource", "parent", "bucket"]
    per_window = (
        counted.unique(subset=[*group, "sub"])
        .group_by(group)
        .agg(
            pl.len().alias("distinctSubdomains"),
            pl.col("encoded").sum().alias("encodedBytes"),
            pl.col("longest").max().alias("longestLabel"),
            pl.col("entropy").mean().round(2).alias("meanEntropy"),
        )
        .filter(
            pl.col("distinctSubdomains") >= s.dns_exfil_min_subdomains,
            pl.col("encodedBytes") >= s.dns_exfil_min_bytes,
        )
    )
    evidence = counted.join(per_window, on=group, how="inner", nulls_equal=True)
    info = pl.struct(
        pl.col("parent").alias("parentDomain"),
        "distinctSubdomains",
        "encodedBytes",
        "longestLabel",
        "meanEntropy",
    ).struct.json_encode()
    return hits(evidence, DNS_DATA_EXFILTRATION, key=("resource", "parent"), resource_role="ACTOR", info=info)
