"""EventBridge event patterns: which finding events go to which target.

Users already write EventBridge rules for GuardDuty findings, so keibi takes the same patterns and
gives them the same answers. The reference is Amazon's user guide ("Creating event patterns",
"Content filtering", "Comparison operators", "Arrays", "Null values and empty strings") and, where
the guide is silent, Event Ruler (github.com/aws/event-ruler), the open-source matcher behind it.

Decisions:

- **Compile once, match cheaply.** :meth:`EventPattern.parse` validates the pattern and turns it
  into *alternatives*: flat maps from a dotted field path (``detail.severity``) to one leaf
  matcher (a tuple of small closures, one per value in the pattern's array). ``matches`` walks
  only the parts of the event some path names. ``$or`` is expanded at compile time, as Event
  Ruler does, which is why a field constrained both inside and outside a ``$or`` keeps the value
  written last in the document (``{"a": ["1"], "$or": [{"a": ["2"]}, {"b": ["3"]}]}`` is
  ``a = 2 OR (a = 1 AND b = 3)``), and why a key given twice keeps its last value (the guide's
  own note on duplicate keys).
- **Arrays: any element, but consistently.** An event array offers each element on its own
  (a pattern list matches when it intersects the event list; a nested pattern applies to every
  element of an array of objects). Two fields matched together must come from the same element
  of any array they share: ``{"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}``
  does not match Anna Smith plus Peter Jones (Event Ruler's "array consistency").
- **exists looks at leaves.** A field exists when the path reaches at least one leaf value
  (``null`` included); an object, ``{}`` or ``[]`` there is absent, as the guide's
  ``c-count: {c1: 100}`` example shows. ``{"exists": false}`` is checked, like Event Ruler does,
  against the fields already matched for paths sorting before it: absent from every element of
  an array unless an earlier path pinned the element (see ``test_exists_false_in_arrays``).
- **JSON types are exact.** Strings match strings, ``null`` only ``null``, ``true`` never ``1``.
  Numbers compare numerically (``[4]`` matches ``4.0``, ``[300]`` matches ``3.0e2``) to six
  decimal places within -5e9..5e9, EventBridge's numeric limits: a numeric operand outside them
  is refused, an event number outside them matches no numeric test. A pattern string that is an
  IP address matches the same address however it is written (``2001:db8::1``), as in Event Ruler.
- **Operators only on the types they name.** prefix, suffix, equals-ignore-case, wildcard and
  cidr match string values only; numeric only numbers. anything-but matches every leaf value
  except the excluded ones, a number or ``null`` included, and never an absent field.
- **Event Ruler's own limits and quirks are kept:** no ``**`` in a wildcard, only ``\\*`` and
  ``\\\\`` escapes; a cidr mask of at most /31 (IPv4) or /127 (IPv6), its range starting at the
  address as written; operator names cannot be field names inside ``$or``; dotted keys are joined
  with ``.`` (``{"a.b": ...}`` and ``{"a": {"b": ...}}`` name the same field, which Event Ruler
  documents as not to be relied upon). ``exactly`` (Event Ruler's explicit string equality) is
  accepted.
- **Deliberate divergences.** A malformed ``$or`` is refused instead of being read, as
  EventBridge's legacy compiler does, as a field literally named ``$or``: keibi's events have no
  such field, so that reading could only make a rule silently dead. keibi also refuses a pattern
  nested deeper than 100 objects and one whose ``$or`` expands to more than 1000 alternatives.

Errors: :class:`PatternError` is a ``ValueError`` and a :class:`~keibi.errors.ConfigError` whose
``str()`` is one line, ``<path>: <reason>``, the path being the dotted field path (``pattern``
for the whole pattern).
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from keibi.errors import ConfigError

__all__ = ["EventPattern", "PatternError", "matches"]


class PatternError(ConfigError, ValueError):
    """An event pattern EventBridge would refuse; ``str()`` is ``<path>: <reason>``."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(reason, key=where)


_Test = Callable[[object], bool]
# One leaf value of a flattened event and the array elements it sits in: ((array id, index), ...).
_Field = tuple[object, tuple[tuple[int, int], ...]]


@dataclass(frozen=True, slots=True)
class _Leaf:
    """What one path of an alternative asks: any of ``tests`` on a value, or absence."""

    tests: tuple[_Test, ...]
    absent_ok: bool

    def accepts(self, value: object) -> bool:
        return any(test(value) for test in self.tests)


_Alternative = tuple[tuple[str, _Leaf], ...]  # sorted by path, the order Event Ruler steps in

_MAX_DEPTH: Final = 100
_MAX_ALTERNATIVES: Final = 1000
_LIMIT: Final = Decimal(5_000_000_000)  # EventBridge's numeric range is -5e9..5e9
_MICRO: Final = Decimal("0.000001")  # and its precision six decimal places
_NUMERIC_OPS: Final = ("=", "<", "<=", ">", ">=")
_OPERATORS: Final = (
    "anything-but",
    "cidr",
    "equals-ignore-case",
    "exactly",
    "exists",
    "numeric",
    "prefix",
    "suffix",
    "wildcard",
)
# Event Ruler refuses these as field names inside $or, so adding an operator later cannot
# change what an existing pattern means.
_RESERVED_IN_OR: Final = frozenset(_OPERATORS + _NUMERIC_OPS) | {
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "ip-address-in-range",
    "ip-address-not-in-range",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
}


@dataclass(frozen=True, slots=True)
class EventPattern:
    """A validated EventBridge event pattern, compiled for matching.

    >>> rule = EventPattern.parse('{"detail": {"severity": [{"numeric": [">=", 7]}]}}')
    >>> rule.matches({"detail": {"severity": 8.0}}), rule.matches({"detail": {"severity": 5.3}})
    (True, False)

    Constructing one from a mapping validates it too; ``source`` is kept as given (read-only).
    """

    source: Mapping[str, Any] = field(hash=False)
    _alternatives: tuple[_Alternative, ...] = field(init=False, repr=False, compare=False, hash=False)
    _prefixes: frozenset[str] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        alternatives = _compile(self.source)
        prefixes = {p for alt in alternatives for path, _ in alt for p in _dot_prefixes(path)}
        object.__setattr__(self, "_alternatives", alternatives)
        object.__setattr__(self, "_prefixes", frozenset(prefixes))

    @classmethod
    def parse(cls, pattern: str | Mapping[str, Any]) -> EventPattern:
        """The pattern from JSON text (as ``PutRule`` takes it) or an already parsed mapping."""
        if isinstance(pattern, str):
            return cls(_load(pattern))
        if isinstance(pattern, Mapping):
            return cls(pattern)
        raise PatternError("pattern", f"must be JSON text or a mapping, got {type(pattern).__name__}")

    def matches(self, event: Mapping[str, Any]) -> bool:
        """Whether EventBridge would deliver ``event`` (an event envelope) to this rule."""
        fields = _flatten(event, self._prefixes)
        return any(_search(alt, 0, fields, {}) for alt in self._alternatives)


def matches(pattern: str | Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """``EventPattern.parse(pattern).matches(event)``, for one-off checks (TestEventPattern)."""
    return EventPattern.parse(pattern).matches(event)


# --- compiling ---------------------------------------------------------------------------------


def _load(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise PatternError("pattern", f"invalid JSON: {name} is not a JSON number")

    try:
        return json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as err:
        raise PatternError(
            "pattern", f"invalid JSON: {err.msg} (line {err.lineno} column {err.colno})"
        ) from None
    except PatternError:
        raise
    except ValueError as err:  # e.g. an integer with more digits than Python converts
        raise PatternError("pattern", f"invalid JSON: {err}") from None


def _compile(source: object) -> tuple[_Alternative, ...]:
    if not isinstance(source, Mapping):
        raise PatternError("pattern", f"must be a JSON object, got {_kind(source)}")
    alternatives = _compile_object(source, "", [{}], inside_or=False, depth=0)
    return tuple(tuple(sorted(alt.items(), key=lambda item: item[0])) for alt in alternatives)


def _compile_object(
    obj: Mapping[Any, Any], prefix: str, alts: list[dict[str, _Leaf]], *, inside_or: bool, depth: int
) -> list[dict[str, _Leaf]]:
    """Write ``obj``'s leaves into every alternative; a ``$or`` forks them (document order)."""
    where = prefix or "pattern"
    if depth > _MAX_DEPTH:
        raise PatternError(where, f"nested deeper than {_MAX_DEPTH} objects")
    if not obj:
        raise PatternError(where, "empty objects are not allowed")
    for key, value in obj.items():
        if not isinstance(key, str):
            raise PatternError(where, f"field names must be strings, got {key!r}")
        if key == "$or":
            alts = _compile_or(value, prefix, alts, depth)
            continue
        path = f"{prefix}.{key}" if prefix else key
        if inside_or and key in _RESERVED_IN_OR:
            raise PatternError(path, f"{key!r} is an operator name and cannot be a field name inside $or")
        if isinstance(value, Mapping):
            alts = _compile_object(value, path, alts, inside_or=inside_or, depth=depth + 1)
        elif isinstance(value, list | tuple):
            leaf = _compile_leaf(value, path)
            for alt in alts:
                alt[path] = leaf
        else:
            raise PatternError(path, f"must be an object or an array of values to match, got {_kind(value)}")
    return alts


def _compile_or(
    members: object, prefix: str, alts: list[dict[str, _Leaf]], depth: int
) -> list[dict[str, _Leaf]]:
    where = f"{prefix}.$or" if prefix else "$or"
    if not isinstance(members, list | tuple) or len(members) < 2:
        raise PatternError(where, f"must be an array of at least 2 pattern objects, got {_show(members)}")
    forked: list[dict[str, _Leaf]] = []
    for index, member in enumerate(members):
        if not isinstance(member, Mapping) or not member:
            raise PatternError(
                f"{where}[{index}]", f"must be a non-empty pattern object, got {_show(member)}"
            )
        branch = [dict(alt) for alt in alts]
        forked.extend(_compile_object(member, prefix, branch, inside_or=True, depth=depth + 1))
        if len(forked) > _MAX_ALTERNATIVES:
            raise PatternError(where, f"expands to more than {_MAX_ALTERNATIVES} alternatives")
    return forked


def _compile_leaf(values: Sequence[object], path: str) -> _Leaf:
    if not values:
        raise PatternError(path, "empty arrays are not allowed: list at least one value to match")
    tests: list[_Test] = []
    absent_ok = False
    for value in values:
        if isinstance(value, Mapping):
            compiled = _compile_operator(value, path)
            if compiled is None:  # {"exists": false}
                absent_ok = True
            else:
                tests.append(compiled)
        elif value is None or isinstance(value, bool):
            tests.append(_same_literal(value))
        elif isinstance(value, int | float):
            tests.append(_equal_number(value, path))
        elif isinstance(value, str):
            tests.append(_equal_string(value))
        else:
            raise PatternError(
                path,
                f"values must be strings, numbers, true, false, null or operator objects, got {_kind(value)}",
            )
    return _Leaf(tuple(tests), absent_ok)


def _compile_operator(expression: Mapping[Any, Any], path: str) -> _Test | None:
    """The test an operator object stands for; None for ``{"exists": false}`` (absence)."""
    if len(expression) != 1:
        names = ", ".join(repr(k) for k in expression) or "none"
        raise PatternError(path, f"an operator object takes exactly one operator, got {names}")
    ((name, operand),) = expression.items()
    compile_one = _COMPILERS.get(name) if isinstance(name, str) else None
    if compile_one is None:
        raise PatternError(path, f"unknown operator {name!r}; expected one of {', '.join(_OPERATORS)}")
    return compile_one(operand, path)


def _op_exactly(operand: object, path: str) -> _Test:
    text = _need_str(operand, path, "exactly needs a string")
    return lambda value: isinstance(value, str) and value == text


def _op_prefix(operand: object, path: str) -> _Test:
    if isinstance(operand, Mapping):
        start = _ignore_case(_nested_ignore_case(operand, path, "prefix"), "")
        return lambda value: isinstance(value, str) and start.match(value) is not None
    text = _need_str(operand, path, 'prefix needs a string or {"equals-ignore-case": string}')
    return lambda value: isinstance(value, str) and value.startswith(text)


def _op_suffix(operand: object, path: str) -> _Test:
    if isinstance(operand, Mapping):
        end = _ignore_case(_nested_ignore_case(operand, path, "suffix"), r"\Z")
        return lambda value: isinstance(value, str) and end.search(value) is not None
    text = _need_str(operand, path, 'suffix needs a string or {"equals-ignore-case": string}')
    return lambda value: isinstance(value, str) and value.endswith(text)


def _op_equals_ignore_case(operand: object, path: str) -> _Test:
    whole = _ignore_case(_need_str(operand, path, "equals-ignore-case needs a string"), "")
    return lambda value: isinstance(value, str) and whole.fullmatch(value) is not None


def _op_wildcard(operand: object, path: str) -> _Test:
    segments = _wildcard_segments(_need_str(operand, path, "wildcard needs a string"), path)
    return lambda value: isinstance(value, str) and _glob(value, segments)


def _op_numeric(operand: object, path: str) -> _Test:
    low, low_open, high, high_open = _numeric_range(operand, path)

    def test(value: object) -> bool:
        micro = _event_micro(value)
        if micro is None:
            return False
        above = low is None or (micro > low if low_open else micro >= low)
        return above and (high is None or (micro < high if high_open else micro <= high))

    return test


def _op_exists(operand: object, path: str) -> _Test | None:
    if not isinstance(operand, bool):
        raise PatternError(path, f"exists needs true or false, got {_show(operand)}")
    return (lambda value: True) if operand else None


def _op_cidr(operand: object, path: str) -> _Test:
    version, low, high = _cidr_range(
        _need_str(operand, path, 'cidr needs a string such as "10.0.0.0/24"'), path
    )

    def test(value: object) -> bool:
        address = _parse_ip(value) if isinstance(value, str) else None
        return address is not None and address[0] == version and low <= address[1] <= high

    return test


def _op_anything_but(operand: object, path: str) -> _Test:
    if isinstance(operand, Mapping):
        inner = _anything_but_nested(operand, path)
        return lambda value: not (isinstance(value, str) and inner(value))
    items = list(operand) if isinstance(operand, list | tuple) else [operand]
    if not items or any(item is None or isinstance(item, bool | list | tuple | Mapping) for item in items):
        raise PatternError(
            path, f"anything-but needs a string, a number, or a non-empty array of them, got {_show(operand)}"
        )
    if all(isinstance(item, str) for item in items):
        excluded_text = frozenset(str(item) for item in items)
        return lambda value: not (isinstance(value, str) and value in excluded_text)
    if any(isinstance(item, str) for item in items):
        raise PatternError(
            path, f"anything-but values must be all strings or all numbers, got {_show(operand)}"
        )
    excluded = frozenset(_pattern_micro(item, path, "anything-but") for item in items)
    return lambda value: _event_micro(value) not in excluded


def _anything_but_nested(operand: Mapping[Any, Any], path: str) -> Callable[[str], bool]:
    """anything-but's prefix, suffix, equals-ignore-case or wildcard: the strings it excludes."""
    allowed = ("prefix", "suffix", "equals-ignore-case", "wildcard")
    if len(operand) != 1 or next(iter(operand)) not in allowed:
        got = ", ".join(repr(k) for k in operand) or "none"
        raise PatternError(path, f"anything-but takes one of {', '.join(allowed)} as an object, got {got}")
    ((name, values),) = operand.items()
    texts = list(values) if isinstance(values, list | tuple) else [values]
    if not texts or not all(isinstance(t, str) for t in texts):
        raise PatternError(path, f"anything-but {name} needs a string or a non-empty array of strings")
    if name in ("prefix", "suffix") and "" in texts:
        raise PatternError(path, f"anything-but {name} cannot be empty")
    if name == "prefix":
        starts = tuple(texts)
        return lambda value: value.startswith(starts)
    if name == "suffix":
        ends = tuple(texts)
        return lambda value: value.endswith(ends)
    if name == "wildcard":
        globs = [_wildcard_segments(t, path) for t in texts]
        return lambda value: any(_glob(value, segments) for segments in globs)
    wholes = [_ignore_case(t, "") for t in texts]
    return lambda value: any(w.fullmatch(value) is not None for w in wholes)


_COMPILERS: Final[dict[str, Callable[[object, str], _Test | None]]] = {
    "anything-but": _op_anything_but,
    "cidr": _op_cidr,
    "equals-ignore-case": _op_equals_ignore_case,
    "exactly": _op_exactly,
    "exists": _op_exists,
    "numeric": _op_numeric,
    "prefix": _op_prefix,
    "suffix": _op_suffix,
    "wildcard": _op_wildcard,
}


def _need_str(operand: object, path: str, need: str) -> str:
    if not isinstance(operand, str):
        raise PatternError(path, f"{need}, got {_show(operand)}")
    return operand


def _nested_ignore_case(operand: Mapping[Any, Any], path: str, name: str) -> str:
    if list(operand) != ["equals-ignore-case"] or not isinstance(operand["equals-ignore-case"], str):
        raise PatternError(
            path, f'{name} takes a string or {{"equals-ignore-case": string}}, got {_show(operand)}'
        )
    text: str = operand["equals-ignore-case"]
    return text


# --- value tests -------------------------------------------------------------------------------


def _same_literal(literal: bool | None) -> _Test:
    return lambda value: value is literal


def _equal_number(number: int | float, path: str) -> _Test:
    if isinstance(number, float) and not math.isfinite(number):
        raise PatternError(path, f"{number} is not a JSON number")
    micro = _micro(number)  # None: beyond numeric range/precision, so literal equality only

    def test(value: object) -> bool:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        return value == number or (micro is not None and _event_micro(value) == micro)

    return test


def _equal_string(text: str) -> _Test:
    address = _parse_ip(text)
    if address is None:
        return lambda value: value == text
    return lambda value: isinstance(value, str) and (value == text or _parse_ip(value) == address)


def _decimal(number: int | float) -> Decimal:
    return Decimal(number) if isinstance(number, int) else Decimal(repr(number))


def _micro(number: int | float) -> int | None:
    """``number`` in millionths if EventBridge can compare it numerically (range, 6 places)."""
    exact = _decimal(number)
    if abs(exact) > _LIMIT or exact != exact.quantize(_MICRO):
        return None
    return int(exact.scaleb(6))


def _event_micro(value: object) -> int | None:
    """An event number in millionths, rounded to EventBridge's six places; None if not comparable."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    exact = _decimal(value)
    if abs(exact) > _LIMIT:
        return None
    return int(exact.quantize(_MICRO, rounding=ROUND_HALF_UP).scaleb(6))


def _pattern_micro(number: object, path: str, what: str) -> int:
    if not isinstance(number, int | float) or isinstance(number, bool):
        raise PatternError(path, f"{what} needs numbers, got {_show(number)}")
    if isinstance(number, float) and not math.isfinite(number):
        raise PatternError(path, f"{what}: {number} is not a JSON number")
    micro = _micro(number)
    if micro is None:
        raise PatternError(
            path, f"{what}: {number} is outside EventBridge's numeric limits (-5e9..5e9, 6 decimal places)"
        )
    return micro


def _numeric_range(operand: object, path: str) -> tuple[int | None, bool, int | None, bool]:
    """``[op, n]`` or ``[">"|">=", n, "<"|"<=", n]`` as (low, low open, high, high open)."""
    usage = 'numeric needs [op, number] or [">"|">=", number, "<"|"<=", number]'
    if not isinstance(operand, list | tuple) or len(operand) not in (2, 4):
        raise PatternError(path, f"{usage}, got {_show(operand)}")
    op = operand[0]
    if not isinstance(op, str) or op not in _NUMERIC_OPS:
        raise PatternError(
            path, f"numeric: unknown operator {_show(op)}; expected one of {' '.join(_NUMERIC_OPS)}"
        )
    value = _pattern_micro(operand[1], path, "numeric")
    if len(operand) == 2:
        if op == "=":
            return value, False, value, False
        if op.startswith("<"):
            return None, False, value, op == "<"
        return value, op == ">", None, False
    if op not in (">", ">=") or operand[2] not in ("<", "<="):
        raise PatternError(path, f"{usage}, got {_show(operand)}")
    top = _pattern_micro(operand[3], path, "numeric")
    if value >= top:
        raise PatternError(
            path, f"numeric: the lower bound must be below the upper one, got {_show(operand)}"
        )
    return value, op == ">", top, operand[2] == "<"


def _ignore_case(text: str, anchor: str) -> re.Pattern[str]:
    """Each character as its lower or upper case (Event Ruler's alternatives, ß -> ß|SS)."""
    parts = []
    for char in text:
        forms = dict.fromkeys((char.lower(), char.upper()))
        parts.append("(?:" + "|".join(re.escape(form) for form in forms) + ")")
    return re.compile("".join(parts) + anchor, re.DOTALL)


def _wildcard_segments(text: str, path: str) -> tuple[str, ...]:
    """The literal runs between ``*``s; ``\\*`` is a literal star and ``\\\\`` a backslash."""
    segments = [""]
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            if index + 1 >= len(text) or text[index + 1] not in "*\\":
                raise PatternError(
                    path, f"wildcard: invalid escape at position {index}; only \\* and \\\\ are allowed"
                )
            segments[-1] += text[index + 1]
            index += 2
            continue
        if char == "*":
            if text[index + 1 : index + 2] == "*":
                raise PatternError(path, f"wildcard: consecutive * at position {index} are not allowed")
            segments.append("")
        else:
            segments[-1] += char
        index += 1
    return tuple(segments)


def _glob(value: str, segments: tuple[str, ...]) -> bool:
    """Linear glob: anchored first and last runs, each middle run at its leftmost place."""
    first, last = segments[0], segments[-1]
    if len(segments) == 1:
        return value == first
    if len(value) < len(first) + len(last) or not value.startswith(first) or not value.endswith(last):
        return False
    position, end = len(first), len(value) - len(last)
    for segment in segments[1:-1]:
        found = value.find(segment, position, end)
        if found < 0:
            return False
        position = found + len(segment)
    return True


_IPV4: Final = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6: Final = re.compile(r"[0-9a-fA-F:]+")
_MASK: Final = re.compile(r"[+-]?[0-9]+")


def _parse_ip(text: str) -> tuple[int, int] | None:
    """(version, integer) of a plain IPv4 or IPv6 literal; no zone ids or dotted IPv6 tails."""
    try:
        if _IPV4.fullmatch(text):
            return 4, int(ipaddress.IPv4Address(text))
        if ":" in text and _IPV6.fullmatch(text):
            return 6, int(ipaddress.IPv6Address(text))
    except ValueError:
        return None
    return None


def _cidr_range(text: str, path: str) -> tuple[int, int, int]:
    address, slash, bits_text = text.partition("/")
    if not slash or not bits_text or "/" in bits_text:
        raise PatternError(path, f"cidr needs ADDRESS/BITS with one '/', got {text!r}")
    if not _MASK.fullmatch(bits_text) or int(bits_text) < 0:
        raise PatternError(path, f"cidr: mask bits must be a non-negative integer, got {bits_text!r}")
    parsed = _parse_ip(address)
    if parsed is None:
        raise PatternError(path, f"cidr: {address!r} is not an IPv4 or IPv6 address")
    version, base = parsed
    width = 32 if version == 4 else 128
    bits = int(bits_text)
    if bits >= width:
        raise PatternError(
            path, f"cidr: IPv{version} mask bits must be < {width}; match one address as a string"
        )
    return version, base, base | ((1 << (width - bits)) - 1)


# --- matching ----------------------------------------------------------------------------------


def _dot_prefixes(path: str) -> Iterator[str]:
    parts = path.split(".")
    return (".".join(parts[:n]) for n in range(1, len(parts) + 1))


def _flatten(event: Mapping[str, Any], wanted: frozenset[str]) -> dict[str, list[_Field]]:
    """The event's leaves on the paths some alternative names (or leads through)."""
    fields: dict[str, list[_Field]] = {}
    arrays = itertools.count()

    def visit(value: object, path: str, where: tuple[tuple[int, int], ...]) -> None:
        if isinstance(value, Mapping):
            for key, child in value.items():
                child_path = f"{path}.{key}"
                if child_path in wanted:
                    visit(child, child_path, where)
        elif isinstance(value, list | tuple):
            array = next(arrays)
            for index, element in enumerate(value):
                visit(element, path, (*where, (array, index)))
        else:
            fields.setdefault(path, []).append((value, where))

    if isinstance(event, Mapping):
        for key, child in event.items():
            if key in wanted:
                visit(child, str(key), ())
    return fields


def _consistent(bound: dict[int, int], where: tuple[tuple[int, int], ...]) -> dict[int, int] | None:
    """``bound`` extended by ``where``, or None if they pick different elements of one array."""
    merged = bound
    for array, index in where:
        seen = merged.get(array)
        if seen is None:
            merged = {**merged, array: index}
        elif seen != index:
            return None
    return merged


def _search(alt: _Alternative, at: int, fields: dict[str, list[_Field]], bound: dict[int, int]) -> bool:
    """Whether paths ``at``.. of ``alt`` match, each from array elements consistent with ``bound``."""
    if at == len(alt):
        return True
    path, leaf = alt[at]
    seen = False
    for value, where in fields.get(path, ()):
        merged = _consistent(bound, where)
        if merged is None:
            continue
        seen = True
        if leaf.accepts(value) and _search(alt, at + 1, fields, merged):
            return True
    return leaf.absent_ok and not seen and _search(alt, at + 1, fields, bound)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _show(value: object) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
