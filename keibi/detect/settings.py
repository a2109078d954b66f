"""Detector thresholds: the ``[detect]`` section of ``keibi.toml``.

Every window is event time. Defaults are chosen so benign traffic stays quiet: the tester's
background (web servers hit by thousands of clients, monitoring hosts polling one port,
health checks) never crosses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class DetectSettings:
    """Thresholds of the built-in detectors.

    portscan_window / portscan_min_ports: an instance that tries at least this many distinct
        destination ports on one remote host inside one window, without an answer, is
        scanning it (``keibi.detect.network.portscan``).
    port_sweep_window / port_sweep_min_hosts: an instance that tries one TCP port on at
        least this many distinct public hosts inside one window, without an answer, is
        sweeping it (``keibi.detect.network.port_sweep``).
    port_probe_window / port_probe_min_sources / port_probe_max_attempts: an instance's open
        (accepted) TCP port is being probed when, inside one window, a known scanner (a
        ``Malicious`` feed address) or at least ``port_probe_min_sources`` distinct public
        hosts reach it with handshake-only connections, each host with at most
        ``port_probe_max_attempts`` of them; a host that keeps coming back (a health checker)
        is not a prober (``keibi.detect.network.port_probe``).
    brute_force_window / ssh_min_attempts / rdp_min_attempts / winrm_min_attempts: this many
        accepted TCP connections (distinct client ports) from one public host to one
        instance's SSH (22), RDP (3389) or WinRM (5985/5986) port, or from the instance to
        that port of one public host, inside one window is password guessing
        (``keibi.detect.network.brute_force``). WinRM's is higher: it is HTTP, and its
        management clients open more connections than SSH or RDP clients do.
    dos_window / dos_min_packets / dos_min_packets_per_second / dos_max_reply_ratio: an
        instance floods a public host when, inside one window, it sends it at least
        ``dos_min_packets`` packets of one protocol at ``dos_min_packets_per_second`` or more
        over the time they span, and the host answers little: for TCP, no payload either way;
        otherwise at most ``dos_max_reply_ratio`` reply packets per packet sent
        (``keibi.detect.network.denial_of_service``).
    tor_window / tor_relay_min_inbound / tor_relay_min_outbound: an instance is a Tor relay
        when, inside one window, at least ``tor_relay_min_inbound`` distinct Tor relays open
        accepted connections to it and it opens accepted connections to at least
        ``tor_relay_min_outbound`` distinct Tor nodes (``keibi.detect.network.tor``).
    dns_exfil_window / dns_exfil_min_subdomains / dns_exfil_min_bytes /
    dns_exfil_min_label_length / dns_exfil_min_entropy: an instance exfiltrates data through
        DNS when, inside one window, it resolves at least ``dns_exfil_min_subdomains``
        distinct names under one registrable domain whose encoded part (the labels left of
        it) has a label of at least ``dns_exfil_min_label_length`` characters (16 at the
        least) and at least ``dns_exfil_min_entropy`` bits per character, together at least
        ``dns_exfil_min_bytes`` encoded characters (``keibi.detect.dns.data_exfiltration``).
    dga_window / dga_min_domains: an instance runs a domain generation algorithm when, inside
        one window, at least ``dga_min_domains`` distinct registrable domains that the DGA
        model scores as generated fail to resolve for it (NXDOMAIN, SERVFAIL, ... or blocked
        by DNS Firewall): real DGA malware tries many names, so one random-looking name never
        suffices (``keibi.detect.dns.dga``).
    reputation_min_score / reputation_malicious_score: a domain whose reputation score (the
        points of ``keibi/detect/dns/data/reputation.toml``) reaches ``reputation_min_score``
        is low-reputation (Bitcoin, Abused or Suspicious by what scored); at
        ``reputation_malicious_score`` it is Malicious without a feed saying so
        (``keibi.detect.dns.reputation``).
    behavior_window / behavior_learning / behavior_account_learning / behavior_retention /
    behavior_max_values: the behaviour baselines (``keibi.detect.behavior``). A value is new
        for an entity when it was first seen inside the event's ``behavior_window``; nothing is
        raised for an entity known for less than ``behavior_learning``, nor in an account
        known for less than ``behavior_account_learning`` (so a new principal in an
        established account is judged against the account's baseline while its own is
        young). Profiles forget what was not seen for ``behavior_retention`` and keep at most
        ``behavior_max_values`` values per entity and feature.
    s3_anomaly_min_calls / s3_anomaly_volume_factor / s3_anomaly_min_signals: an established
        principal's S3 calls of one kind (discovery, data read, write, delete, permission
        change) on one bucket are anomalous in volume when, inside one ``behavior_window``,
        they number at least ``s3_anomaly_min_calls`` and at least ``s3_anomaly_volume_factor``
        times the most it made in any earlier window; an API new for it on the bucket is
        anomalous when at least ``s3_anomaly_min_signals`` of bucket, network, country and
        user-agent family are new for it too (``keibi.detect.behavior.s3_anomaly``).
    spambot_min_hosts: an established instance with no port-25 history older than
        ``behavior_learning`` that opens accepted SMTP (TCP/25) connections to at least this
        many distinct public hosts inside one ``behavior_window`` is sending spam
        (``keibi.detect.behavior.spambot``).
    dns_recursion_min_servers: an instance that sends DNS (port 53) to at least this many
        distinct public hosts inside one ``behavior_window``, or knew that many before it, is
        resolving recursively itself (root, TLD and authoritative servers), so a new server is
        no unusual resolver (``keibi.detect.behavior.dns_bypass``).
    traffic_volume_min_bytes / traffic_volume_factor: an established instance's bytes sent
        to one public host inside one ``behavior_window`` are unusual when they reach
        ``traffic_volume_min_bytes`` and ``traffic_volume_factor`` times the larger of its
        earlier peak per window to that host and its earlier peak to any single host
        (``keibi.detect.behavior.traffic_volume``).
    iam_anomaly_min_signals: a tactic API new for a principal (or, while the principal is
        young, for its established account) is anomalous when at least this many of its
        network, country, user-agent family and region are new for that baseline, the API
        new for the whole account counting as one more (``keibi.detect.behavior.iam_anomaly``).
    console_login_window / console_login_max_kmh / console_login_min_km: two consecutive
        successful console sign-ins of one user at most ``console_login_window`` apart are
        impossible travel when their places are more than ``console_login_min_km`` apart and
        the speed between them exceeds ``console_login_max_kmh``
        (``keibi.detect.behavior.console_login``).
    """

    portscan_window: timedelta = timedelta(minutes=10)
    portscan_min_ports: int = 25
    port_sweep_window: timedelta = timedelta(minutes=10)
    port_sweep_min_hosts: int = 100
    port_probe_window: timedelta = timedelta(hours=1)
    port_probe_min_sources: int = 5
    port_probe_max_attempts: int = 5
    brute_force_window: timedelta = timedelta(minutes=10)
    ssh_min_attempts: int = 20
    rdp_min_attempts: int = 20
    winrm_min_attempts: int = 30
    dos_window: timedelta = timedelta(minutes=10)
    dos_min_packets: int = 100_000
    dos_min_packets_per_second: int = 5_000
    dos_max_reply_ratio: float = 0.1
    tor_window: timedelta = timedelta(hours=1)
    tor_relay_min_inbound: int = 10
    tor_relay_min_outbound: int = 3
    dns_exfil_window: timedelta = timedelta(hours=1)
    dns_exfil_min_subdomains: int = 50
    dns_exfil_min_bytes: int = 3000
    dns_exfil_min_label_length: int = 20
    dns_exfil_min_entropy: float = 3.5
    dga_window: timedelta = timedelta(hours=1)
    dga_min_domains: int = 10
    reputation_min_score: float = 5.0
    reputation_malicious_score: float = 9.0
    behavior_window: timedelta = timedelta(hours=1)
    behavior_learning: timedelta = timedelta(days=7)
    behavior_account_learning: timedelta = timedelta(days=14)
    behavior_retention: timedelta = timedelta(days=90)
    behavior_max_values: int = 500
    s3_anomaly_min_calls: int = 100
    s3_anomaly_volume_factor: float = 10.0
    s3_anomaly_min_signals: int = 2
    spambot_min_hosts: int = 5
    dns_recursion_min_servers: int = 10
    traffic_volume_min_bytes: int = 100_000_000
    traffic_volume_factor: float = 10.0
    iam_anomaly_min_signals: int = 2
    console_login_window: timedelta = timedelta(hours=4)
    console_login_max_kmh: float = 1000.0
    console_login_min_km: float = 500.0
