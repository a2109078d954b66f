"""merge(): repeats of the same issue update one finding, as GuardDuty's aggregation does."""

from __future__ import annotations

import copy

from keibi.findings import decode_info, merge, validate
from tests.findings._batches import record


def test_a_later_occurrence_updates_the_finding() -> None:
    old = record(minutes=10, count=3).finding
    new = record(minutes=60, count=2, source_ip="192.0.2.44", severity=5.0).finding
    before = copy.deepcopy((old, new))
    merged = merge(old, new)
    validate(merged)
    assert (old, new) == before  # inputs untouched
    assert merged["id"] == old["id"] == new["id"]
    assert merged["service"]["count"] == 5
    assert merged["service"]["eventFirstSeen"] == "2026-11-20T08:08:00Z"
    assert merged["service"]["eventLastSeen"] == "2026-11-20T09:00:00Z"
    assert merged["createdAt"] == old["createdAt"] == "2026-11-24T12:10:00.000Z"
    assert merged["updatedAt"] == new["updatedAt"] == "2026-11-24T13:00:00.000Z"
    assert merged["severity"] == 5.0
    remote = merged["service"]["action"]["awsApiCallAction"]["remoteIpDetails"]
    assert remote == {"ipAddressV4": "192.0.2.44"}
    assert merged["description"].endswith("192.0.2.44.")
    block = decode_info(merged)["keibi"]
    assert block["evidenceCount"] == 5
    assert [p["eventId"] for p in block["evidence"]] == [
        "ev-0008",
        "ev-0009",
        "ev-0010",
        "ev-0059",
        "ev-0060",
    ]


def test_an_older_occurrence_arriving_late_keeps_the_newer_details() -> None:
    old = record(minutes=60, count=1).finding
    late = record(minutes=5, count=1, source_ip="192.0.2.44", severity=8.0).finding
    merged = merge(old, late)
    assert merged["service"]["action"] == old["service"]["action"]
    assert merged["service"]["eventFirstSeen"] == "2026-11-20T08:05:00Z"
    assert merged["service"]["eventLastSeen"] == "2026-11-20T09:00:00Z"
    assert merged["updatedAt"] == late["updatedAt"]
    assert merged["severity"] == 8.0
    assert [p["eventId"] for p in decode_info(merged)["keibi"]["evidence"]] == ["ev-0005", "ev-0060"]


def test_user_state_is_kept_and_pointers_stay_capped() -> None:
    old = record(minutes=30, count=15).finding
    old["service"]["archived"] = True
    old["service"]["userFeedback"] = "USEFUL"
    new = record(minutes=50, count=15).finding
    merged = merge(old, new)
    validate(merged)
    assert merged["service"]["archived"] is True
    assert merged["service"]["userFeedback"] == "USEFUL"
    block = decode_info(merged)["keibi"]
    assert block["evidenceCount"] == 30
    assert len(block["evidence"]) == 20
    assert block["evidence"][0]["eventId"] == "ev-0026"  # old: 16..30, new: 36..50
    assert block["evidence"][-1]["eventId"] == "ev-0050"


def test_findings_without_keibi_pointers_merge_too() -> None:
    old = record(minutes=1).finding
    new = record(minutes=2).finding
    for f in (old, new):
        f["service"]["additionalInfo"] = {"value": '{"sample": true}', "type": "default"}
    merged = merge(old, new)
    assert decode_info(merged) == {"sample": True}
    assert merged["service"]["count"] == 2
