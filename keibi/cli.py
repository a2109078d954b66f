"""The ``keibi`` command line: tables for people, JSON for machines, one line per mistake."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from keibi import __version__
from keibi.config import Config, load_config
from keibi.detect import Severity, detectors
from keibi.errors import ConfigError, KeibiError
from keibi.sources import LogFile

if TYPE_CHECKING:
    from keibi.store import Store

EXIT_USER_ERROR = 1
EXIT_INPUT_SKIPPED = 3

app = typer.Typer(
    help="keibi: threat detection for AWS logs, with findings in Amazon GuardDuty's format.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
findings_app = typer.Typer(help="Query the findings in the store.", no_args_is_help=True)
tester_app = typer.Typer(help="Generate realistic attack and background logs.", no_args_is_help=True)
app.add_typer(findings_app, name="findings")
app.add_typer(tester_app, name="tester")

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


def _guard(fn: Callable[[], T]) -> T:
    """Run a command body; a KeibiError becomes one line on stderr and exit status 1."""
    try:
        return fn()
    except KeibiError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
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


@app.command()
def scan(
    paths: Annotated[list[str], typer.Argument(help="Files, directories or s3://bucket/prefix locations.")],
    threat_list: Annotated[
        list[Path] | None,
        typer.Option("--threat-list", help="Threat list in GuardDuty TXT format (repeatable)."),
    ] = None,
    trusted_list: Annotated[
        list[Path] | None,
        typer.Option("--trusted-list", help="Trusted list in GuardDuty TXT format (repeatable)."),
    ] = None,
    feed: Annotated[
        list[str] | None,
        typer.Option(
            "--feed",
            metavar="CATEGORY=PATH",
            help="Threat feed in TXT format with its category, e.g. Tor=tor-exits.txt (repeatable).",
        ),
    ] = None,
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

    Exit status: 0 when every input was read, 3 when some input was skipped (listed on stderr), 1 on a usage error.
    """

    def run() -> int:
        from keibi.intel import AwsRanges, Intel, load_feed, load_txt
        from keibi.pipeline import scan as run_scan

        cfg = _config(config)
        threat_paths: list[str | Path] = [*cfg.intel.threat_lists, *(threat_list or [])]
        trusted_paths: list[str | Path] = [*cfg.intel.trusted_lists, *(trusted_list or [])]
        threats = [load_txt(p) for p in threat_paths]
        trusted = [load_txt(p, kind="trusted") for p in trusted_paths]
        feeds = [load_feed(f.path, f.category, name=f.name) for f in cfg.intel.feeds]
        for spec in feed or []:
            category, sep, path = spec.partition("=")
            if not sep or not category or not path:
                raise ConfigError(f"--feed {spec!r}: expected CATEGORY=PATH, e.g. Tor=tor-exits.txt")
            feeds.append(load_feed(path, category))
        aws_path = cfg.intel.aws_ip_ranges
        intel = Intel.with_builtin_feeds(
            threat=threats,
            trusted=trusted,
            feeds=feeds,
            aws_ranges=AwsRanges.load(aws_path) if aws_path else None,
        )
        store = _open_store(cfg)
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
