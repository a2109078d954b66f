"""UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B: one user signs in to the console from places too far apart.

GuardDuty's trigger: several successful ``ConsoleLogin`` events for the same user around the
same time from geographically distant locations; its thresholds are unpublished. keibi's rule
is impossible travel: two consecutive successful sign-ins of one user (``responseElements``
``{"ConsoleLogin": "Success"}``; the user is the identity's ARN: an IAM user, the root user,
or an assumed-role session, whose name is the person for Identity Center and SAML sign-ins) at
most ``console_login_window`` (4 h) apart, whose places are more than ``console_login_min_km``
(500 km) apart, with the speed between them above ``console_login_max_kmh`` (1000 km/h, faster
than an airliner). The window bounds what "around the same time" means and what is kept between
batches; within it the speed decides, so London then New York 3 hours later (5,570 km,
~1,900 km/h) is raised and London then Paris 3 hours later is not.

Where a sign-in is: the City database's coordinates of ``sourceIPAddress`` when one is
configured (``remote_lat``/``remote_lon``), else the centroid of its country
(``keibi/detect/behavior/data/country_centroids.csv``; the country is always known for a public
address). Centroids are coarse, which is what the distance floor is for: neighbouring countries'
centroids are often 300-800 km apart, so with centroids only sign-ins from countries at least
the floor apart count, and two sign-ins in one country never do. Sign-ins without a public
address (none: the console signs in from the user's browser) are skipped.

Windowed (``behavior_window``): the engine hands over the sign-ins of closed event-time windows,
in event-time order, and the sign-ins of the last ``console_login_window`` are kept in
``ctx.state`` so a pair across a window or scan boundary is still compared. Each sign-in is
compared with the one before it (of the same user); a sign-in later than
``pipeline.LATENESS`` is compared with the one before it among those kept, not re-inserted
between two that were already compared.

One finding per user; its evidence is the later sign-in of each pair. ``additionalInfo`` has an
``explanation`` (both places, times, the distance and the speed) and ``impossibleTravel`` with
the same as data.
"""

from __future__ import annotations

import csv
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Final

import polars as pl

from keibi.detect import ROW, DetectContext, FindingType, Severity, detectors, hits, no_hits
from keibi.detect.behavior._callers import CLOUDTRAIL_COLUMNS

DETECTOR_ID: Final = "behavior.console_login"
EARTH_RADIUS_KM: Final = 6371.0088  # mean radius (IUGG)
MIN_SECONDS: Final = 1.0  # two sign-ins in the same second: speed over one second
CENTROIDS: Final = "data/country_centroids.csv"

CONSOLE_LOGIN_SUCCESS_B = FindingType(
    type="UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B",
    severity=Severity.MEDIUM,
    data_sources=("cloudtrail_management",),
    resource_type="AccessKey",
    detection="behavior",
    action_type="AWS_API_CALL",
    title="Multiple worldwide successful console logins were observed.",
    description=(
        "Multiple successful console logins for the same user {user_name} were observed around the same "
        "time in geographically distant locations: {travel}."
    ),
)

TIME = pl.Datetime("us", "UTC")
STATE: Final[pl.Schema] = pl.Schema(
    {
        "user": pl.String(),
        "event_time": TIME,
        "ip": pl.String(),
        "place": pl.String(),
        "lat": pl.Float64(),
        "lon": pl.Float64(),
    }
)


@cache
def centroids() -> pl.DataFrame:
    """ISO country code → ``_c_lat``/``_c_lon``, read once per process."""
    text = files("keibi.detect.behavior").joinpath(CENTROIDS).read_text(encoding="utf-8")
    rows = list(csv.reader(line for line in text.splitlines() if line and not line.startswith("#")))
    header, body = rows[0], rows[1:]
    if header[:3] != ["country", "latitude", "longitude"]:
        raise ValueError(
            f"keibi/detect/behavior/{CENTROIDS}: expected header country,latitude,longitude,name"
        )
    return pl.DataFrame(
        {
            "remote_country": [r[0] for r in body],
            "_c_lat": [float(r[1]) for r in body],
            "_c_lon": [float(r[2]) for r in body],
        }
    )


def haversine_km(lat1: pl.Expr, lon1: pl.Expr, lat2: pl.Expr, lon2: pl.Expr) -> pl.Expr:
    """Great-circle distance in km between two points given in degrees."""
    p1, p2 = lat1.radians(), lat2.radians()
    dlat = p2 - p1
    dlon = (lon2 - lon1).radians()
    a = (dlat / 2).sin().pow(2) + p1.cos() * p2.cos() * (dlon / 2).sin().pow(2)
    return 2 * EARTH_RADIUS_KM * a.clip(0.0, 1.0).sqrt().arcsin()


def _sign_ins(events: pl.DataFrame) -> pl.DataFrame:
    """Successful console sign-ins with a place: ``user``, ``ip``, ``place``, ``lat``, ``lon``."""
    logins = events.filter(
        pl.col("event_name") == "ConsoleLogin",
        pl.col("event_type") == "AwsConsoleSignIn",
        pl.col("remote_ip").is_not_null(),
        pl.col("response_elements").str.json_path_match("$.ConsoleLogin") == "Success",
    )
    if logins.is_empty():
        return logins.with_columns(
            *(pl.lit(None, dtype).alias(name) for name, dtype in STATE.items() if name != "event_time")
        )
    city = pl.col("remote_lat").is_not_null() & pl.col("remote_lon").is_not_null()
    place = (
        pl.when(city)
        .then(
            pl.format(
                "{} ({}, {})",
                pl.col("remote_country").fill_null("unknown country"),
                pl.col("remote_lat").round(2),
                pl.col("remote_lon").round(2),
            )
        )
        .otherwise(pl.format("{} (country centroid)", pl.col("remote_country")))
    )
    user = pl.coalesce(
        "user_arn",
        pl.when(pl.col("user_type") == "Root").then(pl.format("arn:aws:iam::{}:root", pl.col("account_id"))),
        "principal_id",
    )
    return (
        logins.join(centroids(), on="remote_country", how="left", maintain_order="left")
        .with_columns(
            user=user,
            ip=pl.col("remote_ip"),
            place=place,
            lat=pl.when(city).then(pl.col("remote_lat")).otherwise(pl.col("_c_lat")),
            lon=pl.when(city).then(pl.col("remote_lon")).otherwise(pl.col("_c_lon")),
        )
        .filter(pl.col("user").is_not_null(), pl.col("lat").is_not_null(), pl.col("lon").is_not_null())
    )


@detectors.register(
    DETECTOR_ID,
    source="cloudtrail",
    emits=(CONSOLE_LOGIN_SUCCESS_B,),
    window=lambda ctx: ctx.settings.behavior_window,
    prefilter=pl.col("event_name") == "ConsoleLogin",
    columns=CLOUDTRAIL_COLUMNS,
)
def console_login(events: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    s = ctx.settings
    logins = _sign_ins(events)
    kept = ctx.state.get(DETECTOR_ID, pl.DataFrame(schema=STATE))
    fresh = logins.select(ROW, *STATE.names()).cast(pl.Schema({ROW: pl.UInt32(), **STATE}))
    merged = (
        pl.concat([kept.with_columns(pl.lit(None, pl.UInt32).alias(ROW)).select(ROW, *STATE.names()), fresh])
        .sort("user", "event_time", "ip", nulls_last=True)
        .with_columns(
            pl.col("event_time", "ip", "place", "lat", "lon").shift(1).over("user").name.prefix("prev_"),
        )
    )
    newest = merged["event_time"].max()
    if isinstance(newest, datetime):
        ctx.state[DETECTOR_ID] = merged.filter(
            pl.col("event_time") >= newest - s.console_login_window
        ).select(STATE.names())
    if fresh.is_empty():
        return no_hits()
    seconds = (pl.col("event_time") - pl.col("prev_event_time")).dt.total_microseconds() / 1e6
    pairs = merged.filter(pl.col(ROW).is_not_null(), pl.col("prev_event_time").is_not_null()).with_columns(
        _km=haversine_km(pl.col("prev_lat"), pl.col("prev_lon"), pl.col("lat"), pl.col("lon")),
        _seconds=seconds,
    )
    pairs = pairs.with_columns(
        _kmh=pl.col("_km") / (pl.col("_seconds").clip(lower_bound=MIN_SECONDS) / 3600.0)
    )
    travel = pairs.filter(
        pl.col("_seconds") <= s.console_login_window.total_seconds(),
        pl.col("_km") > s.console_login_min_km,
        pl.col("_kmh") > s.console_login_max_kmh,
    )
    if travel.is_empty():
        return no_hits()
    rows = events.join(
        travel.select(
            ROW, "user", "prev_event_time", "prev_ip", "prev_place", "place", "_km", "_seconds", "_kmh"
        ),
        on=ROW,
        how="inner",
    )
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    minutes = (pl.col("_seconds") / 60.0).round(0).cast(pl.Int64)
    sentence = pl.format(
        "console sign-in from {} in {} at {}, {} minutes after one from {} in {} at {}: {} km apart, {} km/h "
        "(more than {} km/h)",
        pl.col("remote_ip"),
        pl.col("place"),
        pl.col("event_time").dt.strftime(stamp),
        minutes,
        pl.col("prev_ip"),
        pl.col("prev_place"),
        pl.col("prev_event_time").dt.strftime(stamp),
        pl.col("_km").round(0).cast(pl.Int64),
        pl.col("_kmh").round(0).cast(pl.Int64),
        pl.lit(round(s.console_login_max_kmh)),
    )
    travel_info = pl.struct(
        pl.struct(
            pl.col("prev_ip").alias("ipAddress"),
            pl.col("prev_place").alias("place"),
            pl.col("prev_event_time").dt.strftime(stamp).alias("time"),
        ).alias("from"),
        pl.struct(
            pl.col("remote_ip").alias("ipAddress"),
            pl.col("place"),
            pl.col("event_time").dt.strftime(stamp).alias("time"),
        ).alias("to"),
        pl.col("_km").round(1).alias("distanceKm"),
        (pl.col("_seconds") / 60.0).round(1).alias("minutes"),
        pl.col("_kmh").round(0).alias("speedKmh"),
    )
    info = pl.struct(
        pl.concat_list(sentence).alias("explanation"),
        travel_info.alias("impossibleTravel"),
        pl.format("{} to {} in {} minutes", pl.col("prev_place"), pl.col("place"), minutes).alias("travel"),
    ).struct.json_encode()
    return hits(rows, CONSOLE_LOGIN_SUCCESS_B, key=("user",), info=info)
