"""pgbench on the stack's own PostgreSQL: the database's ceiling on this machine, this run.

    make up && uv run python bench/postgres_ceiling.py [--seconds 10] [--report DIR]

pgbench's tables live in their own schema (``pgbench``) of the ``handoff`` database, so they
never mix with a service's. Two workloads: the TPC-B-like default (5 statements, 3 updates,
1 insert per transaction) and select-only; 4 clients on 2 threads each.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from _stack import arguments, stack_env, write_report


def pgbench_binary() -> str:
    found = shutil.which("pgbench")
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))
    if not candidates:
        raise SystemExit("pgbench not found (Debian's postgresql package ships it)")
    return str(candidates[-1])


def run(argv: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {result.stderr[-2000:]}")
    return result.stdout + result.stderr


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--scale", type=int, default=10)
    args = parser.parse_args()
    seconds = 4 if args.quick else args.seconds
    url = urlsplit(stack_env()["HANDOFF_DATABASE_URL"].replace("postgresql+asyncpg", "postgresql"))
    env = {
        **os.environ,
        "PGHOST": url.hostname or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "handoff",
        "PGPASSWORD": url.password or "",
        "PGDATABASE": url.path.lstrip("/") or "handoff",
        "PGOPTIONS": "-c search_path=pgbench",
    }
    binary = pgbench_binary()
    psql = str(Path(binary).with_name("psql"))
    run([psql, "-q", "-c", "CREATE SCHEMA IF NOT EXISTS pgbench"], env)
    run([binary, "-i", "-q", "-s", str(args.scale)], env)
    figures: dict[str, float] = {}
    rows = []
    for name, extra in (("tpc-b like", []), ("select only", ["-S"])):
        output = run([binary, "-c", "4", "-j", "2", "-T", str(seconds), *extra], env)
        tps = float(re.search(r"tps = ([\d.]+)", output).group(1))  # type: ignore[union-attr]
        latency = float(re.search(r"latency average = ([\d.]+) ms", output).group(1))  # type: ignore[union-attr]
        figures[f"{name} tps"] = tps
        rows.append(f"| {name} | {tps:,.0f} | {latency:.2f} |")
        print(f"pgbench {name}: {tps:,.0f} tps, {latency:.2f} ms average")
    markdown = "\n".join(
        [
            "## PostgreSQL ceiling (pgbench, same database)",
            "",
            f"`pgbench -c 4 -j 2 -T {seconds}` at scale {args.scale}, on the PostgreSQL of `make up` "
            "while the services idle.",
            "",
            "| workload | transactions/s | average latency (ms) |",
            "|---|---|---|",
            *rows,
        ]
    )
    write_report(args.report, "postgres_ceiling", markdown, figures)


if __name__ == "__main__":
    main()
