"""Who made a CloudTrail call and from where, as behaviour profiles name them.

Shared by the CloudTrail behaviour detectors so a principal, a network and a client tool are
spelt one way in every profile: the principal is the role behind an assumed-role session (a
session lasts an hour and would never build a baseline), the network the caller's AS (or its
AWS range, or its /16), the user agent its product and major version (an upgrade is not new).
"""

from __future__ import annotations

from typing import Final

import polars as pl

CLOUDTRAIL_COLUMNS: Final = (
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
    "access_key_id",
    "user_name",
    "remote_ip",
    "remote_asn",
    "remote_aws_service",
    "remote_aws_region",
    "remote_country",
    "remote_lat",
    "remote_lon",
    "user_agent",
    "region",
    "error_code",
    "response_elements",
    "request_parameters",
    "user_account_id",
    "source_ip",
    "resources",
    "additional_event_data",
    "session_issuer_user_name",
    "recipient_account_id",
)
"""The CloudTrail columns the behaviour detectors read (``Detector.columns``): the engine hands
them only these (and what findings are built from), so a batch's copies stay narrow."""


def agent_family(ua: pl.Expr) -> pl.Expr:
    """A user agent's product and major version (``aws-cli/2``, ``Boto3/1``, ``Terraform/1``),
    ``console`` for browsers and the console's own agents, ``AWS Internal``, a service host
    name as it is; the first word when no version follows; null for no user agent."""
    s = ua.str.strip_chars().str.strip_chars_start("[")
    first = s.str.extract(r"^([^\s,;()\]]+)", 1)
    terraform = s.str.extract(r"(?i)\bterraform/v?(\d+)", 1)
    name = s.str.extract(r"^([A-Za-z][A-Za-z0-9_.\- ]*?)\s*[/ ]v?(\d+)", 1)
    major = s.str.extract(r"^([A-Za-z][A-Za-z0-9_.\- ]*?)\s*[/ ]v?(\d+)", 2)
    word = s.str.extract(r"^([A-Za-z][A-Za-z0-9_.\-]*)", 1)
    lower = first.str.to_lowercase()
    console = (
        lower.str.starts_with("mozilla/")
        | lower.str.contains("console", literal=True)
        | lower.is_in(["signin.amazonaws.com", "aws-signin"])
        | s.str.starts_with("AWS Signin")
    )
    family = (
        pl.when(ua.is_null() | (s == ""))
        .then(pl.lit(None, pl.String))
        .when(s == "AWS Internal")
        .then(pl.lit("AWS Internal"))
        .when(console.fill_null(False))
        .then(pl.lit("console"))
        .when(terraform.is_not_null())
        .then(pl.concat_str(pl.lit("Terraform/"), terraform))
        .when(lower.str.ends_with(".amazonaws.com").fill_null(False))
        .then(lower)
        .when(name.is_not_null())
        .then(pl.concat_str(name, pl.lit("/"), major))
        .otherwise(pl.coalesce(word, pl.lit("other")))
    )
    return family.str.slice(0, 64)


def network(ip: pl.Expr, asn: pl.Expr, aws_service: pl.Expr, aws_region: pl.Expr) -> pl.Expr:
    """``AS<asn>`` when the ASN is known; else ``aws:<service>:<region>`` for an AWS address;
    else the /16 (IPv4) or /32 (IPv6) the address is in."""
    v4 = ip.str.extract(r"^(\d{1,3}\.\d{1,3})\.\d{1,3}\.\d{1,3}$", 1)
    v6 = ip.str.extract(r"^([0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}):", 1).str.to_lowercase()
    return (
        pl.when(asn.is_not_null())
        .then(pl.concat_str(pl.lit("AS"), asn.cast(pl.String)))
        .when(aws_service.is_not_null())
        .then(pl.concat_str(pl.lit("aws:"), aws_service, pl.lit(":"), aws_region.fill_null("GLOBAL")))
        .when(v4.is_not_null())
        .then(pl.concat_str(v4, pl.lit(".0.0/16")))
        .when(v6.is_not_null())
        .then(pl.concat_str(v6, pl.lit("::/32")))
        .otherwise(pl.lit(None, pl.String))
    )


def principal() -> pl.Expr:
    """Whose behaviour a call is (see the module docstring); null: not a principal's own."""
    role = pl.coalesce(
        pl.col("session_issuer_arn"),
        pl.col("user_arn").str.replace(
            r"^arn:([^:]+):sts::(\d+):assumed-role/([^/]+)/.*$", "arn:$1:iam::$2:role/$3"
        ),
    )
    root = pl.coalesce(pl.col("user_arn"), pl.format("arn:aws:iam::{}:root", pl.col("account_id")))
    return (
        pl.when(pl.col("user_type") == "AssumedRole")
        .then(role)
        .when(pl.col("user_type") == "Root")
        .then(root)
        .when(pl.col("user_type") == "AWSService")
        .then(pl.lit(None, pl.String))
        .otherwise(pl.coalesce("user_arn", "principal_id"))
    )


def own_calls() -> pl.Expr:
    """Calls a principal made itself: not a service acting for it."""
    return (
        pl.col("invoked_by").is_null()
        & (pl.col("user_type") != "AWSService").fill_null(True)
        & pl.col("remote_ip").is_not_null()
    )
