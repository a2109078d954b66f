"""Backdoor:EC2/DenialOfService.* on VPC flow log samples (v2 and v5): floods raise, bulk
transfers, forwarders, streams, tunnels and trusted peers do not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keibi.detect import ROW, DetectContext, DetectSettings, detectors
from keibi.intel import Intel
from tests.detect._frames import check, parsed, run, sample_dir, samples
from tests.helpers import scan_findings

DETECTOR = "network.denial_of_service"
SAMPLES = sample_dir(DETECTOR)


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def test_info_gives_the_measures() -> None:
    found = check(DETECTOR, SAMPLES / "hit_udp_flood_one_socket.log")
    assert json.loads(found["info"][0]) == {
        "protocol": "UDP",
        "packets": 400_000,
        "bytes": 420_800_000,
        "packetsPerSecond": 80_000,  # 400,000 packets between 1700000460 and 1700000464
        "replyPackets": 0,  # the target's ICMP errors are another protocol
    }


def test_unusual_protocol_is_named() -> None:
    found = check(DETECTOR, SAMPLES / "hit_gre_flood.log")
    info = json.loads(found["info"][0])
    assert (info["protocol"], info["unusualProtocol"]) == ("GRE", "GRE")


def test_only_sent_records_are_evidence() -> None:
    # 400 records: 200 of SYNs and RSTs out, 200 of SYN-ACKs back
    found = check(DETECTOR, SAMPLES / "hit_syn_flood_v5.log")
    assert len(found["rows"][0]) == 200
    assert json.loads(found["info"][0])["replyPackets"] == 60_000


@pytest.mark.parametrize(
    ("sample", "settings", "expected"),
    [
        # the 4K RTP push reaches 100,000 packets; its rate (2,300/s) is what keeps it quiet
        ("miss_video_push.log", DetectSettings(dos_min_packets_per_second=2_000), "Udp"),
        # the ESP tunnel gets a fifth of its packets back
        ("miss_ipsec_tunnel.log", DetectSettings(dos_max_reply_ratio=0.25), "UnusualProtocol"),
        ("miss_short_burst.log", DetectSettings(dos_min_packets=50_000), "Udp"),
        ("hit_udp_flood_one_socket.log", DetectSettings(dos_min_packets=400_001), None),
        ("hit_dns_flood.log", DetectSettings(dos_min_packets_per_second=30_000), None),
        ("hit_dns_flood.log", DetectSettings(dos_max_reply_ratio=0.0001), None),
    ],
)
def test_thresholds_are_the_settings(sample: str, settings: DetectSettings, expected: str | None) -> None:
    found = run(DETECTOR, SAMPLES / sample, settings=settings)
    types = [f"Backdoor:EC2/DenialOfService.{expected}"] if expected else []
    assert found["type"].to_list() == types


def test_the_trusted_list_is_what_silences_the_aspera_peer() -> None:
    _, batch = parsed(SAMPLES / "miss_trusted_aspera_peer.log", Intel.with_builtin_feeds())
    det = detectors.load()[DETECTOR]
    assert det.prefilter is not None
    found = det(batch.filter(det.prefilter).with_row_index(ROW), DetectContext())
    assert found["type"].to_list() == ["Backdoor:EC2/DenialOfService.Udp"]


def test_findings_read_as_guardduty_writes_them() -> None:
    findings = scan_findings([SAMPLES / "hit_udp_flood_one_socket.log", SAMPLES / "hit_syn_flood_v5.log"])
    by_type = {f["type"]: f for f in findings}
    assert set(by_type) == {"Backdoor:EC2/DenialOfService.Udp", "Backdoor:EC2/DenialOfService.Tcp"}

    udp = by_type["Backdoor:EC2/DenialOfService.Udp"]
    assert udp["severity"] == 8.0
    assert udp["title"] == (
        "EC2 instance eni-0d1d2d3d4e5f60001 is behaving in a manner that may indicate it is being used "
        "to perform a Denial of Service (DoS) attack using the UDP protocol."
    )
    assert udp["service"]["resourceRole"] == "ACTOR"
    info = json.loads(udp["service"]["additionalInfo"]["value"])
    assert (info["packets"], info["packetsPerSecond"], info["replyPackets"]) == (400_000, 80_000, 0)
    conn = udp["service"]["action"]["networkConnectionAction"]
    assert conn["connectionDirection"] == "OUTBOUND"
    assert conn["protocol"] == "UDP"
    assert conn["blocked"] is False
    assert conn["remotePortDetails"] == {"port": 27015, "portName": "Unknown"}
    assert conn["remoteIpDetails"]["ipAddressV4"] == "198.51.100.60"

    tcp = by_type["Backdoor:EC2/DenialOfService.Tcp"]
    assert tcp["resource"]["instanceDetails"]["instanceId"] == "i-0d05f100d0000004"
    assert tcp["service"]["count"] == 200
    conn = tcp["service"]["action"]["networkConnectionAction"]
    assert conn["remotePortDetails"] == {"port": 443, "portName": "HTTPS"}
    assert conn["localIpDetails"] == {"ipAddressV4": "10.0.8.40"}
