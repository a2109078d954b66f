"""Enrichment: columns added to every batch between parse and detect.

Detectors read these columns and never consult intelligence themselves.

vpc_flow
    ``direction`` INBOUND | OUTBOUND | UNKNOWN (``flow-direction`` when logged, else which
    side is a private address), ``local_ip``, ``local_port``, ``remote_ip``, ``remote_port``
    (the instance's side and the other side, by ``direction``).
    Refinements (``keibi.enrich.network`` has the full rule): ``local_*`` is the ENI's side
    (``flow-direction``, else the private side, else the source); ``direction`` is who opened
    the connection, GuardDuty's ``connectionDirection``, so the ports decide it first (a
    local well-known or registered port facing an ephemeral one is ``INBOUND`` even on an
    ``egress`` reply record). Also ``remote_private`` (bool, null when ``remote_ip`` is not
    an IP): the remote side is in a non-routable range; ``first_of_interface`` (bool): the
    record is its interface's earliest in the batch (behaviour detectors learn presence from it).
cloudtrail
    ``remote_ip``: ``sourceIPAddress`` when it is an IP address (null for AWS service
    host names). Whether that address is AWS's (``keibi.intel.aws_ranges``: the shipped
    ``ip-ranges.json`` snapshot or ``[intel] aws_ip_ranges``), all null when it is not:
    ``remote_aws_prefix``  the longest AWS prefix holding it, as AWS writes it (``52.40.0.0/14``)
    ``remote_aws_region``  that prefix's region (``us-west-2``, ``GLOBAL``)
    ``remote_aws_service`` its service, the most specific one listed (``EC2``, ``S3``, …;
                           ``AMAZON`` when AWS names no other)
    Where that address is (``keibi.intel.geo``; null where not known): ``remote_country``
    (ISO code, always known for a public address), ``remote_asn`` (with an ASN database),
    ``remote_lat``/``remote_lon`` (with a City database). Behaviour baselines profile them.
dns
    ``domain``: ``query_name`` lower-case, without the trailing dot.
    ``answer_ip``, ``answer_feed``, ``answer_feed_category``: the first A/AAAA answer a feed
    lists (a sinkhole address, say), that feed and its category; null when none is listed
    (trusted answers count as unlisted).
all sources, for the remote party (``remote_ip``; for dns the queried ``domain``, lower-case,
without the trailing dot)
    ``<side>_trusted``      bool: on a trusted list (then every threat column below is null:
                            the trusted list wins, as in GuardDuty)
    ``<side>_custom_list``  name of the first user threat list that matches, or null
    ``<side>_feed``         name of the first built-in feed that matches, or null
    ``<side>_feed_category`` that feed's category (e.g. ``CryptoCurrency``), or null
where ``<side>`` is ``remote`` (cloudtrail, vpc_flow) or ``domain`` (dns).
"""

from keibi.enrich.batch import enrich
from keibi.enrich.network import flow_sides

__all__ = [
    "enrich",
    "flow_sides",
]
