"""ListFindings, GetFindings, GetFindingsStatistics, ArchiveFindings, UnarchiveFindings,
UpdateFindingsFeedback and CreateSampleFindings.

Every operation sees only the findings of ``visible_accounts`` (the caller's own account, and
an administrator's monitored members) in the signing region. Ids outside that set are treated
exactly as ids that do not exist, so guessing an id tells nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keibi.api.call import Call
from keibi.api.ops import operation
from keibi.api.ops.paging import encode_token, limits
from keibi.api.protocol import access_denied, bad_request
from keibi.findings import FindingRecord
from keibi.findings.criteria import Criteria, CriteriaError, compile_criteria
from keibi.findings.samples import sample_findings
from keibi.store.filters import Suppression
from keibi.store.finding_search import check_sort, finding_statistics, search_findings, sort_key
from keibi.store.members import administrator_of, visible_accounts


def _criteria(call: Call) -> Criteria:
    try:
        return compile_criteria(call.params.get("findingCriteria"))
    except CriteriaError as err:
        raise bad_request(str(err)) from None


def _sort(call: Call) -> tuple[str, str] | None:
    sort = call.params.get("sortCriteria")
    if not sort or not sort.get("attributeName"):
        return None
    return str(sort["attributeName"]), str(sort.get("orderBy") or "ASC")


def _visible(call: Call, ids: Sequence[str]) -> list[dict[str, Any]]:
    """The findings among ``ids`` the caller may see, in the order asked."""
    accounts = set(visible_accounts(call.store, call.account_id, call.region))
    return [
        f
        for f in call.store.get_findings(list(ids))
        if f.get("accountId") in accounts and f.get("region") == call.region
    ]


def _all_visible(call: Call, ids: Sequence[str]) -> list[str]:
    """``ids``, once each is known to be a finding the caller may see; else one 400 naming the
    ids it cannot use, whether they belong to someone else or to nobody."""
    wanted = list(dict.fromkeys(ids))
    found = {f["id"] for f in _visible(call, wanted)}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise bad_request(
            f"The request is rejected because these findingIds do not exist: {', '.join(missing)}."
        )
    return wanted


@operation("ListFindings")
def list_findings(call: Call) -> dict[str, Any]:
    call.detector()
    offset, size = limits(call)
    try:
        ids, more = search_findings(
            call.store,
            account_ids=visible_accounts(call.store, call.account_id, call.region),
            region=call.region,
            criteria=_criteria(call),
            sort=_sort(call),
            offset=offset,
            limit=size,
        )
    except CriteriaError as err:
        raise bad_request(str(err)) from None
    out: dict[str, Any] = {"findingIds": ids}
    if more:
        out["nextToken"] = encode_token(call.operation, offset + size)
    return out


@operation("GetFindings")
def get_findings(call: Call) -> dict[str, Any]:
    call.detector()
    found = _visible(call, call.params["findingIds"])
    sort = _sort(call)
    if sort is not None:
        try:
            attribute, descending = check_sort(sort)
        except CriteriaError as err:
            raise bad_request(str(err)) from None
        found.sort(key=lambda f: sort_key(f, attribute, descending))
    return {"findings": found}


@operation("GetFindingsStatistics")
def statistics(call: Call) -> dict[str, Any]:
    call.detector()
    group_by = call.params.get("groupBy")
    types = call.params.get("findingStatisticTypes") or []
    if not group_by and not types:
        raise bad_request(
            "The request is rejected because neither groupBy nor findingStatisticTypes is given."
        )
    try:
        stats = finding_statistics(
            call.store,
            account_ids=visible_accounts(call.store, call.account_id, call.region),
            region=call.region,
            criteria=_criteria(call),
            group_by=group_by,
            statistic_types=types,
            order_by=call.params.get("orderBy"),
            max_results=call.params.get("maxResults"),
        )
    except CriteriaError as err:
        raise bad_request(str(err)) from None
    return {"findingStatistics": stats}


def _archive(call: Call, archived: bool) -> dict[str, Any]:
    call.detector()
    if administrator_of(call.store, call.account_id, call.region) is not None:
        raise access_denied(
            "The request is rejected because a member account cannot archive or unarchive findings; "
            "its administrator account can."
        )
    call.store.set_archived(_all_visible(call, call.params["findingIds"]), archived)
    return {}


@operation("ArchiveFindings")
def archive(call: Call) -> dict[str, Any]:
    return _archive(call, True)


@operation("UnarchiveFindings")
def unarchive(call: Call) -> dict[str, Any]:
    return _archive(call, False)


@operation("UpdateFindingsFeedback")
def feedback(call: Call) -> dict[str, Any]:
    call.detector()
    call.store.set_feedback(_all_visible(call, call.params["findingIds"]), call.params["feedback"])
    return {}


@operation("CreateSampleFindings")
def samples(call: Call) -> dict[str, Any]:
    call.detector()
    try:
        made = sample_findings(
            call.account_id, call.region, call.params.get("findingTypes") or None, now=call.now
        )
    except ValueError as err:
        raise bad_request(str(err)) from None
    suppression = Suppression.load(call.store)  # samples are new findings: rules apply to them too
    call.store.upsert_findings(
        [FindingRecord(finding, []) for finding in made],
        archive_new=suppression.archives if suppression else None,
    )
    return {}
