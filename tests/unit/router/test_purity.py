"""The routing core does no I/O: none of its modules imports a database, Kafka or HTTP library."""

from __future__ import annotations

import ast
from pathlib import Path

import handoff_router.routing

FORBIDDEN = {
    "sqlalchemy",
    "aiokafka",
    "fastapi",
    "asyncpg",
    "httpx",
    "starlette",
    "uvicorn",
    "socket",
    "requests",
    "handoff_shared",
}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_routing_core_imports_no_io_library() -> None:
    package = Path(handoff_router.routing.__file__).parent
    modules = sorted(package.glob("*.py"))
    assert len(modules) >= 7
    offenders = {path.name: imported_roots(path) & FORBIDDEN for path in modules}
    assert {name: found for name, found in offenders.items() if found} == {}
