"""UnauthorizedAccess:EC2/MetadataDNSRebind on Route 53 Resolver query log samples."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from keibi.detect import ROW, DetectContext, detectors
from keibi.detect.dns.metadata_dns_rebind import metadata_answers
from keibi.intel import Intel
from keibi.sources import DNS
from tests.detect._frames import check, parsed, sample_dir, samples
from tests.helpers import scan_findings

DETECTOR = "dns.metadata_dns_rebind"
SAMPLES = sample_dir(DETECTOR)


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def test_info_names_the_metadata_address_resolved() -> None:
    found = check(DETECTOR, SAMPLES / "hit_nip_io_ipv6_and_single_answer.jsonl")
    info = {k: json.loads(v)["resolvedAddress"] for k, v in zip(found["key"], found["info"], strict=True)}
    assert info == {
        "i-0b7c0000000000002|169.254.169.254.nip.io": "169.254.169.254",
        "i-0b7c0000000000002|imds6.rebind.attacker-lab.net": "fd00:ec2::254",
        "i-0b7c0000000000003|meta.attacker-lab.net": "169.254.169.254",
    }


def test_only_the_trusted_list_keeps_the_intentional_mapping_quiet() -> None:
    det = detectors.load()[DETECTOR]
    _, batch = parsed(SAMPLES / "miss_trusted_mapping.jsonl", Intel.with_builtin_feeds())
    assert det.prefilter is not None
    found = det(batch.filter(det.prefilter).with_row_index(ROW), DetectContext())
    assert found["key"].to_list() == ["i-0b7c0000000000005|imds.platform.corp-example.com"]


def test_answers_are_read_record_by_record() -> None:
    def rr(rdata: str | None, rtype: str) -> dict[str, str | None]:
        return {"Rdata": rdata, "Type": rtype, "Class": "IN"}

    answers = [
        [rr("r.example.net.", "CNAME"), rr("169.254.169.254", "A")],
        [rr("FD00:EC2::254", "AAAA")],
        [rr("169.254.169.254.nip.io.", "CNAME"), rr("93.184.215.14", "A")],
        [rr('"v=spf1 ip4:169.254.169.254 -all"', "TXT")],
        [rr(None, "A")],
        [],
        None,
    ]
    frame = pl.DataFrame({"answers": answers}, schema={"answers": DNS["answers"]}).with_row_index(ROW)
    found = metadata_answers(frame).sort(ROW)
    assert found.rows() == [(0, "169.254.169.254"), (1, "fd00:ec2::254")]


def test_finding_is_a_dns_request_by_the_instance() -> None:
    [finding] = scan_findings([SAMPLES / "hit_rbndr_rebinding.jsonl"])
    assert finding["type"] == "UnauthorizedAccess:EC2/MetadataDNSRebind"
    assert finding["severity"] == 8.0
    assert finding["resource"]["instanceDetails"]["instanceId"] == "i-0b7c0000000000001"
    service = finding["service"]
    assert (service["resourceRole"], service["count"]) == ("ACTOR", 6)
    action = service["action"]["dnsRequestAction"]
    assert action["domain"] == "36b3c1a1.a9fea9fe.rbndr.us"
    assert action["domainWithSuffix"] == "rbndr.us"
    assert action["protocol"] == "UDP"
    assert "169.254.169.254" in finding["description"]
