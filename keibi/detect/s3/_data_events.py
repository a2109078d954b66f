"""S3 data events as the caller-centred S3 detectors read them: which bucket, who called.

Shared by ``s3.malicious_ip``, ``s3.malicious_ip_custom``, ``s3.tor_ip`` and ``s3.pentest``,
which all key their findings by bucket and caller, and by ``behavior.s3_anomaly``. Anonymous requests (a public bucket read
without credentials) have no principal: CloudTrail logs them with ``userIdentity.type``
``AWSAccount`` and ``accountId`` (sometimes ``principalId``) ``ANONYMOUS_PRINCIPAL``, or with
no ``userIdentity`` at all, so their caller is the source address instead.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from keibi.detect.api_classes import api_class
from keibi.detect.iam.malicious_ip import BY_AWS_SERVICE

S3_SOURCE: Final = "s3.amazonaws.com"
ANONYMOUS: Final = "ANONYMOUS_PRINCIPAL"
S3_DATA: Final = (pl.col("event_category") == "Data") & (pl.col("event_source") == S3_SOURCE)

BUCKET: Final = "_bucket"
CALLER: Final = "_caller"
API_CLASS: Final = "_api_class"

_anonymous = (
    pl.col("principal_id").is_null()
    | pl.col("principal_id").is_in(["", ANONYMOUS])
    | (pl.col("user_account_id") == ANONYMOUS).fill_null(False)
)


def s3_data_calls(events: pl.DataFrame, matched: pl.Expr) -> pl.DataFrame:
    """S3 data events matching ``matched``, not made by an AWS service, with ``_bucket``
    (``requestParameters.bucketName``), ``_caller`` (the principal, or the source address when
    anonymous) and ``_api_class`` (``keibi.detect.api_classes``)."""
    calls = events.filter(S3_DATA.fill_null(False), matched.fill_null(False), ~BY_AWS_SERVICE)
    return s3_call_columns(calls)


def s3_call_columns(calls: pl.DataFrame) -> pl.DataFrame:
    """``calls`` (S3 API calls, data or management events) with the ``_bucket``, ``_caller``
    and ``_api_class`` columns of :func:`s3_data_calls`."""
    return calls.with_columns(
        pl.col("request_parameters").str.json_path_match("$.bucketName").alias(BUCKET),
        pl.when(_anonymous).then(pl.col("source_ip")).otherwise(pl.col("principal_id")).alias(CALLER),
        api_class(pl.col("event_source"), pl.col("event_name")).alias(API_CLASS),
    )
