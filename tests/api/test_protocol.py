"""Routes and validation come from botocore's model: every operation is reachable at the path
boto3 sends it to, and input is checked the way AWS words its validation errors."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest

from keibi.api.protocol import ApiError, find_route, model, read_request, wire_name
from tests.api.server import captured


def _sent(operation: str, **params: Any) -> AWSPreparedRequest:
    """The request boto3's guardduty client would send for ``operation``."""
    client = boto3.client(
        "guardduty",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="AKIAEXAMPLEEXAMPLE00",
        aws_secret_access_key="secret",
    )
    return captured(client, _snake(operation), **params)


def _snake(name: str) -> str:
    from botocore import xform_name

    return str(xform_name(name))


DETECTOR = "a" * 32


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("ListDetectors", {}),
        ("GetDetector", {"DetectorId": DETECTOR}),
        ("DeleteDetector", {"DetectorId": DETECTOR}),
        ("UpdateDetector", {"DetectorId": DETECTOR, "Enable": True}),
        ("ListFindings", {"DetectorId": DETECTOR, "MaxResults": 10}),
        ("GetFindings", {"DetectorId": DETECTOR, "FindingIds": ["x"]}),
        ("GetMembers", {"DetectorId": DETECTOR, "AccountIds": ["111122223333"]}),
        ("ListMembers", {"DetectorId": DETECTOR, "OnlyAssociated": "true"}),
        ("GetFilter", {"DetectorId": DETECTOR, "FilterName": "my.filter-1"}),
        ("DeleteFilter", {"DetectorId": DETECTOR, "FilterName": "my.filter-1"}),
        (
            "ListTagsForResource",
            {"ResourceArn": f"arn:aws:guardduty:us-east-1:111122223333:detector/{DETECTOR}"},
        ),
        (
            "UntagResource",
            {
                "ResourceArn": f"arn:aws:guardduty:us-east-1:111122223333:detector/{DETECTOR}",
                "TagKeys": ["a b", "c"],
            },
        ),
        ("ListInvitations", {"MaxResults": 5}),
        ("DeclineInvitations", {"AccountIds": ["111122223333"]}),
    ],
)
def test_every_request_boto3_sends_finds_its_operation(operation: str, params: dict[str, Any]) -> None:
    sent = _sent(operation, **params)
    path, _, query = sent.url.removeprefix("http://127.0.0.1:9").partition("?")
    found = find_route(sent.method, path)
    assert found is not None
    route, path_params = found
    assert route.operation.name == operation
    import orjson

    body = orjson.loads(sent.body) if sent.body else None
    wire = read_request(route, path_params, query, {k.lower(): v for k, v in sent.headers.items()}, body)
    op = model().operation_model(operation)
    for name, value in params.items():
        member = op.input_shape.members[name]
        assert wire[wire_name(name, member)] == value


def test_every_operation_has_a_route() -> None:
    names = {r.operation.name for r in __import__("keibi.api.protocol", fromlist=["routes"]).routes()}
    assert names == set(model().operation_names)


def _route(operation: str) -> Any:
    from keibi.api.protocol import routes

    return next(r for r in routes() if r.operation.name == operation)


@pytest.mark.parametrize(
    ("operation", "body", "words"),
    [
        ("CreateDetector", {}, "Value null at 'enable'"),
        ("CreateDetector", {"enable": "yes"}, "'enable' must be true or false"),
        ("CreateDetector", {"enable": True, "findingPublishingFrequency": "NOW"}, "enum value set"),
        (
            "CreateFilter",
            {"name": "ab", "findingCriteria": {"criterion": {}}},
            "length greater than or equal to 3",
        ),
        (
            "CreateFilter",
            {"name": "abc", "rank": 101, "findingCriteria": {"criterion": {}}},
            "less than or equal to 100",
        ),
        ("GetFindings", {"findingIds": ["x"] * 51}, "length less than or equal to 50"),
        ("ListFindings", {"maxResults": "10"}, "'maxResults' must be an integer"),
        (
            "ListFindings",
            {"findingCriteria": {"criterion": {"severity": {"gte": "high"}}}},
            "must be an integer",
        ),
    ],
)
def test_invalid_input_is_refused_with_aws_words(operation: str, body: dict[str, Any], words: str) -> None:
    route = _route(operation)
    with pytest.raises(ApiError) as err:
        read_request(route, {"DetectorId": DETECTOR}, "", {}, body)
    assert err.value.status == 400
    assert err.value.code == "BadRequestException"
    assert words in err.value.message


def test_valid_input_passes_with_its_types() -> None:
    route = _route("ListMembers")
    wire = read_request(route, {"DetectorId": DETECTOR}, "maxResults=7&onlyAssociated=true", {}, None)
    assert wire == {"detectorId": DETECTOR, "maxResults": 7, "onlyAssociated": "true"}
    with pytest.raises(ApiError):
        read_request(route, {"DetectorId": DETECTOR}, "maxResults=seven", {}, None)
