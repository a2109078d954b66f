"""``keibi.toml``: one file, parsed once into frozen dataclasses, environment on top.

Lookup: ``--config PATH``, else ``$KEIBI_CONFIG``, else ``./keibi.toml`` if present, else
defaults. Environment overrides: ``KEIBI_DATA_DIR``, ``KEIBI_DATABASE_URL``,
``KEIBI_REGION``, ``KEIBI_SERVER_HOST``, ``KEIBI_SERVER_PORT``, ``KEIBI_SERVER_LIST_LOCATIONS``,
``KEIBI_WATCH_SOURCES``. Unknown keys are refused with ``file:section.key`` so a typo never
silently does nothing.

    [keibi]
    data_dir = "~/.local/share/keibi"     # SQLite store lives here by default
    database_url = ""                     # e.g. postgresql://user@host/db moves the store
    region = "us-east-1"                  # region for records that carry none

    [intel]
    threat_lists = ["lists/threat.txt", "STIX=lists/bundle.json"]   # TXT unless FORMAT= says otherwise
    trusted_lists = ["lists/trusted.txt"]
    feeds = [{ path = "lists/tor-exits.txt", category = "Tor" }]  # categories: keibi.intel.FEED_CATEGORIES
    aws_ip_ranges = "lists/ip-ranges.json"  # a newer AWS ip-ranges.json, plain or .gz (default: keibi.intel.aws_ranges snapshot)
    geoip_city = "geo/GeoLite2-City.mmdb"   # city, coordinates (and country) of remote IPs: GeoLite2-City or DB-IP Lite City
    geoip_asn = "geo/GeoLite2-ASN.mmdb"     # ASN and its organisation: GeoLite2-ASN or DB-IP Lite ASN
                                          # without them remoteIpDetails gets the country only (keibi.intel.geo)

    [detect]
    portscan_window_minutes = 10
    portscan_min_ports = 25
    port_sweep_window_minutes = 10
    port_sweep_min_hosts = 100            # public hosts tried on one port, unanswered, per window
    port_probe_window_minutes = 60
    port_probe_min_sources = 5            # hosts probing one open port (or one known scanner)
    port_probe_max_attempts = 5           # a host connecting more often is a client, not a prober
    brute_force_window_minutes = 10
    ssh_min_attempts = 20                 # connections from one host, per window
    rdp_min_attempts = 20
    winrm_min_attempts = 30
    dos_window_minutes = 10
    dos_min_packets = 100000              # packets of one protocol to one public host, per window
    dos_min_packets_per_second = 5000     # over the time those packets span
    dos_max_reply_ratio = 0.1             # reply packets per packet sent (not TCP)
    tor_window_minutes = 60
    tor_relay_min_inbound = 10            # distinct Tor relays connecting in, per window
    tor_relay_min_outbound = 3            # distinct Tor nodes the instance connects to
    dns_exfil_window_minutes = 60
    dns_exfil_min_subdomains = 50         # distinct encoded names under one registrable domain, per window
    dns_exfil_min_bytes = 3000            # encoded characters those names carry together
    dns_exfil_min_label_length = 20       # a name counts with a label this long (16 at the least)
    dns_exfil_min_entropy = 3.5           # ... and this many bits per encoded character
    dga_window_minutes = 60
    dga_min_domains = 10                  # generated-looking registrable domains failing to resolve, per window
    reputation_min_score = 5.0            # reputation points of a low-reputation domain (data/reputation.toml)
    reputation_malicious_score = 9.0      # ... of a malicious one without a feed saying so

    [server]                              # `keibi serve`: GuardDuty's API (keibi.api)
    host = "127.0.0.1"                    # KEIBI_SERVER_HOST
    port = 8157                           # KEIBI_SERVER_PORT
    max_request_bytes = 1048576           # bigger bodies get a 400 BadRequestException
    max_clock_skew_seconds = 300          # SigV4: older or newer X-Amz-Date is refused
    list_locations = ["s3", "https"]      # where API-made lists may live (+ "http", "file"); KEIBI_SERVER_LIST_LOCATIONS

    [watch]                               # `keibi watch`, and `keibi serve` beside the API (keibi.watch)
    sources = ["logs/", "s3://trail-bucket/org", "https://sqs.us-east-1.amazonaws.com/1234/trail-events"]  # KEIBI_WATCH_SOURCES (comma-separated)
    poll_seconds = 1.0
    settle_seconds = 1.0                  # a local file is read once it has not changed for this long
    allowed_lateness_minutes = 15         # events this far behind the newest still join their windows
    close_idle_minutes = 15               # a log source quiet this long has its open windows detected on
    group_mb = 32                         # a backlog is read this much at a time, in one transaction
    group_files = 200                     # ... and at most this many files
    metrics_port = 0                      # `keibi watch` serves Prometheus /metrics here (0: off)

    [publish]                             # where findings go, as GuardDuty's EventBridge events (keibi.publish)
    console_url = "https://keibi.example.org"   # links in Slack and email messages
    max_attempts = 8                      # then the delivery goes to the dead-letter table
    retry_base_seconds = 2                # backoff: base x 2^attempt, capped by retry_max_seconds
    retry_max_seconds = 900
    [[publish.targets]]                   # type: webhook | slack | email | sns | lambda | command
    name = "soc"
    type = "slack"
    url = "https://hooks.slack.com/services/…"
    min_severity = 7
    pattern = '{"detail": {"type": [{"prefix": "UnauthorizedAccess:"}]}}'   # EventBridge event pattern
    [[publish.exports]]                   # GuardDuty's S3 export layout, gzip JSON lines
    name = "archive"
    location = "s3://findings-bucket/guardduty"   # or a local directory (envelope-encrypted)
    kms_key_arn = "arn:aws:kms:us-east-1:111122223333:key/…"   # local: key_file = "export.key"
    rendering = "GUARDDUTY"               # or ASFF (Security Hub), OCSF (Detection Finding)
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from keibi.detect.settings import DetectSettings
from keibi.errors import ConfigError
from keibi.intel.formats import format_and_path
from keibi.sources.discover import REMOTE_PREFIXES


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """A feed file the operator supplies: TXT format, one category (``keibi.intel.FEED_CATEGORIES``)."""

    path: str
    category: str
    name: str | None = None  # defaults to the file name without extension


@dataclass(frozen=True, slots=True)
class IntelConfig:
    threat_lists: tuple[str, ...] = ()
    trusted_lists: tuple[str, ...] = ()
    feeds: tuple[FeedConfig, ...] = ()
    aws_ip_ranges: str | None = None  # None: keibi's shipped snapshot (keibi.intel.aws_ranges)
    geoip_city: str | None = None  # MaxMind-format City database (keibi.intel.geo); None: country only
    geoip_asn: str | None = None  # MaxMind-format ASN database; None: no ASN or organisation


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """``[server]``: where ``keibi serve`` listens and what it accepts."""

    host: str = "127.0.0.1"
    port: int = 8157
    max_request_bytes: int = 1 << 20
    max_clock_skew_seconds: int = 300
    # Where API callers may place IP sets and threat lists: the server fetches them itself, so
    # local files (file) and internal URLs (http) are off unless the operator allows them.
    list_locations: tuple[str, ...] = ("s3", "https")


@dataclass(frozen=True, slots=True)
class WatchConfig:
    """``[watch]``: the sources ``keibi watch`` (and ``keibi serve``) follow continuously."""

    sources: tuple[str, ...] = ()  # local directories, s3://bucket/prefix, SQS queue URLs or ARNs
    poll_seconds: float = 1.0
    settle_seconds: float = 1.0  # a local file is read once unchanged this long (not half-written)
    allowed_lateness_minutes: float = 15.0
    close_idle_minutes: float = 15.0  # a log source quiet this long has its open windows detected on
    group_mb: float = 32.0  # a backlog is read this much at a time (as delivered) in one transaction
    group_files: int = 200  # ... and at most this many files
    metrics_port: int = 0  # keibi watch serves /metrics here (0: not at all; keibi serve has its own)


@dataclass(frozen=True, slots=True)
class PublishConfig:
    """``[publish]``: where findings go (targets, exports) and how deliveries are retried."""

    targets: tuple[dict[str, Any], ...] = ()  # [[publish.targets]] tables (keibi.publish.targets)
    exports: tuple[dict[str, Any], ...] = ()  # [[publish.exports]] tables (keibi.publish.export)
    console_url: str | None = None  # links in Slack and email: {console_url}/findings/{id}
    max_attempts: int = 8
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 900.0


@dataclass(frozen=True, slots=True)
class Config:
    data_dir: Path = field(default_factory=lambda: Path("~/.local/share/keibi").expanduser())
    database_url: str = ""
    region: str = "us-east-1"
    intel: IntelConfig = field(default_factory=IntelConfig)
    detect: DetectSettings = field(default_factory=DetectSettings)
    server: ServerConfig = field(default_factory=ServerConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    path: str | None = None

    @property
    def store_url(self) -> str:
        """The database URL in force: the configured one, else SQLite under ``data_dir``."""
        return self.database_url or f"sqlite:///{self.data_dir / 'keibi.db'}"


_DETECT_KEYS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "portscan_window_minutes": ("portscan_window", lambda v: timedelta(minutes=v)),
    "portscan_min_ports": ("portscan_min_ports", int),
    "port_sweep_window_minutes": ("port_sweep_window", lambda v: timedelta(minutes=v)),
    "port_sweep_min_hosts": ("port_sweep_min_hosts", int),
    "port_probe_window_minutes": ("port_probe_window", lambda v: timedelta(minutes=v)),
    "port_probe_min_sources": ("port_probe_min_sources", int),
    "port_probe_max_attempts": ("port_probe_max_attempts", int),
    "brute_force_window_minutes": ("brute_force_window", lambda v: timedelta(minutes=v)),
    "ssh_min_attempts": ("ssh_min_attempts", int),
    "rdp_min_attempts": ("rdp_min_attempts", int),
    "winrm_min_attempts": ("winrm_min_attempts", int),
    "dos_window_minutes": ("dos_window", lambda v: timedelta(minutes=v)),
    "dos_min_packets": ("dos_min_packets", int),
    "dos_min_packets_per_second": ("dos_min_packets_per_second", int),
    "dos_max_reply_ratio": ("dos_max_reply_ratio", float),
    "tor_window_minutes": ("tor_window", lambda v: timedelta(minutes=v)),
    "tor_relay_min_inbound": ("tor_relay_min_inbound", int),
    "tor_relay_min_outbound": ("tor_relay_min_outbound", int),
    "dns_exfil_window_minutes": ("dns_exfil_window", lambda v: timedelta(minutes=v)),
    "dns_exfil_min_subdomains": ("dns_exfil_min_subdomains", int),
    "dns_exfil_min_bytes": ("dns_exfil_min_bytes", int),
    "dns_exfil_min_label_length": ("dns_exfil_min_label_length", int),
    "dns_exfil_min_entropy": ("dns_exfil_min_entropy", float),
    "dga_window_minutes": ("dga_window", lambda v: timedelta(minutes=v)),
    "dga_min_domains": ("dga_min_domains", int),
    "reputation_min_score": ("reputation_min_score", float),
    "reputation_malicious_score": ("reputation_malicious_score", float),
    "behavior_window_minutes": ("behavior_window", lambda v: timedelta(minutes=v)),
    "behavior_learning_days": ("behavior_learning", lambda v: timedelta(days=v)),
    "behavior_account_learning_days": ("behavior_account_learning", lambda v: timedelta(days=v)),
    "behavior_retention_days": ("behavior_retention", lambda v: timedelta(days=v)),
    "behavior_max_values": ("behavior_max_values", int),
    "s3_anomaly_min_calls": ("s3_anomaly_min_calls", int),
    "s3_anomaly_volume_factor": ("s3_anomaly_volume_factor", float),
    "s3_anomaly_min_signals": ("s3_anomaly_min_signals", int),
    "spambot_min_hosts": ("spambot_min_hosts", int),
    "dns_recursion_min_servers": ("dns_recursion_min_servers", int),
    "traffic_volume_min_bytes": ("traffic_volume_min_bytes", int),
    "traffic_volume_factor": ("traffic_volume_factor", float),
    "iam_anomaly_min_signals": ("iam_anomaly_min_signals", int),
    "console_login_window_minutes": ("console_login_window", lambda v: timedelta(minutes=v)),
    "console_login_max_kmh": ("console_login_max_kmh", float),
    "console_login_min_km": ("console_login_min_km", float),
}


def _check_keys(path: str, section: str, table: dict[str, Any], allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(
                f"unknown key (expected one of: {', '.join(sorted(allowed))})", path, f"{section}.{key}"
            )


def _number(path: str, key: str, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"must be a positive number, got {value!r}", path, key)
    return value


def _strings(path: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError("must be a list of file paths", path, key)
    return tuple(value)


def _list_files(path: str, base: Path, key: str, value: Any) -> tuple[str, ...]:
    """``[FORMAT=]PATH`` entries (``keibi.intel.formats.format_and_path``), each path made
    relative to the config file's folder; the format prefix is kept when it is not TXT."""
    out = []
    for spec in _strings(path, key, value):
        fmt, file = format_and_path(spec)
        out.append(str(base / file) if fmt == "TXT" else f"{fmt}={base / file}")
    return tuple(out)


def _path(path: str, base: Path, key: str, value: Any) -> str | None:
    """An optional file path, relative to the config file's folder."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError("must be a file path", path, key)
    return str(base / value)


def _feeds(path: str, base: Path, value: Any) -> tuple[FeedConfig, ...]:
    key = "intel.feeds"
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError('must be a list of tables like { path = "tor.txt", category = "Tor" }', path, key)
    out = []
    for i, feed in enumerate(value):
        _check_keys(path, f"{key}[{i}]", feed, {"path", "category", "name"})
        for required in ("path", "category"):
            if not isinstance(feed.get(required), str) or not feed[required]:
                raise ConfigError("must be a non-empty string", path, f"{key}[{i}].{required}")
        name = feed.get("name")
        if name is not None and not isinstance(name, str):
            raise ConfigError("must be a string", path, f"{key}[{i}].name")
        out.append(FeedConfig(path=str(base / feed["path"]), category=feed["category"], name=name))
    return tuple(out)


def _server(path: str, table: dict[str, Any], env: dict[str, str]) -> ServerConfig:
    _check_keys(
        path,
        "server",
        table,
        {"host", "port", "max_request_bytes", "max_clock_skew_seconds", "list_locations"},
    )
    values: dict[str, Any] = dict(table)
    if env.get("KEIBI_SERVER_LIST_LOCATIONS"):
        values["list_locations"] = [
            v.strip() for v in env["KEIBI_SERVER_LIST_LOCATIONS"].split(",") if v.strip()
        ]
    if "list_locations" in values:
        schemes = values["list_locations"]
        if not isinstance(schemes, list) or not set(schemes) <= {"s3", "https", "http", "file"}:
            raise ConfigError(
                'must be a list of "s3", "https", "http", "file"', path, "server.list_locations"
            )
        values["list_locations"] = tuple(schemes)
    if env.get("KEIBI_SERVER_HOST"):
        values["host"] = env["KEIBI_SERVER_HOST"]
    if env.get("KEIBI_SERVER_PORT"):
        try:
            values["port"] = int(env["KEIBI_SERVER_PORT"])
        except ValueError:
            raise ConfigError(
                f"KEIBI_SERVER_PORT must be a port number, got {env['KEIBI_SERVER_PORT']!r}"
            ) from None
    if not isinstance(values.get("host", ""), str):
        raise ConfigError("must be a host name or address", path, "server.host")
    for key in ("port", "max_request_bytes", "max_clock_skew_seconds"):
        if key in values:
            values[key] = int(_number(path, f"server.{key}", values[key]))
    if not 0 < values.get("port", 1) < 65536:
        raise ConfigError(f"must be a port number, got {values['port']}", path, "server.port")
    return ServerConfig(**values)


def _watch(path: str, base: Path, table: dict[str, Any], env: dict[str, str]) -> WatchConfig:
    _check_keys(
        path,
        "watch",
        table,
        {
            "sources",
            "poll_seconds",
            "settle_seconds",
            "allowed_lateness_minutes",
            "close_idle_minutes",
            "group_mb",
            "group_files",
            "metrics_port",
        },
    )
    values: dict[str, Any] = {}
    sources = table.get("sources", [])
    if env.get("KEIBI_WATCH_SOURCES"):
        sources = [v.strip() for v in env["KEIBI_WATCH_SOURCES"].split(",") if v.strip()]
    if not isinstance(sources, list) or not all(isinstance(v, str) and v for v in sources):
        raise ConfigError(
            "must be a list of directories, s3:// prefixes or SQS queue URLs", path, "watch.sources"
        )
    values["sources"] = tuple(v if v.startswith(REMOTE_PREFIXES) else str(base / v) for v in sources)
    for key in ("poll_seconds", "allowed_lateness_minutes", "close_idle_minutes", "group_mb"):
        if key in table:
            values[key] = float(_number(path, f"watch.{key}", table[key]))
    if "group_files" in table:
        values["group_files"] = int(_number(path, "watch.group_files", table["group_files"]))
    if "settle_seconds" in table:  # 0: files are moved into place whole (rename), read at once
        settle = table["settle_seconds"]
        if isinstance(settle, bool) or not isinstance(settle, int | float) or settle < 0:
            raise ConfigError(f"must be 0 or more seconds, got {settle!r}", path, "watch.settle_seconds")
        values["settle_seconds"] = float(settle)
    if "metrics_port" in table:
        port = table["metrics_port"]
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port < 65536:
            raise ConfigError(f"must be a port number or 0, got {port!r}", path, "watch.metrics_port")
        values["metrics_port"] = port
    return WatchConfig(**values)


def _publish(path: str, table: dict[str, Any]) -> PublishConfig:
    _check_keys(
        path,
        "publish",
        table,
        {"targets", "exports", "console_url", "max_attempts", "retry_base_seconds", "retry_max_seconds"},
    )
    values: dict[str, Any] = {}
    for key in ("targets", "exports"):
        entries = table.get(key, [])
        if not isinstance(entries, list) or not all(isinstance(v, dict) for v in entries):
            raise ConfigError(f"must be an array of tables ([[publish.{key}]])", path, f"publish.{key}")
        values[key] = tuple(entries)
    if "console_url" in table:
        if not isinstance(table["console_url"], str):
            raise ConfigError("must be a URL", path, "publish.console_url")
        values["console_url"] = table["console_url"].rstrip("/")
    if "max_attempts" in table:
        values["max_attempts"] = int(_number(path, "publish.max_attempts", table["max_attempts"]))
    for key in ("retry_base_seconds", "retry_max_seconds"):
        if key in table:
            values[key] = float(_number(path, f"publish.{key}", table[key]))
    return PublishConfig(**values)


def load_config(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Config:
    """Read the config file (if any) and apply environment overrides."""
    env = dict(os.environ if environ is None else environ)
    chosen = str(path) if path is not None else env.get("KEIBI_CONFIG")
    if chosen is None and Path("keibi.toml").is_file():
        chosen = "keibi.toml"
    raw: dict[str, Any] = {}
    if chosen is not None:
        try:
            with open(chosen, "rb") as fh:
                raw = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"cannot read config file: {exc.strerror or exc}", chosen) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"not valid TOML: {exc}", chosen) from None
    where = chosen or "keibi.toml"
    _check_keys(where, "", raw, {"keibi", "intel", "detect", "server", "watch", "publish"})
    for name in ("keibi", "intel", "detect", "server", "watch", "publish"):
        if not isinstance(raw.get(name, {}), dict):
            raise ConfigError("must be a table", where, name)
    main: dict[str, Any] = raw.get("keibi", {})
    _check_keys(where, "keibi", main, {"data_dir", "database_url", "region"})
    intel_raw: dict[str, Any] = raw.get("intel", {})
    _check_keys(
        where,
        "intel",
        intel_raw,
        {"threat_lists", "trusted_lists", "feeds", "aws_ip_ranges", "geoip_city", "geoip_asn"},
    )
    detect_raw: dict[str, Any] = raw.get("detect", {})
    _check_keys(where, "detect", detect_raw, set(_DETECT_KEYS))

    server = _server(where, raw.get("server", {}), env)
    base = Path(chosen).parent if chosen else Path()
    detect_kwargs = {
        attr: convert(_number(where, f"detect.{key}", detect_raw[key]))
        for key, (attr, convert) in _DETECT_KEYS.items()
        if key in detect_raw
    }
    intel = IntelConfig(
        threat_lists=_list_files(where, base, "intel.threat_lists", intel_raw.get("threat_lists", [])),
        trusted_lists=_list_files(where, base, "intel.trusted_lists", intel_raw.get("trusted_lists", [])),
        feeds=_feeds(where, base, intel_raw.get("feeds", [])),
        aws_ip_ranges=_path(where, base, "intel.aws_ip_ranges", intel_raw.get("aws_ip_ranges")),
        geoip_city=_path(where, base, "intel.geoip_city", intel_raw.get("geoip_city")),
        geoip_asn=_path(where, base, "intel.geoip_asn", intel_raw.get("geoip_asn")),
    )
    data_dir = env.get("KEIBI_DATA_DIR") or main.get("data_dir")
    defaults = Config()
    return Config(
        data_dir=Path(str(data_dir)).expanduser() if data_dir else defaults.data_dir,
        database_url=env.get("KEIBI_DATABASE_URL") or str(main.get("database_url", "")),
        region=env.get("KEIBI_REGION") or str(main.get("region", defaults.region)),
        intel=intel,
        detect=DetectSettings(**detect_kwargs),
        server=server,
        watch=_watch(where, base, raw.get("watch", {}), env),
        publish=_publish(where, raw.get("publish", {})),
        path=chosen,
    )


__all__ = [
    "Config",
    "FeedConfig",
    "IntelConfig",
    "PublishConfig",
    "ServerConfig",
    "WatchConfig",
    "load_config",
]
