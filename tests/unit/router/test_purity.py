"""The routing core, the callbacks' core, the qualification rules, and the business time and
durations shared with other services do no I/O, read no clock and draw no random numbers:
checked on their source."""

from __future__ import annotations

import ast
from pathlib import Path

import handoff_router.assignments.qualification
import handoff_router.callbacks
import handoff_router.routing
import handoff_shared.business_time
import handoff_shared.durations

IO_LIBRARIES = {"sqlalchemy", "aiokafka", "fastapi", "asyncpg", "httpx"}
ALSO_FORBIDDEN = {
    "starlette",
    "uvicorn",
    "requests",
    "socket",
    "subprocess",
    "os",
    "pathlib",
    "random",
    "secrets",
    "uuid",
    "time",
    "handoff_shared",
}
CLOCK_CALLS = {"now", "utcnow", "today", "monotonic", "perf_counter"}  # `time` is imported nowhere
PACKAGE = Path(handoff_router.routing.__file__).parent
CALLBACKS = Path(handoff_router.callbacks.__file__).parent
CALLBACK_CORE = ("retries", "circuit")
MODULES = [
    *sorted(PACKAGE.glob("*.py")),
    *(CALLBACKS / f"{name}.py" for name in CALLBACK_CORE),
    Path(handoff_router.assignments.qualification.__file__),
    Path(handoff_shared.business_time.__file__),
    Path(handoff_shared.durations.__file__),
]
# The parts of shared/ a pure core may use: business time and durations are pure (checked here).
ALLOWED = {"handoff_shared.business_time", "handoff_shared.durations"}


def imported_roots(tree: ast.AST) -> set[str]:
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names if alias.name not in ALLOWED}
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module not in ALLOWED
        ):
            roots.add(node.module.split(".")[0])
    return roots


def clock_and_file_calls(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr in CLOCK_CALLS:
            found.add(f"{ast.unparse(node.func)}()")
        if isinstance(node.func, ast.Name) and node.func.id in {"open", "print", "input"}:
            found.add(f"{node.func.id}()")
    return found


def test_the_routing_package_has_all_its_modules() -> None:
    names = {path.stem for path in MODULES}
    expected = {
        "config",
        "conditions",
        "durations",
        "rotation",
        "engine",
        "simulation",
        "business_time",
        "qualification",
    }
    assert expected <= names


def test_routing_core_imports_no_io_library() -> None:
    offenders = {path.name: imported_roots(ast.parse(path.read_text())) & IO_LIBRARIES for path in MODULES}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_routing_core_imports_nothing_that_reaches_outside() -> None:
    offenders = {path.name: imported_roots(ast.parse(path.read_text())) & ALSO_FORBIDDEN for path in MODULES}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_routing_core_reads_no_clock_and_opens_no_file() -> None:
    offenders = {path.name: clock_and_file_calls(ast.parse(path.read_text())) for path in MODULES}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_purity_check_would_catch_an_offender() -> None:
    tree = ast.parse("import httpx\nfrom sqlalchemy.orm import Session\nx = datetime.now(UTC)\nopen('f')")
    assert imported_roots(tree) & IO_LIBRARIES == {"httpx", "sqlalchemy"}
    assert clock_and_file_calls(tree) == {"datetime.now()", "open()"}
