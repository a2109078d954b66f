"""Finding search on SQLite and PostgreSQL: what SQL answers and what Python checks agree with
``Criteria.matches`` over the same findings, pages are stable and cover every finding once,
statistics equal brute-force counts, and no criterion reaches another account or region.

The findings are variations on real ones keibi's pipeline builds from the detector samples:
other accounts, regions, severities, times, instances, tags, users and buckets."""

from __future__ import annotations

import copy
import random
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from keibi.findings import FindingRecord
from keibi.findings._times import iso_millis, iso_seconds
from keibi.findings.criteria import (
    Criteria,
    CriteriaError,
    attribute_values,
    compile_criteria,
    epoch_millis,
    timestamp_attributes,
)
from keibi.store import Store
from keibi.store import finding_search as search
from keibi.store._rows import finding_row
from keibi.store.finding_search import (
    finding_statistics,
    pushdown,
    search_findings,
)
from tests.helpers import scan_findings

SAMPLES = Path(__file__).resolve().parent.parent / "detect"
ME, MEMBER, STRANGER = "111111111111", "222222222222", "999999999999"
HOME, ABROAD = "us-east-1", "eu-west-1"
VISIBLE = (ME, MEMBER)
START = datetime(2026, 3, 1, tzinfo=UTC)
INSTANCES = ("i-0a1b2c3d4e5f60001", "i-0a1b2c3d4e5f60002", "i-0a1b2c3d4e5f60003")
USERS = ("alice", "bob", "deploy-bot")
BUCKETS = ("acme-public", "acme-logs", "acme-backups")
TAGS = ("bastion", "web", "batch")
PORT = "service.action.networkConnectionAction.localPortDetails.port"
PROBE_PORT = "service.action.portProbeAction.portProbeDetails.localPortDetails.port"

# Attributes the random criteria use: columns (SQL), resource identifiers (prefilter + Python), the rest (Python).
POOL = (
    "accountId", "region", "id", "type", "severity", "service.archived", "updatedAt", "createdAt",
    "resource.resourceType", "service.eventFirstSeen", "service.eventLastSeen", "service.count",
    "resource.instanceDetails.instanceId", "resource.accessKeyDetails.userName", "resource.s3BucketDetails.name",
    "resource.instanceDetails.networkInterfaces.networkInterfaceId", "resource.instanceDetails.tags.value",
    PORT, PROBE_PORT, "service.action.actionType", "service.resourceRole", "service.additionalInfo.threatListName",
)  # fmt: skip
SORTS = (
    "updatedAt", "severity", "service.eventFirstSeen", "resource.resourceType", "service.count", "type",
    "id", PORT, PROBE_PORT, "resource.instanceDetails.instanceId", "resource.instanceDetails.tags.value",
)  # fmt: skip


@pytest.fixture(scope="module")
def templates() -> list[dict[str, Any]]:
    found = scan_findings(
        [
            SAMPLES / "network/samples/port_probe/hit_ssh_probed_by_many_hosts.log",
            SAMPLES / "network/samples/brute_force/hit_ssh_inbound_guessing.log",
            SAMPLES / "network/samples/brute_force/hit_rdp_inbound_hydra.log",
            SAMPLES / "s3/samples/malicious_ip/hit_anonymous.json",
            SAMPLES / "iam/samples/root_usage/hit_root_api_calls.json",
        ],
        threat_lists=[SAMPLES / "s3/samples/malicious_ip/feed.Malicious.txt"],
    )
    assert len({f["resource"]["resourceType"] for f in found}) == 3
    assert len({f["service"]["action"]["actionType"] for f in found}) == 3
    return found


def _variant(
    template: dict[str, Any], n: int, rng: random.Random, account: str, region: str
) -> dict[str, Any]:
    f = copy.deepcopy(template)
    f["id"] = f"{n:04d}{rng.getrandbits(112):028x}"
    f["accountId"], f["region"] = account, region
    f["severity"] = rng.choice([1.0, 2.0, 3.5, 5.0, 5.3, 7.0, 7.5, 8.0, 8.9])
    created = START + timedelta(minutes=rng.randrange(0, 6000), milliseconds=rng.randrange(0, 3) * 250)
    f["createdAt"] = iso_millis(created)
    f["updatedAt"] = iso_millis(created + rng.choice([timedelta(0), timedelta(hours=rng.randrange(1, 90))]))
    service = f["service"]
    service["archived"] = rng.random() < 0.3
    service["count"] = rng.randrange(1, 40)
    first = created - timedelta(seconds=rng.randrange(0, 3600))
    service["eventFirstSeen"], service["eventLastSeen"] = iso_seconds(first), iso_seconds(created)
    if rng.random() < 0.15:
        del service["eventFirstSeen"], service["eventLastSeen"]
    resource = f["resource"]
    if "instanceDetails" in resource:
        details = resource["instanceDetails"]
        if rng.random() < 0.7:
            details["instanceId"] = rng.choice(INSTANCES)
        if rng.random() < 0.6:
            details["tags"] = [{"key": "Name", "value": t} for t in rng.sample(TAGS, rng.randrange(1, 3))]
        connection = service["action"].get("networkConnectionAction")
        if connection is not None:
            connection["localPortDetails"]["port"] = rng.choice([22, 3389, 5985, 8080])
        probe = service["action"].get("portProbeAction")
        if probe is not None:
            for detail in probe["portProbeDetails"]:
                detail["localPortDetails"]["port"] = rng.choice([22, 22, 80, 9200])
    if "accessKeyDetails" in resource and resource["resourceType"] == "AccessKey":
        resource["accessKeyDetails"]["userName"] = rng.choice(USERS)
    for bucket in resource.get("s3BucketDetails", []):
        bucket["name"] = rng.choice(BUCKETS)
    if rng.random() < 0.1:
        del resource["resourceType"]
    return f


def _findings(templates: list[dict[str, Any]], count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    places = [(ME, HOME)] * 5 + [(MEMBER, HOME)] * 3 + [(STRANGER, HOME), (ME, ABROAD), (STRANGER, ABROAD)]
    return [_variant(rng.choice(templates), n, rng, *rng.choice(places)) for n in range(count)]


def _store(store: Store, findings: Sequence[dict[str, Any]]) -> None:
    stored = store.upsert_findings([FindingRecord(copy.deepcopy(f), []) for f in findings])
    assert len(stored) == len(findings)


# -- the reference: plain Python over the JSON -------------------------------------------------


def _visible(findings: Sequence[dict[str, Any]], accounts: Sequence[str] = VISIBLE) -> list[dict[str, Any]]:
    return [f for f in findings if f["accountId"] in accounts and f["region"] == HOME]


def _sortable(attribute: str, value: Any) -> Any:
    if attribute in timestamp_attributes():
        return epoch_millis(value)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _expected(
    findings: Sequence[dict[str, Any]], criteria: Criteria, attribute: str, descending: bool
) -> list[str]:
    """Matching ids by the attribute's least value (greatest when descending), absent last, ties by
    id in the same direction."""
    selected = sorted(
        (f for f in _visible(findings) if criteria.matches(f)), key=lambda f: f["id"], reverse=descending
    )
    values = {f["id"]: [_sortable(attribute, v) for v in attribute_values(f, attribute)] for f in selected}
    present = [f["id"] for f in selected if values[f["id"]]]
    absent = [f["id"] for f in selected if not values[f["id"]]]
    pick = max if descending else min
    present.sort(key=lambda fid: pick(values[fid]), reverse=descending)  # stable: ties stay by id
    return present + absent


def _all_pages(store: Store, criteria: Criteria, sort: tuple[str, str] | None, limit: int) -> list[str]:
    out: list[str] = []
    offset = 0
    while True:
        ids, more = search_findings(
            store, account_ids=VISIBLE, region=HOME, criteria=criteria, sort=sort, offset=offset, limit=limit
        )
        assert len(ids) == limit or not more
        out += ids
        if not more:
            return out
        offset += limit


# -- random criteria ---------------------------------------------------------------------------


def _text(attribute: str, value: Any, rng: random.Random) -> str:
    """A criterion value that equals ``value``, in one of the spellings GuardDuty clients use."""
    if isinstance(value, bool):
        return rng.choice(["true", "false"]) if rng.random() < 0.2 else str(value).lower()
    if attribute in timestamp_attributes():
        return str(epoch_millis(value)) if rng.random() < 0.8 else str(value)
    if isinstance(value, float):
        return rng.choice([str(value), str(int(value)), f"{value:.2f}"])
    return str(value)


def _number(attribute: str, value: Any, rng: random.Random) -> int:
    base = epoch_millis(value) if attribute in timestamp_attributes() else int(float(value))
    assert base is not None
    return base + rng.choice([-1, 0, 0, 1, 2])


def _condition(attribute: str, seen: list[Any], rng: random.Random) -> dict[str, Any]:
    numeric = attribute in timestamp_attributes() or all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in seen
    )
    kinds = ["equals", "notEquals", "eq", "neq", "matches", "notMatches"]
    if numeric and seen:
        kinds += ["greaterThan", "greaterThanOrEqual", "lessThan", "lessThanOrEqual", "gt", "lte", "range"]
    kind = rng.choice(kinds)
    picks = [rng.choice(seen) for _ in range(rng.randrange(1, 4))] if seen else []
    if kind in ("equals", "notEquals", "eq", "neq"):
        texts = [_text(attribute, v, rng) for v in picks]
        if rng.random() < 0.3 or not texts:
            texts.append(rng.choice(["nothing-like-it", "0", "-1"]))
        return {kind: texts}
    if kind in ("matches", "notMatches"):
        texts = [_text(attribute, v, rng) for v in picks] or ["x*"]
        return {kind: [t[: rng.randrange(1, len(t) + 1)] + rng.choice(["*", "", "?*"]) for t in texts]}
    if kind == "range":
        low, high = sorted(_number(attribute, v, rng) for v in (rng.choice(seen), rng.choice(seen)))
        return {"greaterThanOrEqual": low, "lessThan": high + rng.choice([0, 1])}
    return {kind: _number(attribute, rng.choice(seen), rng)}


def _random_criteria(findings: Sequence[dict[str, Any]], rng: random.Random) -> dict[str, Any]:
    criterion: dict[str, Any] = {}
    for attribute in rng.sample(POOL, rng.choice([1, 1, 2, 2, 3])):
        seen = [v for f in rng.sample(findings, 6) for v in attribute_values(f, attribute)]
        criterion[attribute] = _condition(attribute, seen, rng)
    return {"criterion": criterion}


# -- the tests -------------------------------------------------------------------------------


def test_sql_and_python_select_what_criteria_match(
    store: Store, templates: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "STREAM_ROWS", 7)  # many chunks per query
    findings = _findings(templates, 300, seed=7)
    _store(store, findings)
    rng = random.Random(11)
    exact = residual = hits = 0
    for _ in range(150):
        criteria = compile_criteria(_random_criteria(findings, rng), allow_matches=True)
        attribute = rng.choice(SORTS)
        descending = rng.random() < 0.5
        expected = _expected(findings, criteria, attribute, descending)
        got = _all_pages(store, criteria, (attribute, "DESC" if descending else "ASC"), rng.choice([50, 13]))
        assert got == expected, criteria
        exact += pushdown(criteria).exact
        residual += not pushdown(criteria).exact
        hits += bool(expected)
    assert exact >= 30 and residual >= 30 and hits >= 75  # both paths, and criteria that select something


def test_stable_pages_cover_every_finding_once_in_both_directions(
    store: Store, templates: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "STREAM_ROWS", 5)
    findings = _findings(templates, 120, seed=3)
    _store(store, findings)
    visible = {f["id"] for f in _visible(findings)}
    residual = compile_criteria({"criterion": {"service.resourceRole": {"equals": ["TARGET", "ACTOR"]}}})
    for criteria in (Criteria(), residual):
        for attribute in SORTS:
            for order in ("ASC", "DESC"):
                pages = _all_pages(store, criteria, (attribute, order), 7)
                assert sorted(pages) == sorted(visible)  # each visible finding once
                assert pages == _expected(findings, criteria, attribute, order == "DESC")
    newest_first = _all_pages(store, Criteria(), None, 9)
    assert newest_first == _expected(findings, Criteria(), "updatedAt", True)
    by_id = {f["id"]: f for f in findings}
    stamps = [epoch_millis(by_id[fid]["updatedAt"]) or 0 for fid in newest_first]
    assert stamps == sorted(stamps, reverse=True) and len(set(stamps)) > 10


def test_no_criterion_reaches_another_account_or_region(
    store: Store, templates: list[dict[str, Any]]
) -> None:
    findings = _findings(templates, 150, seed=5)
    _store(store, findings)
    hidden = [f for f in findings if f["accountId"] == STRANGER or f["region"] == ABROAD]
    assert len(hidden) >= 20
    mine = {f["id"] for f in _visible(findings, (ME,))}
    probes = [
        {},
        {"accountId": {"equals": [STRANGER]}},
        {"accountId": {"notEquals": [ME]}},
        {"region": {"equals": [ABROAD]}},
        {"id": {"equals": [f["id"] for f in hidden[:50]]}},
        {"resource.instanceDetails.instanceId": {"equals": list(INSTANCES)}},
        {"resource.accessKeyDetails.userName": {"equals": list(USERS)}},
        {"service.archived": {"equals": ["true", "false"]}},
        {"resource.instanceDetails.tags.value": {"notEquals": ["nothing"]}},
    ]
    for criterion in probes:
        criteria = compile_criteria({"criterion": criterion})
        for sort in (None, ("severity", "ASC"), (PORT, "DESC")):
            ids, more = search_findings(
                store, account_ids=[ME], region=HOME, criteria=criteria, sort=sort, limit=200
            )
            assert set(ids) <= mine and not more
            assert set(ids) == {f["id"] for f in _visible(findings, (ME,)) if criteria.matches(f)}
        stats = finding_statistics(
            store, account_ids=[ME], region=HOME, criteria=criteria, group_by="ACCOUNT", statistic_types=["COUNT_BY_SEVERITY"]
        )  # fmt: skip
        assert {g["accountId"] for g in stats["groupedByAccount"]} <= {ME}
        assert sum(stats["countBySeverity"].values()) == len(ids)
    everything = Criteria()
    assert search_findings(store, account_ids=[], region=HOME, criteria=everything) == ([], False)
    assert search_findings(store, account_ids=[ME], region="ap-south-1", criteria=everything) == ([], False)
    empty = finding_statistics(store, account_ids=[], region=HOME, criteria=everything, group_by="SEVERITY", statistic_types=["COUNT_BY_SEVERITY"])  # fmt: skip
    assert empty == {"countBySeverity": {}, "groupedBySeverity": []}


def _groups(findings: Sequence[dict[str, Any]], by: str) -> dict[tuple[Any, ...], tuple[int, float]]:
    """Brute force: group key → (findings, latest updatedAt in epoch seconds), from the JSON."""
    out: dict[tuple[Any, ...], tuple[int, float]] = {}
    for f in findings:
        row = finding_row(f)
        updated = row["updated_at"]
        if by == "ACCOUNT":
            key: tuple[Any, ...] = (f["accountId"],)
        elif by == "FINDING_TYPE":
            key = (f["type"],)
        elif by == "SEVERITY":
            key = (f["severity"],)
        elif by == "RESOURCE":
            key = (f["accountId"], f["resource"].get("resourceType"), row["resource_id"])
        else:
            midnight = datetime(updated.year, updated.month, updated.day, tzinfo=UTC)
            key = (midnight.timestamp(), f["severity"])
        count, latest = out.get(key, (0, 0.0))
        out[key] = (count + 1, max(latest, updated.timestamp()))
    return out


def _entry_key(by: str, entry: dict[str, Any]) -> tuple[Any, ...]:
    if by == "ACCOUNT":
        return (entry["accountId"],)
    if by == "FINDING_TYPE":
        return (entry["findingType"],)
    if by == "SEVERITY":
        return (entry["severity"],)
    if by == "RESOURCE":
        return (entry["accountId"], entry.get("resourceType"), entry.get("resourceId"))
    return (entry["date"], entry["severity"])


@pytest.mark.parametrize(
    "criterion",
    [
        {},
        {"severity": {"greaterThanOrEqual": 5}, "service.archived": {"equals": ["false"]}},
        {"resource.resourceType": {"notEquals": ["S3Bucket"]}, "updatedAt": {"lessThan": 1773000000000}},
        {"service.resourceRole": {"equals": ["TARGET"]}, "type": {"notEquals": ["Policy:IAMUser/RootCredentialUsage"]}},
        {"resource.instanceDetails.tags.value": {"equals": ["web", "batch"]}},
    ],
)  # fmt: skip
def test_statistics_equal_brute_force_counts(
    store: Store, templates: list[dict[str, Any]], criterion: dict[str, Any]
) -> None:
    findings = _findings(templates, 250, seed=9)
    _store(store, findings)
    criteria = compile_criteria({"criterion": criterion} if criterion else None)
    selected = [f for f in _visible(findings) if criteria.matches(f)]
    assert selected
    stats = finding_statistics(
        store, account_ids=VISIBLE, region=HOME, criteria=criteria, group_by=None, statistic_types=["COUNT_BY_SEVERITY"]
    )  # fmt: skip
    assert stats == {
        "countBySeverity": {str(s): n for s, n in sorted(Counter(f["severity"] for f in selected).items())}
    }
    for by in search.GROUP_BY:
        expected = _groups(selected, by)
        member = {"ACCOUNT": "groupedByAccount", "DATE": "groupedByDate", "FINDING_TYPE": "groupedByFindingType",
                  "RESOURCE": "groupedByResource", "SEVERITY": "groupedBySeverity"}[by]  # fmt: skip
        full = finding_statistics(
            store, account_ids=VISIBLE, region=HOME, criteria=criteria, group_by=by, max_results=100
        )
        entries = full[member]
        assert list(full) == [member]
        if len(expected) <= 100:
            got = {_entry_key(by, e): (e["totalFindings"], e["lastGeneratedAt"]) for e in entries}
            assert got == expected
        counts = [e["totalFindings"] for e in entries]
        assert counts == sorted(counts, reverse=True)
        assert counts == sorted((n for n, _ in expected.values()), reverse=True)[:100]
        fewest = finding_statistics(
            store,
            account_ids=VISIBLE,
            region=HOME,
            criteria=criteria,
            group_by=by,
            order_by="ASC",
            max_results=3,
        )[member]
        assert [e["totalFindings"] for e in fewest] == sorted(n for n, _ in expected.values())[:3]
        default = finding_statistics(store, account_ids=VISIBLE, region=HOME, criteria=criteria, group_by=by)[
            member
        ]
        assert len(default) == min(25, len(expected))


def test_pushdown_keeps_in_python_only_what_columns_cannot_answer() -> None:
    def split(criterion: dict[str, Any]) -> tuple[int, list[str]]:
        plan = pushdown(compile_criteria({"criterion": criterion}, allow_matches=True))
        return len(plan.where), [t.attribute for t in plan.residual.terms]

    columns = {
        "accountId": {"equals": [ME]}, "region": {"notEquals": [ABROAD]}, "id": {"equals": ["x"]},
        "type": {"neq": ["x"]}, "severity": {"equals": ["7", "8.5"], "gte": 2}, "service.archived": {"eq": ["false"]},
        "updatedAt": {"greaterThan": 1, "equals": ["1772323200000"]}, "createdAt": {"lte": 5},
        "resource.resourceType": {"notEquals": ["S3Bucket"]}, "service.eventFirstSeen": {"lessThan": 9},
        "service.eventLastSeen": {"gt": 9}, "service.count": {"equals": ["3", "4.0"], "lessThan": 9},
    }  # fmt: skip
    assert split(columns) == (15, [])
    assert split({"type": {"matches": ["Recon:*"]}}) == (0, ["type"])
    assert split({"updatedAt": {"equals": ["2026-03-01T00:00:00.000Z"]}}) == (0, ["updatedAt"])
    assert split({"accountId": {"gt": 5}}) == (0, ["accountId"])
    instance = "resource.instanceDetails.instanceId"
    assert split({instance: {"equals": [INSTANCES[0]]}}) == (1, [instance])  # prefilter, still checked
    assert split({instance: {"notEquals": [INSTANCES[0]]}}) == (0, [instance])
    assert split({instance: {"equals": [""]}}) == (0, [instance])  # finding_resources keeps no empty id
    assert split({PORT: {"equals": ["22"]}, "severity": {"gte": 5}}) == (1, [PORT])


def test_resource_prefilter_does_not_confuse_attributes(
    store: Store, templates: list[dict[str, Any]]
) -> None:
    """``finding_resources`` does not say which attribute held an id: a user named like an
    instance must not match an instance-id criterion."""
    access = next(t for t in templates if t["resource"]["resourceType"] == "AccessKey")
    named = copy.deepcopy(access) | {"id": "f" * 32, "accountId": ME, "region": HOME}
    named["resource"]["accessKeyDetails"]["userName"] = INSTANCES[0]
    _store(store, [named])
    by_instance = compile_criteria(
        {"criterion": {"resource.instanceDetails.instanceId": {"equals": [INSTANCES[0]]}}}
    )
    by_user = compile_criteria(
        {"criterion": {"resource.accessKeyDetails.userName": {"equals": [INSTANCES[0]]}}}
    )
    assert search_findings(store, account_ids=[ME], region=HOME, criteria=by_instance) == ([], False)
    assert search_findings(store, account_ids=[ME], region=HOME, criteria=by_user) == ([named["id"]], False)


def test_millisecond_edges_agree_in_sql_and_python(store: Store, templates: list[dict[str, Any]]) -> None:
    base = copy.deepcopy(templates[0])
    finer = base | {
        "id": "a" * 32,
        "accountId": ME,
        "region": HOME,
        "updatedAt": "2026-03-01T00:00:00.000750Z",
    }
    whole = base | {"id": "b" * 32, "accountId": ME, "region": HOME, "updatedAt": "2026-03-01T00:00:00.001Z"}
    _store(store, [finer, whole])
    ms = epoch_millis("2026-03-01T00:00:00.000Z")
    assert ms is not None
    for condition, expected in [
        ({"equals": [str(ms)]}, ["a" * 32]),
        ({"equals": [str(ms + 1)]}, ["b" * 32]),
        ({"greaterThan": ms}, ["b" * 32]),
        ({"greaterThanOrEqual": ms}, ["a" * 32, "b" * 32]),
        ({"lessThan": ms + 1}, ["a" * 32]),
        ({"lessThanOrEqual": ms}, ["a" * 32]),
        ({"lessThan": -(2**62)}, []),
        ({"greaterThan": 2**62}, []),
        ({"greaterThan": -(2**62)}, ["a" * 32, "b" * 32]),
    ]:
        criteria = compile_criteria({"criterion": {"updatedAt": condition}})
        assert pushdown(criteria).exact
        ids, _ = search_findings(store, account_ids=[ME], region=HOME, criteria=criteria, sort=("id", "ASC"))
        assert ids == expected, condition
        assert [f["id"] for f in (finer, whole) if criteria.matches(f)] == expected


def test_severity_bands_and_counts_agree_in_sql_and_python(
    store: Store, templates: list[dict[str, Any]]
) -> None:
    base = copy.deepcopy(templates[0]) | {"accountId": ME, "region": HOME}
    severities = {"a" * 32: 6.9, "b" * 32: 7.0, "c" * 32: 7.5, "d" * 32: 8.9, "e" * 32: 9.0}
    made = [
        base | {"id": fid, "severity": s, "service": base["service"] | {"count": int(s)}}
        for fid, s in severities.items()
    ]
    _store(store, made)
    for condition, expected in [
        ({"severity": {"equals": ["7", "8"]}}, "bcd"),
        ({"severity": {"equals": ["7.0"]}}, "b"),
        ({"severity": {"equals": ["7.5", "9"]}}, "ce"),
        ({"severity": {"notEquals": ["7"]}}, "ade"),
        ({"severity": {"equals": ["high"]}}, ""),
        ({"service.count": {"equals": ["7", "8.0", "8.5"]}}, "bcd"),
        ({"service.count": {"notEquals": ["7"]}}, "ade"),
        ({"service.count": {"equals": ["1e400", "99999999999999999999"]}}, ""),
    ]:
        criteria = compile_criteria({"criterion": condition})
        assert pushdown(criteria).exact
        ids, _ = search_findings(store, account_ids=[ME], region=HOME, criteria=criteria, sort=("id", "ASC"))
        assert ids == [c * 32 for c in expected], condition
        assert [f["id"] for f in made if criteria.matches(f)] == ids


def test_odd_values_match_nothing_instead_of_failing(store: Store, templates: list[dict[str, Any]]) -> None:
    """Values no column can hold (a NUL, which PostgreSQL text refuses; a 60-digit "time")
    are left to Python, which finds no finding with them."""
    _store(store, [copy.deepcopy(templates[0]) | {"accountId": ME, "region": HOME}])
    for criterion in [
        {"type": {"equals": ["Recon:\x00"]}},
        {"resource.instanceDetails.networkInterfaces.networkInterfaceId": {"equals": ["eni-\x00"]}},
        {"updatedAt": {"equals": ["1" * 60]}},
        {"severity": {"equals": ["9" * 5000]}},
        {"service.count": {"equals": ["1e400", "-0"]}},
    ]:
        criteria = compile_criteria({"criterion": criterion})
        assert search_findings(store, account_ids=[ME], region=HOME, criteria=criteria) == ([], False)
    kept = compile_criteria({"criterion": {"type": {"notEquals": ["Recon:\x00"]}}})
    assert search_findings(store, account_ids=[ME], region=HOME, criteria=kept) == (
        [templates[0]["id"]],
        False,
    )


def test_refusals_name_what_is_wrong(store: Store) -> None:
    everything = Criteria()
    for sort, says in [
        (("title", "ASC"), "'title' is not a finding attribute"),
        (("severity", "desc"), "'desc'"),
    ]:
        with pytest.raises(CriteriaError, match=says):
            search_findings(store, account_ids=[ME], region=HOME, criteria=everything, sort=sort)
    with pytest.raises(CriteriaError, match="at least one finding"):
        search_findings(store, account_ids=[ME], region=HOME, criteria=everything, limit=0)
    for kwargs, says in [
        ({"group_by": "REGION"}, "groupBy 'REGION'"),
        ({"group_by": None, "statistic_types": ["COUNT_BY_TYPE"]}, "'COUNT_BY_TYPE'"),
        ({"group_by": "ACCOUNT", "order_by": "UP"}, "orderBy 'UP'"),
        ({"group_by": "ACCOUNT", "max_results": 101}, "maxResults 101"),
        ({"group_by": "ACCOUNT", "max_results": 0}, "maxResults 0"),
    ]:
        with pytest.raises(CriteriaError, match=says):
            finding_statistics(store, account_ids=[ME], region=HOME, criteria=everything, **kwargs)
