"""Behavior:EC2/TrafficVolumeUnusual on weeks of flow logs: a web server whose traffic to its
clients rises through the day, a nightly backup, an app server's daily export; then far more
bytes to one host than any of them ever sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keibi.detect import DetectSettings
from keibi.findings.validate import validate
from tests.detect._frames import check, samples
from tests.detect.behavior._history import additional, day, flow, of_type, scan_history

TYPE = "Behavior:EC2/TrafficVolumeUnusual"
WEB, WEB_IP = "i-0a1a2a3a4a5a6a7a8", "10.0.4.10"
BACKUP, BACKUP_IP = "i-0b1b2b3b4b5b6b7b8", "10.0.4.20"
APP, APP_IP = "i-0c1c2c3c4c5c6c7c8", "10.0.4.30"
AGENT, AGENT_IP = "i-0e1e2e3e4e5e6e7e8", "10.0.4.50"
METRICS = "151.101.1.70"
EXPORT_HOST = "203.0.113.5"
BACKUP_HOST = "203.0.113.77"
ATTACKER = "45.33.32.156"
DAYS = 21
MB = 1_000_000
GB = 1_000 * MB


def served(when: Any, client: str, bytes_: int) -> str:
    """The web server's answers to a client that connected to its port 443."""
    return flow(when, WEB, WEB_IP, client, 51000, local_port=443, bytes_=bytes_, packets=bytes_ // 1400)


def sent(when: Any, instance: str, local_ip: str, remote_ip: str, bytes_: int) -> str:
    """An upload the instance opened to ``remote_ip``'s port 443."""
    return flow(when, instance, local_ip, remote_ip, 443, bytes_=bytes_, packets=bytes_ // 1400)


def web_day(d: int) -> list[str]:
    """Three CDN edge addresses (new ones every day) pull from the web server each hour from
    08:00 to 20:00, 20 MB per edge at 08:00 rising to 300 MB at 18:00."""
    lines = []
    for hour in range(8, 21):
        volume = (20 + 28 * min(hour - 8, 10)) * MB
        lines += [
            served(day(d, hour, 5 * k), f"198.51.100.{(d * 3 + k) % 250 + 1}", volume) for k in range(3)
        ]
    return lines


def history(days: int = DAYS) -> list[str]:
    lines = []
    for d in range(days):
        lines += web_day(d)
        lines.append(sent(day(d, 2), BACKUP, BACKUP_IP, BACKUP_HOST, int(2 * GB * (1 + 0.02 * d))))
        lines.append(sent(day(d, 6), BACKUP, BACKUP_IP, "151.101.1.69", 3 * MB))
        lines.append(sent(day(d, 9), APP, APP_IP, EXPORT_HOST, 50 * MB))
        lines.append(sent(day(d, 10), AGENT, AGENT_IP, METRICS, 3 * MB))
    return lines


def test_far_more_than_ever_to_one_host_raises(tmp_path: Path) -> None:
    """The web server sends 5 GB to an address it never served; the app server sends its
    export host 3.1 GB instead of 50 MB."""
    exfil = [served(day(DAYS, 11, 10 * k), ATTACKER, GB) for k in range(5)]
    export = [sent(day(DAYS, 9), APP, APP_IP, EXPORT_HOST, 3_100 * MB)]
    found = of_type(scan_history(tmp_path, flows=history() + web_day(DAYS) + exfil + export), TYPE)
    by_instance = {f["resource"]["instanceDetails"]["instanceId"]: f for f in found}
    assert sorted(by_instance) == sorted([WEB, APP])
    for finding in found:
        validate(finding)
        assert finding["service"]["resourceRole"] == "ACTOR"
        assert finding["severity"] == 5.0
    web = by_instance[WEB]
    assert web["service"]["count"] == 5
    assert web["service"]["action"]["networkConnectionAction"]["remoteIpDetails"]["ipAddressV4"] == ATTACKER
    info = additional(web)
    assert info["explanation"] == [
        f"5 GB sent to {ATTACKER} in one hour vs. a peak of 300 MB per host-hour over {DAYS} days of history; "
        "it never sent to this host before"
    ]
    assert info["unusual"] == {"remoteIp": ATTACKER, "bytesOut": 5 * GB}
    assert info["baseline"] == {"hostPeakBytes": None, "anyHostPeakBytes": 300 * MB}
    unusual = web["service"]["detection"]["anomaly"]["unusual"]["behavior"]["instance"]["bytesOut"]
    assert unusual["observations"]["text"] == [f"5 GB sent to {ATTACKER} in one hour"]
    app = additional(by_instance[APP])
    assert app["explanation"] == [
        f"3.1 GB sent to {EXPORT_HOST} in one hour vs. a peak of 50 MB to this host and 50 MB to any single "
        f"host per hour over {DAYS} days of history"
    ]
    profile = by_instance[APP]["service"]["detection"]["anomaly"]["profiles"]["instance"]["bytesOut"]
    assert profile[0]["profileSubtype"] == "FREQUENT"


def test_diurnal_web_traffic_and_nightly_backups_stay_quiet(tmp_path: Path) -> None:
    """Another day of the same: the web server's evening peak to new edge addresses, the
    nightly backup (to its usual host and, once, to a new one), the app's export."""
    today = [
        *web_day(DAYS),
        sent(day(DAYS, 2), BACKUP, BACKUP_IP, BACKUP_HOST, int(2.5 * GB)),
        sent(day(DAYS, 3), BACKUP, BACKUP_IP, "203.0.113.78", int(2.5 * GB)),
        sent(day(DAYS, 9), APP, APP_IP, EXPORT_HOST, 60 * MB),
    ]
    assert of_type(scan_history(tmp_path, flows=history() + today), TYPE) == []


def test_small_volumes_stay_under_the_floor(tmp_path: Path) -> None:
    """Twenty times the metrics agent's usual 3 MB is still only 60 MB; a lower floor makes it
    a finding."""
    flows = [*history(), sent(day(DAYS, 10), AGENT, AGENT_IP, METRICS, 60 * MB)]
    assert of_type(scan_history(tmp_path / "default", flows=flows), TYPE) == []
    low = DetectSettings(traffic_volume_min_bytes=50 * MB)
    found = of_type(scan_history(tmp_path / "low", flows=flows, settings=low), TYPE)
    assert [f["resource"]["instanceDetails"]["instanceId"] for f in found] == [AGENT]


def test_nothing_while_learning(tmp_path: Path) -> None:
    young, young_ip = "i-0d1d2d3d4d5d6d7d8", "10.0.4.40"
    flows = [
        *history(),
        sent(day(DAYS - 3, 9), young, young_ip, "151.101.1.69", MB),
        sent(day(DAYS, 9), young, young_ip, ATTACKER, 5 * GB),
    ]
    assert of_type(scan_history(tmp_path, flows=flows), TYPE) == []


def test_v2_flow_logs(tmp_path: Path) -> None:
    flows = [*history(), sent(day(DAYS, 9), APP, APP_IP, EXPORT_HOST, 3100 * MB)]
    found = of_type(scan_history(tmp_path, flows_v2=flows), TYPE)
    assert len(found) == 1
    validate(found[0])
    eni = "eni-" + APP.removeprefix("i-")[:17]
    assert found[0]["resource"]["instanceDetails"]["networkInterfaces"][0]["networkInterfaceId"] == eni


@pytest.mark.parametrize("sample", samples("behavior.traffic_volume"), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    """The detector alone on a sample file (a fortnight of history, then the day judged)."""
    check("behavior.traffic_volume", sample)


def test_small_batches_find_the_same(tmp_path: Path) -> None:
    """Per-window sums and peaks do not depend on where batches break."""
    flows = [*history(), *[served(day(DAYS, 11, 10 * k), ATTACKER, GB) for k in range(5)]]
    flows.append(sent(day(DAYS, 9), APP, APP_IP, EXPORT_HOST, 3_100 * MB))

    def summary(found: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted(
            (
                f["id"],
                f["service"]["count"],
                f["service"]["eventFirstSeen"],
                str(additional(f)["explanation"]),
                str(f["service"]["detection"]),
            )
            for f in of_type(found, TYPE)
        )

    whole = summary(scan_history(tmp_path / "whole", flows=flows))
    assert len(whole) == 2
    assert summary(scan_history(tmp_path / "small", flows=flows, batch_rows=97)) == whole
