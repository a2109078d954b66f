"""Backdoor:EC2/Spambot on weeks of flow logs: a web server that never sent mail starts
mailing many hosts; a mail relay doing the same every day stays quiet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keibi.detect import DetectSettings
from keibi.findings.validate import validate
from tests.detect._frames import check, samples
from tests.detect.behavior._history import additional, day, flow, of_type, scan_history

TYPE = "Backdoor:EC2/Spambot"
WEB, WEB_IP = "i-0d0d0d0d0d0d0d0d1", "10.0.2.10"
RELAY, RELAY_IP = "i-0e0e0e0e0e0e0e0e2", "10.0.2.20"
DAYS = 21


def conn(when: Any, instance: str, local_ip: str, remote_ip: str, port: int, **kw: Any) -> list[str]:
    """A connection the instance opened: its request record and the reply record."""
    return [
        flow(when, instance, local_ip, remote_ip, port, **kw),
        flow(when, instance, local_ip, remote_ip, port, direction="ingress", **kw),
    ]


def mail(when: Any, instance: str, local_ip: str, hosts: range, network: str = "198.51.100") -> list[str]:
    """SMTP sessions to ``hosts`` (the last octets of mail servers in ``network``)."""
    lines = []
    for n, host in enumerate(hosts):
        lines += conn(
            when.replace(minute=n % 60), instance, local_ip, f"{network}.{host}", 25, local_port=40000 + n
        )
    return lines


def history(days: int = DAYS) -> list[str]:
    """The web server fetches updates and serves clients; the relay delivers mail to eight
    mail servers (different ones each day) every morning."""
    lines = []
    for d in range(days):
        lines += conn(day(d, 8), WEB, WEB_IP, "151.101.1.69", 443)
        lines.append(flow(day(d, 14), WEB, WEB_IP, "81.2.69.160", 51000, local_port=443))
        lines += mail(day(d, 7), RELAY, RELAY_IP, range(d * 8 % 200, d * 8 % 200 + 8), network="203.0.113")
    return lines


def test_web_server_mailing_many_hosts_is_a_spambot(tmp_path: Path) -> None:
    flows = history() + mail(day(DAYS, 9), WEB, WEB_IP, range(10, 22))
    found = of_type(scan_history(tmp_path, flows=flows), TYPE)
    assert len(found) == 1
    finding = found[0]
    validate(finding)
    assert finding["resource"]["instanceDetails"]["instanceId"] == WEB
    assert finding["service"]["resourceRole"] == "ACTOR"
    assert finding["service"]["count"] == 24  # twelve sessions, request and reply each
    assert finding["service"]["action"]["networkConnectionAction"]["remotePortDetails"]["port"] == 25
    info = additional(finding)
    assert info["explanation"] == [
        f"connected to port 25 (SMTP) of 12 distinct public hosts in one hour; "
        f"no port-25 traffic in its {DAYS} days of history"
    ]
    assert info["unusual"] == {"remotePort": 25, "remoteHosts": 12}
    unusual = finding["service"]["detection"]["anomaly"]["unusual"]["behavior"]["instance"]["remotePort"]
    assert unusual["profileSubtype"] == "UNSEEN"
    assert unusual["observations"]["text"] == ["25"]


def test_mail_relay_and_a_few_mails_stay_quiet(tmp_path: Path) -> None:
    """The relay mails twelve new servers (its port-25 history is weeks old); the web server
    sends one cron report to three servers: below the threshold."""
    flows = (
        history()
        + mail(day(DAYS, 3), RELAY, RELAY_IP, range(220, 232), network="203.0.113")
        + mail(day(DAYS, 4), WEB, WEB_IP, range(10, 13))
    )
    assert of_type(scan_history(tmp_path, flows=flows), TYPE) == []


def test_a_few_test_mails_do_not_teach_the_baseline(tmp_path: Path) -> None:
    """Two test mails one night, the blast the next: still a spambot."""
    flows = (
        history()
        + mail(day(DAYS - 1, 2), WEB, WEB_IP, range(1, 3))
        + mail(day(DAYS, 9), WEB, WEB_IP, range(10, 30))
    )
    found = of_type(scan_history(tmp_path, flows=flows), TYPE)
    assert len(found) == 1
    validate(found[0])
    assert found[0]["service"]["count"] == 40  # the blast only; the test mails were below the threshold
    (sentence,) = additional(found[0])["explanation"]
    assert sentence.endswith("its first port-25 traffic was only 31 hours before, within the learning period")
    profile = found[0]["service"]["detection"]["anomaly"]["profiles"]["instance"]["remotePort"]
    assert profile[0]["profileSubtype"] == "INFREQUENT"  # two days of port 25 in a month


def test_threshold_is_a_setting(tmp_path: Path) -> None:
    flows = history() + mail(day(DAYS, 4), WEB, WEB_IP, range(10, 13))
    found = scan_history(tmp_path, flows=flows, settings=DetectSettings(spambot_min_hosts=3))
    assert len(of_type(found, TYPE)) == 1


def test_nothing_while_learning(tmp_path: Path) -> None:
    young = "i-0f0f0f0f0f0f0f0f3"
    flows = history() + conn(day(DAYS - 2, 8), young, "10.0.2.30", "151.101.1.69", 443)
    flows += mail(day(DAYS, 3), young, "10.0.2.30", range(10, 22))
    assert of_type(scan_history(tmp_path, flows=flows), TYPE) == []


def test_v2_flow_logs(tmp_path: Path) -> None:
    flows = history() + mail(day(DAYS, 3), WEB, WEB_IP, range(10, 22))
    found = of_type(scan_history(tmp_path, flows_v2=flows), TYPE)
    assert len(found) == 1
    validate(found[0])
    eni = "eni-" + WEB.removeprefix("i-")[:17]
    assert found[0]["resource"]["instanceDetails"]["networkInterfaces"][0]["networkInterfaceId"] == eni


@pytest.mark.parametrize("sample", samples("behavior.spambot"), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    """The detector alone on a sample file (a fortnight of history, then the day judged)."""
    check("behavior.spambot", sample)


def test_small_batches_find_the_same(tmp_path: Path) -> None:
    """A window's hosts are counted whole, wherever batches break."""
    flows = (
        history()
        + mail(day(DAYS - 1, 2), WEB, WEB_IP, range(1, 3))
        + mail(day(DAYS, 9), WEB, WEB_IP, range(10, 30))
    )

    def summary(found: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted(
            (f["id"], f["service"]["count"], f["service"]["eventFirstSeen"]) for f in of_type(found, TYPE)
        )

    whole = summary(scan_history(tmp_path / "whole", flows=flows))
    assert len(whole) == 1
    assert summary(scan_history(tmp_path / "small", flows=flows, batch_rows=7)) == whole
