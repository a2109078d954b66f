"""GetUsageStatistics: what keibi really analysed (events, or GB of log files), per data
source, account, resource and feature, from the usage scans record (``keibi.store.usage``)."""

from __future__ import annotations

from typing import Any

from keibi.api.call import Call
from keibi.api.ops import operation
from keibi.api.ops.paging import encode_token, limits
from keibi.api.protocol import bad_request
from keibi.store.members import visible_accounts
from keibi.store.usage import UsageError, usage_statistics


@operation("GetUsageStatistics")
def usage(call: Call) -> dict[str, Any]:
    call.detector()
    offset, size = limits(call)
    try:
        body, more = usage_statistics(
            call.store,
            account_ids=visible_accounts(call.store, call.account_id, call.region),
            region=call.region,
            request=call.params,
            offset=offset,
            limit=size,
            now=call.now,
        )
    except UsageError as err:
        raise bad_request(str(err)) from None
    if more:
        body["nextToken"] = encode_token(call.operation, offset + size)
    return body
