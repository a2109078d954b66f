"""UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B (impossible travel) on real CloudTrail files."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from keibi.detect import DetectSettings
from keibi.detect.behavior.console_login import CONSOLE_LOGIN_SUCCESS_B, centroids, haversine_km
from keibi.findings import validate
from keibi.store import Store
from tests.detect._frames import check, samples
from tests.detect.behavior._history import ATTACKER_IP, additional, console_login, day, scan_history
from tests.intel._geo_dbs import ATTACKER, ATTACKER_V6, city_db

TYPE = CONSOLE_LOGIN_SUCCESS_B.type
COUNTRIES = Path(__file__).resolve().parents[3] / "keibi" / "intel" / "data" / "countries.csv"
PARIS_IP = "90.84.0.10"  # FR


def _routine(days: int = 21) -> list[dict[str, Any]]:
    return [console_login(day(d, 8), "carol") for d in range(days)]


def _raised(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = [f for f in findings if f["type"] == TYPE]
    for f in found:
        validate(f)
    return found


@pytest.mark.parametrize("sample", samples("behavior.console_login"), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    """A user's daily sign-ins from London, then one from the US 90 minutes later (raised), from
    Paris two hours later (possible) or a failed one from the US (not a sign-in)."""
    check("behavior.console_login", sample)


def test_sign_ins_from_london_and_the_us_ninety_minutes_apart(tmp_path: Path) -> None:
    events = [
        *_routine(),
        console_login(day(21, 8), "carol"),
        console_login(day(21, 9, 30), "carol", ip=ATTACKER_IP),
    ]
    found = _raised(scan_history(tmp_path, cloudtrail=events))
    assert len(found) == 1
    finding = found[0]
    assert finding["severity"] == 5.0
    assert finding["resource"]["accessKeyDetails"]["userName"] == "carol"
    assert finding["service"]["action"]["awsApiCallAction"]["api"] == "ConsoleLogin"
    assert finding["service"]["count"] == 1
    info = additional(finding)
    travel = info["impossibleTravel"]
    assert travel["from"] == {
        "ipAddress": "81.2.69.160",
        "place": "GB (country centroid)",
        "time": "2026-10-22T08:00:00Z",
    }
    assert travel["to"] == {
        "ipAddress": ATTACKER_IP,
        "place": "US (country centroid)",
        "time": "2026-10-22T09:30:00Z",
    }
    assert 6800 < travel["distanceKm"] < 6900  # the GB and US centroids
    assert travel["minutes"] == 90.0
    assert travel["speedKmh"] == pytest.approx(travel["distanceKm"] / 1.5, abs=1)
    assert info["explanation"] == [
        f"console sign-in from {ATTACKER_IP} in US (country centroid) at 2026-10-22T09:30:00Z, 90 minutes after one "
        f"from 81.2.69.160 in GB (country centroid) at 2026-10-22T08:00:00Z: {round(travel['distanceKm'])} km apart, "
        f"{round(travel['speedKmh'])} km/h (more than 1000 km/h)"
    ]
    assert "GB (country centroid) to US (country centroid) in 90 minutes" in finding["description"]


@pytest.mark.parametrize(
    "later",
    [
        console_login(day(21, 18), "carol", ip=ATTACKER_IP),  # ten hours later: outside the window
        console_login(day(21, 10), "carol", ip=PARIS_IP),  # London → Paris in two hours: possible
        console_login(day(21, 8, 30), "carol", ip=ATTACKER_IP, success=False),  # a failed sign-in
        console_login(day(21, 8, 30), "mallory", ip=ATTACKER_IP),  # another user
        console_login(day(21, 8, 30), "carol"),  # the same place again
    ],
    ids=["too-late", "possible-travel", "failed", "other-user", "same-place"],
)
def test_travel_that_is_possible_or_not_a_pair_is_quiet(tmp_path: Path, later: dict[str, Any]) -> None:
    events = [*_routine(), console_login(day(21, 8), "carol"), later]
    assert _raised(scan_history(tmp_path, cloudtrail=events)) == []


def test_city_coordinates_when_a_city_database_is_configured(tmp_path: Path) -> None:
    city = city_db(tmp_path)
    events = [
        console_login(day(0, 8), "carol", ip=ATTACKER_V6),
        console_login(day(0, 8, 20), "carol", ip=ATTACKER),
    ]
    found = _raised(scan_history(tmp_path / "logs", cloudtrail=events, geoip_city=city))
    assert len(found) == 1
    travel = additional(found[0])["impossibleTravel"]
    assert travel["from"]["place"] == "GB (51.51, -0.13)"  # London
    assert travel["to"]["place"] == "RO (44.43, 26.11)"  # Bucharest
    assert 2080 < travel["distanceKm"] < 2110


def test_a_pair_across_scans_is_compared(tmp_path: Path) -> None:
    store = Store.for_data_dir(tmp_path / "data")
    try:
        first = scan_history(tmp_path / "a", cloudtrail=[console_login(day(0, 8), "carol")], store=store)
        assert _raised(first) == []
        later = [console_login(day(0, 8, 40), "carol", ip=ATTACKER_IP)]
        found = _raised(scan_history(tmp_path / "b", cloudtrail=later, store=store))
    finally:
        store.close()
    assert len(found) == 1
    assert additional(found[0])["impossibleTravel"]["from"]["time"] == "2026-10-01T08:00:00Z"


def test_thresholds_are_settings(tmp_path: Path) -> None:
    events = [console_login(day(0, 8), "carol"), console_login(day(0, 9, 30), "carol", ip=ATTACKER_IP)]
    short = DetectSettings(console_login_window=timedelta(hours=1))
    assert _raised(scan_history(tmp_path / "a", cloudtrail=events, settings=short)) == []
    far = DetectSettings(console_login_min_km=8000.0)
    assert _raised(scan_history(tmp_path / "b", cloudtrail=events, settings=far)) == []


def test_haversine() -> None:
    frame = pl.DataFrame(
        {"lat1": [51.5074, 0.0], "lon1": [-0.1278, 0.0], "lat2": [40.7128, 0.0], "lon2": [-74.006, 180.0]}
    )
    km = frame.select(
        haversine_km(pl.col("lat1"), pl.col("lon1"), pl.col("lat2"), pl.col("lon2"))
    ).to_series()
    assert km[0] == pytest.approx(5570, abs=10)  # London – New York
    assert km[1] == pytest.approx(20015, abs=5)  # half the equator


def test_every_country_has_a_centroid() -> None:
    table = centroids()
    assert table["remote_country"].n_unique() == table.height >= 249
    assert table["_c_lat"].is_between(-90, 90).all() and table["_c_lon"].is_between(-180, 180).all()
    with COUNTRIES.open(encoding="utf-8") as f:
        codes = {row["code"] for row in csv.DictReader(line for line in f if not line.startswith("#"))}
    assert codes - set(table["remote_country"]) == set()
