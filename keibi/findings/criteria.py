"""GuardDuty's FindingCriteria (ListFindings, GetFindingsStatistics, saved filters and suppression
rules), checked once by :func:`compile_criteria` and then matched against finding JSON
(finding_format.md §9.2).

Which attributes may be named comes from GuardDuty itself: ``data/criterion_attributes.json``
lists every attribute the documentation of ``CreateFilterRequest.FindingCriteria`` in botocore's
guardduty model names (622 paths; ListFindings documents a 49-path subset of them, and is held to
the whole list, as lenient as the longest list GuardDuty publishes), and which of them it marks
"Timestamp in Unix Epoch millisecond format". It was derived once, with::

    m = botocore.session.get_session().get_service_model("guardduty")
    doc = m.operation_model("CreateFilter").input_shape.members["FindingCriteria"].documentation
    re.findall(r"<li> <p>([A-Za-z0-9_.]+)</p>( <p>Type: Timestamp)?", doc)

How a finding is matched, where GuardDuty documents it and where keibi decides:

- Attributes are ANDed; within one attribute each operator must hold (ANDed), and the values
  listed for ``equals`` are ORed.
- A path walks into lists: ``resource.instanceDetails.tags.key`` is the key of any tag,
  ``...portProbeDetails.remoteIpDetails.country.countryName`` that of any prober.
  ``service.additionalInfo.<name>`` also looks inside the JSON text of ``additionalInfo.value``,
  where the API form of a finding keeps those details.
- ``equals`` holds when some value of the attribute equals a listed value; ``notEquals`` when no
  value equals any listed value, so an attribute the finding lacks is "not equal" and matches
  (as in GuardDuty). ``service.archived`` missing counts as ``false``: such a finding is active.
  An empty ``equals`` list matches nothing, an empty ``notEquals`` everything; a null operator
  is no operator.
- Values are compared by the JSON type of the finding's value: numbers numerically (``"8"``
  equals 8.0), booleans as ``"true"``/``"false"``, strings exactly (case-sensitive). A
  timestamp attribute (ISO text such as ``updatedAt``; epoch seconds where the wire form is a
  number, such as ``s3BucketDetails.createdAt``) compares as epoch milliseconds, truncated to
  the millisecond; its ``equals`` takes a millisecond count or the exact ISO text.
- ``severity`` with a whole number in ``equals``/``notEquals`` means that whole band: ``"7"``
  matches 7.0 up to (not including) 8.0, so GuardDuty's documented High filter ``["7", "8"]``
  holds for every severity from 7.0 to 8.9. A decimal (``"7.5"``) matches that value exactly.
- ``greaterThan``/``greaterThanOrEqual``/``lessThan``/``lessThanOrEqual`` (and the deprecated
  ``gt``/``gte``/``lt``/``lte``) hold when one value of the attribute satisfies all of them at
  once (a range over a list of ports needs one port inside it); an attribute with no numeric
  value never satisfies them. Numeric text (an ASN such as ``"16509"``) counts as a number.
- ``matches``/``notMatches`` (saved filters only) are wildcard patterns, modelled on the
  Elasticsearch wildcard query that GuardDuty's "wildcard match" wording suggests: ``*`` is any
  run of characters (also none), ``?`` exactly one, ``\\`` makes the next character literal,
  everything else is literal and case-sensitive, and the pattern must cover the whole value.
  Numbers match as their JSON text (``8.0``), booleans as ``true``/``false``.

>>> rule = compile_criteria({"criterion": {"type": {"equals": ["Recon:EC2/Portscan"]},
...                                        "severity": {"greaterThanOrEqual": 5}}})
>>> rule.matches(finding)
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from importlib.resources import files
from typing import Any, Final

import orjson

from keibi.findings._times import parse_iso
from keibi.findings.pointers import decode_info

MAX_ATTRIBUTES: Final = 50
MAX_VALUES: Final = 50  # per equals/notEquals list
MAX_PATTERNS: Final = 5  # per matches/notMatches list
MAX_PATTERN_CHARS: Final = 512
LONG_MIN: Final = -(2**63)
LONG_MAX: Final = 2**63 - 1

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND: Final = timedelta(milliseconds=1)
_INTEGER_DIGITS: Final = 40  # longer "integers" are read as numbers, never as counts or bands
_INTEGER = re.compile(r"-?\d+", re.ASCII)
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_ADDITIONAL_INFO: Final = ("service", "additionalInfo")


class CriteriaError(ValueError):
    """FindingCriteria (or a sort, a grouping or a page token) the request may not use; the
    message is one sentence naming the attribute or operator, sent back as a 400."""


class Op(enum.Enum):
    """One condition operator; GuardDuty's deprecated spellings map onto the same member."""

    EQUALS = "equals"
    NOT_EQUALS = "notEquals"
    GREATER_THAN = "greaterThan"
    GREATER_THAN_OR_EQUAL = "greaterThanOrEqual"
    LESS_THAN = "lessThan"
    LESS_THAN_OR_EQUAL = "lessThanOrEqual"
    MATCHES = "matches"
    NOT_MATCHES = "notMatches"


# The Condition shape's members by wire name (locationName), deprecated ones included.
OPERATORS: Final[Mapping[str, Op]] = {
    "eq": Op.EQUALS,
    "equals": Op.EQUALS,
    "neq": Op.NOT_EQUALS,
    "notEquals": Op.NOT_EQUALS,
    "gt": Op.GREATER_THAN,
    "greaterThan": Op.GREATER_THAN,
    "gte": Op.GREATER_THAN_OR_EQUAL,
    "greaterThanOrEqual": Op.GREATER_THAN_OR_EQUAL,
    "lt": Op.LESS_THAN,
    "lessThan": Op.LESS_THAN,
    "lte": Op.LESS_THAN_OR_EQUAL,
    "lessThanOrEqual": Op.LESS_THAN_OR_EQUAL,
    "matches": Op.MATCHES,
    "notMatches": Op.NOT_MATCHES,
}
LIST_OPS: Final = frozenset({Op.EQUALS, Op.NOT_EQUALS, Op.MATCHES, Op.NOT_MATCHES})
RANGE_OPS: Final = frozenset({Op.GREATER_THAN, Op.GREATER_THAN_OR_EQUAL, Op.LESS_THAN, Op.LESS_THAN_OR_EQUAL})
_PATTERN_OPS: Final = frozenset({Op.MATCHES, Op.NOT_MATCHES})


@cache
def _catalogue() -> tuple[frozenset[str], frozenset[str]]:
    data = orjson.loads(files("keibi.findings").joinpath("data/criterion_attributes.json").read_bytes())
    return frozenset(data["attributes"]), frozenset(data["timestamps"])


def filterable_attributes() -> frozenset[str]:
    """Every attribute path a FindingCriteria (or a sort) may name."""
    return _catalogue()[0]


def timestamp_attributes() -> frozenset[str]:
    """The attributes GuardDuty filters as epoch milliseconds."""
    return _catalogue()[1]


def check_attribute(name: Any, where: str) -> str:
    """``name`` when GuardDuty lets criteria or sorts name it; else ``CriteriaError`` saying
    ``where`` it came from."""
    if not isinstance(name, str) or name not in filterable_attributes():
        raise CriteriaError(f"{where} {name!r} is not a finding attribute GuardDuty can filter or sort on.")
    return name


@dataclass(frozen=True, slots=True)
class Term:
    """One operator applied to one attribute: ``values`` for the list operators, ``number`` for
    the range ones."""

    attribute: str
    op: Op
    values: tuple[str, ...] = ()
    number: int = 0


@dataclass(frozen=True, slots=True)
class _Attribute:
    """The terms of one attribute, sorted by kind, as ``Criteria.matches`` applies them."""

    name: str
    timestamp: bool
    equals: tuple[Term, ...]
    not_equals: tuple[Term, ...]
    ranges: tuple[Term, ...]
    matches: tuple[Term, ...]
    not_matches: tuple[Term, ...]


@lru_cache(maxsize=1024)
def _plan(terms: tuple[Term, ...]) -> tuple[_Attribute, ...]:
    names = list(dict.fromkeys(t.attribute for t in terms))
    stamps = timestamp_attributes()
    plan = []
    for name in names:
        mine = [t for t in terms if t.attribute == name]
        plan.append(
            _Attribute(
                name=name,
                timestamp=name in stamps,
                equals=tuple(t for t in mine if t.op is Op.EQUALS),
                not_equals=tuple(t for t in mine if t.op is Op.NOT_EQUALS),
                ranges=tuple(t for t in mine if t.op in RANGE_OPS),
                matches=tuple(t for t in mine if t.op is Op.MATCHES),
                not_matches=tuple(t for t in mine if t.op is Op.NOT_MATCHES),
            )
        )
    return tuple(plan)


@dataclass(frozen=True, slots=True)
class Criteria:
    """Checked FindingCriteria: ``terms`` in request order; no terms matches every finding.

    >>> compile_criteria({"criterion": {"service.archived": {"equals": ["false"]}}}).matches(finding)
    True
    """

    terms: tuple[Term, ...] = ()

    @property
    def attributes(self) -> tuple[str, ...]:
        """The attributes named, each once, in request order."""
        return tuple(dict.fromkeys(t.attribute for t in self.terms))

    def matches(self, finding: Mapping[str, Any]) -> bool:
        """Whether ``finding`` (GuardDuty JSON, wire form) satisfies every term."""
        return all(_holds(spec, finding) for spec in _plan(self.terms))


def _holds(spec: _Attribute, finding: Mapping[str, Any]) -> bool:
    found = attribute_values(finding, spec.name)
    for term in spec.equals:
        if not any(_equal(v, text, spec) for v in found for text in term.values):
            return False
    for term in spec.not_equals:
        if any(_equal(v, text, spec) for v in found for text in term.values):
            return False
    if spec.ranges:
        numbers = [n for n in (_comparable(v, spec.timestamp) for v in found) if n is not None]
        if not any(all(_in_range(n, t) for t in spec.ranges) for n in numbers):
            return False
    for term in spec.matches:
        if not any(_glob(p).fullmatch(_text(v)) for v in found for p in term.values):
            return False
    for term in spec.not_matches:
        if any(_glob(p).fullmatch(_text(v)) for v in found for p in term.values):
            return False
    return True


def _in_range(n: float, term: Term) -> bool:
    if term.op is Op.GREATER_THAN:
        return n > term.number
    if term.op is Op.GREATER_THAN_OR_EQUAL:
        return n >= term.number
    if term.op is Op.LESS_THAN:
        return n < term.number
    return n <= term.number


# -- reading values out of a finding ---------------------------------------------------------


def _flat(node: Any, into: list[Any]) -> None:
    if isinstance(node, list):
        for item in node:
            _flat(item, into)
    elif node is not None:
        into.append(node)


def _walk(root: Any, parts: Sequence[str]) -> list[Any]:
    nodes: list[Any] = []
    _flat(root, nodes)
    for part in parts:
        step: list[Any] = []
        for node in nodes:
            if isinstance(node, Mapping) and part in node:
                _flat(node[part], step)
        nodes = step
    return [n for n in nodes if not isinstance(n, Mapping)]


def attribute_values(finding: Mapping[str, Any], attribute: str) -> list[Any]:
    """The scalar values (str, int, float, bool) at ``attribute`` in ``finding``: every one,
    through lists; none when it is absent or null."""
    parts = attribute.split(".")
    found = _walk(finding, parts)
    if tuple(parts[:2]) == _ADDITIONAL_INFO and len(parts) > 2 and parts[2] != "value":
        found += _walk(decode_info(finding), parts[2:])
    if not found and attribute == "service.archived":
        return [False]
    return found


def epoch_millis(value: Any) -> int | None:
    """A timestamp value as epoch milliseconds: ISO text, or epoch seconds (the wire form of a
    nested ``timestamp`` member); ``None`` for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        scaled = value * 1000
        return math.floor(scaled) if math.isfinite(scaled) else None
    if isinstance(value, str):
        try:
            return (parse_iso(value) - _EPOCH) // _MILLISECOND
        except (ValueError, OverflowError):
            return None
    return None


@lru_cache(maxsize=4096)
def criterion_number(text: str) -> float | None:
    """A criterion value read as a number (``"8"``, ``"-2.5"``, ``"1e3"``), ``None`` when it is not one."""
    if not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def criterion_integer(text: str) -> int | None:
    """A criterion value that is a whole number written without a point (``"7"``), else ``None``:
    a millisecond count for a timestamp, a whole band for ``severity``."""
    if len(text) > _INTEGER_DIGITS or not _INTEGER.fullmatch(text):
        return None
    return int(text)


def _comparable(value: Any, timestamp: bool) -> float | None:
    """``value`` as the number range operators compare, or ``None``."""
    if timestamp:
        return epoch_millis(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return criterion_number(value)
    return None


def _equal(value: Any, text: str, spec: _Attribute) -> bool:
    if isinstance(value, bool):
        return text.lower() == ("true" if value else "false")
    if spec.timestamp and (ms := criterion_integer(text)) is not None:
        return epoch_millis(value) == ms
    if isinstance(value, int | float):
        number = criterion_number(text)
        if number is None:
            return False
        if spec.name == "severity" and criterion_integer(text) is not None:
            return number <= value < number + 1
        return value == number
    return isinstance(value, str) and value == text


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "\\":
            out.append(re.escape(next(chars, "\\")))
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


# -- compiling the wire form -----------------------------------------------------------------


def _strings(raw: Any, attribute: str, key: str, op: Op) -> tuple[str, ...]:
    where = f"operator {key} of attribute {attribute!r}"
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise CriteriaError(f"The {where} takes a list of strings.")
    most = MAX_PATTERNS if op in _PATTERN_OPS else MAX_VALUES
    if len(raw) > most:
        raise CriteriaError(f"The {where} takes at most {most} values, not {len(raw)}.")
    if op in _PATTERN_OPS:
        for value in raw:
            if not 1 <= len(value) <= MAX_PATTERN_CHARS:
                raise CriteriaError(
                    f"Each pattern of the {where} must be 1 to {MAX_PATTERN_CHARS} characters long."
                )
    return tuple(raw)


def _long(raw: Any, attribute: str, key: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not LONG_MIN <= raw <= LONG_MAX:
        raise CriteriaError(f"The operator {key} of attribute {attribute!r} takes a whole number.")
    return raw


def _condition(attribute: str, condition: Any, allow_matches: bool) -> list[Term]:
    if not isinstance(condition, Mapping):
        raise CriteriaError(f"The condition of attribute {attribute!r} must be an object of operators.")
    terms: list[Term] = []
    for key, raw in condition.items():
        op = OPERATORS.get(key)
        if op is None:
            raise CriteriaError(
                f"Attribute {attribute!r} uses an unknown operator {key!r}; "
                f"GuardDuty's are {', '.join(OPERATORS)}."
            )
        if raw is None:
            continue
        if op in _PATTERN_OPS and not allow_matches:
            raise CriteriaError(
                f"The operator {key} of attribute {attribute!r} is allowed only in CreateFilter and UpdateFilter."
            )
        if op in LIST_OPS:
            terms.append(Term(attribute, op, values=_strings(raw, attribute, key, op)))
        else:
            terms.append(Term(attribute, op, number=_long(raw, attribute, key)))
    if not terms:
        raise CriteriaError(f"The condition of attribute {attribute!r} names no operator.")
    return terms


def compile_criteria(criteria: Mapping[str, Any] | None, *, allow_matches: bool = False) -> Criteria:
    """Wire FindingCriteria (``{"criterion": {"<attribute>": {"<operator>": …}}}``) checked
    and compiled; ``None`` or ``{}`` is no criteria (every finding).

    ``allow_matches`` is for saved filters (CreateFilter, UpdateFilter, suppression rules):
    they may use ``matches``/``notMatches`` and must name at least one attribute. Anything
    GuardDuty would refuse raises ``CriteriaError``.
    """
    if criteria is None:
        criteria = {}
    if not isinstance(criteria, Mapping):
        raise CriteriaError("The findingCriteria must be an object with a criterion map.")
    unknown = [k for k in criteria if k != "criterion"]
    if unknown:
        raise CriteriaError(
            f"The findingCriteria has an unknown member {unknown[0]!r}; it takes only criterion."
        )
    criterion = criteria.get("criterion")
    if criterion is None:
        criterion = {}
    if not isinstance(criterion, Mapping):
        raise CriteriaError("The findingCriteria criterion must map attribute names to conditions.")
    if allow_matches and not criterion:
        raise CriteriaError("The findingCriteria of a filter must name at least one attribute.")
    if len(criterion) > MAX_ATTRIBUTES:
        raise CriteriaError(
            f"The findingCriteria names {len(criterion)} attributes; GuardDuty allows at most {MAX_ATTRIBUTES}."
        )
    terms: list[Term] = []
    for attribute, condition in criterion.items():
        check_attribute(attribute, "The findingCriteria attribute")
        terms += _condition(attribute, condition, allow_matches)
    return Criteria(tuple(terms))
