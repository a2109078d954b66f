"""Stealth:IAMUser/PasswordPolicyChange: the account password policy was weakened or deleted.

GuardDuty's trigger: ``iam:UpdateAccountPasswordPolicy`` that weakens the policy, or
``DeleteAccountPasswordPolicy``; attempts count too, so failed calls raise it as well (their
``errorCode`` is kept in ``info``). Only AWS services acting on their own (``userIdentity.type``
``AWSService``) are left out.

CloudTrail shows only the *new* policy, never the one it replaced, and keibi keeps no state
between batches, so "weakened" means weaker than a benchmark, scored from the request alone:
the CIS AWS Foundations Benchmark (at least 14 characters, all four character types,
reuse prevention of 24 passwords, expiry within 90 days), with AWS's own floor of 8
characters for the worst band. ``UpdateAccountPasswordPolicy`` does no partial updates: a
setting left out of the request is reset to the API default (6 characters, no character type
required, no reuse prevention, no expiry), so a missing or unreadable setting scores as its
default. Each weakness adds :data:`POINTS`; the total picks the severity by
:data:`SEVERITY_BANDS` (1-3 Low, 4-6 Medium, 7-10 High). A policy that meets the benchmark
scores 0 and raises nothing, so tightening a policy up to the benchmark never fires; a policy
that stays below it fires even when it is stronger than the one it replaced (the old one is
not in the log). ``allowUsersToChangePassword`` and ``hardExpiry`` are not scored: neither
makes passwords easier to guess. A deletion is High: IAM falls back to its built-in default
(8 characters, three of four character types, no reuse prevention, no expiry).

One finding per principal (severity: the highest of its calls). ``info`` names what was weak,
e.g. ``{"weakenedSettings": ["minimumPasswordLength=6 (<8)", "requireSymbols=false"],
"policyScore": 4, "errorCode": null}`` (``policyScore`` is null for a deletion).
"""

from __future__ import annotations

from typing import Final

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits

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

POINTS: Final[dict[str, int]] = {
    "length_below_aws_floor": 3,  # fewer than 8 characters
    "length_below_cis": 1,  # 8 to 13 characters
    "character_type_not_required": 1,  # each of the four
    "no_reuse_prevention": 2,
    "reuse_prevention_below_cis": 1,  # 1 to 23 passwords remembered
    "never_expires": 1,
    "expires_after_cis": 1,  # more than 90 days
}
# Lowest score of each band, highest band first; a score of 0 is no finding.
SEVERITY_BANDS: Final[tuple[tuple[int, Severity], ...]] = (
    (7, Severity.HIGH),
    (4, Severity.MEDIUM),
    (1, Severity.LOW),
)
DELETED: Final = (
    "password policy deleted (IAM default applies: minimumPasswordLength=8, "
    "passwordReusePrevention=0, maxPasswordAge=0)"
)


def _number(name: str) -> pl.Expr:
    raw = pl.col("request_parameters").str.json_path_match(f"$.{name}")
    return raw.cast(pl.Float64, strict=False).cast(pl.Int64, strict=False).fill_null(API_DEFAULTS[name])


def _required(name: str) -> pl.Expr:
    raw = pl.col("request_parameters").str.json_path_match(f"$.{name}")
    return (raw.str.to_lowercase() == "true").fill_null(False)


def _setting(name: str, value: pl.Expr, why: str) -> pl.Expr:
    return pl.concat_str(pl.lit(f"{name}="), value.cast(pl.String), pl.lit(f" ({why})"))


def _weaknesses() -> list[tuple[pl.Expr, int, pl.Expr]]:
    """(weak when, points, what to say) for each check of the new policy."""
    length = _number("minimumPasswordLength")
    reuse = _number("passwordReusePrevention")
    age = _number("maxPasswordAge")
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
        (~_required(name), POINTS["character_type_not_required"], pl.lit(f"{name}=false"))
        for name in CHARACTER_TYPES
    ]
    return checks


def _severity(score: pl.Expr, deleted: pl.Expr) -> pl.Expr:
    band = pl.lit(None, dtype=pl.Float64)
    for floor, severity in reversed(SEVERITY_BANDS):  # lowest band first, so higher ones win
        band = pl.when(score >= floor).then(pl.lit(float(severity))).otherwise(band)
    return pl.when(deleted).then(pl.lit(float(Severity.HIGH))).otherwise(band)


@detectors.register(
    "iam.password_policy",
    source="cloudtrail",
    emits=(PASSWORD_POLICY_CHANGE,),
    prefilter=pl.col("event_name").is_in([UPDATE, DELETE]),
)
def password_policy(events: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    calls = events.filter(
        pl.col("event_source") == "iam.amazonaws.com",
        pl.col("event_name").is_in([UPDATE, DELETE]),
        (pl.col("user_type") != "AWSService").fill_null(True),
    )
    checks = _weaknesses()
    deleted = pl.col("event_name") == DELETE
    score = pl.sum_horizontal([pl.when(weak).then(points).otherwise(0) for weak, points, _ in checks])
    said = pl.concat_list([pl.when(weak).then(what) for weak, _, what in checks]).list.drop_nulls()
    scored = calls.with_columns(
        pl.when(deleted).then(None).otherwise(score).alias("_score"),
        pl.when(deleted).then(pl.concat_list(pl.lit(DELETED))).otherwise(said).alias("_weakened"),
    ).with_columns(_severity(pl.col("_score"), deleted).alias("_severity"))
    weakened = scored.filter(pl.col("_severity").is_not_null())
    info = pl.struct(
        pl.col("_weakened").alias("weakenedSettings"),
        pl.col("_score").alias("policyScore"),
        pl.col("error_code").alias("errorCode"),
    ).struct.json_encode()
    return hits(
        weakened, PASSWORD_POLICY_CHANGE, key=("principal_id",), severity=pl.col("_severity"), info=info
    )
