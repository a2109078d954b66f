"""GuardDuty's ``STIX`` format: STIX 2.0/2.1 JSON bundles, and the STIX 1.x XML of its examples.

STIX 2: each ``indicator`` object is read with the ``stix2`` library (which checks it,
pattern included), and its pattern is inspected with ``stix2patterns``. Every positive ``=``,
``IN`` or ``ISSUBSET`` comparison on ``ipv4-addr:value``, ``ipv6-addr:value`` (an address
or CIDR), ``domain-name:value``, ``url:value`` (its host) or ``network-traffic:dst_ref.value``
/ ``src_ref.value`` becomes an entry. keibi lists those values, as GuardDuty does; it does not
evaluate the rest of the pattern (ports, ``FOLLOWEDBY``, ``WITHIN``). Negated comparisons,
``LIKE`` and ``MATCHES`` are left out, since they name no single address or domain.

Which indicators count:

- revoked (``"revoked": true``): left out; the producer withdrew them;
- expired (``valid_until`` before the time of parsing): left out, so a stale indicator does
  not raise findings. "Time of parsing" is when the list is loaded, or for a list kept in the
  store when ``keibi intel update`` fetched that version; an unchanged file is not re-read, so
  refresh with ``--force`` to drop indicators that expired since;
- ``pattern_type`` other than ``stix`` (Snort, YARA, Sigma): left out;
- other object types (SCOs such as a bare ``ipv4-addr`` included): ignored, since a report
  bundle also describes victims and infrastructure that are not indicators.

An object that is not a valid indicator is a problem naming its position and id
(``objects[3] indicator--…``); the others still load. Bundles are small (thousands of
objects) and each pattern needs a parser, so this reader loops over objects in Python.

STIX 1.x (``<stix:STIX_Package>``, the layout in GuardDuty's documentation): cybox
``AddressObject`` (``ipv4-addr``, ``ipv6-addr``, ``cidr``, ``ipv4-net``, ``ipv6-net``),
``DomainNameObject`` and ``URIObject`` values are entries, including ``##comma##`` lists and
``InclusiveBetween`` address ranges (as the CIDRs covering them).
"""

from __future__ import annotations

import ipaddress
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any, Final

import orjson
import polars as pl

from keibi.intel.formats._common import CANDIDATES, UnreadableListError, url_host

# (object type, property path) → what the value must be ("url" → take its host).
_PATHS: Final[dict[tuple[str, tuple[str, ...]], str | None]] = {
    ("ipv4-addr", ("value",)): "ip",
    ("ipv6-addr", ("value",)): "ip",
    ("domain-name", ("value",)): "domain",
    ("url", ("value",)): "url",
    ("network-traffic", ("dst_ref", "value")): None,
    ("network-traffic", ("src_ref", "value")): None,
}
_OPERATORS: Final = ("=", "IN", "ISSUBSET")
_LITERAL: Final = re.compile(r"'((?:[^'\\]|\\.)*)'")
_ESCAPE: Final = re.compile(r"\\(.)")

_XSI_TYPE: Final = "{http://www.w3.org/2001/XMLSchema-instance}type"
_STIX1_ADDRESS_CATEGORIES: Final = ("ipv4-addr", "ipv6-addr", "cidr", "ipv4-net", "ipv6-net")


def read_stix(text: str, *, now: datetime) -> pl.DataFrame:
    """Candidates of a STIX document: JSON (2.x) or XML (1.x), told apart by the first character."""
    if text.lstrip().startswith("<"):
        return _read_stix1(text)
    return _read_stix2(text, now)


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=CANDIDATES) if rows else pl.DataFrame(schema=CANDIDATES)
    url = pl.col("want") == "url"
    return frame.with_columns(
        entry=pl.when(url).then(url_host(pl.col("entry"))).otherwise(pl.col("entry")),
        want=pl.when(url).then(pl.lit("host")).otherwise(pl.col("want")),
    )


def _objects(text: str) -> tuple[list[Any], str | None]:
    """The objects of a bundle (or a TAXII envelope, a bare list, a single object) and the
    bundle's ``spec_version``, which STIX 2.0 objects inherit."""
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise UnreadableListError(f"not a STIX bundle: invalid JSON: {exc}") from None
    if isinstance(doc, list):
        return doc, None
    if isinstance(doc, dict):
        objects = doc.get("objects")
        if isinstance(objects, list):
            version = doc.get("spec_version")
            return objects, version if isinstance(version, str) else None
        if objects is None and "type" in doc and doc.get("type") != "bundle":
            return [doc], None
    raise UnreadableListError('not a STIX bundle: expected {"type": "bundle", "objects": [...]}')


def _read_stix2(text: str, now: datetime) -> pl.DataFrame:
    import stix2
    from stix2patterns.exceptions import ParseException
    from stix2patterns.v20.pattern import Pattern as Pattern20
    from stix2patterns.v21.pattern import Pattern as Pattern21

    objects, bundle_version = _objects(text)
    rows: list[dict[str, Any]] = []
    for i, obj in enumerate(objects):
        if not isinstance(obj, dict):
            rows.append({"label": f"objects[{i}]", "reason": "not a STIX object", "shown": str(obj)[:80]})
            continue
        if obj.get("type") != "indicator":
            continue
        label = f"objects[{i}] {obj.get('id', 'indicator')}"
        version = None if "spec_version" in obj else bundle_version
        try:
            indicator = stix2.parse(obj, allow_custom=True, version=version)
        except (stix2.exceptions.STIXError, ValueError, TypeError, KeyError) as exc:
            rows.append({"label": label, "reason": f"not a valid STIX indicator ({exc})", "shown": ""})
            continue
        if indicator.get("revoked") or indicator.get("pattern_type", "stix") != "stix":
            continue
        valid_until = indicator.get("valid_until")
        if valid_until is not None and valid_until < now:
            continue
        pattern_class = Pattern20 if indicator.get("spec_version", "2.0") == "2.0" else Pattern21
        try:
            comparisons = pattern_class(indicator["pattern"]).inspect().comparisons
        except ParseException as exc:
            rows.append({"label": label, "reason": f"not a valid STIX pattern ({exc})", "shown": ""})
            continue
        for obj_type, tests in comparisons.items():
            for path, op, literal in tests:
                key = (obj_type, tuple(str(p) for p in path))
                if key not in _PATHS or op not in _OPERATORS:
                    continue
                for value in _LITERAL.findall(literal):
                    value = _ESCAPE.sub(r"\1", value)
                    rows.append({"entry": value, "shown": value, "want": _PATHS[key], "label": label})
    return _frame(rows)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _read_stix1(text: str) -> pl.DataFrame:
    # ElementTree fetches no external entities, and the bundled expat (2.4 and later) caps
    # entity expansion, so a hostile feed cannot make the parser read files or blow up.
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise UnreadableListError(f"not a STIX document: invalid XML: {exc}") from None
    parents = {child: parent for parent in root.iter() for child in parent}
    rows: list[dict[str, Any]] = []
    for props in root.iter():
        if _local(props.tag) != "Properties":
            continue
        kind = (props.get(_XSI_TYPE) or "").rsplit(":", 1)[-1]
        if kind == "AddressObjectType":
            if (props.get("category") or "ipv4-addr") not in _STIX1_ADDRESS_CATEGORIES:
                continue
            want: str | None = "ip"
        elif kind == "DomainNameObjectType":
            want = "domain"
        elif kind == "URIObjectType":
            want = "url"
        else:
            continue
        label = _stix1_label(props, parents)
        for value in props:
            if _local(value.tag) not in ("Address_Value", "Value") or not (value.text or "").strip():
                continue
            items = [v.strip() for v in (value.text or "").split("##comma##")]
            condition = value.get("condition") or "Equals"
            if condition == "InclusiveBetween" and want == "ip":
                rows.extend(_stix1_range(items, label))
            elif condition == "Equals":
                rows.extend({"entry": v, "shown": v, "want": want, "label": label} for v in items if v)
    return _frame(rows)


def _stix1_label(element: ET.Element, parents: dict[ET.Element, ET.Element]) -> str:
    """The id of the nearest enclosing Observable or Indicator, to name it in problems."""
    node: ET.Element | None = element
    while node is not None:
        if _local(node.tag) in ("Observable", "Indicator", "Object") and node.get("id"):
            return str(node.get("id"))
        node = parents.get(node)
    return "STIX_Package"


def _stix1_range(items: list[str], label: str) -> list[dict[str, Any]]:
    shown = " - ".join(items)
    try:
        if len(items) != 2:
            raise ValueError("expected two addresses")
        first, last = ipaddress.ip_address(items[0]), ipaddress.ip_address(items[1])
        nets = ipaddress.summarize_address_range(first, last)
        return [{"entry": str(n), "shown": shown, "want": "ip", "label": label} for n in nets]
    except (ValueError, TypeError) as exc:
        return [{"shown": shown, "label": label, "reason": f"not an address range ({exc})"}]
