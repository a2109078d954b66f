"""<Tactic>:IAMUser/AnomalousBehavior: a principal calls an API of an attack tactic, new for it, in an unusual context.

GuardDuty's triggers (one type per tactic: Discovery, Persistence, PrivilegeEscalation,
DefenseEvasion, CredentialAccess, Exfiltration, Impact, InitialAccess): CloudTrail management
events show an API of that tactic called by a user identity in a way that deviates from that
identity's and the account's learned baseline. GuardDuty's model is unpublished; keibi's rule
is a small, explainable one.

Profiles (``keibi.detect.behavior.profile``, one frame for this detector). Every call a
principal makes itself is folded in, tactic API or not, management or S3 data event: calls AWS
services make on a principal's behalf are not its behaviour and are skipped (``invokedBy`` set,
``userIdentity.type`` ``AWSService``, or a ``sourceIPAddress`` that is a service host name or
``AWS Internal``: no ``remote_ip``). Two entities per call:

- the principal: an assumed role's session issuer, the role ARN (sessions change every hour
  and would never build a baseline), an IAM user's or federated user's ARN, the account root;
- the account, ``account:<id>``.

Features: ``api`` (``iam:CreateAccessKey``), ``network`` (``AS<asn>`` with an ASN database;
else ``aws:<service>:<region>`` for an AWS address; else the address's /16 (IPv4) or /32
(IPv6)), ``country``, ``user_agent`` (the product and its major version: ``aws-cli/2``,
``Boto3/1``, ``Terraform/1``, ``console`` for browsers and console sign-in agents, ``AWS
Internal``; so an upgrade is not novel) and ``region``.

A call of a tactic API (``keibi/detect/behavior/data/api_tactics.csv``, a management
``AwsApiCall``, failed calls too: probing is behaviour) is anomalous when

(a) the account is established (known for ``behavior_account_learning``, 14 days, before the
    call's window; nothing is raised while it learns) and the principal is judged against
    its own profile when it is established (known for ``behavior_learning``, 7 days), else
    against the account's (a new employee in an established account works like the account:
    its usual networks and tools are quiet);
(b) the API is new for the judged profile (:func:`~keibi.detect.behavior.profile.is_new`:
    first seen inside the call's ``behavior_window``);
(c) the context is unusual: at least ``iam_anomaly_min_signals`` (2) of: the network, the
    country, the user-agent family, the region new for the judged profile, and the API new
    for the whole account. A CI role that adds an API from its usual network and tool gives
    at most one signal and stays quiet; a stolen key used from a new network (and country)
    with a new tool gives two or more.

One finding per principal and tactic (key: the principal; repeats update it), with the type's
catalogue severity (Discovery Low, Exfiltration and Impact High, the others Medium) and the
resource of the latest call (its access key). ``additionalInfo`` says why: ``explanation``
(sentences naming the new values and the usual ones), ``unusual`` (the new values) and
``anomaly`` (GuardDuty's ``Anomaly``: under ``profiles`` the usual values of each unusual
feature with how often they were seen, under ``unusual.behavior`` the new values, grouped by
``principal`` or ``account``), which the builder moves to ``service.detection.anomaly``.

Limits: an (entity, feature) keeps at most ``behavior_max_values`` values, so an account that
calls more distinct APIs within ``behavior_retention`` may see an old one as new again (one
signal, never a finding alone). Country and network move together (a new AS abroad is two
signals), which is intended: that is how stolen keys look.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import polars as pl

from keibi.detect import ROW, DetectContext, FindingType, Severity, detectors, hits, no_hits
from keibi.detect.behavior._anomaly import anomaly_object, json_text
from keibi.detect.behavior._callers import CLOUDTRAIL_COLUMNS, agent_family, network, own_calls, principal
from keibi.detect.behavior.profile import empty, established, fold, frequency, is_new, recall
from keibi.detect.behavior.tactics import TACTICS, tactic

DETECTOR_ID: Final = "behavior.iam_anomaly"
SEVERITIES: Final[dict[str, Severity]] = {
    "Discovery": Severity.LOW,
    "Exfiltration": Severity.HIGH,
    "Impact": Severity.HIGH,
}
TYPES: Final[dict[str, FindingType]] = {
    t: FindingType(
        type=f"{t}:IAMUser/AnomalousBehavior",
        severity=SEVERITIES.get(t, Severity.MEDIUM),
        data_sources=("cloudtrail_management",),
        resource_type="AccessKey",
        detection="behavior",
        action_type="AWS_API_CALL",
        title=f"The {t} API {{api}} was invoked by {{user_type}} {{user_name}} under unusual circumstances.",
        description=(
            f"APIs commonly used in {t} tactics were invoked by user {{user_type}} : {{user_name}} "
            "under anomalous circumstances. Such activity is not typically seen from this user."
        ),
    )
    for t in TACTICS
}
CALL_TYPES: Final = ("AwsApiCall", "AwsConsoleSignIn")
# The profile's context features (column of the calls frame → how explanations name it).
CONTEXT: Final[dict[str, str]] = {
    "network": "network",
    "country": "country",
    "user_agent": "user agent family",
    "region": "region",
}
UNUSUAL_KEYS: Final[dict[str, str]] = {
    "api": "api",
    "network": "network",
    "country": "country",
    "user_agent": "userAgent",
    "region": "region",
}
CALL_COLUMNS: Final = (
    "event_time",
    "account_id",
    "region",
    "event_source",
    "event_name",
    "event_type",
    "event_category",
    "management_event",
    "user_type",
    "user_arn",
    "session_issuer_arn",
    "principal_id",
    "invoked_by",
    "remote_ip",
    "remote_asn",
    "remote_aws_service",
    "remote_aws_region",
    "remote_country",
    "user_agent",
)
USUAL_SHOWN: Final = 3  # usual values named per feature
PRINCIPAL: Final = "principal"
ACCOUNT: Final = "account"


def _calls(events: pl.DataFrame, window: timedelta) -> pl.DataFrame:
    """The principals' own calls with their entities and feature values, one row per distinct
    call (every column the rule reads) and window: ``event_time`` is its first record's time,
    ``_last`` its last, ``_count`` how many records, ``_rows`` their ``_row``s, and ``_row`` the
    first of them. A CI role's thousand identical Describe calls an hour are one row here, and a
    batch's other columns (request parameters above all) are never copied."""
    own = events.select(ROW, *CALL_COLUMNS).filter(own_calls(), pl.col("event_type").is_in(CALL_TYPES))
    shape = [c for c in CALL_COLUMNS if c != "event_time"]
    calls = own.group_by(*shape, pl.col("event_time").dt.truncate(window).alias("_window_start")).agg(
        pl.col("event_time").min(),
        pl.col("event_time").max().alias("_last"),
        pl.len().alias("_count"),
        pl.col(ROW).alias("_rows"),
        pl.col(ROW).min(),
    )
    # Distinct user agents are few: normalise them once, not per call.
    agents = (
        calls.select(pl.col("user_agent").unique())
        .drop_nulls()
        .with_columns(agent_family(pl.col("user_agent")).alias("_agent"))
    )
    return (
        calls.join(agents, on="user_agent", how="left", maintain_order="left")
        .with_columns(
            _principal=principal(),
            _account=pl.concat_str(pl.lit("account:"), pl.col("account_id")),
            _api=pl.concat_str(
                pl.col("event_source").str.strip_suffix(".amazonaws.com"), pl.lit(":"), pl.col("event_name")
            ),
            _network=network(
                pl.col("remote_ip"),
                pl.col("remote_asn"),
                pl.col("remote_aws_service"),
                pl.col("remote_aws_region"),
            ),
            _country=pl.col("remote_country"),
            _user_agent=pl.col("_agent"),
            _region=pl.col("region"),
        )
        .filter(pl.col("_principal").is_not_null())
    )


GROUPED: Final = ["_api", "_network", "_country", "_user_agent", "_region"]
FEATURES: Final[dict[str, pl.Expr]] = {
    "api": pl.col("_api"),
    "network": pl.col("_network"),
    "country": pl.col("_country"),
    "user_agent": pl.col("_user_agent"),
    "region": pl.col("_region"),
}


def _with_tactic(calls: pl.DataFrame) -> pl.DataFrame:
    """Management API calls with their tactic (null: none), classified once per distinct API."""
    mgmt = calls.filter(
        pl.col("event_type") == "AwsApiCall",
        (pl.col("event_category") == "Management") | pl.col("management_event").fill_null(False),
    )
    apis = (
        mgmt.select("event_source", "event_name")
        .unique()
        .with_columns(tactic(pl.col("event_source"), pl.col("event_name")).alias("_tactic"))
        .filter(pl.col("_tactic").is_not_null())
    )
    return mgmt.join(apis, on=["event_source", "event_name"], how="inner", nulls_equal=False)


def _recall_both(frame: pl.DataFrame, profile: pl.DataFrame, feature: str, value: str | None) -> pl.DataFrame:
    """What the principal's and the account's profiles know of ``value`` (``_p_``/``_a_`` prefixes;
    ``value`` None: since when each entity is known, as ``_p_since_*``/``_a_since_*``)."""
    name = feature if value is not None else "since"
    out = recall(frame, profile, entity="_principal", feature=feature, value=value, prefix=f"_p_{name}")
    return recall(out, profile, entity="_account", feature=feature, value=value, prefix=f"_a_{name}")


def _anomalous(candidates: pl.DataFrame, profile: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    """The candidate calls that meet (a), (b) and (c) of the module docstring."""
    s = ctx.settings
    window = s.behavior_window
    rows = _recall_both(candidates, profile, "entity", None).with_columns(
        _own=established("_p_since_first_seen", s.behavior_learning, window),
        _window_start=pl.col("event_time").dt.truncate(window),
    )
    rows = rows.filter(established("_a_since_first_seen", s.behavior_account_learning, window))
    if rows.is_empty():
        return rows
    rows = _recall_both(rows, profile, "api", "_api")
    own = pl.col("_own")
    rows = rows.with_columns(
        _api_new_a=is_new("_a_api_first_seen", window),
        _api_new=pl.when(own)
        .then(is_new("_p_api_first_seen", window))
        .otherwise(is_new("_a_api_first_seen", window)),
    ).filter(pl.col("_api_new"))
    if rows.is_empty():
        return rows
    for feature in CONTEXT:
        rows = _recall_both(rows, profile, feature, f"_{feature}")
        judged = (
            pl.when(own)
            .then(pl.col(f"_p_{feature}_first_seen"))
            .otherwise(pl.col(f"_a_{feature}_first_seen"))
        )
        fresh = judged.is_null() | (judged >= pl.col("_window_start"))
        rows = rows.with_columns((pl.col(f"_{feature}").is_not_null() & fresh).alias(f"_new_{feature}"))
    signals = [pl.col("_api_new_a").cast(pl.UInt8), *(pl.col(f"_new_{f}").cast(pl.UInt8) for f in CONTEXT)]
    return rows.filter(pl.sum_horizontal(signals) >= s.iam_anomaly_min_signals)


def _object(members: dict[str, pl.Expr], key: pl.Expr | None = None) -> pl.Expr:
    """A JSON object from members that are JSON text already; ``key`` (JSON text) replaces the
    name of a single member, for objects keyed by a column's value."""
    parts: list[pl.Expr] = [pl.lit("{")]
    for i, (name, value) in enumerate(members.items()):
        label = key if key is not None else pl.lit(f'"{name}"')
        parts += [pl.lit("," if i else ""), label, pl.lit(":"), value]
    return pl.concat_str([*parts, pl.lit("}")])


def _braced(members: pl.Expr) -> pl.Expr:
    return pl.concat_str(pl.lit("{"), members, pl.lit("}"))


def _usual(rows: pl.DataFrame, profile: pl.DataFrame, feature: str) -> pl.DataFrame:
    """Per anomalous row (``_row``): the judged entity's most frequent values of ``feature``
    known before the row's window, as text for the explanation (``_usual_<feature>``) and as
    GuardDuty ``AnomalyObject`` JSON items (``_profile_<feature>``)."""
    known = profile.filter(pl.col("feature") == feature).select(
        pl.col("entity").alias("_judge"), "value", "first_seen", "days", "count"
    )
    ranked = (
        rows.select(ROW, "_judge", "_window_start", "_judge_since", "event_time")
        .join(known, on="_judge", how="inner")
        .filter(pl.col("first_seen") < pl.col("_window_start"))
        .with_columns(_freq=frequency("days", "_judge_since"))
        .sort([ROW, "days", "count", "value"], descending=[False, True, True, False])
        .group_by(ROW, maintain_order=True)
        .head(USUAL_SHOWN)
    )
    item = anomaly_object(pl.col("_freq"), pl.concat_list(pl.col("value"))).struct.json_encode()
    return ranked.group_by(ROW).agg(
        pl.format("{} ({})", "value", pl.col("_freq").str.to_lowercase())
        .str.join(", ")
        .alias(f"_usual_{feature}"),
        item.str.join(",").alias(f"_profile_{feature}"),
    )


def _info(rows: pl.DataFrame, profile: pl.DataFrame) -> pl.DataFrame:
    """``rows`` with ``_info``: the finding's explanation, unusual values and anomaly JSON."""
    own = pl.col("_own")
    rows = rows.with_columns(
        _judge=pl.when(own).then(pl.col("_principal")).otherwise(pl.col("_account")),
        _judge_since=pl.when(own)
        .then(pl.col("_p_since_first_seen"))
        .otherwise(pl.col("_a_since_first_seen")),
        _group=pl.when(own).then(pl.lit(PRINCIPAL)).otherwise(pl.lit(ACCOUNT)),
        _whom=pl.when(own).then(pl.lit("this principal")).otherwise(pl.lit("this account")),
    )
    for feature in ("api", *CONTEXT):
        rows = rows.join(_usual(rows, profile, feature), on=ROW, how="left")
    history = (pl.col("_window_start") - pl.col("_judge_since")).dt.total_days()
    principal_days = (pl.col("_window_start") - pl.col("_p_since_first_seen")).dt.total_days().fill_null(0)
    api_sentence = (
        pl.when(own)
        .then(pl.format("first call of {} by this principal in {} days of history", "_api", history))
        .otherwise(
            pl.format(
                "first call of {} in this account in {} days of history (the principal is known for {} days only, "
                "so it is judged against the account's baseline)",
                "_api",
                history,
                principal_days,
            )
        )
    )
    sentences = [
        api_sentence,
        pl.when(own & pl.col("_api_new_a")).then(
            pl.format("{} had never been called in this account either", "_api")
        ),
    ]
    for feature, label in CONTEXT.items():
        usual = pl.col(f"_usual_{feature}")
        sentence = pl.format("{} {} never seen for {}", pl.lit(label), pl.col(f"_{feature}"), "_whom")
        sentence = (
            pl.when(usual.is_not_null())
            .then(pl.format("{} (usual: {})", sentence, usual))
            .otherwise(sentence)
        )
        sentences.append(pl.when(pl.col(f"_new_{feature}")).then(sentence))
    explanation = pl.concat_str(
        pl.lit("["),
        pl.concat_str(
            [pl.when(s.is_not_null()).then(json_text(s)) for s in sentences],
            separator=",",
            ignore_nulls=True,
        ),
        pl.lit("]"),
    )
    new_flags = {"api": pl.lit(True), **{f: pl.col(f"_new_{f}") for f in CONTEXT}}
    unusual = pl.concat_str(
        pl.lit("{"),
        pl.concat_str(
            [
                pl.when(flag).then(pl.format('"{}":{}', pl.lit(UNUSUAL_KEYS[f]), json_text(pl.col(f"_{f}"))))
                for f, flag in new_flags.items()
            ],
            separator=",",
            ignore_nulls=True,
        ),
        pl.lit("}"),
    )
    unseen = {
        f: pl.format(
            '"{}":{}',
            pl.lit(UNUSUAL_KEYS[f]),
            anomaly_object("UNSEEN", pl.concat_list(pl.col(f"_{f}"))).struct.json_encode(),
        )
        for f in new_flags
    }
    behavior = pl.concat_str(
        [pl.when(flag).then(unseen[f]) for f, flag in new_flags.items()], separator=",", ignore_nulls=True
    )
    profiles = pl.concat_str(
        [
            pl.when(flag & pl.col(f"_profile_{f}").is_not_null()).then(
                pl.format('"{}":[{}]', pl.lit(UNUSUAL_KEYS[f]), pl.col(f"_profile_{f}"))
            )
            for f, flag in new_flags.items()
        ],
        separator=",",
        ignore_nulls=True,
    )
    group = json_text(pl.col("_group"))
    anomaly = _object(
        {
            "profiles": _object({"": _braced(profiles)}, key=group),
            "unusual": _object({"behavior": _object({"": _braced(behavior)}, key=group)}),
        }
    )
    info = _object(
        {
            "explanation": explanation,
            "unusual": unusual,
            "anomaly": anomaly,
            "tactic": json_text(pl.col("_tactic")),
            "principal": json_text(pl.col("_principal")),
            "baseline": group,
        }
    )
    return rows.with_columns(_info=info)


@detectors.register(
    DETECTOR_ID,
    source="cloudtrail",
    emits=tuple(TYPES.values()),
    prefilter=own_calls(),
    columns=CLOUDTRAIL_COLUMNS,
)
def iam_anomaly(events: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    s = ctx.settings
    calls = _calls(events, s.behavior_window)
    # Fold the batch in first: novelty is decided on event time against the profile that
    # includes it (profile.py), so the result does not depend on where batches break. Each
    # distinct call stands for its records (weight) from its first to its last time.
    profile = ctx.profiles.get(DETECTOR_ID, empty())
    keep = ["_principal", "_account", *GROUPED]
    spans = pl.concat(
        [
            calls.select(*keep, "event_time", pl.col("_count").cast(pl.UInt64).alias("_weight")),
            calls.select(*keep, pl.col("_last").alias("event_time"), pl.lit(0, pl.UInt64).alias("_weight")),
        ]
    )
    for entity in ("_principal", "_account"):
        profile = fold(
            profile,
            spans,
            entity=pl.col(entity),
            features=FEATURES,
            retention=s.behavior_retention,
            max_values=s.behavior_max_values,
            weight="_weight",
        )
    ctx.profiles[DETECTOR_ID] = profile
    candidates = _with_tactic(calls)
    if candidates.is_empty():
        return no_hits()
    found = _anomalous(candidates, profile, ctx)
    if found.is_empty():
        return no_hits()
    # The verdict of a distinct call holds for each of its records: they are the evidence.
    found = (
        _info(found, profile)
        .select("_rows", "_principal", "_tactic", "_info")
        .explode("_rows")
        .rename({"_rows": ROW})
        .join(events.select(ROW, "event_time", "account_id", "region"), on=ROW, how="inner")
    )
    out = [
        hits(found.filter(pl.col("_tactic") == name), ftype, key=("_principal",), info=pl.col("_info"))
        for name, ftype in TYPES.items()
    ]
    out = [h for h in out if not h.is_empty()]
    return pl.concat(out) if out else no_hits()
