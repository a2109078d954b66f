"""The ``keibi`` command line: tables for people, JSON for machines, one line per mistake."""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeVar

import orjson
import polars as pl
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from keibi import __version__
from keibi.config import Config, load_config
from keibi.detect import Severity, detectors
from keibi.errors import ConfigError, InputError, KeibiError
from keibi.intel.formats import LIST_FORMATS, format_and_path
from keibi.sources import LogFile

if TYPE_CHECKING:
    from keibi.intel import AwsRanges, Intel, IntelList, ListKind
    from keibi.publish.delivery import Publisher
    from keibi.store import IntelListRecord, IntelListSpec, Store
    from keibi.store.accounts import AccessKey
    from keibi.store.intel_sync import RefreshResult
    from keibi.watch import Watcher

EXIT_USER_ERROR = 1
EXIT_INPUT_SKIPPED = 3
WARNINGS_SHOWN = 20  # list problems printed before "… and N more"

app = typer.Typer(
    help="keibi: threat detection for AWS logs, with findings in Amazon GuardDuty's format.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
findings_app = typer.Typer(help="Query the findings in the store.", no_args_is_help=True)
tester_app = typer.Typer(help="Generate realistic attack and background logs.", no_args_is_help=True)
intel_app = typer.Typer(
    help=(
        "Threat lists (GuardDuty's ThreatIntelSets), trusted lists (IPSets) and public feeds, "
        "kept and versioned in the store; `keibi scan` matches every active one."
    ),
    no_args_is_help=True,
)
app.add_typer(findings_app, name="findings")
app.add_typer(intel_app, name="intel")
app.add_typer(tester_app, name="tester")
profiles_app = typer.Typer(
    help="What the behaviour baselines have learned: each entity's profile.", no_args_is_help=True
)
app.add_typer(profiles_app, name="profiles")
accounts_app = typer.Typer(
    help="Access keys for `keibi serve`: each key signs GuardDuty API calls as one account.",
    no_args_is_help=True,
)
app.add_typer(accounts_app, name="accounts")
publish_app = typer.Typer(help="Publishing: deliveries and dead letters.", no_args_is_help=True)
app.add_typer(publish_app, name="publish")
export_app = typer.Typer(help="Local exports: key files and reading encrypted exports.", no_args_is_help=True)
app.add_typer(export_app, name="export")

err = Console(stderr=True)


def _stdout() -> Console:
    """stdout for tables: the terminal's width, or wide enough not to fold rows when piped."""
    return Console() if sys.stdout.isatty() else Console(width=220)


T = TypeVar("T")


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


class SeverityBand(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="keibi.toml to use (default: $KEIBI_CONFIG or ./keibi.toml).")
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="table for people, json for machines.")]
ThreatListOption = Annotated[
    list[str] | None,
    typer.Option(
        "--threat-list",
        metavar="[FORMAT=]PATH",
        help="Threat list file, GuardDuty TXT unless FORMAT= names another list format "
        "(STIX=bundle.json, OTX_CSV=…; see `keibi intel add --help`); repeatable.",
    ),
]
TrustedListOption = Annotated[
    list[str] | None,
    typer.Option(
        "--trusted-list",
        metavar="[FORMAT=]PATH",
        help="Trusted list file, GuardDuty TXT unless FORMAT= names another list format; repeatable.",
    ),
]
FeedOption = Annotated[
    list[str] | None,
    typer.Option(
        "--feed",
        metavar="CATEGORY=PATH",
        help="Threat feed in TXT format with its category, e.g. Tor=tor-exits.txt (repeatable).",
    ),
]


def _guard(fn: Callable[[], T]) -> T:
    """Run a command body; a KeibiError becomes one line on stderr and exit status 1."""
    try:
        return fn()
    except KeibiError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USER_ERROR) from None


def _config(path: Path | None) -> Config:
    return load_config(path)


def _open_store(config: Config) -> Store:
    from keibi.store import Store

    return Store(config.store_url) if config.database_url else Store.for_data_dir(config.data_dir)


def resource_label(finding: dict[str, Any]) -> str:
    """The affected resource as a person would name it."""
    resource = finding.get("resource", {})
    instance = resource.get("instanceDetails") or {}
    if instance.get("instanceId"):
        return str(instance["instanceId"])
    for eni in instance.get("networkInterfaces") or []:
        if eni.get("networkInterfaceId"):
            return str(eni["networkInterfaceId"])
    for bucket in resource.get("s3BucketDetails") or []:
        if bucket.get("name"):
            return str(bucket["name"])
    key = resource.get("accessKeyDetails") or {}
    return str(key.get("userName") or key.get("accessKeyId") or key.get("principalId") or "-")


def _write_json(data: Any, output: Path | None) -> None:
    blob = orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"
    if output is None:
        sys.stdout.buffer.write(blob)
        sys.stdout.flush()
    else:
        output.write_bytes(blob)


def _findings_table(findings: Sequence[dict[str, Any]], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("Severity", "Type", "Resource", "Account", "Count", "Last seen", "Id"):
        table.add_column(col, no_wrap=col in ("Id", "Count"))
    for f in findings:
        sev = float(f["severity"])
        table.add_row(
            f"{Severity.label_of(sev)} ({sev:g})",
            f["type"],
            resource_label(f),
            f["accountId"],
            str(f.get("service", {}).get("count", 1)),
            str(f.get("service", {}).get("eventLastSeen", "")),
            f["id"],
        )
    return table


def _summary_table(findings: Sequence[dict[str, Any]]) -> Table:
    by_type: Counter[tuple[float, str]] = Counter()
    occurrences: Counter[tuple[float, str]] = Counter()
    for f in findings:
        key = (float(f["severity"]), f["type"])
        by_type[key] += 1
        occurrences[key] += int(f.get("service", {}).get("count", 1))
    table = Table(title="Findings by severity and type", title_justify="left")
    table.add_column("Severity")
    table.add_column("Type")
    table.add_column("Findings", justify="right")
    table.add_column("Occurrences", justify="right")
    for (sev, ftype), n in sorted(by_type.items(), key=lambda kv: (-kv[0][0], kv[0][1])):
        table.add_row(Severity.label_of(sev), ftype, str(n), str(occurrences[(sev, ftype)]))
    return table


class _Bar:
    """rich progress bar over files, with events read so far."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.events = 0
        self.task = progress.add_task("scanning", total=None, events="0 events")

    def start(self, files: int, size: int) -> None:
        self.progress.update(self.task, total=files)

    def advance(self, file: LogFile, records: int) -> None:
        self.events += records
        self.progress.update(self.task, advance=1, events=f"{self.events:,} events")


# -- threat intelligence for a scan or a lookup -------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ListSource:
    """A list a run matches, and where it came from (``keibi.toml``, a flag, ``store``, ``shipped``)."""

    lst: IntelList
    origin: str


@dataclass
class _IntelSetup:
    """The intel of a run with what ``keibi intel lookup`` and the warnings need to know."""

    intel: Intel
    sources: list[_ListSource]
    aws_origin: str
    problems: list[InputError] = field(default_factory=list)  # bad entries of the files read now
    notes: list[str] = field(default_factory=list)  # one line each, printed as warnings
    stored_problems: list[str] = field(default_factory=list)  # store lists that skipped entries

    def warnings(self, *, stored: bool = True) -> list[str]:
        """One line each: bad entries of the files read now, then the notes; with ``stored``
        also a line per store list whose version skipped entries (itemised by ``intel show``)."""
        lines = [*(str(p) for p in self.problems), *self.notes]
        if stored:
            lines += [
                f"intel list {name!r} skipped bad entries when it was fetched; `keibi intel show {name}` lists them"
                for name in self.stored_problems
            ]
        return lines


def _content_version(data: bytes) -> str:
    """A list file's version: as the store names versions, the start of its content's SHA-256."""
    from keibi.store.intel_lists import VERSION_DIGITS

    return hashlib.sha256(data).hexdigest()[:VERSION_DIGITS]


def _file_list(
    path: str | Path,
    store: Store,
    *,
    kind: ListKind,
    category: str = "custom",
    name: str | None = None,
    fmt: str = "TXT",
) -> IntelList:
    """A list file (``fmt``, TXT by default) read now, its version the hash of the bytes read
    (one read: the version always names the content that was parsed). A big file whose bytes an earlier scan parsed
    is read back from the store's cache instead (``keibi.store.intel_cache``)."""
    from keibi.intel import FEED_CATEGORIES
    from keibi.store.intel_cache import parsed_list

    where = str(path)
    if category != "custom" and category not in FEED_CATEGORIES:
        raise ConfigError(
            f"unknown feed category {category!r} (expected one of: {', '.join(FEED_CATEGORIES)})", where
        )
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {kind} list {where}: {exc.strerror or exc}") from None
    return parsed_list(
        store,
        data,
        fmt,
        where=where,
        name=name if name is not None else Path(path).stem,
        kind=kind,
        category=category,
        version=_content_version(data),
    )


def _shipped_version(lst: IntelList) -> IntelList:
    """A shipped feed with the version of its package file (unchanged when it cannot be read)."""
    if lst.version is not None or lst.source is None:
        return lst
    try:
        data = Path(lst.source).read_bytes()
    except OSError:
        return lst
    return replace(lst, version=_content_version(data))


def _assemble_intel(
    cfg: Config,
    store: Store,
    threat_list: Sequence[str] | None,
    trusted_list: Sequence[str] | None,
    feed: Sequence[str] | None,
) -> _IntelSetup:
    """keibi.toml's lists, the flags' lists, the store's active lists and feeds, the shipped
    feeds, the newest AWS IP ranges and the GeoIP databases, in that match order."""
    from keibi.intel import GeoIP, Intel, builtin_aws_ranges, builtin_feeds

    sources: list[_ListSource] = []
    sources += [
        _ListSource(_file_list(path, store, kind="threat", fmt=fmt), "keibi.toml")
        for fmt, path in map(format_and_path, cfg.intel.threat_lists)
    ]
    sources += [
        _ListSource(_file_list(path, store, kind="threat", fmt=fmt), "--threat-list")
        for fmt, path in map(format_and_path, threat_list or ())
    ]
    sources += [
        _ListSource(_file_list(path, store, kind="trusted", fmt=fmt), "keibi.toml")
        for fmt, path in map(format_and_path, cfg.intel.trusted_lists)
    ]
    sources += [
        _ListSource(_file_list(path, store, kind="trusted", fmt=fmt), "--trusted-list")
        for fmt, path in map(format_and_path, trusted_list or ())
    ]
    sources += [
        _ListSource(_file_list(f.path, store, kind="threat", category=f.category, name=f.name), "keibi.toml")
        for f in cfg.intel.feeds
    ]
    for spec in feed or ():
        category, sep, path = spec.partition("=")
        if not sep or not category or not path:
            raise ConfigError(f"--feed {spec!r}: expected CATEGORY=PATH, e.g. Tor=tor-exits.txt")
        sources.append(_ListSource(_file_list(path, store, kind="threat", category=category), "--feed"))
    from keibi.store.api_lists import scan_lists

    stored = [_ListSource(lst, "store") for lst in scan_lists(store)]  # API-made lists by their owners' names
    sources += stored
    sources += [_ListSource(_shipped_version(lst), "shipped") for lst in builtin_feeds()]

    notes = []
    seen: dict[str, str] = {}
    for s in sources:
        if s.lst.name in seen:
            notes.append(
                f"two intel lists are named {s.lst.name!r} ({seen[s.lst.name]}, {s.origin}); "
                "findings name the first that matches"
            )
        seen.setdefault(s.lst.name, s.origin)

    aws, aws_origin = _newest_aws_ranges(cfg, store)
    geo = GeoIP.open(city=cfg.intel.geoip_city, asn=cfg.intel.geoip_asn)
    intel = Intel(
        threat=[s.lst for s in sources if s.lst.kind == "threat" and s.lst.category == "custom"],
        trusted=[s.lst for s in sources if s.lst.kind == "trusted"],
        feeds=[s.lst for s in sources if s.lst.kind == "threat" and s.lst.category != "custom"],
        aws_ranges=aws if aws is not None else builtin_aws_ranges(),
        geo=geo,
    )
    ordered = [*intel.trusted, *intel.threat, *intel.feeds]  # lookup's order: the match order
    origin = {id(s.lst): s for s in sources}
    problems = [p for s in sources if s.origin != "store" for p in s.lst.problems]
    return _IntelSetup(
        intel=intel,
        sources=[origin[id(lst)] for lst in ordered],
        aws_origin=aws_origin,
        problems=problems,
        notes=notes,
        stored_problems=[s.lst.name for s in stored if s.lst.problems],
    )


def _newest_aws_ranges(cfg: Config, store: Store) -> tuple[AwsRanges, str]:
    """AWS's IP ranges from keibi.toml, the store (``keibi intel update``) or the shipped
    snapshot, whichever AWS created last (keibi.toml's on a tie with the store's)."""
    from keibi.intel import AwsRanges, builtin_aws_ranges
    from keibi.store.intel_sync import aws_ranges

    found: list[tuple[AwsRanges, str]] = []
    if cfg.intel.aws_ip_ranges:
        found.append((AwsRanges.load(cfg.intel.aws_ip_ranges), "keibi.toml"))
    stored = aws_ranges(store)
    if stored is not None:
        found.append((stored, "store"))
    found.append((builtin_aws_ranges(), "shipped"))
    return max(found, key=lambda pair: pair[0].create_date)


def _print_warnings(lines: Sequence[str], what: str = "list warnings") -> None:
    for line in lines[:WARNINGS_SHOWN]:
        err.print(f"[yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)
    if len(lines) > WARNINGS_SHOWN:
        err.print(f"[yellow]… and {len(lines) - WARNINGS_SHOWN} more {what}[/]", highlight=False)


@app.command()
def scan(
    paths: Annotated[list[str], typer.Argument(help="Files, directories or s3://bucket/prefix locations.")],
    threat_list: ThreatListOption = None,
    trusted_list: TrustedListOption = None,
    feed: FeedOption = None,
    fmt: FormatOption = OutputFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write the findings here instead of stdout.")
    ] = None,
    batch_rows: Annotated[
        int, typer.Option("--batch-rows", min=1000, help="Records per detection batch.")
    ] = 250_000,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="Do not draw the progress bar.")] = False,
    rescan: Annotated[
        bool,
        typer.Option("--rescan", help="Read again files an earlier scan already read (counts them twice)."),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Read AWS logs (CloudTrail, VPC Flow Logs, Route 53 Resolver), detect threats, store and print findings.

    Threat intelligence: the lists of keibi.toml and the flags, every active list and feed in the
    store (`keibi intel`), keibi's shipped feeds, AWS's IP ranges (the newest of keibi.toml's, the
    store's and the shipped snapshot) and the GeoIP databases of keibi.toml. A bad list entry is
    a warning naming its file and line; the rest of the list is used.

    Exit status: 0 when every input was read, 3 when some input was skipped (listed on stderr), 1 on a usage error.
    """

    def run() -> int:
        from keibi.pipeline import scan as run_scan

        cfg = _config(config)
        store = _open_store(cfg)
        try:
            setup = _assemble_intel(cfg, store, threat_list, trusted_list, feed)
        except BaseException:
            store.close()
            raise
        intel = setup.intel
        _print_warnings(setup.warnings())
        try:
            show = not no_progress and err.is_terminal
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("files · {task.fields[events]}"),
                TimeElapsedColumn(),
                console=err,
                disable=not show,
                transient=True,
            ) as progress:
                result = run_scan(
                    paths,
                    store,
                    intel=intel,
                    settings=cfg.detect,
                    batch_rows=batch_rows,
                    progress=_Bar(progress),
                    rescan=rescan,
                )
        finally:
            store.close()
            if intel.geo is not None:
                intel.geo.close()
        report = result.report
        for error in report.errors[:20]:
            err.print(f"[yellow]skipped:[/] {error}", highlight=False, soft_wrap=True)
        hidden = report.error_count - min(len(report.errors), 20)
        if hidden > 0:
            err.print(f"[yellow]… and {hidden} more skipped input errors[/]")
        read = ", ".join(
            f"{report.records.get(s, 0):,} {s} records in {n} files" for s, n in report.files.items() if n
        )
        err.print(
            f"read {read or 'no log records'}; skipped {report.skipped_records} records and {report.skipped_files} files",
            highlight=False,
        )
        if result.already_scanned:
            err.print(
                f"left out {result.already_scanned} files an earlier scan already read (--rescan reads them again)",
                highlight=False,
            )
        findings = sorted(result.findings, key=lambda f: (-float(f["severity"]), f["type"], f["id"]))
        if fmt is OutputFormat.json:
            _write_json(findings, output)
        else:
            tables = (_summary_table(findings), _findings_table(findings, f"{len(findings)} findings"))
            if output is None:
                _stdout().print(*tables)
            else:
                with output.open("w") as fh:
                    Console(file=fh, width=220).print(*tables)
        return 0 if report.ok else EXIT_INPUT_SKIPPED

    code = _guard(run)
    if code:
        raise typer.Exit(code)


@findings_app.command("list")
def findings_list(
    type_: Annotated[list[str] | None, typer.Option("--type", help="Finding type (repeatable).")] = None,
    severity: Annotated[SeverityBand | None, typer.Option("--severity", help="Severity band.")] = None,
    account: Annotated[list[str] | None, typer.Option("--account", help="Account id (repeatable).")] = None,
    resource: Annotated[
        list[str] | None,
        typer.Option("--resource", help="Instance, ENI, access key, user or bucket (repeatable)."),
    ] = None,
    since: Annotated[
        datetime | None, typer.Option("--since", help="Last seen at or after (ISO time, UTC).")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option("--until", help="Last seen before (ISO time, UTC).")
    ] = None,
    archived: Annotated[
        bool, typer.Option("--archived", help="List archived findings instead of active ones.")
    ] = False,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many findings.")] = None,
    fmt: FormatOption = OutputFormat.table,
    config: ConfigOption = None,
) -> None:
    """List stored findings, most severe first."""

    def run() -> None:
        from keibi.store import FindingQuery

        with _open_store(_config(config)) as store:
            query = FindingQuery(
                types=tuple(type_ or ()),
                severity=severity.value if severity else None,
                account_ids=tuple(account or ()),
                resource_ids=tuple(resource or ()),
                since=_utc(since),
                until=_utc(until),
                archived=archived,
                limit=limit,
            )
            found = store.list_findings(query)
        if fmt is OutputFormat.json:
            _write_json(found, None)
        else:
            _stdout().print(_findings_table(found, f"{len(found)} findings"))

    _guard(run)


@findings_app.command("show")
def findings_show(
    finding_id: Annotated[str, typer.Argument(help="The finding id.")],
    fmt: FormatOption = OutputFormat.json,
    config: ConfigOption = None,
) -> None:
    """Show one finding in GuardDuty JSON, with the raw evidence records it points at."""

    def run() -> None:

        with _open_store(_config(config)) as store:
            found = store.get_findings([finding_id])
            if not found:
                raise ConfigError(f"no finding with id {finding_id}")
            evidence = store.evidence(finding_id)
        finding = found[0]
        if fmt is OutputFormat.json:
            _write_json(finding, None)
            return
        _stdout().print(_findings_table(found, finding.get("title", finding["type"])))
        if finding.get("description"):
            _stdout().print(finding["description"])
        table = Table(title=f"Evidence ({len(evidence)} records)", title_justify="left")
        for col in ("Event time", "File", "Line", "Event id"):
            table.add_column(col)
        for ev in evidence[:50]:
            table.add_row(str(ev.event_time), ev.file, str(ev.line or ""), ev.event_id or "")
        _stdout().print(table)

    _guard(run)


def _utc(value: datetime | None) -> datetime | None:
    from datetime import UTC

    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@app.command("detectors")
def list_detectors(
    fmt: FormatOption = OutputFormat.table,
    catalogue: Annotated[
        Path | None, typer.Option("--catalogue", help="GuardDuty finding_types.json to compare against.")
    ] = None,
) -> None:
    """List the registered detectors and which GuardDuty finding types keibi implements."""

    def run() -> None:
        from keibi.detect.catalogue import coverage

        report = coverage(detectors.load(), catalogue)
        if fmt is OutputFormat.json:
            _write_json(report, None)
            return
        table = Table(
            title=f"GuardDuty finding types: {report['implemented']}/{report['total']} implemented",
            title_justify="left",
        )
        for col in ("Type", "Severity", "Data sources", "Detection", "Detector"):
            table.add_column(col)
        for row in report["types"]:
            table.add_row(
                row["type"],
                row["severity"],
                ", ".join(row["data_sources"]),
                row["detection"],
                row["detector"] or "[dim]not yet[/]",
            )
        _stdout().print(table)

    _guard(run)


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on ([server] host).")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on ([server] port).", min=1, max=65535)
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Serve GuardDuty's REST API: boto3 and the AWS CLI work against it with --endpoint-url.

    Requests are signed with keys from `keibi accounts create`; each account sees its own
    detector and findings, an administrator also its members'. With [watch] sources in
    keibi.toml the watch loop (`keibi watch`) runs beside the API.
    """

    def run() -> None:
        import threading

        from keibi.api.server import serve as run_server

        cfg = _config(config)
        with _open_store(cfg) as store:  # a bad store URL, migration or watch setting fails here, in one line
            if cfg.watch.sources:
                _watcher(cfg, store, cfg.watch.sources)
        background = None
        if cfg.watch.sources:

            def background(opened: Store, stop: threading.Event) -> None:
                import logging

                try:
                    watcher, publisher = _watcher(cfg, opened, cfg.watch.sources)
                    watcher.run(stop, publisher=publisher)
                except Exception:  # the API goes on; the log says why watching stopped
                    logging.getLogger("keibi.watch").exception("the watch loop stopped")

        where = f"http://{host or cfg.server.host}:{port or cfg.server.port}"
        watching = f"; watching {len(cfg.watch.sources)} sources" if cfg.watch.sources else ""
        _stdout().print(
            f"keibi {__version__}: GuardDuty API on {where} (store {_store_label(cfg)}){watching}"
        )
        run_server(cfg, host=host, port=port, background=background)

    _guard(run)


def _watcher(cfg: Config, store: Store, uris: Sequence[str]) -> tuple[Watcher, Publisher]:
    """The watch loop and its publisher as keibi.toml describes them, on ``uris``."""
    from datetime import timedelta

    from keibi.publish.delivery import Publisher, RetryPolicy
    from keibi.publish.setup import build_publishing
    from keibi.watch import Watcher, WatchSettings, open_sources

    if not uris:
        raise ConfigError(
            "nothing to watch: give directories, s3:// prefixes or SQS queues, or set [watch] sources in keibi.toml"
        )
    sources = open_sources(uris, settle_seconds=cfg.watch.settle_seconds)
    targets = build_publishing(cfg, store)
    policy = RetryPolicy(
        max_attempts=cfg.publish.max_attempts,
        base_seconds=cfg.publish.retry_base_seconds,
        max_seconds=cfg.publish.retry_max_seconds,
    )
    watcher = Watcher(
        store,
        sources,
        load_intel=lambda: _assemble_intel(cfg, store, None, None, None).intel,
        settings=cfg.detect,
        targets=targets,
        refresh_targets=lambda: build_publishing(cfg, store),
        watch=WatchSettings(
            poll_seconds=cfg.watch.poll_seconds,
            allowed_lateness=timedelta(minutes=cfg.watch.allowed_lateness_minutes),
            close_idle_after=timedelta(minutes=cfg.watch.close_idle_minutes),
            group_bytes=int(cfg.watch.group_mb * (1 << 20)),
            group_files=cfg.watch.group_files,
        ),
    )
    return watcher, Publisher(store, targets, policy=policy)


@app.command("watch")
def watch(
    sources: Annotated[
        list[str] | None,
        typer.Argument(help="Directories, s3://bucket/prefix or SQS queues (default: [watch] sources)."),
    ] = None,
    until_idle: Annotated[
        bool,
        typer.Option("--until-idle", help="Stop once no new file is left and no delivery is due."),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Follow log sources continuously: detect as files land, publish and export the findings.

    Each file is read exactly once, also across crashes (the manifest in the store); findings go
    to the [[publish.targets]] and [[publish.exports]] of keibi.toml as GuardDuty's EventBridge
    events. Stops after the file in hand on Ctrl-C or SIGTERM. `keibi serve` runs the same loop
    beside the API when [watch] sources is set.
    """

    def run() -> None:
        import signal
        import threading

        from keibi.api.server import configure_logging

        cfg = _config(config)
        store = _open_store(cfg)
        try:
            watcher, publisher = _watcher(cfg, store, sources or cfg.watch.sources)
            stop = threading.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            if cfg.watch.metrics_port:
                from prometheus_client import CollectorRegistry, start_http_server

                from keibi.status import StatusCollector

                registry = CollectorRegistry()
                registry.register(StatusCollector(store))
                start_http_server(cfg.watch.metrics_port, registry=registry)
            configure_logging()
            watcher.run(stop, until_idle=until_idle, publisher=publisher)
        finally:
            store.close()

    _guard(run)


@app.command("status")
def status(fmt: FormatOption = OutputFormat.table, config: ConfigOption = None) -> None:
    """What continuous monitoring is doing: per source files, events, errors and lag; per target
    deliveries, retries and dead letters."""

    def run() -> None:
        from keibi.status import read_status

        cfg = _config(config)
        with _open_store(cfg) as store:
            found = read_status(store)
        if fmt is OutputFormat.json:
            _write_json(found.as_json(), None)
            return
        data = found.as_json()
        sources = Table(title="sources")
        for column in (
            "source",
            "files",
            "events",
            "errors",
            "late",
            "failed",
            "files/min",
            "events/min",
            "lag",
        ):
            sources.add_column(column, justify="left" if column == "source" else "right")
        for s in data["sources"]:
            lag = s["lagSeconds"]
            sources.add_row(
                s["source"],
                f"{s['files']:,}",
                f"{s['events']:,}",
                f"{s['errors']:,}",
                str(s["lateFiles"]),
                str(s["failedFiles"]),
                str(s["filesLastMinute"]),
                f"{s['eventsLastMinute']:,}",
                "-" if lag is None else f"{lag:,.0f} s",
            )
        targets = Table(title="deliveries")
        for column in ("target", "delivered", "pending", "retrying", "dead letters", "last error"):
            targets.add_column(column, justify="left" if column in ("target", "last error") else "right")
        for t in data["targets"]:
            targets.add_row(
                t["target"],
                f"{t['delivered']:,}",
                f"{t['pending']:,}",
                f"{t['retrying']:,}",
                f"{t['deadLetters']:,}",
                escape(t["lastError"] or ""),
            )
        _stdout().print(sources, targets)

    _guard(run)


@publish_app.command("dead-letters")
def publish_dead_letters(
    retry: Annotated[bool, typer.Option("--retry", help="Put them back to be delivered now.")] = False,
    target: Annotated[str | None, typer.Option("--target", help="Only this target's.")] = None,
    fmt: FormatOption = OutputFormat.table,
    config: ConfigOption = None,
) -> None:
    """Deliveries that failed every attempt (or could not succeed), and putting them back."""

    def run() -> None:
        from keibi.store.outbox import dead_letter_rows, retry_dead

        cfg = _config(config)
        with _open_store(cfg) as store:
            if retry:
                n = retry_dead(store, datetime.now(UTC), target)
                err.print(f"{n} dead letters queued for delivery again", highlight=False)
                return
            rows = [r for r in dead_letter_rows(store, limit=1000) if target is None or r["target"] == target]
        if fmt is OutputFormat.json:
            _write_json([{**r, "failed_at": _iso(r["failed_at"])} for r in rows], None)
            return
        table = Table(title=f"{len(rows)} dead letters")
        for column in ("failed at", "target", "event id", "finding id", "attempts", "last error"):
            table.add_column(column)
        for r in rows:
            table.add_row(
                _iso(r["failed_at"]) or "",
                r["target"],
                r["event_id"],
                r["finding_id"],
                str(r["attempts"]),
                escape(str(r["last_error"])),
            )
        _stdout().print(table)

    _guard(run)


@export_app.command("keygen")
def export_keygen(
    path: Annotated[Path, typer.Argument(help="Where to write the new key file (must not exist).")],
) -> None:
    """Make a key file for local exports (32 random bytes, base64, mode 0600): [[publish.exports]] key_file."""

    def run() -> None:
        from keibi.publish.export import generate_key_file

        key_id = generate_key_file(path)
        err.print(
            f"wrote {path} (key id {key_id}); keep a copy: exports cannot be read without it", highlight=False
        )

    _guard(run)


@export_app.command("decrypt")
def export_decrypt(
    file: Annotated[Path, typer.Argument(help="A local export file (*.jsonl.gz.enc).")],
    key_file: Annotated[Path, typer.Option("--key-file", help="The key file the export was written with.")],
    output: Annotated[Path | None, typer.Option("--output", help="Write here instead of stdout.")] = None,
) -> None:
    """Print a local export's findings as JSON lines; an altered file or the wrong key is refused."""

    def run() -> None:
        from keibi.publish.export import decrypt_file

        plain = decrypt_file(file, key_file)
        if output is None:
            sys.stdout.buffer.write(plain)
            sys.stdout.flush()
        else:
            output.write_bytes(plain)

    _guard(run)


def _store_label(cfg: Config) -> str:
    from sqlalchemy.engine import make_url

    return make_url(cfg.store_url).render_as_string(hide_password=True)


# -- keibi accounts -------------------------------------------------------------------------------

AccessKeyArgument = Annotated[str, typer.Argument(help="The access key id (`keibi accounts list`).")]


def _key_json(key: AccessKey, *, secret: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "accountId": key.account_id,
        "accessKeyId": key.access_key_id,
        "name": key.name,
        "status": "Active" if key.active else "Inactive",
        "createdAt": _iso(key.created_at),
    }
    if secret:
        out["secretAccessKey"] = key.secret_access_key
    return out


def _endpoint(cfg: Config) -> str:
    host = cfg.server.host
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{host}:{cfg.server.port}"


@accounts_app.command("create")
def accounts_create(
    account_id: Annotated[
        str | None,
        typer.Option(
            "--account-id", help="12-digit account to add a key to (default: a new random account)."
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="A label for the key: who or what uses it.")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
    config: ConfigOption = None,
) -> None:
    """Issue an access key, for a new account or (--account-id) one more for an existing one.

    The secret is printed once and cannot be shown again; a second key for the same account
    lets you rotate without downtime.
    """

    def run() -> None:
        from keibi.store.accounts import create_key

        cfg = _config(config)
        with _open_store(cfg) as store:
            key = create_key(store, account_id, name)
        if fmt is OutputFormat.json:
            _write_json(_key_json(key, secret=True), None)
            return
        out = _stdout()
        for label, value in (
            ("Account id", key.account_id),
            ("Access key id", key.access_key_id),
            ("Secret access key", key.secret_access_key),
        ):
            out.print(f"{label + ':':<19}{value}", markup=False, highlight=False, soft_wrap=True)
        endpoint = _endpoint(cfg)
        err.print(
            "\nThe secret is shown only now. Use the key like an AWS key, with keibi's endpoint:\n"
            f"  aws configure set aws_access_key_id {key.access_key_id} --profile keibi\n"
            "  aws configure set aws_secret_access_key <secret> --profile keibi\n"
            f"  aws guardduty list-detectors --profile keibi --region us-east-1 --endpoint-url {endpoint}\n"
            f"  boto3.client('guardduty', endpoint_url='{endpoint}', region_name='us-east-1',\n"
            f"               aws_access_key_id='{key.access_key_id}', aws_secret_access_key='<secret>')",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )

    _guard(run)


@accounts_app.command("list")
def accounts_list(
    account_id: Annotated[str | None, typer.Option("--account-id", help="Only this account's keys.")] = None,
    fmt: FormatOption = OutputFormat.table,
    config: ConfigOption = None,
) -> None:
    """List the access keys (never their secrets), by account."""

    def run() -> None:
        from keibi.store.accounts import check_account_id, list_keys

        if account_id is not None:
            check_account_id(account_id)
        with _open_store(_config(config)) as store:
            keys = list_keys(store, account_id)
        if fmt is OutputFormat.json:
            _write_json([_key_json(k) for k in keys], None)
            return
        if not keys:
            err.print("no access keys yet: `keibi accounts create` issues one", highlight=False)
            return
        table = Table(title="Access keys", title_justify="left")
        for col in ("Account", "Access key id", "Name", "Status", "Created"):
            table.add_column(col)
        for key in keys:
            table.add_row(
                key.account_id,
                key.access_key_id,
                escape(key.name or "-"),
                "Active" if key.active else "[dim]Inactive[/]",
                _when(key.created_at),
            )
        _stdout().print(table)

    _guard(run)


def _change_key(
    access_key_id: str, change: Callable[[Store, str], bool], done: str, config: Path | None
) -> None:
    from keibi.store.accounts import find_key

    with _open_store(_config(config)) as store:
        key = find_key(store, access_key_id)
        if key is None or not change(store, access_key_id):
            raise ConfigError(f"no access key {access_key_id!r} (`keibi accounts list` shows them)")
    err.print(
        f"{done} access key {escape(access_key_id)} of account {key.account_id}; "
        "a running `keibi serve` notices within 10 seconds",
        highlight=False,
    )


@accounts_app.command("delete")
def accounts_delete(access_key_id: AccessKeyArgument, config: ConfigOption = None) -> None:
    """Delete an access key for good (the account's detectors and findings stay)."""
    from keibi.store.accounts import delete_key

    _guard(lambda: _change_key(access_key_id, delete_key, "deleted", config))


@accounts_app.command("deactivate")
def accounts_deactivate(access_key_id: AccessKeyArgument, config: ConfigOption = None) -> None:
    """Refuse an access key's requests until `keibi accounts activate` (IAM's Inactive)."""
    from keibi.store.accounts import set_key_active

    _guard(
        lambda: _change_key(access_key_id, lambda s, k: set_key_active(s, k, False), "deactivated", config)
    )


@accounts_app.command("activate")
def accounts_activate(access_key_id: AccessKeyArgument, config: ConfigOption = None) -> None:
    """Accept a deactivated access key's requests again."""
    from keibi.store.accounts import set_key_active

    _guard(lambda: _change_key(access_key_id, lambda s, k: set_key_active(s, k, True), "activated", config))


# -- keibi profiles -------------------------------------------------------------------------------


@profiles_app.command("list")
def profiles_list(fmt: FormatOption = OutputFormat.table, config: ConfigOption = None) -> None:
    """Per behaviour detector: how many entities it profiles, how many values it keeps, since when."""

    def run() -> None:
        from keibi.detect.behavior.profile import ENTITY

        with _open_store(_config(config)) as store:
            stored = store.profiles()
        rows: list[dict[str, Any]] = []
        for did, frame in sorted(stored.items()):
            known = frame.filter(pl.col("feature") == ENTITY)
            rows.append(
                {
                    "detector": did,
                    "entities": known.height,
                    "values": frame.height - known.height,
                    "since": _iso(known["first_seen"].min()),  # type: ignore[arg-type]
                    "lastSeen": _iso(known["last_seen"].max()),  # type: ignore[arg-type]
                }
            )
        if fmt is OutputFormat.json:
            _write_json(rows, None)
            return
        table = Table(title="Behaviour profiles", title_justify="left")
        for col in ("Detector", "Entities", "Values", "Since", "Last seen"):
            table.add_column(col)
        for row in rows:
            table.add_row(
                row["detector"],
                str(row["entities"]),
                str(row["values"]),
                row["since"] or "-",
                row["lastSeen"] or "-",
            )
        _stdout().print(table)

    _guard(run)


@profiles_app.command("show")
def profiles_show(
    entity: Annotated[str, typer.Argument(help="The entity: a principal ARN, instance id, account:ID, ...")],
    detector: Annotated[str | None, typer.Option("--detector", help="Only this detector's profile.")] = None,
    fmt: FormatOption = OutputFormat.table,
    config: ConfigOption = None,
) -> None:
    """Everything keibi has learned about one entity: each value, when first and last seen, how often."""

    def run() -> None:
        from keibi.detect.behavior.profile import ENTITY, frequency

        with _open_store(_config(config)) as store:
            stored = store.profiles(detector, entity=entity)
        if not stored:
            raise KeibiError(
                f"no profile for entity {entity!r} (`keibi profiles list` shows what is profiled)"
            )
        out: list[dict[str, Any]] = []
        for did, frame in sorted(stored.items()):
            since = frame.filter(pl.col("feature") == ENTITY)["first_seen"].min()
            newest = frame["last_seen"].max()
            rated = frame.filter(pl.col("feature") != ENTITY).with_columns(
                pl.lit(since).alias("_since"),
                pl.lit(newest).alias("event_time"),
            )
            rated = rated.with_columns(frequency("days", "_since").alias("frequency")).sort(
                "feature", "count", descending=[False, True]
            )
            for row in rated.iter_rows(named=True):
                out.append(
                    {
                        "detector": did,
                        "feature": row["feature"],
                        "value": row["value"],
                        "firstSeen": _iso(row["first_seen"]),
                        "lastSeen": _iso(row["last_seen"]),
                        "count": row["count"],
                        "days": row["days"],
                        "frequency": row["frequency"],
                        "peak": row["peak"],
                    }
                )
        if fmt is OutputFormat.json:
            _write_json(out, None)
            return
        table = Table(title=f"Profile of {entity}", title_justify="left")
        for col in (
            "Detector",
            "Feature",
            "Value",
            "First seen",
            "Last seen",
            "Count",
            "Days",
            "Frequency",
            "Peak",
        ):
            table.add_column(col)
        for row in out:
            table.add_row(
                row["detector"],
                row["feature"],
                row["value"] or "-",
                row["firstSeen"] or "-",
                row["lastSeen"] or "-",
                str(row["count"]),
                str(row["days"]),
                row["frequency"],
                "-" if row["peak"] is None else f"{row['peak']:,.0f}",
            )
        _stdout().print(table)

    _guard(run)


# -- keibi intel ----------------------------------------------------------------------------------


class ListKindChoice(StrEnum):
    threat = "threat"
    trusted = "trusted"


# GuardDuty's names for the two kinds of list.
_SET_TYPES: Final = {"threat": "ThreatIntelSet", "trusted": "IPSet"}

NameArgument = Annotated[str, typer.Argument(help="The list's name (`keibi intel list`).")]
InactiveOption = Annotated[
    bool,
    typer.Option(
        "--inactive",
        help="Keep it without matching it (GuardDuty's Activate=false); `keibi intel activate NAME` switches it on.",
    ),
]
RefreshOption = Annotated[
    int | None,
    typer.Option(
        "--refresh-minutes",
        min=1,
        help="How often `keibi intel update` fetches it (default: daily; a feed: its catalogue period).",
    ),
]


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")


def _period(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def _status(record: IntelListRecord) -> str:
    """GuardDuty's ThreatIntelSetStatus words: INACTIVE, ACTIVE once a version is loaded, and
    ERROR when none could be (a later failure keeps the list ACTIVE on its last version)."""
    if not record.active:
        return "INACTIVE"
    if record.version is None:
        return "ERROR" if record.last_error else "ACTIVATING"
    return "ACTIVE"


def _record_json(record: IntelListRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "kind": record.kind,
        "setType": _SET_TYPES.get(record.kind),
        "category": record.category,
        "format": record.format,
        "location": record.location,
        "feed": record.feed,
        "active": record.active,
        "status": _status(record),
        "version": record.version,
        "previousVersion": record.previous_version,
        "sha256": record.sha256,
        "entries": record.entries,
        "problems": record.problems,
        "etag": record.etag,
        "lastModified": record.last_modified,
        "refreshMinutes": int(record.refresh_period.total_seconds() // 60),
        "addedAt": _iso(record.added_at),
        "fetchedAt": _iso(record.fetched_at),
        "checkedAt": _iso(record.checked_at),
        "nextRefresh": _iso(record.next_refresh),
        "lastError": record.last_error,
    }


def _category(text: str) -> str:
    """``custom`` or a feed category, whatever the case the user typed it in."""
    from keibi.intel import FEED_CATEGORIES

    wanted = text.strip()
    if wanted.lower() == "custom":
        return "custom"
    return next((c for c in FEED_CATEGORIES if c.lower() == wanted.lower()), wanted)


def _add_and_fetch(store: Store, spec: IntelListSpec) -> tuple[IntelListRecord, RefreshResult]:
    """Record ``spec`` and fetch it at once, so a bad location or format fails now; a list that
    cannot be fetched or has no usable entry is not kept."""
    from keibi.store.intel_sync import refresh

    now = datetime.now(UTC)
    store.add_intel_list(spec, at=now)
    try:
        [result] = refresh(store, [spec.name], force=True, now=now)
    except BaseException:
        store.remove_intel_list(spec.name)
        raise
    if result.status == "failed":
        store.remove_intel_list(spec.name)
        raise ConfigError(f"intel list {spec.name!r} not added: {result.error}")
    record = store.intel_list(spec.name)
    assert record is not None
    return record, result


def _entries(n: int, adjective: str = "") -> str:
    return f"{n:,} {adjective}{'entry' if n == 1 else 'entries'}"


def _report_added(record: IntelListRecord, result: RefreshResult) -> None:
    _print_warnings([str(p) for p in result.problems], "bad entries")
    if record.kind == "aws":
        what = "AWS IP ranges"
    elif record.feed is not None:
        what = f"feed {record.feed} ({record.category}) as list"
    elif record.category != "custom":
        what = f"{record.category} threat list"
    else:
        what = f"{record.kind} list"
    line = f"added {what} {record.name!r}: {_entries(record.entries or 0)}, version {record.version}"
    if record.problems:
        line += f", skipped {_entries(record.problems, 'bad ')}"
    if not record.active:
        line += f"; inactive (`keibi intel activate {record.name}` switches it on)"
    err.print(escape(line), highlight=False, soft_wrap=True)


@intel_app.command("add")
def intel_add(
    name: Annotated[str, typer.Argument(help="The list's name; findings carry it as threatListName.")],
    location: Annotated[
        str, typer.Argument(help="Where it lives: a local path, file://, http(s):// URL or s3://bucket/key.")
    ],
    list_format: Annotated[
        str, typer.Option("--format", help=f"The file's format: {', '.join(LIST_FORMATS)}.")
    ] = "TXT",
    kind: Annotated[
        ListKindChoice,
        typer.Option(
            "--kind",
            help="threat (GuardDuty's ThreatIntelSet) or trusted (an IPSet: its addresses never raise intel findings).",
        ),
    ] = ListKindChoice.threat,
    category: Annotated[
        str,
        typer.Option(
            "--category",
            help="custom (the *.Custom finding types) or a feed category (Tor, CommandAndControl, …; `keibi intel feeds`).",
        ),
    ] = "custom",
    inactive: InactiveOption = False,
    refresh_minutes: RefreshOption = None,
    config: ConfigOption = None,
) -> None:
    """Add a threat or trusted list and fetch it now; `keibi intel update` keeps it fresh.

    The name aws-ip-ranges is AWS's ip-ranges.json: `keibi intel add aws-ip-ranges URL` fetches it from a mirror.
    """

    def run() -> None:
        from keibi.store import AWS_RANGES_LIST, IntelListSpec

        if name == AWS_RANGES_LIST:
            spec = replace(IntelListSpec.aws_ranges(location), active=not inactive)
        else:
            spec = IntelListSpec(
                name=name,
                kind=kind.value,
                format=list_format.strip().upper(),
                location=location,
                category=_category(category),
                active=not inactive,
            )
        spec = replace(spec, refresh_minutes=refresh_minutes)
        with _open_store(_config(config)) as store:
            record, result = _add_and_fetch(store, spec)
        _report_added(record, result)

    _guard(run)


@intel_app.command("enable")
def intel_enable(
    feed_name: Annotated[
        str, typer.Argument(help="A feed of the catalogue (`keibi intel feeds`), e.g. tor-exits.")
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="Keep it under this list name (default: the feed's).")
    ] = None,
    location: Annotated[
        str | None,
        typer.Option(
            "--location", help="Fetch it from here instead of the publisher (a mirror or a local copy)."
        ),
    ] = None,
    inactive: InactiveOption = False,
    refresh_minutes: RefreshOption = None,
    config: ConfigOption = None,
) -> None:
    """Switch on a public feed of the catalogue by name and fetch it now."""

    def run() -> None:
        from keibi.intel.catalogue import feed
        from keibi.store import IntelListSpec

        spec = IntelListSpec.for_feed(feed(feed_name), name=name, active=not inactive)
        if location is not None:
            spec = replace(spec, location=location)
        if refresh_minutes is not None:
            spec = replace(spec, refresh_minutes=refresh_minutes)
        with _open_store(_config(config)) as store:
            record, result = _add_and_fetch(store, spec)
        _report_added(record, result)

    _guard(run)


@intel_app.command("feeds")
def intel_feeds(fmt: FormatOption = OutputFormat.table, config: ConfigOption = None) -> None:
    """The catalogue of public feeds `keibi intel enable` switches on, and which are enabled."""

    def run() -> None:
        from keibi.intel.catalogue import FEEDS, UNCOVERED

        with _open_store(_config(config)) as store:
            enabled: dict[str, list[str]] = {}
            for record in store.intel_lists():
                if record.feed is not None:
                    enabled.setdefault(record.feed, []).append(record.name)
        if fmt is OutputFormat.json:
            _write_json(
                [
                    {
                        "name": spec.name,
                        "category": spec.category,
                        "format": spec.format,
                        "url": spec.url,
                        "refreshMinutes": spec.refresh_minutes,
                        "description": spec.description,
                        "homepage": spec.homepage,
                        "license": spec.license,
                        "enabledAs": enabled.get(spec.name, []),
                    }
                    for spec in FEEDS.values()
                ],
                None,
            )
            return
        uncovered = "; ".join(f"{family}: {why}" for family, why in UNCOVERED.items())
        table = Table(
            title=f"{len(FEEDS)} feeds (`keibi intel enable NAME`)",
            title_justify="left",
            caption=f"No public feed — {uncovered}. Add your own with `keibi intel add NAME LOCATION --category CATEGORY`.",
            caption_justify="left",
        )
        for col in ("Name", "Category", "Format", "Every", "Enabled as", "URL", "Description"):
            table.add_column(col, no_wrap=col in ("Name", "Category", "Format", "Every"))
        for spec in FEEDS.values():
            table.add_row(
                spec.name,
                spec.category,
                spec.format,
                _period(spec.refresh_minutes),
                ", ".join(enabled.get(spec.name, [])) or "-",
                spec.url,
                spec.description,
            )
        _stdout().print(table)

    _guard(run)


@intel_app.command("list")
def intel_list(fmt: FormatOption = OutputFormat.table, config: ConfigOption = None) -> None:
    """The lists and feeds in the store, with their current version and refresh state."""

    def run() -> None:
        with _open_store(_config(config)) as store:
            records = store.intel_lists()
        if fmt is OutputFormat.json:
            _write_json([_record_json(r) for r in records], None)
            return
        table = Table(title=f"{len(records)} intel lists", title_justify="left")
        columns = (
            "Name",
            "Kind",
            "Category",
            "Format",
            "Location",
            "Active",
            "Version",
            "Entries",
            "Fetched",
            "Next refresh",
            "Last error",
        )
        for col in columns:
            table.add_column(col, justify="right" if col == "Entries" else "left")
        for r in records:
            table.add_row(
                r.name,
                r.kind,
                r.category,
                r.format,
                r.location,
                "yes" if r.active else "no",
                r.version or "-",
                "-" if r.entries is None else f"{r.entries:,}",
                _when(r.fetched_at),
                _when(r.next_refresh),
                r.last_error or "",
            )
        _stdout().print(table)

    _guard(run)


@intel_app.command("show")
def intel_show(
    name: NameArgument, fmt: FormatOption = OutputFormat.table, config: ConfigOption = None
) -> None:
    """One list: its definition, versions, refresh state, and the bad entries its current version skipped."""

    def run() -> None:
        with _open_store(_config(config)) as store:
            record = store.intel_list(name)
            if record is None:
                raise ConfigError(f"no intel list named {name!r}")
            loaded = (
                store.load_intel_list(name) if record.version is not None and record.kind != "aws" else None
            )
        problems = loaded.problems if loaded is not None else ()
        if fmt is OutputFormat.json:
            bad = [{"location": p.path, "line": p.line, "reason": p.reason} for p in problems]
            _write_json({**_record_json(record), "badEntries": bad}, None)
            return
        table = Table(title=f"intel list {record.name}", title_justify="left", show_header=False)
        table.add_column("Field", style="bold")
        table.add_column("Value")
        for key, value in _record_json(record).items():
            if value is not None and key != "name":
                table.add_row(key, str(value))
        _stdout().print(table)
        if problems:
            out = _stdout()
            out.print(
                f"Bad entries skipped in version {record.version} ({record.problems or len(problems):,}):"
            )
            shown = 50
            for problem in problems[:shown]:
                out.print(f"  {escape(str(problem))}", highlight=False, soft_wrap=True)
            if len(problems) > shown:
                out.print(f"  … and {len(problems) - shown} more (--format json lists them)")

    _guard(run)


@intel_app.command("remove")
def intel_remove(name: NameArgument, config: ConfigOption = None) -> None:
    """Remove a list or feed and its stored versions (findings already made keep their names)."""

    def run() -> None:
        with _open_store(_config(config)) as store:
            if not store.remove_intel_list(name):
                raise ConfigError(f"no intel list named {name!r}")
        err.print(f"removed intel list {escape(repr(name))}", highlight=False)

    _guard(run)


def _set_active(name: str, active: bool, config: Path | None) -> None:
    with _open_store(_config(config)) as store:
        if not store.set_intel_list_active(name, active):
            raise ConfigError(f"no intel list named {name!r}")
    err.print(f"intel list {escape(repr(name))} is {'active' if active else 'inactive'}", highlight=False)


@intel_app.command("activate")
def intel_activate(name: NameArgument, config: ConfigOption = None) -> None:
    """Match a list again in scans (GuardDuty's Activate=true)."""
    _guard(lambda: _set_active(name, True, config))


@intel_app.command("deactivate")
def intel_deactivate(name: NameArgument, config: ConfigOption = None) -> None:
    """Keep a list but leave it out of scans and scheduled refreshes (Activate=false)."""
    _guard(lambda: _set_active(name, False, config))


def _result_json(result: RefreshResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "status": result.status,
        "version": result.version,
        "entries": result.entries,
        "badEntries": len(result.problems),
        "error": result.error,
        "nextRefresh": _iso(result.next_refresh),
    }


@intel_app.command("update")
def intel_update(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Lists to refresh (default: every active list and feed, and AWS's IP ranges)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Fetch even the lists that are not due yet.")
    ] = False,
    fmt: FormatOption = OutputFormat.table,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="Do not draw the progress bar.")] = False,
    config: ConfigOption = None,
) -> None:
    """Refresh the lists and feeds that are due, and AWS's IP ranges.

    An unchanged source costs one conditional request (ETag, Last-Modified); new content
    becomes a new version; a failure keeps the current version in use.

    Exit status: 0 when every list refreshed (or was not due), 3 when some failed (one line each on stderr), 1 on a usage error.
    """

    def run() -> int:
        from keibi.store import AWS_RANGES_LIST
        from keibi.store.intel_sync import refresh

        now = datetime.now(UTC)
        results: list[RefreshResult] = []
        with _open_store(_config(config)) as store:
            records = store.intel_lists()
            known = {r.name for r in records}
            if names:
                unknown = [n for n in names if n not in known and n != AWS_RANGES_LIST]
                if unknown:
                    raise ConfigError(f"no intel list named {unknown[0]!r}")
                targets = list(dict.fromkeys(names))
            else:  # what refresh(store) takes: the active lists, and AWS's ranges until the store has them
                targets = [r.name for r in records if r.active]
                if AWS_RANGES_LIST not in known:
                    targets.append(AWS_RANGES_LIST)
            with Progress(
                TextColumn("refreshing"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[current]}"),
                TimeElapsedColumn(),
                console=err,
                disable=no_progress or not err.is_terminal,
                transient=True,
            ) as progress:
                task = progress.add_task("refresh", total=len(targets), current="")
                for target in targets:
                    progress.update(task, current=target)
                    results += refresh(store, [target], force=force, now=now)
                    progress.advance(task)
        _print_warnings([str(p) for r in results for p in r.problems], "bad entries")
        failed = [r for r in results if r.status == "failed"]
        for r in failed:
            err.print(
                f"[bold red]failed:[/] {escape(r.name)}: {escape(r.error or 'unknown error')}", soft_wrap=True
            )
        if fmt is OutputFormat.json:
            _write_json([_result_json(r) for r in results], None)
        else:
            counts = Counter(r.status for r in results)
            title = ", ".join(f"{n} {status}" for status, n in counts.items()) or "nothing to refresh"
            table = Table(title=title, title_justify="left")
            for col in ("Name", "Result", "Version", "Entries", "Bad entries", "Next refresh"):
                table.add_column(col, justify="right" if col in ("Entries", "Bad entries") else "left")
            for r in results:
                table.add_row(
                    r.name,
                    r.status,
                    r.version or "-",
                    "-" if r.entries is None else f"{r.entries:,}",
                    str(len(r.problems)) if r.problems else "",
                    _when(r.next_refresh),
                )
            _stdout().print(table)
        return EXIT_INPUT_SKIPPED if failed else 0

    code = _guard(run)
    if code:
        raise typer.Exit(code)


@intel_app.command("lookup")
def intel_lookup(
    value: Annotated[str, typer.Argument(help="An IP address (IPv4 or IPv6) or a domain name.")],
    threat_list: ThreatListOption = None,
    trusted_list: TrustedListOption = None,
    feed: FeedOption = None,
    fmt: FormatOption = OutputFormat.table,
    config: ConfigOption = None,
) -> None:
    """Which lists, feeds and AWS ranges hold a value, by which entry, what a scan makes of it
    (trusted lists win over threat lists), and where the address is (country, city, ASN).

    It checks what `keibi scan` would: keibi.toml's lists, the flags given here, the store's
    active lists and feeds, keibi's shipped feeds and AWS's IP ranges.
    """

    def run() -> None:
        import polars as pl

        from keibi.intel.explain import entries_holding, parse_value

        cfg = _config(config)
        parsed = parse_value(value)
        with _open_store(cfg) as store:
            setup = _assemble_intel(cfg, store, threat_list, trusted_list, feed)
            setup.intel.prepare(cache=store)  # big lists: the tables a scan kept, not built again
        intel = setup.intel
        _print_warnings(setup.warnings(stored=False))
        try:
            holding = [
                (source, found) for source in setup.sources if (found := entries_holding(source.lst, parsed))
            ]
            column = pl.Series([parsed.text], dtype=pl.String())
            trusted, threat, feed_name, feed_category = intel.lookup(
                column, kind=parsed.kind, prefix="v"
            ).row(0)
            aws: dict[str, Any] | None = None
            geo: dict[str, Any] | None = None
            if parsed.kind == "ip":
                prefix, region, service = intel.aws_lookup(column, prefix="v").row(0)
                if prefix is not None:
                    aws = {"prefix": prefix, "region": region, "service": service}
                geo = intel.geo.remote_ip_details(parsed.text) if intel.geo is not None else None
        finally:
            if intel.geo is not None:
                intel.geo.close()
        verdict = "trusted" if trusted else "threat" if (threat or feed_name) else "none"
        ranges = intel.aws_ranges
        report: dict[str, Any] = {
            "value": parsed.text,
            "kind": parsed.kind,
            "verdict": verdict,
            "trusted": bool(trusted),
            "threatListName": threat,
            "feed": feed_name,
            "feedCategory": feed_category,
            "lists": [
                {
                    "name": source.lst.name,
                    "kind": source.lst.kind,
                    "setType": _SET_TYPES.get(source.lst.kind),
                    "category": source.lst.category,
                    "version": source.lst.version,
                    "origin": source.origin,
                    "location": source.lst.source,
                    "entries": [{"entry": e.entry, "match": e.match} for e in found],
                }
                for source, found in holding
            ],
            "aws": aws,
            "awsRanges": None
            if parsed.kind != "ip" or ranges is None
            else {
                "createDate": ranges.create_date,
                "syncToken": ranges.sync_token,
                "origin": setup.aws_origin,
            },
            "geo": geo,
        }
        if fmt is OutputFormat.json:
            _write_json(report, None)
            return
        _print_lookup(report)

    _guard(run)


def _print_lookup(report: dict[str, Any]) -> None:
    out = _stdout()
    what = "IP address" if report["kind"] == "ip" else "domain"
    out.print(f"[bold]{escape(report['value'])}[/] ({what})", highlight=False)
    if report["lists"]:
        table = Table(title="On these lists (match order)", title_justify="left")
        for col in ("List", "Kind", "Category", "Version", "Entry", "Match", "From"):
            table.add_column(col)
        for item in report["lists"]:
            for entry in item["entries"]:
                table.add_row(
                    item["name"],
                    item["kind"],
                    item["category"],
                    item["version"] or "-",
                    entry["entry"],
                    entry["match"],
                    f"{item['origin']}: {item['location']}" if item["location"] else item["origin"],
                )
        out.print(table)
    if report["verdict"] == "trusted":
        outcome = "trusted: trusted lists win, so no threat-intel finding is raised for it"
    elif report["verdict"] == "threat":
        parts = []
        if report["threatListName"]:
            parts.append(f"threat list {report['threatListName']!r} (the *.Custom finding types)")
        if report["feed"]:
            parts.append(f"feed {report['feed']!r} ({report['feedCategory']})")
        outcome = "threat: findings name " + " and ".join(parts)
    else:
        outcome = "on no threat or trusted list"
    out.print(f"Outcome: {escape(outcome)}", highlight=False)
    ranges = report["awsRanges"]
    if ranges is not None:
        source = f"ranges of {ranges['createDate']}, {ranges['origin']}"
        aws = report["aws"]
        if aws is None:
            out.print(f"AWS: not an AWS address ({source})", highlight=False)
        else:
            out.print(
                f"AWS: in {aws['prefix']} ({aws['region']}, {aws['service']}; {source})", highlight=False
            )
    geo = report["geo"]
    if report["kind"] == "ip":
        out.print(f"Geo: {escape(_geo_line(geo))}", highlight=False)


def _geo_line(details: dict[str, Any] | None) -> str:
    if not details:
        return "unknown"
    parts = []
    country = details.get("country") or {}
    if country:
        parts.append(" ".join(str(v) for v in (country.get("countryCode"), country.get("countryName")) if v))
    city = (details.get("city") or {}).get("cityName")
    if city:
        parts.append(str(city))
    location = details.get("geoLocation")
    if location:
        parts.append(f"{location['lat']:g},{location['lon']:g}")
    org = details.get("organization") or {}
    if org.get("asn"):
        parts.append(" ".join(str(v) for v in (f"AS{org['asn']}", org.get("asnOrg")) if v))
    return " · ".join(parts) or "not a public address, or not in the databases"


@tester_app.command("generate")
def tester_generate(
    outdir: Annotated[Path, typer.Argument(help="Directory to write AWSLogs/... and lists/ into.")],
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed; the same seed writes the same bytes.")
    ] = 7,
    scale: Annotated[
        float, typer.Option("--scale", min=0.01, help="Multiplies the benign background volume.")
    ] = 1.0,
) -> None:
    """Write realistic logs for every implemented finding type plus benign background, in AWS's delivery layouts."""

    def run() -> None:
        from keibi.tester import generate

        manifest = generate(outdir, seed=seed, scale=scale)
        err.print(
            f"wrote {len(manifest.scenarios)} attack scenarios and background logs to {outdir}",
            highlight=False,
        )

    _guard(run)


@tester_app.command("history")
def tester_history(
    outdir: Annotated[Path, typer.Argument(help="Directory to write AWSLogs/... and manifest.json into.")],
    days: Annotated[
        int, typer.Option("--days", min=29, help="Days of history; the anomalies run on days 22 to 28.")
    ] = 30,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed; the same seed writes the same bytes.")
    ] = 7,
    delivery_minutes: Annotated[
        int,
        typer.Option(
            "--delivery-minutes",
            min=1,
            max=60,
            help="Time one log file covers (AWS delivers every 5 minutes).",
        ),
    ] = 5,
) -> None:
    """Write a month of an account's CloudTrail and VPC flow logs for behaviour baselines: dozens of
    principals and instances at work, then one anomaly per behaviour finding type after day 21."""

    def run() -> None:
        from keibi.tester.history import generate_history

        manifest = generate_history(outdir, seed=seed, days=days, delivery_minutes=delivery_minutes)
        entities = manifest.entities
        err.print(
            f"wrote {days} days ({manifest.records['cloudtrail']} CloudTrail, {manifest.records['vpc_flow']} flow "
            f"records) for {entities['principals']} principals, {entities['instances']} instances and "
            f"{entities['buckets']} buckets, with {len(manifest.scenarios)} anomaly scenarios, to {outdir}",
            highlight=False,
        )

    _guard(run)


def _version(value: bool) -> None:
    if value:
        _stdout().print(f"keibi {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """keibi: threat detection for AWS logs, with findings in Amazon GuardDuty's format."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
