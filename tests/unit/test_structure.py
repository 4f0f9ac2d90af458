"""The services' import structure, read from their source with ``ast``:

- a feature (a subpackage of a service that does I/O) never reaches another feature's modules,
  neither directly nor through a module of the service's top level (``facts``, ``context``...);
  only the composition root (``bootstrap``, ``app``), which no feature imports, knows them all;
- a pure subpackage (a core such as the router's ``routing/``: no I/O library imported) may be
  imported by any feature;
- no module of a service imports itself back through others (no import cycle).

No exception is listed. The checks are run on synthetic packages first, so a check that could
not fail would fail here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "services"
PACKAGES = sorted(path.parent for path in SERVICES.glob("*/src/*/__init__.py"))
IO_LIBRARIES = {"sqlalchemy", "asyncpg", "aiokafka", "fastapi", "starlette", "httpx", "h11", "uvicorn"}


@dataclass(frozen=True)
class Package:
    """A service's package as a graph of its modules' imports."""

    name: str
    imports: dict[str, set[str]]  # module -> modules of the same package it imports
    io: set[str]  # modules that import an I/O library

    def feature_of(self, module: str) -> str | None:
        """The feature a module belongs to; None for a top-level module or a pure subpackage."""
        parts = module.split(".")
        if len(parts) < 3:
            return None
        sub = ".".join(parts[:2])
        return sub if sub not in self.pure_subpackages() else None

    def pure_subpackages(self) -> set[str]:
        subs: dict[str, set[str]] = {}
        for module in self.imports:
            parts = module.split(".")
            if len(parts) >= 3:
                subs.setdefault(".".join(parts[:2]), set()).add(module)
        return {sub for sub, modules in subs.items() if not modules & self.io}

    def reach(self, module: str) -> set[str]:
        """Every module ``module`` imports, directly or through others."""
        seen: set[str] = set()
        todo = [module]
        while todo:
            for imported in self.imports.get(todo.pop(), ()):
                if imported not in seen:
                    seen.add(imported)
                    todo.append(imported)
        return seen


def read_package(root: Path) -> Package:
    name = root.name
    modules = {
        ".".join((name, *path.relative_to(root).with_suffix("").parts)).removesuffix(".__init__"): path
        for path in root.rglob("*.py")
        if "migrations" not in path.relative_to(root).parts[:1]
    }
    imports: dict[str, set[str]] = {}
    io: set[str] = set()
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for target in _targets(node, module, is_package):
                if target.split(".")[0] in IO_LIBRARIES:
                    io.add(module)
                found |= _resolve(target, modules)
        imports[module] = found - {module}
    return Package(name, imports, io)


def _targets(node: ast.AST, module: str, is_package: bool) -> Iterable[str]:
    """The dotted names an import statement may load (``from a import b``: ``a`` and ``a.b``)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            parts = module.split(".")
            anchor = parts if is_package else parts[:-1]
            anchor = anchor[: len(anchor) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        yield base
        yield from (f"{base}.{alias.name}" for alias in node.names)


def _resolve(target: str, modules: dict[str, Path]) -> set[str]:
    """The module of the package ``target`` names (the longest known prefix), if any."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            # Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` too, but those only
            # re-export; the edge that matters is the module named.
            return {candidate}
    return set()


def cross_feature_imports(package: Package) -> list[str]:
    """Each feature module that reaches another feature's module, with the path it takes."""
    found = []
    for module in sorted(package.imports):
        feature = package.feature_of(module)
        if feature is None:
            continue
        for reached in sorted(package.reach(module)):
            other = package.feature_of(reached)
            if other is not None and other != feature:
                found.append(f"{module} -> {reached}")
    return found


def cycles(package: Package) -> list[list[str]]:
    """The import cycles of the package: strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's algorithm
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(package.imports.get(module, ())):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(package.imports):
        if module not in index:
            visit(module)
    return found


@pytest.mark.parametrize("root", PACKAGES, ids=[path.name for path in PACKAGES])
def test_no_feature_reaches_another(root: Path) -> None:
    assert cross_feature_imports(read_package(root)) == []


@pytest.mark.parametrize("root", PACKAGES, ids=[path.name for path in PACKAGES])
def test_no_import_cycle(root: Path) -> None:
    assert cycles(read_package(root)) == []


def test_every_service_is_checked() -> None:
    assert {path.name for path in PACKAGES} >= {"handoff_router", "handoff_sla_monitor", "handoff_feedback"}


# The checks, on synthetic packages -------------------------------------------------------------


def write(root: Path, files: dict[str, str]) -> Path:
    package = root / "shop"
    for name, source in {"__init__.py": "", **files}.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(source)
    return package


CLEAN = {
    "core/prices.py": "def total(x: int) -> int:\n    return x\n",
    "facts.py": "class Sold: ...\n",
    "orders/service.py": "import sqlalchemy\nfrom shop.core.prices import total\nfrom shop import facts\n",
    "billing/service.py": "import sqlalchemy\nfrom shop import facts\n",
    "bootstrap.py": "from shop.orders import service\nfrom shop.billing.service import *\n",
}


def test_a_clean_package_passes(tmp_path: Path) -> None:
    package = read_package(write(tmp_path, CLEAN))
    assert package.pure_subpackages() == {"shop.core"}
    assert cross_feature_imports(package) == []
    assert cycles(package) == []


@pytest.mark.parametrize(
    "bad",
    [
        {"orders/service.py": "import sqlalchemy\nfrom shop.billing.service import charge\n"},
        {"orders/service.py": "import sqlalchemy\nfrom shop.billing import service\n"},
        {"orders/endpoints.py": "import fastapi\nfrom ..billing import service\n"},
        {"facts.py": "from shop.billing.service import Bill\n"},  # reached through a top-level module
    ],
    ids=["from-module", "from-package", "relative", "through-top-level"],
)
def test_a_cross_feature_import_fails(tmp_path: Path, bad: dict[str, str]) -> None:
    package = read_package(write(tmp_path, {**CLEAN, **bad}))
    assert cross_feature_imports(package) != []


def test_an_import_cycle_fails(tmp_path: Path) -> None:
    files = {
        **CLEAN,
        "tables.py": "from shop.orders import tables\n",
        "orders/tables.py": "from shop import tables\n",
    }
    assert cycles(read_package(write(tmp_path, files))) == [["shop.orders.tables", "shop.tables"]]
