"""Reading a routing configuration's text: JSON, or YAML read the way RevOps means it.

PyYAML speaks YAML 1.1, where ``country: [NO, SE]`` lists ``False`` (the Norway
problem), ``end: 17:00`` is the number 1020 (base 60) and ``postal_code: 01067`` is an
octal number. Routing rules are full of country codes and times of day, so plain
scalars are read as YAML 1.2 reads them: only ``true``/``false`` are booleans, only
decimal numbers are numbers (one written with a leading zero stays text), ``17:00`` is
text. A key written twice in one mapping is a problem, not a silent last-one-wins.
JSON is read as JSON first, because PyYAML refuses some valid JSON (tabs).

Aliases and merge keys (``<<: [*a, *a]``) let a few hundred bytes stand for billions of
nodes: the document is composed first (aliases still shared), its size counted as if every
alias were written out, and one over ``NODE_BUDGET`` is refused before anything is built.
"""

from __future__ import annotations

import json
import re
from collections.abc import Hashable
from typing import Any

import yaml
from yaml.nodes import CollectionNode, MappingNode, Node, ScalarNode

from handoff_router.routing.problems import ConfigInvalid, Problem

NODE_BUDGET = 200_000  # nodes, every alias counted as written out; a large config has ~50,000
_RETYPED = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}


class _Loader(yaml.SafeLoader):
    """A safe loader with YAML 1.2's booleans and numbers, noting keys written twice."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[Problem] = []

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    mark = key_node.start_mark
                    self.duplicates.append(
                        Problem(_where(mark.line, mark.column), f"key {key_node.value!r} is written twice")
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag not in _RETYPED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^[-+]?(?:(?:0|[1-9][0-9]*)\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"
        r"|^[-+]?(?:0|[1-9][0-9]*)[eE][-+]?[0-9]+$"
        r"|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
    ),
    list("-+0123456789."),
)


def read_config_text(text: str | bytes) -> tuple[Any, list[Problem]]:
    """The data written in ``text`` (JSON or YAML) and the keys written twice in it.

    Text that cannot be read at all raises ConfigInvalid.
    """
    try:
        return _read(text)
    except RecursionError:
        raise ConfigInvalid([Problem("", "nested too deeply to be a routing config")]) from None


def _read(text: str | bytes) -> tuple[Any, list[Problem]]:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ConfigInvalid([Problem(f"byte {error.start}", "not UTF-8 text")]) from None
    if text.lstrip().startswith("{"):
        duplicates: list[Problem] = []
        try:
            data = json.loads(text, object_pairs_hook=lambda pairs: _json_object(pairs, duplicates))
        except json.JSONDecodeError:
            pass  # YAML's flow style also starts with "{"
        else:
            return data, duplicates
    try:
        loader = _Loader(text)
    except yaml.YAMLError as error:  # a character YAML does not allow (NUL, ...)
        raise ConfigInvalid([Problem("", f"not valid YAML or JSON: {error}")]) from None
    try:
        node = loader.get_single_node()
        _check_size(node)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = _where(mark.line, mark.column) if mark is not None else ""
        raise ConfigInvalid(
            [Problem(where, f"not valid YAML or JSON: {getattr(error, 'problem', error)}")]
        ) from None
    finally:
        loader.dispose()
    return data, loader.duplicates


def _check_size(root: Node | None) -> None:
    """ConfigInvalid when ``root`` written out (every alias expanded) has more than
    ``NODE_BUDGET`` nodes, or refers to itself."""
    sizes: dict[int, int] = {}
    pending: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in pending:
            raise ConfigInvalid(
                [Problem(_where(node.start_mark.line, node.start_mark.column), "an alias refers to itself")]
            )
        pending.add(key)
        total = 1
        if isinstance(node, MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, CollectionNode):
            total += sum(size(item) for item in node.value)
        pending.discard(key)
        sizes[key] = total = min(total, NODE_BUDGET + 1)
        return total

    if root is not None and size(root) > NODE_BUDGET:
        raise ConfigInvalid(
            [
                Problem(
                    "",
                    f"the document stands for more than {NODE_BUDGET:,} values once its aliases are expanded",
                )
            ]
        )


def _json_object(pairs: list[tuple[str, Any]], duplicates: list[Problem]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            duplicates.append(Problem("", f"key {key!r} is written twice in one object"))
        seen.add(key)
    return dict(pairs)


def _where(line: int, column: int) -> str:
    return f"line {line + 1}, column {column + 1}"
