"""Stealth:IAMUser/PasswordPolicyChange: the account password policy was weakened or deleted.

GuardDuty's trigger: ``iam:UpdateAccountPasswordPolicy`` that weakens the policy, or
``DeleteAccountPasswordPolicy``; attempts count too, so failed calls raise it as well (their
``errorCode`` is kept in ``info``). Only AWS services acting on their own (``userIdentity.type``
``AWSService``) are left out, though a policy they set successfully is remembered like any other.

"Weakened" needs the policy that was replaced, and CloudTrail shows only the new one. So keibi
remembers, per account, the last policy a *successful* call set (``ctx.state``, one row per
account, kept in the store between scans) and its event time. ``UpdateAccountPasswordPolicy``
does no partial updates: a setting left out of the request (or unreadable) is reset to the API
default (6 characters, no character type required, no reuse prevention, no expiry), so a
request is the whole new policy. A successful ``DeleteAccountPasswordPolicy`` leaves IAM's
built-in default (:data:`IAM_DEFAULT`: 8 characters, any three of the four character types, no
reuse prevention, no expiry). A failed call changes nothing, so it is judged but not remembered.

**Previous policy known** (``"comparedWith": "previous policy"``): the call raises only if it
weakens a setting of :data:`WEAKENED_WHEN` against that policy. A character type no longer
required counts between two policies that were set; against IAM's default, which requires
three types but none by name, the number of types required is compared
(``characterTypesRequired``). ``allowUsersToChangePassword`` and ``hardExpiry`` are not
compared: neither makes passwords easier to guess (users who may not change their password
cannot rotate a leaked one, but neither can someone who stole it). The severity is the points
lost under :data:`POINTS`, each group (length, character types, reuse, expiry) counted as its
points in the new policy minus those in the previous one, never below 0 (a weakening that stays
within the benchmark loses no points and is Low), banded by :data:`SEVERITY_BANDS` (1-3 Low,
4-6 Medium, 7-10 High). ``info`` lists each weakened setting (``"minimumPasswordLength 14→8"``)
and names the previous policy's event time and API. An update that only strengthens or keeps
the policy raises nothing, even when it stays below the benchmark.

**Previous policy unknown** (the account's first call keibi sees; ``"comparedWith": "CIS
benchmark"``): the new policy is scored against the CIS AWS Foundations Benchmark (at least 14
characters, all four character types, reuse prevention of 24 passwords, expiry within 90 days),
with AWS's own floor of 8 characters for the worst band. Each weakness adds :data:`POINTS`; the
total (``policyScore``) picks the severity by the same bands, and a policy that meets the
benchmark scores 0 and raises nothing. A deletion is High (``policyScore`` null).

Order and determinism: a batch's calls are judged per account in event-time order, each against
the last successful one before it (or the remembered policy, if set at or before the call), and
the state is updated with the batch's last successful call per account. Files are fed in
event-time order, so results do not depend on where batches break; a call that arrives after a
later policy was already remembered is judged against the benchmark.

One finding per principal (severity: the highest of its calls; ``info``: its latest call's).
"""

from __future__ import annotations

from typing import Final, Literal

import polars as pl

from keibi.detect import ROW, DetectContext, FindingType, Severity, detectors, hits, no_hits

DETECTOR_ID: Final = "iam.password_policy"

PASSWORD_POLICY_CHANGE = FindingType(
    type="Stealth:IAMUser/PasswordPolicyChange",
    severity=Severity.LOW,
    data_sources=("cloudtrail_management",),
    resource_type="AccessKey",
    detection="policy",
    action_type="AWS_API_CALL",
    title="Account password policy was weakened.",
    description=(
        "The account password policy was weakened by {user_name} ({principal_id}) with API {api} from IP address "
        "{remote_ip}: it was deleted, or set to require fewer characters or character types, to "
        "prevent less password reuse or to let passwords live longer."
    ),
)

UPDATE: Final = "UpdateAccountPasswordPolicy"
DELETE: Final = "DeleteAccountPasswordPolicy"

# The benchmark (CIS AWS Foundations) and AWS's own floor.
CIS_MIN_LENGTH: Final = 14
AWS_MIN_LENGTH: Final = 8
CIS_REUSE_PREVENTION: Final = 24
CIS_MAX_AGE_DAYS: Final = 90
CHARACTER_TYPES: Final = (
    "requireSymbols",
    "requireNumbers",
    "requireUppercaseCharacters",
    "requireLowercaseCharacters",
)
# What UpdateAccountPasswordPolicy sets for a number left out of the request (booleans: false).
API_DEFAULTS: Final[dict[str, int]] = {
    "minimumPasswordLength": 6,
    "passwordReusePrevention": 0,
    "maxPasswordAge": 0,
}
# IAM's built-in policy when the account has none (after a deletion); no type is required by name.
IAM_DEFAULT: Final[dict[str, int]] = {
    "minimumPasswordLength": 8,
    "passwordReusePrevention": 0,
    "maxPasswordAge": 0,
}
IAM_DEFAULT_CHARACTER_TYPES: Final = 3  # any three of the four

# How a setting is weaker than the previous policy's; settings not listed are not compared.
# "higher" counts 0 (never expires) as the highest; "turned off" (true → false) is compared
# only between two policies set by UpdateAccountPasswordPolicy.
WEAKENED_WHEN: Final[dict[str, Literal["lower", "higher", "turned off"]]] = {
    "minimumPasswordLength": "lower",
    "requireSymbols": "turned off",
    "requireNumbers": "turned off",
    "requireUppercaseCharacters": "turned off",
    "requireLowercaseCharacters": "turned off",
    "passwordReusePrevention": "lower",
    "maxPasswordAge": "higher",
}

POINTS: Final[dict[str, int]] = {
    "length_below_aws_floor": 3,  # fewer than 8 characters
    "length_below_cis": 1,  # 8 to 13 characters
    "character_type_not_required": 1,  # each of the four
    "no_reuse_prevention": 2,
    "reuse_prevention_below_cis": 1,  # 1 to 23 passwords remembered
    "never_expires": 1,
    "expires_after_cis": 1,  # more than 90 days
}
# Lowest score (or points lost) of each band, highest band first; 0 is no finding.
SEVERITY_BANDS: Final[tuple[tuple[int, Severity], ...]] = (
    (7, Severity.HIGH),
    (4, Severity.MEDIUM),
    (1, Severity.LOW),
)
DELETED: Final = (
    "password policy deleted (IAM default applies: minimumPasswordLength=8, "
    "passwordReusePrevention=0, maxPasswordAge=0)"
)

TIME = pl.Datetime("us", "UTC")
# One row per account: the last policy a successful call set, when, and by which API.
STATE: Final[pl.Schema] = pl.Schema(
    {
        "account_id": pl.String(),
        "set_at": TIME,
        "api": pl.String(),
        **{name: pl.Boolean() if how == "turned off" else pl.Int64() for name, how in WEAKENED_WHEN.items()},
    }
)
POLICY: Final = tuple(name for name in STATE.names() if name != "account_id")
NEW: Final = "_new_"  # column prefixes of the two policies compared
PREV: Final = "_prev_"


def _number(name: str) -> pl.Expr:
    raw = pl.col("request_parameters").str.json_path_match(f"$.{name}")
    return raw.cast(pl.Float64, strict=False).cast(pl.Int64, strict=False).fill_null(API_DEFAULTS[name])


def _required(name: str) -> pl.Expr:
    raw = pl.col("request_parameters").str.json_path_match(f"$.{name}")
    return (raw.str.to_lowercase() == "true").fill_null(False)


def _new_policy() -> list[pl.Expr]:
    """The policy each call sets, as :data:`POLICY` columns prefixed :data:`NEW`."""
    deleted = pl.col("event_name") == DELETE
    columns = [pl.col("event_time").alias(NEW + "set_at"), pl.col("event_name").alias(NEW + "api")]
    for name, how in WEAKENED_WHEN.items():
        if how == "turned off":
            value = pl.when(deleted).then(False).otherwise(_required(name))
        else:
            value = pl.when(deleted).then(IAM_DEFAULT[name]).otherwise(_number(name))
        columns.append(value.alias(NEW + name))
    return columns


def _with_previous(calls: pl.DataFrame, state: pl.DataFrame) -> pl.DataFrame:
    """``calls`` with the policy each replaced (:data:`PREV` columns, null when unknown): the
    last successful call before it in the account, else the remembered one if set by then."""
    ordered = calls.sort("account_id", "event_time", ROW)
    ok = pl.col("error_code").is_null()
    in_batch = ordered.with_columns(
        pl.when(ok).then(pl.col(NEW + c)).shift(1).forward_fill().over("account_id").alias(PREV + c)
        for c in POLICY
    )
    remembered = state.select("account_id", *(pl.col(c).alias("_state_" + c) for c in POLICY))
    joined = in_batch.join(remembered, on="account_id", how="left")
    from_batch = pl.col(PREV + "set_at").is_not_null()
    from_state = pl.col("_state_set_at") <= pl.col("event_time")
    return joined.with_columns(
        pl.when(from_batch)
        .then(pl.col(PREV + c))
        .when(from_state)
        .then(pl.col("_state_" + c))
        .alias(PREV + c)
        for c in POLICY
    )


def _remembered(state: pl.DataFrame, calls: pl.DataFrame) -> pl.DataFrame:
    """``state`` updated with each account's last successful call (the later policy wins)."""
    learned = (
        calls.filter(pl.col("error_code").is_null())
        .sort("event_time", ROW)
        .select("account_id", *(pl.col(NEW + c).alias(c) for c in POLICY))
    )
    # A stable sort on event time: on a tie the batch's row (after the state's) wins.
    return (
        pl.concat([state, learned.cast(STATE)])
        .sort("set_at", maintain_order=True)
        .unique(subset=["account_id"], keep="last", maintain_order=True)
    )


def _setting(name: str, value: pl.Expr, why: str) -> pl.Expr:
    return pl.concat_str(pl.lit(f"{name}="), value.cast(pl.String), pl.lit(f" ({why})"))


def _benchmark_weaknesses() -> list[tuple[pl.Expr, int, pl.Expr]]:
    """(weak when, points, what to say) for each check of the new policy against the benchmark."""
    length = pl.col(NEW + "minimumPasswordLength")
    reuse = pl.col(NEW + "passwordReusePrevention")
    age = pl.col(NEW + "maxPasswordAge")
    checks = [
        (
            length < AWS_MIN_LENGTH,
            POINTS["length_below_aws_floor"],
            _setting("minimumPasswordLength", length, f"<{AWS_MIN_LENGTH}"),
        ),
        (
            (length >= AWS_MIN_LENGTH) & (length < CIS_MIN_LENGTH),
            POINTS["length_below_cis"],
            _setting("minimumPasswordLength", length, f"<{CIS_MIN_LENGTH}"),
        ),
        (reuse <= 0, POINTS["no_reuse_prevention"], _setting("passwordReusePrevention", reuse, "none")),
        (
            (reuse > 0) & (reuse < CIS_REUSE_PREVENTION),
            POINTS["reuse_prevention_below_cis"],
            _setting("passwordReusePrevention", reuse, f"<{CIS_REUSE_PREVENTION}"),
        ),
        (age <= 0, POINTS["never_expires"], _setting("maxPasswordAge", age, "never expires")),
        (
            age > CIS_MAX_AGE_DAYS,
            POINTS["expires_after_cis"],
            _setting("maxPasswordAge", age, f">{CIS_MAX_AGE_DAYS}"),
        ),
    ]
    checks += [
        (~pl.col(NEW + name), POINTS["character_type_not_required"], pl.lit(f"{name}=false"))
        for name in CHARACTER_TYPES
    ]
    return checks


def _character_types(side: str) -> pl.Expr:
    """How many character types a password must mix under one side's policy."""
    named = pl.sum_horizontal([pl.col(side + name).cast(pl.Int64) for name in CHARACTER_TYPES])
    return pl.when(pl.col(side + "api") == DELETE).then(IAM_DEFAULT_CHARACTER_TYPES).otherwise(named)


def _group_points(side: str) -> list[pl.Expr]:
    """One side's points under :data:`POINTS`, per group (length, character types, reuse, expiry)."""
    length = pl.col(side + "minimumPasswordLength")
    reuse = pl.col(side + "passwordReusePrevention")
    age = pl.col(side + "maxPasswordAge")
    missing_types = len(CHARACTER_TYPES) - _character_types(side)
    return [
        pl.when(length < AWS_MIN_LENGTH)
        .then(POINTS["length_below_aws_floor"])
        .when(length < CIS_MIN_LENGTH)
        .then(POINTS["length_below_cis"])
        .otherwise(0),
        missing_types * POINTS["character_type_not_required"],
        pl.when(reuse <= 0)
        .then(POINTS["no_reuse_prevention"])
        .when(reuse < CIS_REUSE_PREVENTION)
        .then(POINTS["reuse_prevention_below_cis"])
        .otherwise(0),
        pl.when(age <= 0)
        .then(POINTS["never_expires"])
        .when(age > CIS_MAX_AGE_DAYS)
        .then(POINTS["expires_after_cis"])
        .otherwise(0),
    ]


def _change(name: str, old: pl.Expr, new: pl.Expr) -> pl.Expr:
    return pl.format(
        f"{name} {{}}→{{}}", old.cast(pl.String).str.to_lowercase(), new.cast(pl.String).str.to_lowercase()
    )


def _weakened_against_previous() -> pl.Expr:
    """The settings the new policy weakens against the previous one, as "name old→new"."""
    both_set = (pl.col(PREV + "api") == UPDATE) & (pl.col(NEW + "api") == UPDATE)
    said: list[pl.Expr] = []
    for name, how in WEAKENED_WHEN.items():
        new, old = pl.col(NEW + name), pl.col(PREV + name)
        if how == "lower":
            weak = new < old
        elif how == "higher":
            never = pl.Int64.max()
            weak = pl.when(new <= 0).then(never).otherwise(new) > pl.when(old <= 0).then(never).otherwise(old)
        else:
            weak = both_set & old & ~new
        said.append(pl.when(weak).then(_change(name, old, new)))
    fewer_types = ~both_set & (_character_types(PREV) > _character_types(NEW))
    types = _change("characterTypesRequired", _character_types(PREV), _character_types(NEW))
    said.append(pl.when(fewer_types).then(types))
    return pl.concat_list(said).list.drop_nulls()


def _points_lost() -> pl.Expr:
    lost = [
        pl.max_horizontal(new - old, pl.lit(0))
        for new, old in zip(_group_points(NEW), _group_points(PREV), strict=True)
    ]
    return pl.sum_horizontal(lost)


def _band(points: pl.Expr) -> pl.Expr:
    band = pl.lit(None, dtype=pl.Float64)
    for floor, severity in reversed(SEVERITY_BANDS):  # lowest band first, so higher ones win
        band = pl.when(points >= floor).then(pl.lit(float(severity))).otherwise(band)
    return band


def _judged(rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` with ``_severity`` (null: not weakened) and ``_info`` (JSON text)."""
    known = pl.col(PREV + "set_at").is_not_null()
    deleted = pl.col("event_name") == DELETE
    checks = _benchmark_weaknesses()
    score = pl.sum_horizontal([pl.when(weak).then(points).otherwise(0) for weak, points, _ in checks])
    said = pl.concat_list([pl.when(weak).then(what) for weak, _, what in checks]).list.drop_nulls()
    judged = rows.with_columns(
        _score=pl.when(deleted).then(None).otherwise(score),
        _benchmark=pl.when(deleted).then(pl.concat_list(pl.lit(DELETED))).otherwise(said),
        _weakened=_weakened_against_previous(),
        _lost=_points_lost(),
    )
    against_benchmark = pl.when(deleted).then(pl.lit(float(Severity.HIGH))).otherwise(_band(pl.col("_score")))
    against_previous = pl.when(pl.col("_weakened").list.len() > 0).then(
        _band(pl.max_horizontal(pl.col("_lost"), pl.lit(1)))
    )
    benchmark_info = pl.struct(
        pl.lit("CIS benchmark").alias("comparedWith"),
        pl.col("_benchmark").alias("weakenedSettings"),
        pl.col("_score").alias("policyScore"),
        pl.col("error_code").alias("errorCode"),
    ).struct.json_encode()
    previous_info = pl.struct(
        pl.lit("previous policy").alias("comparedWith"),
        pl.col(PREV + "set_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("previousPolicySetAt"),
        pl.col(PREV + "api").alias("previousPolicyApi"),
        pl.col("_weakened").alias("weakenedSettings"),
        pl.col("_lost").alias("pointsLost"),
        pl.col("error_code").alias("errorCode"),
    ).struct.json_encode()
    return judged.with_columns(
        _severity=pl.when(known).then(against_previous).otherwise(against_benchmark),
        _info=pl.when(known).then(previous_info).otherwise(benchmark_info),
    )


@detectors.register(
    DETECTOR_ID,
    source="cloudtrail",
    emits=(PASSWORD_POLICY_CHANGE,),
    prefilter=pl.col("event_name").is_in([UPDATE, DELETE]),
)
def password_policy(events: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    # AWS services' calls are not raised, but a successful one still sets the policy.
    calls = events.filter(
        pl.col("event_source") == "iam.amazonaws.com",
        pl.col("event_name").is_in([UPDATE, DELETE]),
    ).with_columns(_new_policy())
    if calls.is_empty():
        return no_hits()
    state = ctx.state.get(DETECTOR_ID, pl.DataFrame(schema=STATE))
    # Judge against what was known before this batch, then remember the batch's last policies.
    judged = _judged(_with_previous(calls, state))
    ctx.state[DETECTOR_ID] = _remembered(state, judged)
    raised = judged.filter(
        (pl.col("user_type") != "AWSService").fill_null(True), pl.col("_severity").is_not_null()
    )
    return hits(
        raised,
        PASSWORD_POLICY_CHANGE,
        key=("principal_id",),
        severity=pl.col("_severity"),
        info=pl.col("_info"),
    )
