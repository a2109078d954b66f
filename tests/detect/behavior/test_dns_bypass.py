"""DefenseEvasion:EC2/UnusualDNSResolver, UnusualDoHActivity and UnusualDoTActivity on weeks
of flow logs: an app server that always resolved through the VPC resolver turns to public DNS,
DoH and DoT; a legacy instance that has used them for weeks stays quiet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keibi.detect import DetectSettings
from keibi.findings.validate import validate
from tests.detect._frames import check, samples
from tests.detect.behavior._history import additional, day, flow, of_type, scan_history

RESOLVER = "DefenseEvasion:EC2/UnusualDNSResolver"
DOH = "DefenseEvasion:EC2/UnusualDoHActivity"
DOT = "DefenseEvasion:EC2/UnusualDoTActivity"
TYPES = (RESOLVER, DOH, DOT)
APP, APP_IP = "i-01a1a1a1a1a1a1a11", "10.0.3.10"
LEGACY, LEGACY_IP = "i-02b2b2b2b2b2b2b22", "10.0.3.20"
VPC_RESOLVER = "10.0.0.2"
DAYS = 21
UDP = 17


def conn(when: Any, instance: str, local_ip: str, remote_ip: str, port: int, **kw: Any) -> list[str]:
    """A connection the instance opened: its request record and the reply record."""
    return [
        flow(when, instance, local_ip, remote_ip, port, **kw),
        flow(when, instance, local_ip, remote_ip, port, direction="ingress", **kw),
    ]


def history(days: int = DAYS) -> list[str]:
    """The app server resolves through the VPC resolver and calls an API; the legacy instance
    has always used Cloudflare's resolver, Quad9 over TLS and Google over HTTPS."""
    lines = []
    for d in range(days):
        lines += conn(day(d, 8), APP, APP_IP, VPC_RESOLVER, 53, protocol=UDP, bytes_=120)
        lines += conn(day(d, 8, 1), APP, APP_IP, "151.101.1.69", 443)
        lines += conn(day(d, 9), LEGACY, LEGACY_IP, "1.1.1.1", 53, protocol=UDP, bytes_=120)
        lines += conn(day(d, 9, 1), LEGACY, LEGACY_IP, "9.9.9.9", 853)
        lines += conn(day(d, 9, 2), LEGACY, LEGACY_IP, "8.8.4.4", 443)
    return lines


def found_by_type(findings: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return {t: of_type(findings, t) for t in TYPES}


def test_public_dns_doh_and_dot_new_for_the_instance_raise(tmp_path: Path) -> None:
    flows = (
        history()
        + conn(day(DAYS, 9), APP, APP_IP, "8.8.8.8", 53, protocol=UDP, bytes_=90)
        + conn(day(DAYS, 9, 5), APP, APP_IP, "1.0.0.1", 443)
        + conn(day(DAYS, 9, 10), APP, APP_IP, "149.112.112.112", 853)
    )
    found = found_by_type(scan_history(tmp_path, flows=flows))
    assert {t: len(f) for t, f in found.items()} == {RESOLVER: 1, DOH: 1, DOT: 1}
    for finding in (f[0] for f in found.values()):
        validate(finding)
        assert finding["resource"]["instanceDetails"]["instanceId"] == APP
        assert finding["service"]["resourceRole"] == "ACTOR"
        assert finding["severity"] == 5.0
    resolver = additional(found[RESOLVER][0])
    assert resolver["explanation"] == [
        f"first DNS traffic (UDP/53) to public resolver 8.8.8.8 by this instance in {DAYS} days of history; "
        "public resolvers it used: none (only the VPC resolver)",
        f"no instance in account {found[RESOLVER][0]['accountId']} used resolver 8.8.8.8 in its {DAYS} days of history",
    ]
    assert resolver["unusual"] == {"resolver": "8.8.8.8", "remotePort": 53, "protocol": "UDP"}
    anomaly = found[RESOLVER][0]["service"]["detection"]["anomaly"]
    assert anomaly["profiles"]["instance"]["dnsResolver"] == []
    assert anomaly["unusual"]["behavior"]["account"]["dnsResolver"]["observations"]["text"] == ["8.8.8.8"]
    doh = additional(found[DOH][0])
    assert doh["explanation"][0].startswith(
        "first HTTPS (TCP/443) to DNS-over-HTTPS server 1.0.0.1 by this instance"
    )
    dot = found[DOT][0]
    assert dot["service"]["action"]["networkConnectionAction"]["remotePortDetails"]["port"] == 853
    assert additional(dot)["unusual"]["resolver"] == "149.112.112.112"


def test_the_same_resolvers_inside_the_baseline_stay_quiet(tmp_path: Path) -> None:
    """The legacy instance's daily resolvers; the app server on 1.1.1.1, which its fleet
    already uses; HTTPS to a web server that is no DoH server."""
    flows = (
        history()
        + conn(day(DAYS, 9), LEGACY, LEGACY_IP, "1.1.1.1", 53, protocol=UDP)
        + conn(day(DAYS, 9, 1), LEGACY, LEGACY_IP, "9.9.9.9", 853)
        + conn(day(DAYS, 9, 2), LEGACY, LEGACY_IP, "8.8.4.4", 443)
        + conn(day(DAYS, 10), APP, APP_IP, "1.1.1.1", 53, protocol=UDP)
        + conn(day(DAYS, 10, 1), APP, APP_IP, "93.184.215.14", 443)
    )
    found = found_by_type(scan_history(tmp_path, flows=flows))
    assert found == {RESOLVER: [], DOH: [], DOT: []}


def test_a_recursive_resolver_is_no_unusual_resolver(tmp_path: Path) -> None:
    """Unbound started on the app server walks root, TLD and authoritative servers: fourteen
    public DNS servers in one hour. Only a higher recursion threshold makes them findings."""
    servers = [f"192.{n}.0.4" for n in range(33, 47)]
    recursion: list[str] = []
    for minute, server in enumerate(servers):
        recursion += conn(
            day(DAYS, 9, minute), APP, APP_IP, server, 53, protocol=UDP, local_port=40000 + minute
        )
    flows = history() + recursion
    assert of_type(scan_history(tmp_path / "default", flows=flows), RESOLVER) == []
    strict = DetectSettings(dns_recursion_min_servers=20)
    found = of_type(scan_history(tmp_path / "strict", flows=flows, settings=strict), RESOLVER)
    assert len(found) == len(servers)


def test_doh_over_ipv6_matches_every_spelling(tmp_path: Path) -> None:
    local = "2600:1f18:4a3:6c00:0:0:0:10"
    flows = history() + conn(day(DAYS, 9), APP, local, "2606:4700:4700:0:0:0:0:1111", 443)
    found = of_type(scan_history(tmp_path, flows=flows), DOH)
    assert len(found) == 1
    validate(found[0])


def test_nothing_while_learning(tmp_path: Path) -> None:
    young, young_ip = "i-03c3c3c3c3c3c3c33", "10.0.3.30"
    flows = history() + conn(day(DAYS - 2, 8), young, young_ip, VPC_RESOLVER, 53, protocol=UDP)
    flows += conn(day(DAYS, 9), young, young_ip, "8.8.8.8", 53, protocol=UDP)
    flows += conn(day(DAYS, 9, 1), young, young_ip, "1.0.0.1", 443)
    flows += conn(day(DAYS, 9, 2), young, young_ip, "149.112.112.112", 853)
    assert found_by_type(scan_history(tmp_path, flows=flows)) == {RESOLVER: [], DOH: [], DOT: []}


def test_v2_flow_logs(tmp_path: Path) -> None:
    flows = history() + conn(day(DAYS, 9), APP, APP_IP, "8.8.8.8", 53, protocol=UDP)
    found = of_type(scan_history(tmp_path, flows_v2=flows), RESOLVER)
    assert len(found) == 1
    validate(found[0])
    eni = "eni-" + APP.removeprefix("i-")[:17]
    assert found[0]["resource"]["instanceDetails"]["networkInterfaces"][0]["networkInterfaceId"] == eni


@pytest.mark.parametrize("sample", samples("behavior.dns_bypass"), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    """The detector alone on a sample file (a fortnight of history, then the day judged)."""
    check("behavior.dns_bypass", sample)


def test_small_batches_find_the_same(tmp_path: Path) -> None:
    """Recursion is judged on whole windows, novelty on event time: batch size does not matter."""
    recursion: list[str] = []
    for minute in range(12):
        recursion += conn(day(DAYS, 10, minute), APP, APP_IP, f"192.{33 + minute}.0.4", 53, protocol=UDP)
    flows = (
        history()
        + conn(day(DAYS, 9), APP, APP_IP, "8.8.8.8", 53, protocol=UDP)
        + conn(day(DAYS, 9, 5), APP, APP_IP, "1.0.0.1", 443)
        + conn(day(DAYS, 9, 10), APP, APP_IP, "149.112.112.112", 853)
        + recursion
    )

    def summary(found: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted(
            (
                f["id"],
                f["type"],
                f["service"]["count"],
                str(additional(f)["explanation"]),
                str(f["service"]["detection"]),
            )
            for f in found
            if f["type"] in TYPES
        )

    whole = summary(scan_history(tmp_path / "whole", flows=flows))
    assert [t for _, t, *_ in whole].count(RESOLVER) == 1
    assert summary(scan_history(tmp_path / "small", flows=flows, batch_rows=9)) == whole
