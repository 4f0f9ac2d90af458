"""Rule conditions: which leads a rule's ``when`` matches.

``when`` maps a dotted path into the lead (``country``, ``company.employees``,
``attributes.segment``...) to a test; every test must hold. A test is
- a list: the value is one of them (strings compare case-insensitively; a list-valued
  field matches when any of its items is one of them),
- a scalar: the value equals it,
- an operator object: ``in``, ``eq``, ``gte``, ``gt``, ``lte``, ``lt`` (numbers only),
  ``contains`` (a list field holds the value; a text field holds it as a substring),
  ``exists`` (true or false) and ``not`` (which negates a value, a list or an operator
  object), all of which must hold.
A missing field never satisfies a positive test (so ``not`` of one is satisfied); a text
is never a number (``"1200"`` is not ``gte: 1000``), and a boolean is neither.
Shapes are checked by ``problems`` when the configuration is validated, so ``matches``
may assume a valid ``when``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OPERATORS = frozenset({"in", "eq", "gte", "gt", "lte", "lt", "contains", "exists", "not"})
_ORDER = {
    "gte": lambda a, b: a >= b,
    "gt": lambda a, b: a > b,
    "lte": lambda a, b: a <= b,
    "lt": lambda a, b: a < b,
}
_MISSING = object()


def matches(when: Mapping[str, Any], lead: Mapping[str, Any]) -> bool:
    """True when the lead passes every test of ``when``."""
    return all(_test(spec, _lookup(lead, path)) for path, spec in when.items())


def problems(when: Any) -> list[tuple[str, str]]:
    """What is wrong with a ``when``, as (path below it, message) pairs; empty when valid."""
    if not isinstance(when, Mapping):
        return [("", "must be an object of field: test")]
    if not when:
        return [("", "a rule needs at least one condition")]
    found: list[tuple[str, str]] = []
    for path, spec in when.items():
        if not isinstance(path, str) or not path or any(not part for part in path.split(".")):
            found.append((str(path), "not a field path (write e.g. country or company.employees)"))
            continue
        found += [(f"{path}{where}", message) for where, message in _spec_problems(spec)]
    return found


def _spec_problems(spec: Any) -> list[tuple[str, str]]:
    if isinstance(spec, list):
        if not spec:
            return [("", "an empty list matches nothing")]
        return [
            (f"[{i}]", "must be a string or a number") for i, item in enumerate(spec) if not _is_scalar(item)
        ]
    if _is_scalar(spec):
        return []
    if not isinstance(spec, Mapping):
        return [("", "must be a value, a list of values or an operator object")]
    if not spec:
        return [("", "an empty operator object tests nothing")]
    found: list[tuple[str, str]] = []
    for operator, operand in spec.items():
        where = f".{operator}"
        if operator not in OPERATORS:
            found.append((where, f"unknown operator {operator!r}; use one of {', '.join(sorted(OPERATORS))}"))
        elif operator in _ORDER and not _is_number(operand):
            found.append((where, "must be a number"))
        elif operator == "in" and (not isinstance(operand, list) or not all(_is_scalar(v) for v in operand)):
            found.append((where, "must be a list of strings or numbers"))
        elif operator in {"eq", "contains"} and not _is_scalar(operand):
            found.append((where, "must be a string or a number"))
        elif operator == "exists" and not isinstance(operand, bool):
            found.append((where, "must be true or false"))
        elif operator == "not":
            found += [(f"{where}{inner}", message) for inner, message in _spec_problems(operand)]
    return found


def _test(spec: Any, value: Any) -> bool:
    if isinstance(spec, list):
        return _one_of(value, spec)
    if not isinstance(spec, Mapping):
        return _equal(value, spec)
    return all(_operator(operator, operand, value) for operator, operand in spec.items())


def _operator(operator: str, operand: Any, value: Any) -> bool:
    if operator == "not":
        return not _test(operand, value)
    if operator == "exists":
        return bool((value is not _MISSING and value is not None) == operand)
    if operator == "in":
        return _one_of(value, operand)
    if operator == "eq":
        return _equal(value, operand)
    if operator == "contains":
        if isinstance(value, str) and isinstance(operand, str):
            return operand.casefold() in value.casefold()
        return isinstance(value, list) and any(_equal(item, operand) for item in value)
    return _is_number(value) and _ORDER[operator](value, operand)


def _one_of(value: Any, options: list[Any]) -> bool:
    if type(value) is str:  # the common case (country, source...): compare casefolded text once
        folded = value.casefold()
        return any(type(option) is str and option.casefold() == folded for option in options)
    if isinstance(value, list):
        return any(_one_of(item, options) for item in value)
    return any(_equal(value, option) for option in options)


def _equal(value: Any, expected: Any) -> bool:
    if value is _MISSING or value is None:
        return False
    if isinstance(value, str) and isinstance(expected, str):
        return value.casefold() == expected.casefold()
    if _is_number(value) and _is_number(expected):
        return bool(value == expected)
    return bool(value == expected) and type(value) is type(expected)


def _lookup(lead: Mapping[str, Any], path: str) -> Any:
    value: Any = lead
    for part in path.split("."):
        # Leads are plain dicts: test that first, since isinstance against the Mapping ABC
        # was the routing core's single largest cost in the profile (docs/performance.md).
        if not (type(value) is dict or isinstance(value, Mapping)) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)
