"""Enrichment: columns added to every batch between parse and detect.

Detectors read these columns and never consult intelligence themselves.

vpc_flow
    ``direction`` INBOUND | OUTBOUND | UNKNOWN (``flow-direction`` when logged, else which
    side is a private address), ``local_ip``, ``local_port``, ``remote_ip``, ``remote_port``
    (the instance's side and the other side, by ``direction``).
cloudtrail
    ``remote_ip``: ``sourceIPAddress`` when it is an IP address (null for AWS service
    host names).
all sources, for the remote party (``remote_ip``; for dns the queried ``domain``, lower-case,
without the trailing dot)
    ``<side>_trusted``      bool: on a trusted list (then every threat column below is null:
                            the trusted list wins, as in GuardDuty)
    ``<side>_custom_list``  name of the first user threat list that matches, or null
    ``<side>_feed``         name of the first built-in feed that matches, or null
    ``<side>_feed_category`` that feed's category (e.g. ``CryptoCurrency``), or null
where ``<side>`` is ``remote`` (cloudtrail, vpc_flow) or ``domain`` (dns).
"""
