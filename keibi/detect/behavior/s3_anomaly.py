"""Discovery:S3/AnomalousBehavior, Exfiltration:S3/AnomalousBehavior, Impact:S3/AnomalousBehavior.*.

GuardDuty's triggers: an IAM entity calls S3 APIs of one kind (discovery, data read, write,
delete, permission change) in a way that departs from its baseline: an API it never used on the
bucket, from an unusual place or client, or at an unusual volume. GuardDuty's model is ML over
user, location, API, bucket and call volume; keibi keeps a profile per entity and says in the
finding what departed from it.

Calls: S3 data events (``s3.amazonaws.com``, category ``Data``) whose class in
``keibi.detect.api_classes`` is ``s3_discovery`` (Discovery), ``s3_exfiltration``
(Exfiltration) or ``s3_impact``, which :data:`IMPACT_KINDS` splits into Delete, Permission and
Write (the rest: PutObject, multipart uploads, tagging, object lock; the shared table
classes CopyObject and RestoreObject as data reads). The bucket ACL, policy, public-access-block and ownership calls of the
Permission kind are management events; they count too (GuardDuty's catalogue lists the type
under data events all the same). Failed calls count: a denied attempt is behaviour too.

Who: the principal as GuardDuty profiles it, an assumed role's role (the session issuer ARN,
so every session of a role is one principal), an IAM user's, federated user's or root's ARN.
Not profiled: anonymous and cross-account (``AWSAccount``) callers, calls an AWS service makes
for a principal (``invokedBy``, ``AWSService``), and calls whose ``sourceIPAddress`` is a
service host rather than an address.

Profile (``keibi.detect.behavior.profile``, one frame for the detector), per entity:

- principal, and its account (``account:<id>``): ``bucket``, ``network`` (``AS<asn>`` with an
  ASN database; else ``aws:<service>:<region>`` for an AWS address; else the IPv4 /16 or IPv6
  /32), ``country``, ``user_agent`` (the product and major version: ``aws-cli/2``,
  ``Boto3/1``, ``aws-sdk-java/2``; ``console`` for browsers), as ``behavior.iam_anomaly``
  spells them, and per-window ``calls`` per kind: the most calls of that kind one principal
  made on one bucket in one window;
- (principal, bucket): ``api``, and ``calls`` per kind in each window;
- bucket (``bucket:<name>``): ``principal``, its callers.

Anomalous, for calls in a window of ``behavior_window`` (a windowed detector, so volumes are
counted over complete windows) in an account known for ``behavior_account_learning``, judged
against the principal's profile when it is known for ``behavior_learning`` and against the
account's while it is younger:

1. volume: the calls of one kind on one bucket in the window number at least
   ``s3_anomaly_min_calls`` (100) and at least ``s3_anomaly_volume_factor`` (10) times the peak
   per window before it, where the peak is that (principal, bucket, kind)'s, else (a bucket
   new for the kind) the principal's on any one bucket, else 0 (a kind it never used); for a
   young principal, the account's (any principal on any one bucket). Comparing with the peak,
   not the mean, and asking for ten times it keeps workloads quiet whose volume swings from
   day to day (batch sizes, month ends); a monthly job repeating last month's run is at its
   peak (profiles keep ``behavior_retention``, 90 days). Under 100 calls a burst is too small
   to tell a bulk read or wipe from a busy hour.
2. novelty: the API is new for the principal on the bucket, and at least
   ``s3_anomaly_min_signals`` (2) of these are new too: the bucket for the principal (which is the
   principal for the bucket, so the two count once), the network, the country, the
   user-agent family (the last three for the account while the principal is young). An
   application reading a new bucket from its usual network, or a traveller using familiar
   APIs from a new country, stays quiet; credentials used from a new network and country to
   call an API their owner never called there do not.

One finding per principal, bucket and type (Low Discovery, High Exfiltration, Medium Write,
High Delete, High Permission, as GuardDuty). ``additionalInfo`` carries ``explanation``
(sentences: what was new or how many calls, against which baseline), ``unusual`` (the unusual
values) and ``principal``; ``service.detection.anomaly`` GuardDuty's ``Anomaly``: ``profiles``
holds the usual values by frequency (group ``PRINCIPAL``, or ``ACCOUNT`` for a young
principal's networks, countries, user agents and buckets; ``BUCKET`` for its callers) and
``unusual.behavior`` what was not (``UNSEEN``), with ``CALL_VOLUME`` for a volume anomaly.

Determinism: novelty and volume depend on event times only (see the profile module). The
frequency words and the order of usual values come from counts that, in a backfill, also hold
windows after the anomaly, so they may read slightly differently than a live run's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Final

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits, no_hits
from keibi.detect.api_classes import api_class
from keibi.detect.behavior._anomaly import anomaly_object, json_text
from keibi.detect.behavior._callers import CLOUDTRAIL_COLUMNS, agent_family, network, principal
from keibi.detect.behavior.profile import (
    ENTITY,
    TIME,
    UNSEEN,
    baseline_amounts,
    empty,
    established,
    fold,
    fold_amounts,
    frequency,
    is_new,
    recall,
)
from keibi.detect.iam.malicious_ip import BY_AWS_SERVICE
from keibi.detect.s3._data_events import BUCKET, S3_SOURCE, s3_call_columns

DETECTOR_ID: Final = "behavior.s3_anomaly"

DISCOVERY = FindingType(
    type="Discovery:S3/AnomalousBehavior",
    severity=Severity.LOW,
    data_sources=("cloudtrail_s3_data",),
    resource_type="S3Bucket",
    detection="behavior",
    action_type="AWS_API_CALL",
    title="An IAM entity invoked an S3 API commonly used to discover resources, {api}, in an unusual way on bucket {bucket}.",
    description="APIs commonly used to discover S3 resources were invoked on bucket {bucket} by {principal} in a way that deviates from its baseline.",
)
EXFILTRATION = FindingType(
    type="Exfiltration:S3/AnomalousBehavior",
    severity=Severity.HIGH,
    data_sources=("cloudtrail_s3_data",),
    resource_type="S3Bucket",
    detection="behavior",
    action_type="AWS_API_CALL",
    title="An IAM entity invoked an S3 API that reads object data, {api}, in an unusual way on bucket {bucket}.",
    description="APIs that read S3 object data were invoked on bucket {bucket} by {principal} in a way that deviates from its baseline.",
)
WRITE = FindingType(
    type="Impact:S3/AnomalousBehavior.Write",
    severity=Severity.MEDIUM,
    data_sources=("cloudtrail_s3_data",),
    resource_type="S3Bucket",
    detection="behavior",
    action_type="AWS_API_CALL",
    title="An IAM entity invoked an S3 API that writes objects, {api}, in an unusual way on bucket {bucket}.",
    description="APIs that write S3 objects were invoked on bucket {bucket} by {principal} in a way that deviates from its baseline.",
)
DELETE = FindingType(
    type="Impact:S3/AnomalousBehavior.Delete",
    severity=Severity.HIGH,
    data_sources=("cloudtrail_s3_data",),
    resource_type="S3Bucket",
    detection="behavior",
    action_type="AWS_API_CALL",
    title="An IAM entity invoked an S3 API that deletes objects, {api}, in an unusual way on bucket {bucket}.",
    description="APIs that delete S3 objects were invoked on bucket {bucket} by {principal} in a way that deviates from its baseline.",
)
PERMISSION = FindingType(
    type="Impact:S3/AnomalousBehavior.Permission",
    severity=Severity.HIGH,
    data_sources=("cloudtrail_s3_data",),
    resource_type="S3Bucket",
    detection="behavior",
    action_type="AWS_API_CALL",
    title="An IAM entity changed permissions with {api} in an unusual way on bucket {bucket}.",
    description="APIs that change S3 bucket or object permissions were invoked on bucket {bucket} by {principal} in a way that deviates from its baseline.",
)

# Kind → its finding type and how sentences name its calls.
KINDS: Final[dict[str, tuple[FindingType, str]]] = {
    "Discovery": (DISCOVERY, "discovery"),
    "Exfiltration": (EXFILTRATION, "data read"),
    "Write": (WRITE, "write"),
    "Delete": (DELETE, "delete"),
    "Permission": (PERMISSION, "permission change"),
}
CLASS_KINDS: Final[dict[str, str]] = {
    "s3_discovery": "Discovery",
    "s3_exfiltration": "Exfiltration",
    "s3_impact": "Write",  # unless IMPACT_KINDS says otherwise
}
# The s3_impact calls that are not writes. Bucket-level ones are management events.
IMPACT_KINDS: Final[dict[str, str]] = {
    "DeleteObject": "Delete",  # also deletes a version (versionId), which has no event of its own
    "DeleteObjects": "Delete",
    "PutObjectAcl": "Permission",
    "PutBucketAcl": "Permission",
    "PutBucketPolicy": "Permission",
    "DeleteBucketPolicy": "Permission",
    "PutBucketPublicAccessBlock": "Permission",
    "DeleteBucketPublicAccessBlock": "Permission",
    "PutBucketOwnershipControls": "Permission",
    "DeleteBucketOwnershipControls": "Permission",
}
MANAGEMENT_APIS: Final = tuple(name for name, kind in IMPACT_KINDS.items() if kind == "Permission")

MAX_USUAL: Final = 3  # usual values a sentence names
MAX_PROFILE_VALUES: Final = 10  # usual values per frequency word in anomaly.profiles

_S3 = pl.col("event_source") == S3_SOURCE
_CLASS = api_class(pl.col("event_source"), pl.col("event_name"))
S3_CALLS: Final = (
    _S3
    & (
        ((pl.col("event_category") == "Data") & _CLASS.is_in(list(CLASS_KINDS)))
        | ((pl.col("event_category") == "Management") & pl.col("event_name").is_in(MANAGEMENT_APIS))
    )
).fill_null(False)

# Anonymous and cross-account callers (AWSAccount) have no profile of their own here.
PRINCIPAL: Final = pl.when(
    pl.col("user_type").is_in(["AssumedRole", "IAMUser", "Root", "FederatedUser"])
).then(principal())
UA_FAMILY: Final = agent_family(pl.col("user_agent"))
NETWORK: Final = network(
    pl.col("remote_ip"), pl.col("remote_asn"), pl.col("remote_aws_service"), pl.col("remote_aws_region")
)

# Columns of a call.
P, PAIR, ACCT, BKT, KIND, WIN = "_principal", "_pair", "_account", "_bucket_entity", "_kind", "window"
NET, CTRY, UA, API = "_network", "_country", "_ua", "event_name"
# Features: principal/account ones, and their anomaly/unusual names.
REF_FEATURES: Final[dict[str, tuple[str, str, str]]] = {
    # feature: (column, anomaly feature, additionalInfo.unusual key)
    "network": (NET, "NETWORK", "networks"),
    "country": (CTRY, "COUNTRY", "countries"),
    "user_agent": (UA, "USER_AGENT", "userAgents"),
}
CALLS_FEATURE: Final = "calls"


@detectors.register(
    DETECTOR_ID,
    source="cloudtrail",
    emits=tuple(t for t, _ in KINDS.values()),
    window=lambda ctx: ctx.settings.behavior_window,
    prefilter=S3_CALLS,
    columns=CLOUDTRAIL_COLUMNS,
)
def s3_anomaly(events: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    s = ctx.settings
    calls = _calls(events, s.behavior_window)
    profile = ctx.profiles.get(DETECTOR_ID, empty())
    if calls.is_empty():
        return no_hits()
    retention, max_values = s.behavior_retention, s.behavior_max_values
    profile = fold(
        profile,
        _observations(calls),
        entity=pl.col("entity"),
        features=_FEATURES,
        retention=retention,
        max_values=max_values,
    )
    groups, amounts = _amounts(calls)
    based = baseline_amounts(amounts, profile)
    profile = fold_amounts(profile, amounts, retention=retention, max_values=max_values)
    ctx.profiles[DETECTOR_ID] = profile

    combos = _novelty(calls, profile, s.behavior_window, s.behavior_learning, s.behavior_account_learning)
    combos = combos.with_columns(
        (
            pl.col("_a_est")
            & pl.col("_api_new")
            & (pl.sum_horizontal("_pair_new", "_net_new", "_ctry_new", "_ua_new") >= s.s3_anomaly_min_signals)
        ).alias("_novel")
    )
    groups = _volume(
        groups,
        based,
        profile,
        window=s.behavior_window,
        learning=s.behavior_learning,
        account_learning=s.behavior_account_learning,
        min_calls=s.s3_anomaly_min_calls,
        factor=s.s3_anomaly_volume_factor,
    )
    flagged = (
        calls.join(combos, on=_COMBO, how="left", nulls_equal=True)
        .join(groups, on=[P, BUCKET, KIND, WIN], how="left")
        .filter(pl.col("_novel") | pl.col("_volume"))
    )
    if flagged.is_empty():
        return no_hits()
    flagged = _explain(flagged, profile, s.behavior_window)
    found = [
        hits(flagged.filter(pl.col(KIND) == kind), ftype, key=(P, BUCKET), info=pl.col("_info"))
        for kind, (ftype, _) in KINDS.items()
    ]
    found = [f for f in found if not f.is_empty()]
    return pl.concat(found) if found else no_hits()


_COMBO: Final = [P, PAIR, ACCT, BKT, BUCKET, API, NET, CTRY, UA, WIN]
_FEATURES: Final[dict[str, pl.Expr]] = {
    "bucket": pl.col("_f_bucket"),
    "network": pl.col(NET),
    "country": pl.col(CTRY),
    "user_agent": pl.col(UA),
    "api": pl.col("_f_api"),
    "principal": pl.col("_f_principal"),
}


def _calls(events: pl.DataFrame, window: timedelta) -> pl.DataFrame:
    """The profiled calls, with who, which bucket, which kind and from where."""
    picked = events.filter(S3_CALLS, ~BY_AWS_SERVICE, pl.col("remote_ip").is_not_null())
    calls = s3_call_columns(picked).filter(PRINCIPAL.is_not_null(), pl.col(BUCKET).is_not_null())
    kind = pl.col(API).replace_strict(
        list(IMPACT_KINDS),
        list(IMPACT_KINDS.values()),
        default=pl.lit(None, pl.String),
        return_dtype=pl.String,
    )
    return calls.with_columns(
        PRINCIPAL.alias(P),
        pl.format("account:{}", pl.col("account_id")).alias(ACCT),
        pl.format("bucket:{}", pl.col(BUCKET)).alias(BKT),
        pl.coalesce(
            pl.when(pl.col("_api_class") == "s3_impact").then(kind),
            pl.col("_api_class").replace_strict(
                CLASS_KINDS, default=pl.lit(None, pl.String), return_dtype=pl.String
            ),
            pl.lit("Permission"),  # the management events picked by name
        ).alias(KIND),
        NETWORK.alias(NET),
        pl.col("remote_country").alias(CTRY),
        UA_FAMILY.alias(UA),
        pl.col("event_time").dt.truncate(window).cast(TIME).alias(WIN),
    ).with_columns(pl.format("{}|{}", pl.col(P), pl.col(BUCKET)).alias(PAIR))


def _observations(calls: pl.DataFrame) -> pl.DataFrame:
    """One record per entity a call is seen by, with that entity's features (others null)."""
    none = pl.lit(None, pl.String)
    cols = ("event_time", "_f_bucket", NET, CTRY, UA, "_f_api", "_f_principal")

    def part(entity: str, *, ref: bool = False, api: bool = False, caller: bool = False) -> pl.DataFrame:
        return calls.select(
            pl.col(entity).alias("entity"),
            "event_time",
            (pl.col(BUCKET) if ref else none).alias("_f_bucket"),
            *((pl.col(c) if ref else none).alias(c) for c in (NET, CTRY, UA)),
            (pl.col(API) if api else none).alias("_f_api"),
            (pl.col(P) if caller else none).alias("_f_principal"),
        )

    frames = [part(P, ref=True), part(ACCT, ref=True), part(PAIR, api=True), part(BKT, caller=True)]
    return pl.concat(frames, how="vertical").select("entity", *cols)


def _amounts(calls: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Calls per (principal, bucket, kind, window), and the per-window amounts to profile: that
    count for the pair, and the most on any one bucket for the principal and for the account."""
    groups = calls.group_by(P, PAIR, ACCT, BUCKET, KIND, WIN).agg(
        pl.len().alias("_n"), pl.col(API).unique().sort().str.join("/").alias("_apis")
    )

    def amounts(entity: str) -> pl.DataFrame:
        return (
            groups.group_by(entity, KIND, WIN)
            .agg(pl.col("_n").max())
            .select(
                pl.col(entity).alias("entity"),
                pl.lit(CALLS_FEATURE).alias("feature"),
                pl.col(KIND).alias("value"),
                pl.col(WIN),
                pl.col("_n").cast(pl.Float64).alias("amount"),
            )
        )

    return groups, pl.concat([amounts(PAIR), amounts(P), amounts(ACCT)], how="vertical")


def _volume(
    groups: pl.DataFrame,
    based: pl.DataFrame,
    profile: pl.DataFrame,
    *,
    window: timedelta,
    learning: timedelta,
    account_learning: timedelta,
    min_calls: int,
    factor: float,
) -> pl.DataFrame:
    """``groups`` with the peaks before their window (``_vp_*`` the pair's, ``_vq_*`` the
    principal's on any one bucket, ``_va_*`` the account's), the one compared (``_base``) and
    whether the count is a volume anomaly (``_volume``)."""

    def base(entity: str, prefix: str) -> pl.DataFrame:
        return based.filter(pl.col("feature") == CALLS_FEATURE).select(
            pl.col("entity").alias(entity),
            pl.col("value").alias(KIND),
            pl.col(WIN),
            pl.col("base_peak").alias(f"{prefix}_peak"),
            pl.col("base_since").alias(f"{prefix}_since"),
        )

    on = [KIND, WIN]
    joined = (
        groups.join(base(PAIR, "_vp"), on=[PAIR, *on], how="left")
        .join(base(P, "_vq"), on=[P, *on], how="left")
        .join(base(ACCT, "_va"), on=[ACCT, *on], how="left")
    )
    joined = recall(joined, profile, entity=P, feature=ENTITY, value=None, prefix="_gp")
    joined = recall(joined, profile, entity=ACCT, feature=ENTITY, value=None, prefix="_ga")
    p_est = established("_gp_first_seen", learning, window, time=WIN)
    a_est = established("_ga_first_seen", account_learning, window, time=WIN)
    compared = (
        pl.when(p_est)
        .then(pl.coalesce("_vp_peak", "_vq_peak", pl.lit(0.0)))
        .otherwise(pl.coalesce("_va_peak", pl.lit(0.0)))
    )
    return joined.with_columns(compared.alias("_base")).select(
        P,
        BUCKET,
        KIND,
        WIN,
        "_n",
        "_apis",
        "^_v[pqa]_.*$",
        "_base",
        (a_est & (pl.col("_n") >= min_calls) & (pl.col("_n") >= factor * pl.col("_base"))).alias("_volume"),
    )


def _novelty(
    calls: pl.DataFrame,
    profile: pl.DataFrame,
    window: timedelta,
    learning: timedelta,
    account_learning: timedelta,
) -> pl.DataFrame:
    """Per distinct (who, bucket, API, where from, window): whether principal and account are
    established and which values are new for the principal (or, while it is young, the account)."""
    combos = calls.select(_COMBO).unique()
    combos = recall(combos, profile, entity=P, feature=ENTITY, value=None, prefix="_p")
    combos = recall(combos, profile, entity=ACCT, feature=ENTITY, value=None, prefix="_a")
    combos = recall(combos, profile, entity=PAIR, feature="api", value=API, prefix="_api")
    combos = recall(combos, profile, entity=P, feature="bucket", value=BUCKET, prefix="_pb")
    combos = recall(combos, profile, entity=BKT, feature="principal", value=P, prefix="_bp")
    p_est = established("_p_first_seen", learning, window, time=WIN)
    new: dict[str, pl.Expr] = {}
    for feature, (col, _, _) in REF_FEATURES.items():
        combos = recall(combos, profile, entity=P, feature=feature, value=col, prefix=f"_p{feature}")
        combos = recall(combos, profile, entity=ACCT, feature=feature, value=col, prefix=f"_a{feature}")
        first = (
            pl.when(p_est)
            .then(pl.col(f"_p{feature}_first_seen"))
            .otherwise(pl.col(f"_a{feature}_first_seen"))
        )
        new[feature] = pl.col(col).is_not_null() & (first.is_null() | (first >= pl.col(WIN)))
    return combos.select(
        *_COMBO,
        p_est.alias("_p_est"),
        established("_a_first_seen", account_learning, window, time=WIN).alias("_a_est"),
        pl.col("_p_first_seen").alias("_p_since"),
        pl.col("_a_first_seen").alias("_a_since"),
        is_new("_api_first_seen", window, time=WIN).alias("_api_new"),
        (is_new("_pb_first_seen", window, time=WIN) | is_new("_bp_first_seen", window, time=WIN)).alias(
            "_pair_new"
        ),
        new["network"].alias("_net_new"),
        new["country"].alias("_ctry_new"),
        new["user_agent"].alias("_ua_new"),
    ).with_columns(pl.when(pl.col("_p_est")).then(pl.col(P)).otherwise(pl.col(ACCT)).alias("_ref"))


def _thousands(n: pl.Expr) -> pl.Expr:
    """An integer with thousands separators (2431 → "2,431")."""
    n = n.cast(pl.Int64)

    def pad(e: pl.Expr) -> pl.Expr:
        return e.cast(pl.String).str.zfill(3)

    return (
        pl.when(n >= 1_000_000)
        .then(pl.format("{},{},{}", n // 1_000_000, pad((n // 1000) % 1000), pad(n % 1000)))
        .when(n >= 1000)
        .then(pl.format("{},{}", n // 1000, pad(n % 1000)))
        .otherwise(n.cast(pl.String))
    )


def _window_words(window: timedelta) -> tuple[str, str]:
    """How sentences name one window: ("one hour", "per hour"), ("10 minutes", "per 10 minutes")."""
    minutes = int(window.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return ("one hour", "per hour") if hours == 1 else (f"{hours} hours", f"per {hours} hours")
    return ("one minute", "per minute") if minutes == 1 else (f"{minutes} minutes", f"per {minutes} minutes")


def _days(since: pl.Expr) -> pl.Expr:
    """ "N days" from ``since`` to the window's start ("less than a day" under one)."""
    n = (pl.col(WIN) - since).dt.total_days()
    return (
        pl.when(n < 1)
        .then(pl.lit("less than a day"))
        .when(n == 1)
        .then(pl.lit("1 day"))
        .otherwise(pl.format("{} days", n))
    )


def _object(members: Mapping[str, pl.Expr]) -> pl.Expr:
    """A JSON object's text from member name → JSON text; null members are left out, and an
    object without members is null."""
    parts = [pl.concat_str([pl.lit(_json_key(k) + ":"), v]) for k, v in members.items()]
    joined = pl.concat_list(parts).list.drop_nulls().list.join(",")
    return pl.when(joined.str.len_chars() > 0).then(pl.concat_str([pl.lit("{"), joined, pl.lit("}")]))


def _json_key(name: str) -> str:
    return '"' + name + '"'  # member names here are fixed identifiers, nothing to escape


def _unseen(value: pl.Expr) -> pl.Expr:
    return anomaly_object(UNSEEN, pl.concat_list(value.cast(pl.String))).struct.json_encode()


def _usual(
    rows: pl.DataFrame, profile: pl.DataFrame, *, entity: str, feature: str, name: str
) -> pl.DataFrame:
    """``rows`` with what the profile knew of ``entity``'s ``feature`` before each row's window:
    ``<name>_text`` (the most regular values, for sentences) and ``<name>_json`` (a JSON array
    of ``AnomalyObject``s, the values by frequency), null when nothing was known."""
    keys = rows.select(entity, WIN).unique()
    since = profile.filter(pl.col("feature") == ENTITY).select(
        pl.col("entity").alias(entity), pl.col("first_seen").alias("_since")
    )
    known = profile.filter(pl.col("feature") == feature).select(
        pl.col("entity").alias(entity), "value", "first_seen", "days", "count"
    )
    seen = (
        keys.join(known, on=entity)
        .filter(pl.col("first_seen") < pl.col(WIN))
        .join(since, on=entity, how="left")
        .with_columns(frequency("days", "_since", time=WIN).alias("_freq"))
        .sort(["days", "count", "value"], descending=[True, True, False])
    )
    text = seen.group_by(entity, WIN).agg(
        pl.col("value").head(MAX_USUAL).str.join(", ").alias(f"{name}_text")
    )
    objects = (
        seen.group_by(entity, WIN, "_freq")
        .agg(pl.col("value").head(MAX_PROFILE_VALUES))
        .sort("_freq")
        .group_by(entity, WIN, maintain_order=True)
        .agg(anomaly_object(pl.col("_freq"), pl.col("value")).struct.json_encode().alias("_o"))
        .select(
            entity,
            WIN,
            pl.concat_str([pl.lit("["), pl.col("_o").list.join(","), pl.lit("]")]).alias(f"{name}_json"),
        )
    )
    return rows.join(text, on=[entity, WIN], how="left").join(objects, on=[entity, WIN], how="left")


def _explain(rows: pl.DataFrame, profile: pl.DataFrame, window: timedelta) -> pl.DataFrame:
    """``rows`` with ``_info``: explanation, unusual values and GuardDuty's anomaly."""
    for feature, (_, _, _) in REF_FEATURES.items():
        rows = _usual(rows, profile, entity="_ref", feature=feature, name=f"_u_{feature}")
    rows = _usual(rows, profile, entity="_ref", feature="bucket", name="_u_bucket")
    rows = _usual(rows, profile, entity=PAIR, feature="api", name="_u_api")
    rows = _usual(rows, profile, entity=BKT, feature="principal", name="_u_caller")
    one, per = _window_words(window)
    words = pl.col(KIND).replace_strict({k: w for k, (_, w) in KINDS.items()}, return_dtype=pl.String)
    young = ~pl.col("_p_est")
    whose = pl.when(young).then(pl.lit("this account")).otherwise(pl.lit("this principal"))

    def usual(name: str) -> pl.Expr:
        return pl.when(pl.col(f"{name}_text").is_not_null()).then(
            pl.format(" (usual: {})", pl.col(f"{name}_text"))
        )

    count = pl.format(
        "{} {} calls on bucket {} in {}",
        _thousands(pl.col("_n")),
        pl.col("_apis"),
        pl.col(BUCKET),
        pl.lit(one),
    )
    peak = _thousands(pl.col("_base"))
    volume = pl.when(pl.col("_volume")).then(
        pl.when(young & pl.col("_va_peak").is_not_null())
        .then(
            pl.format(
                "{} vs. a peak of {} {} for any principal on any one bucket of this account over {}",
                count,
                peak,
                pl.lit(per),
                _days(pl.col("_va_since")),
            )
        )
        .when(young)
        .then(
            pl.format(
                "{}, the first {} calls in this account in {} of history",
                count,
                words,
                _days(pl.col("_a_since")),
            )
        )
        .when(pl.col("_vp_peak").is_not_null())
        .then(
            pl.format("{} vs. a peak of {} {} over {}", count, peak, pl.lit(per), _days(pl.col("_vp_since")))
        )
        .when(pl.col("_vq_peak").is_not_null())
        .then(
            pl.format(
                "{} vs. a peak of {} {} on any one bucket over {} (none on this bucket before)",
                count,
                peak,
                pl.lit(per),
                _days(pl.col("_vq_since")),
            )
        )
        .otherwise(
            pl.format(
                "{}, the first {} calls by this principal in {} of history",
                count,
                words,
                _days(pl.col("_p_since")),
            )
        )
    )
    sentences = [
        volume,
        pl.when(young).then(
            pl.format(
                "principal known for {} only, so judged against the account's baseline",
                _days(pl.col("_p_since")),
            )
        ),
        pl.when(pl.col("_api_new")).then(
            pl.format("first {} call by this principal on bucket {}", pl.col(API), pl.col(BUCKET))
            + pl.coalesce(usual("_u_api"), pl.lit(""))
        ),
        pl.when(pl.col("_pair_new")).then(
            pl.format("bucket {} never accessed by this principal before", pl.col(BUCKET))
            + pl.coalesce(
                pl.when(pl.col("_u_caller_text").is_not_null()).then(
                    pl.format(" (its usual callers: {})", pl.col("_u_caller_text"))
                ),
                pl.lit(""),
            )
        ),
        pl.when(pl.col("_net_new")).then(
            pl.format("from network {}, never seen for {}", pl.col(NET), whose)
            + pl.coalesce(usual("_u_network"), pl.lit(""))
        ),
        pl.when(pl.col("_ctry_new")).then(
            pl.format("from country {}, never seen for {}", pl.col(CTRY), whose)
            + pl.coalesce(usual("_u_country"), pl.lit(""))
        ),
        pl.when(pl.col("_ua_new")).then(
            pl.format("with user agent {}, never seen for {}", pl.col(UA), whose)
            + pl.coalesce(usual("_u_user_agent"), pl.lit(""))
        ),
    ]
    explanation = pl.concat_list(sentences).list.drop_nulls()
    unusual = _object(
        {
            "apiCalls": pl.when(pl.col("_api_new")).then(json_text(pl.concat_list(pl.col(API)))),
            "buckets": pl.when(pl.col("_pair_new")).then(json_text(pl.concat_list(pl.col(BUCKET)))),
            "networks": pl.when(pl.col("_net_new")).then(json_text(pl.concat_list(pl.col(NET)))),
            "countries": pl.when(pl.col("_ctry_new")).then(json_text(pl.concat_list(pl.col(CTRY)))),
            "userAgents": pl.when(pl.col("_ua_new")).then(json_text(pl.concat_list(pl.col(UA)))),
            "callsPerWindow": pl.when(pl.col("_volume")).then(pl.col("_n").cast(pl.String)),
            "baselinePeakPerWindow": pl.when(pl.col("_volume")).then(
                pl.col("_base").cast(pl.Int64).cast(pl.String)
            ),
        }
    )
    ref_usual = {
        "BUCKET": pl.col("_u_bucket_json"),
        **{anomaly: pl.col(f"_u_{feature}_json") for feature, (_, anomaly, _) in REF_FEATURES.items()},
    }
    ref_unusual = {
        "NETWORK": pl.when(pl.col("_net_new")).then(_unseen(pl.col(NET))),
        "COUNTRY": pl.when(pl.col("_ctry_new")).then(_unseen(pl.col(CTRY))),
        "USER_AGENT": pl.when(pl.col("_ua_new")).then(_unseen(pl.col(UA))),
    }
    own_unusual = {
        "API": pl.when(pl.col("_api_new")).then(_unseen(pl.col(API))),
        "BUCKET": pl.when(pl.col("_pair_new")).then(_unseen(pl.col(BUCKET))),
        "CALL_VOLUME": pl.when(pl.col("_volume")).then(
            _unseen(pl.format("{} {} calls in {}", pl.col("_n"), pl.col("_apis"), pl.lit(one)))
        ),
    }
    profiles = _object(
        {
            "PRINCIPAL": _object(
                {"API": pl.col("_u_api_json"), **{k: pl.when(~young).then(v) for k, v in ref_usual.items()}}
            ),
            "ACCOUNT": _object({k: pl.when(young).then(v) for k, v in ref_usual.items()}),
            "BUCKET": _object({"PRINCIPAL": pl.col("_u_caller_json")}),
        }
    )
    behavior = _object(
        {
            "PRINCIPAL": _object(
                {**own_unusual, **{k: pl.when(~young).then(v) for k, v in ref_unusual.items()}}
            ),
            "ACCOUNT": _object({k: pl.when(young).then(v) for k, v in ref_unusual.items()}),
        }
    )
    anomaly = _object({"profiles": profiles, "unusual": _object({"behavior": behavior})})
    info = _object(
        {
            "principal": json_text(pl.col(P)),
            "explanation": json_text(explanation),
            "unusual": unusual,
            "anomaly": anomaly,
        }
    )
    return rows.with_columns(info.alias("_info"))
