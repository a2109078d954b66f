"""EventPattern: EventBridge's event-pattern language, checked on the AWS guide's own examples and on
GuardDuty finding events built from keibi's sample findings.

Doc pages cited: "Creating event patterns" (eb-event-patterns), "Arrays in event patterns"
(eb-event-patterns-arrays), "Null values and empty strings" (eb-event-patterns-null-values),
"Content filtering" (eb-event-patterns-content-based-filtering), "Comparison operators"
(eb-create-pattern-operators); where the guide is silent, Event Ruler's README (aws/event-ruler).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from keibi.errors import ConfigError
from keibi.findings.samples import sample_findings
from keibi.publish.patterns import EventPattern, PatternError, matches

_GONE = object()


def _with(event: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``event`` with the values at dotted paths (``"detail.state"``) set or removed."""
    out = copy.deepcopy(event)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        if value is _GONE:
            node.pop(last, None)
        else:
            node[last] = value
    return out


# Creating event patterns: the EC2 state-change event.
EC2 = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"},
}
# Content filtering / Event Ruler README: the event its operator examples run against.
RULER = {
    "version": "0",
    "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "012345679012",
    "time": "2017-10-02T16:24:49Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
    "detail": {
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.33",
        "instance-id": "i-000000aaaaaa00000",
        "state": "running",
    },
}
# Null values and empty strings: the Auto Scaling event.
AUTOSCALING = {
    "version": "0",
    "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
    "detail-type": "EC2 Instance Launch Successful",
    "source": "aws.autoscaling",
    "account": "123456789012",
    "time": "2015-11-11T21:31:47Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {"eventVersion": "", "responseElements": None},
}
# Creating event patterns: the (truncated) Macie alert.
MACIE = {
    "version": "0",
    "id": "3e355723-fca9-4de3-9fd7-154c289d6b59",
    "detail-type": "Macie Alert",
    "source": "aws.macie",
    "account": "123456789012",
    "time": "2017-04-24T22:28:49Z",
    "region": "us-east-1",
    "resources": [
        "arn:aws:macie:us-east-1:123456789012:trigger/trigger_id/alert/alert_id",
        "arn:aws:macie:us-east-1:123456789012:trigger/trigger_id",
    ],
    "detail": {
        "notification-type": "ALERT_CREATED",
        "name": "Scanning bucket policies",
        "tags": ["Custom_Alert", "Insider"],
        "risk-score": 80,
        "trigger": {"alert-type": "basic", "risk": 8},
    },
}
# Event Ruler README, JSON array matching.
EMPLOYEES = {
    "employees": [
        {"firstName": "John", "lastName": "Doe"},
        {"firstName": "Anna", "lastName": "Smith"},
        {"firstName": "Peter", "lastName": "Jones"},
    ]
}
EMPLOYEES_NESTED = {
    "employees": [
        [{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"}],
        [{"firstName": "Peter", "lastName": "Jones"}],
    ]
}


def _guardduty(finding_type: str, changes: dict[str, Any]) -> dict[str, Any]:
    """GuardDuty's EventBridge event around keibi's sample finding of ``finding_type``.

    The values a case relies on are set here, so a change to the sample data keeps the shape real
    without moving the expected answers.
    """
    (finding,) = sample_findings(
        "123456789012", "us-east-1", [finding_type], now=datetime(2026, 11, 24, 10, tzinfo=UTC)
    )
    event = {
        "version": "0",
        "id": "a3c0d5e6-1f2a-4b3c-8d9e-0f1a2b3c4d5e",
        "detail-type": "GuardDuty Finding",
        "source": "aws.guardduty",
        "account": "123456789012",
        "time": "2026-11-24T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": finding,
    }
    return _with(event, {"detail.service.archived": False, "detail.service.count": 1, **changes})


SSH = _guardduty(
    "UnauthorizedAccess:EC2/SSHBruteForce",
    {
        "detail.severity": 2.0,
        "detail.resource.resourceType": "Instance",
        "detail.service.action.networkConnectionAction.remoteIpDetails.ipAddressV4": "198.51.100.77",
    },
)
EXFIL = _guardduty(
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
    {"detail.severity": 8.0, "detail.resource.resourceType": "AccessKey"},
)
PROBE = _guardduty("Recon:EC2/PortProbeUnprotectedPort", {"detail.severity": 5.3})
_probe = PROBE["detail"]["service"]["action"]["portProbeAction"]
_probe["portProbeDetails"] = [copy.deepcopy(_probe["portProbeDetails"][0]) for _ in range(2)]
for _detail, _ip in zip(_probe["portProbeDetails"], ("198.51.100.99", "203.0.113.141"), strict=True):
    _detail["remoteIpDetails"]["ipAddressV4"] = _ip
# SSH's instance has one private interface; TWO_ENIS's has two, only the second public.
_enis_of = SSH["detail"]["resource"]["instanceDetails"]
_eni = {k: v for k, v in _enis_of["networkInterfaces"][0].items() if not k.startswith("public")}
_enis_of["networkInterfaces"] = [_eni]
TWO_ENIS = copy.deepcopy(SSH)
TWO_ENIS["detail"]["resource"]["instanceDetails"]["networkInterfaces"] = [
    {**_eni, "networkInterfaceId": "eni-first"},
    {**_eni, "networkInterfaceId": "eni-second", "publicIp": "203.0.113.10", "publicDnsName": "ec2.example"},
]
ARCHIVED = _with(SSH, {"detail.service.archived": True, "detail.service.count": 14})

GD = {"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"]}


def _remote_v4(values: list[Any]) -> dict[str, Any]:
    """``detail.service.action.networkConnectionAction.remoteIpDetails.ipAddressV4: values``."""
    return {
        "detail": {
            "service": {"action": {"networkConnectionAction": {"remoteIpDetails": {"ipAddressV4": values}}}}
        }
    }


def _enis(**fields: list[Any]) -> dict[str, Any]:
    return {"detail": {"resource": {"instanceDetails": {"networkInterfaces": fields}}}}


def _probes(values: list[Any]) -> dict[str, Any]:
    details = {"remoteIpDetails": {"ipAddressV4": values}}
    return {"detail": {"service": {"action": {"portProbeAction": {"portProbeDetails": details}}}}}


def case(name: str, pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> Any:
    return pytest.param(pattern, event, expected, id=name)


CASES = [
    # --- Creating event patterns ----------------------------------------------------------------
    case(
        "doc-ec2-terminated",
        {
            "source": ["aws.ec2"],
            "detail-type": ["EC2 Instance State-change Notification"],
            "detail": {"state": ["terminated"]},
        },
        EC2,
        True,
    ),
    case(
        "doc-ec2-running-not-terminated",
        {"source": ["aws.ec2"], "detail": {"state": ["terminated"]}},
        _with(EC2, {"detail.state": "running"}),
        False,
    ),
    case(
        "doc-ec2-other-source",
        {"source": ["aws.ec2"], "detail": {"state": ["terminated"]}},
        _with(EC2, {"source": "aws.s3"}),
        False,
    ),
    case("doc-match-values-ec2-or-fargate", {"source": ["aws.ec2", "aws.fargate"]}, EC2, True),
    case(
        "doc-match-values-fargate",
        {"source": ["aws.ec2", "aws.fargate"]},
        _with(EC2, {"source": "aws.fargate"}),
        True,
    ),
    case(
        "doc-match-values-neither",
        {"source": ["aws.ec2", "aws.fargate"]},
        _with(EC2, {"source": "aws.ecs"}),
        False,
    ),
    case(
        "doc-fields-not-in-pattern-ignored", {"detail": {"instance-id": ["i-1234567890abcdef0"]}}, EC2, True
    ),
    case("doc-field-missing-from-event", {"detail": {"instance-type": ["t3.micro"]}}, EC2, False),
    case("doc-field-nesting-must-agree", {"state": ["terminated"]}, EC2, False),
    case("doc-case-sensitive", {"detail": {"state": ["Terminated"]}}, EC2, False),
    case(
        "doc-macie-risk",
        {
            "source": ["aws.macie"],
            "detail-type": ["Macie Alert"],
            "detail": {"risk-score": [80], "trigger": {"risk": [8]}},
        },
        MACIE,
        True,
    ),
    case("doc-macie-risk-differs", {"detail": {"risk-score": [80], "trigger": {"risk": [9]}}}, MACIE, False),
    case("doc-macie-tags-array", {"detail": {"tags": ["Insider"]}}, MACIE, True),
    # --- Null values and empty strings ----------------------------------------------------------
    case("doc-null", {"detail": {"responseElements": [None]}}, AUTOSCALING, True),
    case("doc-empty-string", {"detail": {"eventVersion": [""]}}, AUTOSCALING, True),
    case("doc-empty-string-is-not-null", {"detail": {"eventVersion": [None]}}, AUTOSCALING, False),
    case("doc-null-is-not-empty-string", {"detail": {"responseElements": [""]}}, AUTOSCALING, False),
    case("null-is-not-absent", {"detail": {"missing": [None]}}, AUTOSCALING, False),
    case(
        "doc-autoscaling-null-field-pattern",
        {
            "source": ["aws.autoscaling"],
            "detail-type": ["EC2 Instance Launch Successful"],
            "detail": {"responseElements": [None]},
        },
        AUTOSCALING,
        True,
    ),
    # --- Arrays in event patterns ---------------------------------------------------------------
    case(
        "doc-arrays-intersection",
        {
            "resources": [
                "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
                "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f",
                "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f",
            ]
        },
        {
            "resources": [
                "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b:autoScalingGroupName/ASGTerminate",
                "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
            ]
        },
        True,
    ),
    case(
        "doc-arrays-no-intersection",
        {"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]},
        {"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-00000000"]},
        False,
    ),
    case("arrays-empty-event-array", {"resources": ["x"]}, AUTOSCALING, False),
    case("arrays-nested-scalar-arrays", {"a": [3]}, {"a": [[1, 2], [3]]}, True),
    # Event Ruler README, JSON array matching: objects in an array are offered one by one...
    case("ruler-array-of-objects", {"employees": {"firstName": ["Anna"]}}, EMPLOYEES, True),
    case("ruler-array-of-objects-none", {"employees": {"firstName": ["Mary"]}}, EMPLOYEES, False),
    case("ruler-multi-level-arrays", {"employees": {"firstName": ["Anna"]}}, EMPLOYEES_NESTED, True),
    # ...and two fields must come from the same element.
    case(
        "ruler-array-consistency",
        {"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}},
        EMPLOYEES,
        False,
    ),
    case(
        "ruler-array-same-element",
        {"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}},
        EMPLOYEES,
        True,
    ),
    case(
        "ruler-array-consistency-multi-level",
        {"employees": {"firstName": ["John"], "lastName": ["Jones"]}},
        EMPLOYEES_NESTED,
        False,
    ),
    # --- Prefix, suffix, equals-ignore-case -----------------------------------------------------
    case("doc-prefix", {"time": [{"prefix": "2017-10-02"}]}, RULER, True),
    case("doc-prefix-miss", {"time": [{"prefix": "2017-10-03"}]}, RULER, False),
    case("prefix-empty-matches-any-string", {"detail": {"state": [{"prefix": ""}]}}, RULER, True),
    case("prefix-never-a-number", {"detail": {"c-count": [{"prefix": "5"}]}}, RULER, False),
    case(
        "doc-prefix-ignore-case",
        {"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}},
        {"detail": {"service": "eventbridge"}},
        True,
    ),
    case(
        "doc-prefix-ignore-case-upper",
        {"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}},
        {"detail": {"service": "EVENTBRIDGE"}},
        True,
    ),
    case(
        "doc-prefix-ignore-case-miss",
        {"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}},
        {"detail": {"service": "lambda"}},
        False,
    ),
    case("doc-suffix", {"FileName": [{"suffix": ".png"}]}, {"FileName": "image.png"}, True),
    case("doc-suffix-miss", {"FileName": [{"suffix": ".png"}]}, {"FileName": "image.jpg"}, False),
    case("doc-suffix-case-sensitive", {"FileName": [{"suffix": ".png"}]}, {"FileName": "image.PNG"}, False),
    case(
        "doc-suffix-ignore-case",
        {"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}},
        {"detail": {"FileName": "image.PNG"}},
        True,
    ),
    case(
        "doc-suffix-ignore-case-miss",
        {"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}},
        {"detail": {"FileName": "image.gif"}},
        False,
    ),
    case("ruler-suffix", {"source": [{"suffix": "ec2"}]}, RULER, True),
    case("doc-equals-ignore-case", {"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "Alice"}, True),
    case(
        "doc-equals-ignore-case-whole-value",
        {"Name": [{"equals-ignore-case": "alice"}]},
        {"Name": "Alicia"},
        False,
    ),
    case("equals-ignore-case-string-only", {"Name": [{"equals-ignore-case": "true"}]}, {"Name": True}, False),
    case(
        "equals-ignore-case-sharp-s",
        {"Street": [{"equals-ignore-case": "straße"}]},
        {"Street": "STRASSE"},
        True,
    ),
    case("exactly", {"Name": [{"exactly": "Alice"}]}, {"Name": "Alice"}, True),
    case("exactly-miss", {"Name": [{"exactly": "Alice"}]}, {"Name": "alice"}, False),
    # --- Anything-but ---------------------------------------------------------------------------
    case("doc-anything-but", {"detail": {"state": [{"anything-but": "initializing"}]}}, RULER, True),
    case(
        "doc-anything-but-excluded",
        {"detail": {"state": [{"anything-but": "initializing"}]}},
        _with(RULER, {"detail.state": "initializing"}),
        False,
    ),
    case("doc-anything-but-number", {"detail": {"x-limit": [{"anything-but": 123}]}}, RULER, True),
    case(
        "doc-anything-but-number-excluded",
        {"detail": {"x-limit": [{"anything-but": 123}]}},
        _with(RULER, {"detail.x-limit": 123}),
        False,
    ),
    case("anything-but-number-numerically", {"detail": {"c-count": [{"anything-but": 5.0}]}}, RULER, False),
    case(
        "doc-anything-but-list",
        {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}},
        RULER,
        True,
    ),
    case(
        "doc-anything-but-list-excluded",
        {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}},
        _with(RULER, {"detail.state": "stopped"}),
        False,
    ),
    case(
        "doc-anything-but-numbers", {"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}, RULER, True
    ),
    case(
        "doc-anything-but-numbers-excluded",
        {"detail": {"d-count": [{"anything-but": [1, 2, 3]}]}},
        RULER,
        False,
    ),
    case(
        "doc-anything-but-prefix", {"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}, RULER, True
    ),
    case(
        "doc-anything-but-prefix-excluded",
        {"detail": {"state": [{"anything-but": {"prefix": "init"}}]}},
        _with(RULER, {"detail.state": "initializing"}),
        False,
    ),
    case(
        "anything-but-prefix-list",
        {"Region": [{"anything-but": {"prefix": ["us-", "eu-"]}}]},
        {"Region": "eu-west-1"},
        False,
    ),
    case(
        "doc-anything-but-suffix",
        {"FileName": [{"anything-but": {"suffix": ".png"}}]},
        {"FileName": "a.jpg"},
        True,
    ),
    case(
        "doc-anything-but-suffix-excluded",
        {"FileName": [{"anything-but": {"suffix": ".png"}}]},
        {"FileName": "a.png"},
        False,
    ),
    case(
        "doc-anything-but-ignore-case",
        {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]},
        {"state": "INITIALIZING"},
        False,
    ),
    case(
        "doc-anything-but-ignore-case-other",
        {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]},
        {"state": "running"},
        True,
    ),
    case(
        "anything-but-ignore-case-list",
        {"state": [{"anything-but": {"equals-ignore-case": ["stopped", "overloaded"]}}]},
        {"state": "Stopped"},
        False,
    ),
    case(
        "doc-anything-but-wildcard",
        {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]},
        {"FilePath": "/usr/lib/libc.so"},
        False,
    ),
    case(
        "doc-anything-but-wildcard-other",
        {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]},
        {"FilePath": "/usr/bin/ls"},
        True,
    ),
    case(
        "anything-but-absent-field", {"detail": {"status": [{"anything-but": "initializing"}]}}, RULER, False
    ),
    case(
        "anything-but-any-array-element",
        {"state": [{"anything-but": "stopped"}]},
        {"state": ["stopped", "running"]},
        True,
    ),
    case(
        "anything-but-all-elements-excluded",
        {"state": [{"anything-but": "stopped"}]},
        {"state": ["stopped"]},
        False,
    ),
    case("anything-but-string-passes-number", {"x": [{"anything-but": "5"}]}, {"x": 5}, True),
    case("anything-but-number-passes-string", {"x": [{"anything-but": [5]}]}, {"x": "5"}, True),
    case("anything-but-passes-null", {"x": [{"anything-but": "y"}]}, {"x": None}, True),
    case("anything-but-prefix-passes-number", {"x": [{"anything-but": {"prefix": "1"}}]}, {"x": 12}, True),
    # --- Numeric --------------------------------------------------------------------------------
    case(
        "doc-numeric-all-fields",
        {
            "detail": {
                "c-count": [{"numeric": [">", 0, "<=", 5]}],
                "d-count": [{"numeric": ["<", 10]}],
                "x-limit": [{"numeric": ["=", 3.018e2]}],
            }
        },
        RULER,
        True,
    ),
    case("numeric-range-upper-inclusive", {"n": [{"numeric": [">", 0, "<=", 5]}]}, {"n": 5}, True),
    case("numeric-range-lower-open", {"n": [{"numeric": [">", 0, "<=", 5]}]}, {"n": 0}, False),
    case("numeric-range-above", {"n": [{"numeric": [">", 0, "<=", 5]}]}, {"n": 5.000001}, False),
    case("numeric-range-closed-lower", {"n": [{"numeric": [">=", 0, "<", 5]}]}, {"n": 0}, True),
    case("numeric-range-open-upper", {"n": [{"numeric": [">=", 0, "<", 5]}]}, {"n": 5}, False),
    case(
        "numeric-equals-miss",
        {"detail": {"x-limit": [{"numeric": ["=", 3.018e2]}]}},
        _with(RULER, {"detail.x-limit": 301.81}),
        False,
    ),
    case("numeric-negative", {"n": [{"numeric": ["<", -1.5]}]}, {"n": -2}, True),
    case("numeric-string-is-not-a-number", {"n": [{"numeric": [">", 0]}]}, {"n": "5"}, False),
    case("numeric-bool-is-not-a-number", {"n": [{"numeric": [">", 0]}]}, {"n": True}, False),
    case("numeric-beyond-range-matches-nothing", {"n": [{"numeric": [">", 0]}]}, {"n": 6e9}, False),
    case("numeric-six-decimal-precision", {"n": [{"numeric": ["=", 0.000001]}]}, {"n": 0.0000014}, True),
    case("numeric-any-array-element", {"n": [{"numeric": [">", 10]}]}, {"n": [1, 2, 30]}, True),
    case("numeric-absent", {"n": [{"numeric": [">", 10]}]}, {"m": 30}, False),
    # --- Exact values: JSON types ---------------------------------------------------------------
    case("exact-number-int-vs-float", {"n": [4]}, {"n": 4.0}, True),
    case("exact-number-exponent", {"n": [300]}, {"n": 3.0e2}, True),
    case("exact-number-differs", {"n": [4]}, {"n": 4.5}, False),
    case("exact-string-is-not-number", {"n": ["4"]}, {"n": 4}, False),
    case("exact-number-is-not-string", {"n": [4]}, {"n": "4"}, False),
    case("exact-true-is-not-1", {"b": [True]}, {"b": 1}, False),
    case("exact-1-is-not-true", {"b": [1]}, {"b": True}, False),
    case("exact-0-is-not-false", {"b": [0]}, {"b": False}, False),
    case("exact-true", {"b": [True]}, {"b": True}, True),
    case("exact-false", {"b": [False]}, {"b": False}, True),
    case("exact-large-account-number", {"account": [123456789012]}, {"account": 123456789012}, True),
    case("exact-object-is-not-a-value", {"detail": ["x"]}, RULER, False),
    case("exact-ip-literal-normalized", {"ip": ["2001:db8::1"]}, {"ip": "2001:DB8:0:0:0:0:0:1"}, True),
    case("exact-ip-literal-other", {"ip": ["10.0.0.1"]}, {"ip": "10.0.0.2"}, False),
    case("mixed-value-list", {"x": ["a", 5, None]}, {"x": None}, True),
    # --- IP address matching --------------------------------------------------------------------
    case("doc-cidr", {"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}, RULER, True),
    case(
        "doc-cidr-outside",
        {"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}},
        _with(RULER, {"detail.source-ip": "10.0.1.1"}),
        False,
    ),
    case("cidr-ipv6", {"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db8:1::7"}, True),
    case("cidr-ipv6-outside", {"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db9::1"}, False),
    case("cidr-family-differs", {"ip": [{"cidr": "0.0.0.0/0"}]}, {"ip": "::1"}, False),
    case("cidr-not-an-address", {"ip": [{"cidr": "0.0.0.0/0"}]}, {"ip": "localhost"}, False),
    case("cidr-not-a-string", {"ip": [{"cidr": "0.0.0.0/0"}]}, {"ip": 167772161}, False),
    # Event Ruler's CIDR.cidr: the range starts at the address as written, not at the network.
    case("cidr-range-starts-at-given-address", {"ip": [{"cidr": "10.0.0.5/24"}]}, {"ip": "10.0.0.1"}, False),
    # --- Exists ---------------------------------------------------------------------------------
    case(
        "doc-exists", {"detail": {"state": [{"exists": True}]}}, _with(EC2, {"detail.state": "pending"}), True
    ),
    case(
        "doc-exists-absent",
        {"detail": {"state": [{"exists": True}]}},
        {"detail": {"c-count": {"c1": 100}}},
        False,
    ),
    case(
        "doc-exists-false",
        {"detail": {"state": [{"exists": False}]}},
        {"detail": {"c-count": {"c1": 100}}},
        True,
    ),
    case("doc-exists-false-present", {"detail": {"state": [{"exists": False}]}}, EC2, False),
    case(
        "ruler-exists-object-is-not-a-leaf",
        {"detail": {"c-count": [{"exists": True}]}},
        {"detail": {"c-count": {"c1": 100}}},
        False,
    ),
    case(
        "ruler-exists-false-object-is-not-a-leaf",
        {"detail": {"c-count": [{"exists": False}]}},
        {"detail": {"c-count": {"c1": 100}}},
        True,
    ),
    case("exists-null-is-a-leaf", {"detail": {"responseElements": [{"exists": True}]}}, AUTOSCALING, True),
    case("exists-empty-array-is-absent", {"resources": [{"exists": True}]}, AUTOSCALING, False),
    case("exists-false-empty-array", {"resources": [{"exists": False}]}, AUTOSCALING, True),
    case("exists-false-parent-missing", {"detail": {"a": {"b": [{"exists": False}]}}}, EC2, True),
    case("exists-or-value", {"detail": {"state": ["pending", {"exists": False}]}}, {"detail": {}}, True),
    # --- Wildcard -------------------------------------------------------------------------------
    case(
        "ruler-wildcard", {"source": [{"wildcard": "Simple*Service"}]}, {"source": "SimpleQueueService"}, True
    ),
    case(
        "ruler-wildcard-empty-run",
        {"source": [{"wildcard": "Simple*Service"}]},
        {"source": "SimpleService"},
        True,
    ),
    case(
        "ruler-wildcard-miss", {"source": [{"wildcard": "Simple*Service"}]}, {"source": "SimpleQueue"}, False
    ),
    case("doc-wildcard-dir-png", {"FileName": [{"wildcard": "dir/*.png"}]}, {"FileName": "dir/a.png"}, True),
    case("doc-wildcard-dir-jpg", {"FileName": [{"wildcard": "dir/*.png"}]}, {"FileName": "dir/a.jpg"}, False),
    case(
        "doc-wildcard-other-dir",
        {"FileName": [{"wildcard": "dir/*.png"}]},
        {"FileName": "other/a.png"},
        False,
    ),
    case("wildcard-several", {"k": [{"wildcard": "*/2026/*/*.json"}]}, {"k": "logs/2026/11/a.json"}, True),
    case(
        "wildcard-several-miss", {"k": [{"wildcard": "*/2026/*/*.json"}]}, {"k": "logs/2025/11/a.json"}, False
    ),
    case("wildcard-star-alone-empty-string", {"k": [{"wildcard": "*"}]}, {"k": ""}, True),
    case("wildcard-string-only", {"k": [{"wildcard": "*"}]}, {"k": 5}, False),
    case("wildcard-escaped-star", {"k": [{"wildcard": "a\\*b"}]}, {"k": "a*b"}, True),
    case("wildcard-escaped-star-is-literal", {"k": [{"wildcard": "a\\*b"}]}, {"k": "axb"}, False),
    case("wildcard-escaped-backslash", {"k": [{"wildcard": "a\\\\*"}]}, {"k": "a\\bc"}, True),
    case("wildcard-question-mark-literal", {"k": [{"wildcard": "a?c"}]}, {"k": "abc"}, False),
    # --- $or (Comparison operators; Event Ruler README) -----------------------------------------
    case(
        "doc-or-location",
        {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]},
        {"Location": "New York", "Day": "Friday"},
        True,
    ),
    case(
        "doc-or-day",
        {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]},
        {"Location": "Boston", "Day": "Monday"},
        True,
    ),
    case(
        "doc-or-neither",
        {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]},
        {"Location": "Boston", "Day": "Friday"},
        False,
    ),
    case(
        "ruler-or-with-and",
        {
            "source": ["aws.cloudwatch"],
            "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
        },
        {"source": "aws.cloudwatch", "namespace": "AWS/EC2"},
        True,
    ),
    case(
        "ruler-or-with-and-miss",
        {
            "source": ["aws.cloudwatch"],
            "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
        },
        {"source": "aws.ec2", "namespace": "AWS/EC2"},
        False,
    ),
    case(
        "ruler-or-nested",
        {
            "source": ["aws.cloudwatch"],
            "$or": [
                {"metricName": ["CPUUtilization"]},
                {
                    "metricType": ["MetricType"],
                    "namespace": ["AWS/EC2"],
                    "$or": [{"metricId": [1234]}, {"spaceId": [1000]}],
                },
            ],
        },
        {"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2", "spaceId": 1000},
        True,
    ),
    case(
        "ruler-or-nested-miss",
        {
            "source": ["aws.cloudwatch"],
            "$or": [
                {"metricName": ["CPUUtilization"]},
                {
                    "metricType": ["MetricType"],
                    "namespace": ["AWS/EC2"],
                    "$or": [{"metricId": [1234]}, {"spaceId": [1000]}],
                },
            ],
        },
        {"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2", "spaceId": 999},
        False,
    ),
    case(
        "ruler-or-parallel",
        {
            "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
            "detail": {
                "$or": [{"source": ["aws.cloudwatch"]}, {"detail-type": ["CloudWatch Alarm State Change"]}]
            },
        },
        {"namespace": "AWS/EC2", "detail": {"detail-type": "CloudWatch Alarm State Change"}},
        True,
    ),
    case(
        "ruler-or-parallel-one-side-only",
        {
            "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
            "detail": {
                "$or": [{"source": ["aws.cloudwatch"]}, {"detail-type": ["CloudWatch Alarm State Change"]}]
            },
        },
        {"namespace": "AWS/EC2", "detail": {"source": "aws.ec2"}},
        False,
    ),
    # $or is expanded at compile time: the leaf written last in the document wins.
    case("or-last-write-wins-inner", {"a": ["1"], "$or": [{"a": ["2"]}, {"b": ["3"]}]}, {"a": "2"}, True),
    case(
        "or-last-write-wins-outer-lost", {"a": ["1"], "$or": [{"a": ["2"]}, {"b": ["3"]}]}, {"a": "1"}, False
    ),
    case(
        "or-last-write-wins-other-branch",
        {"a": ["1"], "$or": [{"a": ["2"]}, {"b": ["3"]}]},
        {"a": "1", "b": "3"},
        True,
    ),
    # --- GuardDuty findings ---------------------------------------------------------------------
    case("gd-high-severity", {**GD, "detail": {"severity": [{"numeric": [">=", 7]}]}}, EXFIL, True),
    case(
        "gd-high-severity-low-finding", {**GD, "detail": {"severity": [{"numeric": [">=", 7]}]}}, SSH, False
    ),
    case("gd-medium-band", {"detail": {"severity": [{"numeric": [">=", 4, "<", 7]}]}}, PROBE, True),
    case("gd-medium-band-high", {"detail": {"severity": [{"numeric": [">=", 4, "<", 7]}]}}, EXFIL, False),
    case("gd-severity-exact", {"detail": {"severity": [8]}}, EXFIL, True),
    case("gd-other-source", {"source": ["aws.securityhub"]}, SSH, False),
    case("gd-type-prefix", {"detail": {"type": [{"prefix": "UnauthorizedAccess:"}]}}, SSH, True),
    case("gd-type-prefix-recon", {"detail": {"type": [{"prefix": "Recon:"}]}}, SSH, False),
    case(
        "gd-type-prefix-any-of",
        {"detail": {"type": [{"prefix": "Recon:"}, {"prefix": "UnauthorizedAccess:EC2/"}]}},
        SSH,
        True,
    ),
    case(
        "gd-type-wildcard",
        {"detail": {"type": [{"wildcard": "UnauthorizedAccess:*/InstanceCredentialExfiltration.*"}]}},
        EXFIL,
        True,
    ),
    case("gd-type-suffix", {"detail": {"type": [{"suffix": "BruteForce"}]}}, SSH, True),
    case(
        "gd-type-anything-but-prefix",
        {"detail": {"type": [{"anything-but": {"prefix": "Recon:"}}]}},
        PROBE,
        False,
    ),
    case("gd-resource-type", {"detail": {"resource": {"resourceType": ["Instance"]}}}, SSH, True),
    case("gd-resource-type-other", {"detail": {"resource": {"resourceType": ["AccessKey"]}}}, SSH, False),
    case(
        "gd-resource-type-access-key", {"detail": {"resource": {"resourceType": ["AccessKey"]}}}, EXFIL, True
    ),
    case(
        "gd-resource-type-anything-but",
        {"detail": {"resource": {"resourceType": [{"anything-but": ["AccessKey", "S3Bucket"]}]}}},
        SSH,
        True,
    ),
    case(
        "gd-resource-type-anything-but-excluded",
        {"detail": {"resource": {"resourceType": [{"anything-but": ["AccessKey", "S3Bucket"]}]}}},
        EXFIL,
        False,
    ),
    case("gd-not-archived", {"detail": {"service": {"archived": [False]}}}, SSH, True),
    case("gd-not-archived-archived", {"detail": {"service": {"archived": [False]}}}, ARCHIVED, False),
    # anything-but compares JSON types, so the string "true" does not exclude the boolean true.
    case(
        "gd-archived-anything-but-string",
        {"detail": {"service": {"archived": [{"anything-but": "true"}]}}},
        ARCHIVED,
        True,
    ),
    case("gd-repeated", {"detail": {"service": {"count": [{"numeric": [">", 10]}]}}}, ARCHIVED, True),
    case("gd-repeated-once", {"detail": {"service": {"count": [{"numeric": [">", 10]}]}}}, SSH, False),
    case(
        "gd-or-severity-or-type-severity",
        {"detail": {"$or": [{"severity": [{"numeric": [">=", 7]}]}, {"type": [{"prefix": "Recon:"}]}]}},
        EXFIL,
        True,
    ),
    case(
        "gd-or-severity-or-type-type",
        {"detail": {"$or": [{"severity": [{"numeric": [">=", 7]}]}, {"type": [{"prefix": "Recon:"}]}]}},
        PROBE,
        True,
    ),
    case(
        "gd-or-severity-or-type-neither",
        {"detail": {"$or": [{"severity": [{"numeric": [">=", 7]}]}, {"type": [{"prefix": "Recon:"}]}]}},
        SSH,
        False,
    ),
    case("gd-remote-ip-exists", _remote_v4([{"exists": True}]), SSH, True),
    case("gd-remote-ip-exists-api-call", _remote_v4([{"exists": True}]), EXFIL, False),
    case("gd-remote-ip-absent-api-call", _remote_v4([{"exists": False}]), EXFIL, True),
    case("gd-remote-ip-absent-network", _remote_v4([{"exists": False}]), SSH, False),
    case("gd-remote-ip-cidr", _remote_v4([{"cidr": "198.51.100.0/24"}]), SSH, True),
    case("gd-remote-ip-cidr-other", _remote_v4([{"cidr": "203.0.113.0/24"}]), SSH, False),
    case("gd-remote-ip-anything-but", _remote_v4([{"anything-but": ["198.51.100.77"]}]), SSH, False),
    case("gd-probe-any-element-cidr", _probes([{"cidr": "203.0.113.0/24"}]), PROBE, True),
    case("gd-probe-no-element-cidr", _probes([{"cidr": "192.0.2.0/24"}]), PROBE, False),
    case("gd-probe-exact-element", _probes(["198.51.100.99"]), PROBE, True),
    case("gd-public-ip-exists", _enis(publicIp=[{"exists": True}]), TWO_ENIS, True),
    case("gd-public-ip-exists-single-private", _enis(publicIp=[{"exists": True}]), SSH, False),
    # exists: false means no element has it (the second interface is public).
    case("gd-public-ip-absent-one-public", _enis(publicIp=[{"exists": False}]), TWO_ENIS, False),
    case("gd-public-ip-absent-all-private", _enis(publicIp=[{"exists": False}]), SSH, True),
    case("gd-public-ip-cidr", _enis(publicIp=[{"cidr": "203.0.113.0/24"}]), TWO_ENIS, True),
    case(
        "gd-public-ip-same-interface",
        _enis(networkInterfaceId=["eni-second"], publicIp=[{"exists": True}]),
        TWO_ENIS,
        True,
    ),
    case(
        "gd-public-ip-other-interface",
        _enis(networkInterfaceId=["eni-first"], publicIp=[{"exists": True}]),
        TWO_ENIS,
        False,
    ),
    case(
        "gd-account-and-region",
        {"account": ["123456789012"], "region": ["us-east-1", "us-west-2"]},
        SSH,
        True,
    ),
    case("gd-account-other", {"account": ["444455556666"]}, SSH, False),
    case("gd-detail-account-number-string", {"detail": {"accountId": [123456789012]}}, SSH, False),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), CASES)
def test_matches(pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    compiled = EventPattern.parse(pattern)
    assert compiled.matches(event) is expected
    assert EventPattern.parse(json.dumps(pattern)).matches(event) is expected  # the same as JSON text


def test_case_table_is_broad() -> None:
    assert len(CASES) >= 120
    outcomes = [c.values[2] for c in CASES]
    assert outcomes.count(True) >= 50 and outcomes.count(False) >= 50


def test_exists_false_in_arrays() -> None:
    """{"exists": false} is judged like Event Ruler judges it: against the elements consistent
    with the paths already matched, paths being taken in sorted order."""
    event = {"a": [{"z": 1}, {"c": 2}]}
    # a.c (sorted first) pins element 1, where z is absent.
    assert matches({"a": {"c": [2], "z": [{"exists": False}]}}, event)
    # a.b sorts before a.c: nothing is pinned yet, and element 0 has a.b.
    assert not matches({"a": {"c": [2], "b": [{"exists": False}]}}, {"a": [{"b": 1}, {"c": 2}]})
    # On its own, absent means absent from every element.
    assert not matches({"a": {"z": [{"exists": False}]}}, event)
    assert matches({"a": {"y": [{"exists": False}]}}, event)


def test_duplicate_keys_last_one_counts() -> None:
    # Content filtering: "if you include a key more than once the last reference will be the one used".
    text = '{"detail": {"location": [{"prefix": "us-"}], "location": [{"anything-but": "us-east"}]}}'
    assert matches(text, {"detail": {"location": "eu-west"}})
    assert not matches(text, {"detail": {"location": "us-east"}})


def test_parse_takes_text_or_mapping() -> None:
    text = '{"source": ["aws.guardduty"], "detail": {"severity": [{"numeric": [">=", 7]}]}}'
    from_text = EventPattern.parse(text)
    from_mapping = EventPattern.parse(json.loads(text))
    assert from_text == from_mapping
    assert hash(from_text) == hash(from_mapping)
    assert from_text.source == json.loads(text)
    assert EventPattern(json.loads(text)).matches(EXFIL)
    assert EventPattern.parse({"source": ["aws.guardduty"]}) != from_text


def test_matches_function() -> None:
    assert matches('{"detail-type": ["GuardDuty Finding"]}', SSH)
    assert not matches({"detail-type": ["GuardDuty Runtime Protection Health"]}, SSH)


def test_deep_event_only_walked_where_named() -> None:
    event = {"detail": {"a": [{"b": [{"c": [1, 2, {"d": "x"}]}]}]}, "other": list(range(10_000))}
    assert matches({"detail": {"a": {"b": {"c": {"d": ["x"]}}}}}, event)
    assert matches({"detail": {"a": {"b": {"c": [2]}}}}, event)
    assert not matches({"detail": {"a": {"b": {"c": [3]}}}}, event)


A_B = {"a": {"b": ["x"]}}

INVALID = [
    # (pattern, path the message names)
    pytest.param("{not json", "pattern", id="not-json"),
    pytest.param('{"a": [NaN]}', "pattern", id="nan"),
    pytest.param("[1, 2]", "pattern", id="array"),
    pytest.param('"aws.guardduty"', "pattern", id="string"),
    pytest.param({}, "pattern", id="empty-pattern"),
    pytest.param({"source": "aws.guardduty"}, "source", id="bare-string-value"),
    pytest.param({"detail": {"severity": 8}}, "detail.severity", id="bare-number-value"),
    pytest.param({"source": []}, "source", id="empty-array"),
    pytest.param({"detail": {}}, "detail", id="empty-object"),
    pytest.param({"detail": {"severity": [[7]]}}, "detail.severity", id="nested-array-value"),
    pytest.param({"detail": {"severity": [{}]}}, "detail.severity", id="empty-operator"),
    pytest.param({"detail": {"type": [{"prefix": "a", "suffix": "b"}]}}, "detail.type", id="two-operators"),
    pytest.param({"detail": {"type": [{"regex": "a.*"}]}}, "detail.type", id="unknown-regex"),
    pytest.param({"detail": {"type": [{"contains": "Brute"}]}}, "detail.type", id="unknown-contains"),
    pytest.param(
        {"detail": {"severity": [{"numeric": [">=", "7"]}]}}, "detail.severity", id="numeric-string-bound"
    ),
    pytest.param(
        {"detail": {"severity": [{"numeric": [">=", True]}]}}, "detail.severity", id="numeric-bool-bound"
    ),
    pytest.param({"detail": {"severity": [{"numeric": 7}]}}, "detail.severity", id="numeric-not-array"),
    pytest.param({"detail": {"severity": [{"numeric": [">"]}]}}, "detail.severity", id="numeric-no-bound"),
    pytest.param(
        {"detail": {"severity": [{"numeric": ["between", 1]}]}}, "detail.severity", id="numeric-unknown-op"
    ),
    pytest.param(
        {"detail": {"severity": [{"numeric": ["=", 5, "<", 6]}]}}, "detail.severity", id="numeric-eq-range"
    ),
    pytest.param(
        {"detail": {"severity": [{"numeric": ["<", 5, ">", 1]}]}}, "detail.severity", id="numeric-upper-first"
    ),
    pytest.param(
        {"detail": {"severity": [{"numeric": [">", 1, ">", 5]}]}}, "detail.severity", id="numeric-two-lower"
    ),
    pytest.param(
        {"detail": {"severity": [{"numeric": [">", 5, "<", 1]}]}}, "detail.severity", id="numeric-empty-range"
    ),
    pytest.param(
        {"detail": {"severity": [{"numeric": [">=", 5, "<=", 5]}]}},
        "detail.severity",
        id="numeric-point-range",
    ),
    pytest.param(
        {"detail": {"severity": [{"numeric": [">", 0, "<", 5, "<", 6]}]}},
        "detail.severity",
        id="numeric-too-long",
    ),
    pytest.param({"n": [{"numeric": [">", 1e10]}]}, "n", id="numeric-out-of-range"),
    pytest.param({"n": [{"numeric": [">", 0.0000001]}]}, "n", id="numeric-seven-decimals"),
    pytest.param({"a": [{"prefix": 5}]}, "a", id="prefix-number"),
    pytest.param({"a": [{"prefix": {"equals-ignore-case": 5}}]}, "a", id="prefix-ignore-case-number"),
    pytest.param({"a": [{"prefix": {"wildcard": "x*"}}]}, "a", id="prefix-unsupported-nested"),
    pytest.param({"a": [{"suffix": None}]}, "a", id="suffix-null"),
    pytest.param({"a": [{"equals-ignore-case": ["a"]}]}, "a", id="equals-ignore-case-list"),
    pytest.param({"a": [{"exactly": 5}]}, "a", id="exactly-number"),
    pytest.param(
        {"detail": {"service": {"archived": [{"anything-but": True}]}}},
        "detail.service.archived",
        id="anything-but-bool",
    ),
    pytest.param({"a": [{"anything-but": None}]}, "a", id="anything-but-null"),
    pytest.param({"a": [{"anything-but": []}]}, "a", id="anything-but-empty"),
    pytest.param({"a": [{"anything-but": ["x", 1]}]}, "a", id="anything-but-mixed"),
    pytest.param({"a": [{"anything-but": [True]}]}, "a", id="anything-but-bool-list"),
    pytest.param({"a": [{"anything-but": [1e10]}]}, "a", id="anything-but-out-of-range"),
    pytest.param({"a": [{"anything-but": {"numeric": [">", 1]}}]}, "a", id="anything-but-numeric"),
    pytest.param({"a": [{"anything-but": {"cidr": "10.0.0.0/8"}}]}, "a", id="anything-but-cidr"),
    pytest.param({"a": [{"anything-but": {"prefix": ""}}]}, "a", id="anything-but-empty-prefix"),
    pytest.param({"a": [{"anything-but": {"suffix": [".png", ""]}}]}, "a", id="anything-but-empty-suffix"),
    pytest.param({"a": [{"anything-but": {"prefix": 5}}]}, "a", id="anything-but-prefix-number"),
    pytest.param({"a": [{"anything-but": {"prefix": []}}]}, "a", id="anything-but-prefix-empty-list"),
    pytest.param({"a": [{"anything-but": {"wildcard": "a**b"}}]}, "a", id="anything-but-bad-wildcard"),
    pytest.param(
        {"a": [{"anything-but": {"prefix": "a", "suffix": "b"}}]}, "a", id="anything-but-two-nested"
    ),
    pytest.param({"a": [{"exists": "true"}]}, "a", id="exists-string"),
    pytest.param({"a": [{"exists": 1}]}, "a", id="exists-number"),
    pytest.param({"ip": [{"cidr": "10.0.0.0"}]}, "ip", id="cidr-no-mask"),
    pytest.param({"ip": [{"cidr": "10.0.0.0/"}]}, "ip", id="cidr-empty-mask"),
    pytest.param({"ip": [{"cidr": "10.0.0.0/8/8"}]}, "ip", id="cidr-two-slashes"),
    pytest.param({"ip": [{"cidr": "10.0.0.0/x"}]}, "ip", id="cidr-mask-not-integer"),
    pytest.param({"ip": [{"cidr": "10.0.0.0/-1"}]}, "ip", id="cidr-mask-negative"),
    pytest.param({"ip": [{"cidr": "10.0.0.0/33"}]}, "ip", id="cidr-mask-too-wide"),
    pytest.param({"ip": [{"cidr": "10.0.0.1/32"}]}, "ip", id="cidr-ipv4-32"),
    pytest.param({"ip": [{"cidr": "2001:db8::1/128"}]}, "ip", id="cidr-ipv6-128"),
    pytest.param({"ip": [{"cidr": "300.0.0.0/8"}]}, "ip", id="cidr-bad-octet"),
    pytest.param({"ip": [{"cidr": "example.com/8"}]}, "ip", id="cidr-hostname"),
    pytest.param({"ip": [{"cidr": 10}]}, "ip", id="cidr-number"),
    pytest.param({"k": [{"wildcard": "a**b"}]}, "k", id="wildcard-consecutive"),
    pytest.param({"k": [{"wildcard": "a\\b"}]}, "k", id="wildcard-bad-escape"),
    pytest.param({"k": [{"wildcard": "a\\"}]}, "k", id="wildcard-trailing-backslash"),
    pytest.param({"k": [{"wildcard": 5}]}, "k", id="wildcard-number"),
    pytest.param({"$or": {"a": ["x"]}}, "$or", id="or-not-array"),
    pytest.param({"$or": [{"a": ["x"]}]}, "$or", id="or-one-member"),
    pytest.param({"detail": {"$or": [{"a": ["x"]}, "b"]}}, "detail.$or[1]", id="or-member-not-object"),
    pytest.param({"$or": [{"a": ["x"]}, {}]}, "$or[1]", id="or-member-empty"),
    pytest.param({"$or": [{"prefix": ["a"]}, {"b": ["c"]}]}, "prefix", id="or-reserved-name"),
    pytest.param({"$or": [{"a": {"numeric": [1]}}, {"b": ["c"]}]}, "a.numeric", id="or-reserved-name-nested"),
    pytest.param({"$or": [{"a": {">=": [1]}}, {"b": ["c"]}]}, "a.>=", id="or-reserved-comparison"),
    pytest.param({"$or": [{"a": [{"numeric": [">"]}]}, {"b": ["c"]}]}, "a", id="or-member-invalid-leaf"),
    pytest.param(
        {f"k{i}": {"$or": [{f"x{j}": ["v"]} for j in range(10)]} for i in range(4)},
        "k3.$or",
        id="or-too-many-combinations",
    ),
]


@pytest.mark.parametrize(("pattern", "path"), INVALID)
def test_invalid_pattern(pattern: Any, path: str) -> None:
    with pytest.raises(PatternError) as raised:
        EventPattern.parse(pattern)
    message = str(raised.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message and len(message) > len(path) + 10
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, ConfigError)


def test_invalid_tables_match_their_valid_twins() -> None:
    # The same shapes with their operands fixed are accepted, so each invalid case fails for its stated reason.
    for valid in (
        {"detail": {"severity": [{"numeric": [">=", 7]}]}},
        {"n": [{"numeric": [">", 5e9 - 1]}]},
        {"n": [{"numeric": [">", 0.000001]}]},
        {"ip": [{"cidr": "10.0.0.0/31"}]},
        {"ip": [{"cidr": "2001:db8::/127"}]},
        {"k": [{"wildcard": "a*b*"}]},
        {"k": [{"wildcard": "a\\**"}]},
        {"$or": [{"a": ["x"]}, {"b": ["c"]}]},
        {"a": [{"anything-but": {"prefix": ["x", "y"]}}]},
        {"a": [{"prefix": ""}]},
        {"a": [{"anything-but": {"equals-ignore-case": ""}}]},
        {"prefix": ["a"]},  # an operator name is a fine field name outside $or
    ):
        EventPattern.parse(valid)


def test_parse_refuses_other_types() -> None:
    with pytest.raises(PatternError, match=r"^pattern: must be JSON text or a mapping, got int$"):
        EventPattern.parse(5)  # type: ignore[arg-type]
