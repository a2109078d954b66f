"""Which CloudTrail API calls are reconnaissance, as data.

GuardDuty splits calls from a listed IP into ``Recon:IAMUser/*`` (discovery: listing and
describing what exists) and ``UnauthorizedAccess:IAMUser/*`` (everything else). A call is
recon when its name starts with a prefix in :data:`RECON_PREFIXES`, unless it is in
:data:`NOT_RECON`: reads that hand out secrets, credentials or data rather than describe
resources, which are access in their own right.
"""

from __future__ import annotations

from typing import Final

import polars as pl

RECON_PREFIXES: Final[tuple[str, ...]] = ("Describe", "Get", "List", "Lookup", "Search")

NOT_RECON: Final[frozenset[str]] = frozenset(
    {
        "GetAuthorizationToken",  # ECR: a registry credential
        "GetFederationToken",
        "GetObject",
        "GetParameter",
        "GetParameters",
        "GetParametersByPath",
        "GetPasswordData",
        "GetSecretValue",
        "GetSessionToken",
        "GetSigninToken",
        "GetRoleCredentials",  # IAM Identity Center
        "GetClusterCredentials",  # Redshift
        "GetConsoleOutput",
        "GetConsoleScreenshot",
    }
)


def is_recon(event_name: pl.Expr) -> pl.Expr:
    """True for discovery-style API names (see the module docstring)."""
    listed = pl.any_horizontal([event_name.str.starts_with(p) for p in RECON_PREFIXES])
    return (listed & ~event_name.is_in(sorted(NOT_RECON))).fill_null(False)
