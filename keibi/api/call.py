"""``Call``: one authenticated request as a handler sees it, and the checks every handler shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from keibi.api.auth import Caller
from keibi.api.protocol import bad_request
from keibi.config import ServerConfig
from keibi.store import Store
from keibi.store.detectors import DetectorRecord, find_detector


@dataclass(frozen=True, slots=True)
class Call:
    """``params`` are the input members in wire form (``keibi.api.protocol.read_request``)."""

    operation: str
    params: dict[str, Any]
    caller: Caller
    store: Store
    now: datetime
    request_id: str
    settings: ServerConfig = field(default_factory=ServerConfig)

    @property
    def account_id(self) -> str:
        return self.caller.account_id

    @property
    def region(self) -> str:
        return self.caller.region

    def detector(self) -> DetectorRecord:
        """The caller's own detector named by ``detectorId``, in the signing region.

        Any other id — another account's, another region's, a guessed one — gets GuardDuty's
        own answer, the same whether or not that detector exists, so ids cannot be probed.
        """
        detector_id = str(self.params.get("detectorId", ""))
        found = find_detector(self.store, detector_id)
        if found is None or found.account_id != self.account_id or found.region != self.region:
            raise bad_request(
                "The request is rejected because the input detectorId is not owned by the current account."
            )
        return found
