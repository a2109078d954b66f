"""Publishing as configured: the targets of ``[[publish.targets]]``, the exports of
``[[publish.exports]]`` and the publishing destinations made through the API
(CreatePublishingDestination), each a target of the delivery loop.

An export is a batch target: it takes every due event at once and writes one file per account
and region (GuardDuty's export layout), named from the findings in it, so a retried write
replaces the same file instead of adding a second. An API destination exports what its detector
sees: its own account's findings in its region, and those of the members it administers. Its
status follows what happens: ``PUBLISHING`` after a write, ``UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY``
when a write fails (GuardDuty's names).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from keibi.config import Config
from keibi.errors import ConfigError, PublishError
from keibi.publish.delivery import BatchTarget, EventTarget
from keibi.publish.export import Exporter, batch_name, open_export
from keibi.publish.patterns import EventPattern
from keibi.publish.targets import Entry, build_targets, passes
from keibi.store import Store
from keibi.store.destinations import (
    PENDING_VERIFICATION,
    UNABLE_TO_PUBLISH,
    all_destinations,
    set_destination_status,
)
from keibi.store.members import visible_accounts

_EXPORT_KEYS: Final = frozenset(
    {"name", "location", "kms_key_arn", "key_file", "rendering", "min_severity", "pattern"}
)
_ADDS_LINKS: Final = frozenset({"slack", "email"})


@dataclass
class ExportTarget:
    """An exporter as a batch target of the delivery loop (module docstring)."""

    name: str
    exporter: Exporter
    min_severity: float = 0.0
    pattern: EventPattern | None = None
    scope: frozenset[tuple[str, str]] | None = None  # (account, region) exported; None: all
    destination_id: str | None = None  # an API destination, whose status is kept
    store: Store | None = field(default=None, repr=False)

    def wants(self, event: Mapping[str, Any]) -> bool:
        if self.scope is not None and (event.get("account"), event.get("region")) not in self.scope:
            return False
        return passes(event, self.min_severity, self.pattern)

    def deliver_batch(self, events: Sequence[Mapping[str, Any]], at: datetime) -> None:
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for event in events:
            groups.setdefault((event["account"], event["region"]), []).append(event["detail"])
        try:
            for (account, region), findings in sorted(groups.items()):
                findings.sort(key=lambda f: (f["id"], f.get("updatedAt", "")))
                self.exporter.write(
                    findings, account=account, region=region, at=at, name=batch_name(findings)
                )
        except PublishError:
            self._status(UNABLE_TO_PUBLISH, at)
            raise
        self._status("PUBLISHING", at)

    def _status(self, status: str, at: datetime) -> None:
        if self.destination_id is not None and self.store is not None:
            set_destination_status(self.store, self.destination_id, status, at)  # type: ignore[arg-type]


def _exports(entries: Sequence[Mapping[str, Any]], source: str) -> list[ExportTarget]:
    out = []
    for index, raw in enumerate(entries):
        entry = Entry(raw, index, source, section="publish.exports")
        unknown = sorted(str(k) for k in raw if k not in _EXPORT_KEYS)
        if unknown:
            raise entry.error(unknown[0], f"unknown key (expected one of: {', '.join(sorted(_EXPORT_KEYS))})")
        name, location = entry.required("name", "export"), entry.required("location", "export")
        wanted = "kms_key_arn" if location.startswith(("s3://", "arn:")) else "key_file"
        secret = entry.text(wanted)
        if secret is None:
            raise entry.error(wanted, "is needed: exports are encrypted")
        try:
            exporter = open_export(location, secret, (entry.text("rendering") or "GUARDDUTY").upper())
        except ConfigError as exc:
            raise ConfigError(exc.reason, source, f"publish.exports[{index}]") from None
        severity = entry.number("min_severity", 0.0, 0.0, 10.0)
        out.append(ExportTarget(f"export:{name}", exporter, severity, entry.pattern()))
    return out


def api_destinations(store: Store) -> list[ExportTarget]:
    """The publishing destinations made through the API, each exporting what its detector sees.
    A new one is verified (bucket and key usable) and marked ``PUBLISHING`` or unable; one that
    cannot be opened (a KMS key ARN of the wrong shape) is marked unable and left out."""
    out = []
    now = datetime.now(UTC)
    for record, account, region in all_destinations(store):
        try:
            exporter = open_export(record.destination_arn, record.kms_key_arn)
        except ConfigError:
            set_destination_status(store, record.destination_id, UNABLE_TO_PUBLISH, now)
            continue
        if record.status == PENDING_VERIFICATION:  # GuardDuty checks a new destination first
            try:
                exporter.verify()
            except PublishError:
                set_destination_status(store, record.destination_id, UNABLE_TO_PUBLISH, now)
            else:
                set_destination_status(store, record.destination_id, "PUBLISHING", now)
        scope = frozenset((a, region) for a in visible_accounts(store, account, region))
        out.append(
            ExportTarget(
                f"destination:{record.destination_id}",
                exporter,
                scope=scope,
                destination_id=record.destination_id,
                store=store,
            )
        )
    return out


def build_publishing(cfg: Config, store: Store) -> list[EventTarget | BatchTarget]:
    """Every target keibi.toml and the API configure; a mistake raises ``ConfigError``."""
    source = cfg.path or "keibi.toml"
    entries = [
        {"console_url": cfg.publish.console_url, **raw}
        if cfg.publish.console_url and raw.get("type") in _ADDS_LINKS
        else dict(raw)
        for raw in cfg.publish.targets
    ]
    targets: list[EventTarget | BatchTarget] = list(build_targets(entries, source=source))
    targets += _exports(cfg.publish.exports, source)
    targets += api_destinations(store)
    return targets


__all__ = ["ExportTarget", "api_destinations", "build_publishing"]
