from __future__ import annotations

from keibi.errors import InputError
from keibi.sources import Report
from keibi.sources.report import MAX_STORED_ERRORS


def test_new_report_is_ok_and_counts_every_source() -> None:
    report = Report()
    assert report.ok
    assert report.files == {"cloudtrail": 0, "vpc_flow": 0, "dns": 0}
    assert report.records == report.bytes == report.files


def test_errors_are_counted_all_but_stored_up_to_the_cap() -> None:
    report = Report()
    for line in range(MAX_STORED_ERRORS + 5):
        report.error("flow.log", line + 1, "expected 14 fields, got 9")
    report.error("x.json.gz", None, "truncated gzip", file_skipped=True)
    assert report.error_count == MAX_STORED_ERRORS + 6
    assert len(report.errors) == MAX_STORED_ERRORS
    assert (report.skipped_records, report.skipped_files) == (MAX_STORED_ERRORS + 5, 1)
    assert not report.ok
    assert isinstance(report.errors[0], InputError)
    assert str(report.errors[0]) == "flow.log:1: expected 14 fields, got 9"
