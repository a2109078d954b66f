"""Readers for every list format keibi takes, one module per family.

GuardDuty's six (``TXT``, ``STIX``, ``OTX_CSV``, ``ALIEN_VAULT``, ``PROOF_POINT``,
``FIRE_EYE``) and three layouts public feeds use (``HOSTS``, ``URL_LIST``,
``SPAMHAUS_DROP``). A reader turns decoded text into candidate entries
(``keibi.intel.formats._common.CANDIDATES``); ``keibi.intel.lists`` classifies them, so
address rules and problem messages are the same whatever the format.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final

import polars as pl

from keibi.intel.formats._common import CANDIDATES, UnreadableListError
from keibi.intel.formats.alienvault import read_alien_vault
from keibi.intel.formats.feeds import read_hosts, read_spamhaus_drop, read_url_list
from keibi.intel.formats.stix import read_stix
from keibi.intel.formats.txt import read_txt
from keibi.intel.formats.vendor_csv import read_fire_eye, read_otx_csv, read_proof_point

GUARDDUTY_FORMATS: Final = ("TXT", "STIX", "OTX_CSV", "ALIEN_VAULT", "PROOF_POINT", "FIRE_EYE")
FEED_FORMATS: Final = ("HOSTS", "URL_LIST", "SPAMHAUS_DROP")
LIST_FORMATS: Final = GUARDDUTY_FORMATS + FEED_FORMATS


def format_and_path(spec: str) -> tuple[str, str]:
    """A list file named as ``[FORMAT=]PATH`` (``--threat-list``, keibi.toml's ``threat_lists``):
    the format before ``=`` when it is one of :data:`LIST_FORMATS` (any case), else TXT and the
    whole text as the path.

    >>> format_and_path("stix=lists/bundle.json"), format_and_path("lists/a=b.txt")
    (('STIX', 'lists/bundle.json'), ('TXT', 'lists/a=b.txt'))
    """
    head, sep, rest = spec.partition("=")
    if sep and head.strip().upper() in LIST_FORMATS:
        return head.strip().upper(), rest
    return "TXT", spec


_READERS: Final[dict[str, Callable[[str], pl.DataFrame]]] = {
    "TXT": read_txt,
    "OTX_CSV": read_otx_csv,
    "ALIEN_VAULT": read_alien_vault,
    "PROOF_POINT": read_proof_point,
    "FIRE_EYE": read_fire_eye,
    "HOSTS": read_hosts,
    "URL_LIST": read_url_list,
    "SPAMHAUS_DROP": read_spamhaus_drop,
}


def read_candidates(text: str, fmt: str, *, now: datetime) -> pl.DataFrame:
    """The candidate entries of ``text`` in ``fmt`` (one of :data:`LIST_FORMATS`).

    Raises ``KeyError`` for an unknown format and :class:`UnreadableListError` when the text
    as a whole is not in the format; ``now`` decides which STIX indicators have expired.
    """
    if fmt == "STIX":
        return read_stix(text, now=now)
    return _READERS[fmt](text)


__all__ = [
    "CANDIDATES",
    "FEED_FORMATS",
    "GUARDDUTY_FORMATS",
    "LIST_FORMATS",
    "UnreadableListError",
    "format_and_path",
    "read_candidates",
]
