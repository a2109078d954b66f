"""Behavior:EC2/NetworkPortUnusual on weeks of flow logs: a fleet of two instances with their
daily connections, then a connection to a remote port outside the baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keibi.findings.validate import validate
from keibi.store import Store
from tests.detect._frames import check, samples
from tests.detect.behavior._history import additional, day, flow, of_type, scan_history

TYPE = "Behavior:EC2/NetworkPortUnusual"
APP, APP_IP = "i-0a0a0a0a0a0a0a0a1", "10.0.1.10"
LDAP_CLIENT, LDAP_CLIENT_IP = "i-0b0b0b0b0b0b0b0b2", "10.0.1.20"
IRC = "45.33.32.156"
DAYS = 21


def conn(when: Any, instance: str, local_ip: str, remote_ip: str, port: int, **kw: Any) -> list[str]:
    """A connection the instance opened: its request record and the reply record."""
    return [
        flow(when, instance, local_ip, remote_ip, port, **kw),
        flow(when, instance, local_ip, remote_ip, port, direction="ingress", **kw),
    ]


def history(days: int = DAYS, first_day: int = 0) -> list[str]:
    """The app server's HTTPS, PostgreSQL and NTP every day; the other instance reads a
    public LDAP directory (389) and an API on 8443."""
    lines = []
    for d in range(first_day, days):
        lines += conn(day(d, 8), APP, APP_IP, "52.94.236.248", 443)
        lines += conn(day(d, 9), APP, APP_IP, "203.0.113.50", 5432)
        lines += conn(day(d, 10), APP, APP_IP, "129.6.15.28", 123, protocol=17)
        lines += conn(day(d, 11), LDAP_CLIENT, LDAP_CLIENT_IP, "198.51.100.7", 389)
        lines += conn(day(d, 12), LDAP_CLIENT, LDAP_CLIENT_IP, "198.51.100.8", 8443)
    return lines


def test_port_new_for_the_instance_and_the_fleet_raises(tmp_path: Path) -> None:
    flows = history() + conn(day(DAYS, 9, 30), APP, APP_IP, IRC, 6667)
    found = of_type(scan_history(tmp_path, flows=flows), TYPE)
    assert len(found) == 1
    finding = found[0]
    validate(finding)
    assert finding["severity"] == 5.0
    assert finding["resource"]["instanceDetails"]["instanceId"] == APP
    assert finding["service"]["resourceRole"] == "ACTOR"
    assert finding["service"]["count"] == 2  # the request and its reply
    action = finding["service"]["action"]["networkConnectionAction"]
    assert action["remotePortDetails"]["port"] == 6667
    assert action["connectionDirection"] == "OUTBOUND"
    info = additional(finding)
    own, fleet = info["explanation"]
    assert own.startswith(
        f"first connection to remote port 6667 (TCP) by this instance in {DAYS} days of history"
    )
    assert set(own.split("ports it uses: ")[1].split(", ")) == {"443", "5432", "123"}
    assert (
        fleet
        == f"no instance in account {finding['accountId']} connected to remote port 6667 in its {DAYS} days of history"
    )
    assert info["unusual"] == {"remotePort": 6667, "protocol": "TCP"}
    assert "context" not in info
    anomaly = finding["service"]["detection"]["anomaly"]
    assert anomaly["unusual"]["behavior"]["instance"]["remotePort"]["profileSubtype"] == "UNSEEN"
    assert anomaly["unusual"]["behavior"]["instance"]["remotePort"]["observations"]["text"] == ["6667"]
    usual = anomaly["profiles"]["instance"]["remotePort"]
    assert [u["profileSubtype"] for u in usual] == ["FREQUENT"]
    assert sorted(usual[0]["observations"]["text"]) == ["123", "443", "5432"]


def test_ports_inside_the_baseline_stay_quiet(tmp_path: Path) -> None:
    """A new host on a port the instance uses, a port another instance of the fleet uses, a
    blocked attempt, a passive-FTP style ephemeral port and a ping (no port): no finding."""
    flows = (
        history()
        + conn(day(DAYS, 8), APP, APP_IP, "151.101.1.69", 443)
        + conn(day(DAYS, 9), APP, APP_IP, "198.51.100.9", 8443)
        + conn(day(DAYS, 10), APP, APP_IP, IRC, 6667, action="REJECT")
        + conn(day(DAYS, 11), APP, APP_IP, "192.0.2.40", 50123, local_port=21000)
        + conn(day(DAYS, 12), APP, APP_IP, IRC, 0, local_port=0, protocol=1)
    )
    assert of_type(scan_history(tmp_path, flows=flows), TYPE) == []


def test_ldap_ports_are_a_possible_log4j_callback(tmp_path: Path) -> None:
    """389 is known to the fleet (the other instance reads a directory), yet new for the app
    server: High, as is 1389, new for both."""
    flows = (
        history()
        + conn(day(DAYS, 14), APP, APP_IP, "198.51.100.99", 389)
        + conn(day(DAYS, 15), APP, APP_IP, "198.51.100.99", 1389)
    )
    found = of_type(scan_history(tmp_path, flows=flows), TYPE)
    by_port = {
        f["service"]["action"]["networkConnectionAction"]["remotePortDetails"]["port"]: f for f in found
    }
    assert sorted(by_port) == [389, 1389]
    for port, finding in by_port.items():
        validate(finding)
        assert finding["severity"] == 8.0
        info = additional(finding)
        assert info["context"] == "Possible log4j callback"
        assert info["explanation"][-1].startswith(f"remote port {port} is LDAP")
    # 389 is the fleet's already: no fleet sentence, and the account's profile says how often.
    assert len(additional(by_port[389])["explanation"]) == 2
    account = by_port[389]["service"]["detection"]["anomaly"]["unusual"]["behavior"]["account"]
    assert account["remotePort"]["profileSubtype"] == "FREQUENT"
    assert len(additional(by_port[1389])["explanation"]) == 3


def test_nothing_while_learning(tmp_path: Path) -> None:
    """An instance first seen three days ago, and an account seen for ten days: no finding."""
    young = history() + conn(day(DAYS - 3, 9), "i-0c0c0c0c0c0c0c0c3", "10.0.1.30", "52.94.236.248", 443)
    young += conn(day(DAYS, 3), "i-0c0c0c0c0c0c0c0c3", "10.0.1.30", IRC, 6667)
    assert of_type(scan_history(tmp_path / "instance", flows=young), TYPE) == []
    new_account = history(days=10) + conn(day(10, 3), APP, APP_IP, IRC, 6667)
    assert of_type(scan_history(tmp_path / "account", flows=new_account), TYPE) == []


def test_v2_flow_logs_name_the_interface(tmp_path: Path) -> None:
    flows = history() + conn(day(DAYS, 9, 30), APP, APP_IP, IRC, 6667)
    found = of_type(scan_history(tmp_path, flows_v2=flows), TYPE)
    assert len(found) == 1
    validate(found[0])
    eni = "eni-" + APP.removeprefix("i-")[:17]
    assert found[0]["service"]["action"]["networkConnectionAction"]["localNetworkInterface"] == eni
    details = found[0]["resource"]["instanceDetails"]
    assert "instanceId" not in details
    assert details["networkInterfaces"][0]["networkInterfaceId"] == eni


def test_history_in_an_earlier_scan_is_remembered(tmp_path: Path) -> None:
    """Weeks scanned first, the anomaly a scan later: the stored profile is the baseline."""
    store = Store.for_data_dir(tmp_path / "data")
    try:
        assert of_type(scan_history(tmp_path / "weeks", flows=history(), store=store), TYPE) == []
        later = conn(day(DAYS, 8), APP, APP_IP, "52.94.236.248", 443) + conn(
            day(DAYS, 9), APP, APP_IP, IRC, 6667
        )
        found = of_type(scan_history(tmp_path / "today", flows=later, store=store), TYPE)
    finally:
        store.close()
    assert [
        f["service"]["action"]["networkConnectionAction"]["remotePortDetails"]["port"] for f in found
    ] == [6667]


@pytest.mark.parametrize("sample", samples("behavior.network_port"), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    """The detector alone on a sample file (a fortnight of history, then the day judged)."""
    check("behavior.network_port", sample)
