"""``handoff-router config validate|apply FILE``, ``preview LEAD.json``, ``simulate LEADS``,
``import FILE.csv [--mapping M] [--dry-run]``.

``config validate`` and ``simulate --offline`` run the routing core locally; the others call a
running router at ``HANDOFF_ROUTER_URL`` with ``HANDOFF_ADMIN_TOKEN``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import httpx
from tqdm import tqdm

from handoff_router.configs.lead_files import LeadFileInvalid, read_leads
from handoff_router.routing.config import ConfigInvalid, parse_config
from handoff_router.routing.engine import RoutingState
from handoff_router.routing.simulation import what_if


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        result: int = args.run(args)
    except ConfigInvalid as error:
        print(f"invalid config: {len(error.problems)} problem(s)", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem.path}: {problem.message}", file=sys.stderr)
        return 1
    except LeadFileInvalid as error:
        print("invalid lead file:", *error.problems, sep="\n  ", file=sys.stderr)
        return 1
    except httpx.HTTPError as error:
        print(f"router unreachable: {error}", file=sys.stderr)
        return 1
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="handoff-router")
    commands = parser.add_subparsers(required=True)
    config = commands.add_parser("config", help="validate or apply a routing config").add_subparsers(
        required=True
    )
    validate = config.add_parser("validate", help="check a config file offline")
    validate.add_argument("file", type=Path)
    validate.set_defaults(run=_validate)
    apply = config.add_parser("apply", help="make a config file the active version")
    apply.add_argument("file", type=Path)
    apply.set_defaults(run=_apply)
    preview = commands.add_parser("preview", help="which rep would take this lead, and why")
    preview.add_argument("file", type=Path, help="a JSON file of MQL data")
    preview.set_defaults(run=_preview)
    sim = commands.add_parser("simulate", help="spread a file of past leads over the config")
    sim.add_argument("leads", type=Path, help="JSON Lines or CSV")
    sim.add_argument("--candidate", type=Path, help="a candidate config to compare with")
    sim.add_argument("--offline", type=Path, metavar="CONFIG", help="simulate locally against this config")
    sim.set_defaults(run=_simulate)
    imports = commands.add_parser("import", help="emit the MQLs of a CSV file (CONTRACT §10)")
    imports.add_argument("file", type=Path, help="a CSV file with a header row")
    imports.add_argument("--mapping", type=Path, help="YAML of field: column, or preset: hubspot|salesforce")
    imports.add_argument("--dry-run", action="store_true", help="check every row, emit nothing")
    imports.set_defaults(run=_import)
    return parser


def _client() -> httpx.Client:
    return httpx.Client(
        base_url=os.environ.get("HANDOFF_ROUTER_URL", "http://127.0.0.1:8081"),
        headers={"Authorization": f"Bearer {os.environ.get('HANDOFF_ADMIN_TOKEN', '')}"},
        timeout=30,
    )


def _print(payload: Any) -> None:
    print(json.dumps(payload, indent=2, default=str))


def _answer(response: httpx.Response) -> int:
    _print(response.json() if response.content else {"status": response.status_code})
    return 0 if response.is_success else 1


def _validate(args: argparse.Namespace) -> int:
    config = parse_config(args.file.read_text())
    print(f"ok: {len(config.reps)} reps, {len(config.teams)} teams, {len(config.rules)} rules")
    return 0


def _apply(args: argparse.Namespace) -> int:
    with _client() as client:
        return _answer(
            client.put(
                "/v1/routing-config",
                content=args.file.read_bytes(),
                headers={"Content-Type": "application/yaml"},
            )
        )


def _preview(args: argparse.Namespace) -> int:
    with _client() as client:
        return _answer(client.post("/v1/route/preview", json=json.loads(args.file.read_text())))


def _simulate(args: argparse.Namespace) -> int:
    if args.offline is not None:
        candidate = parse_config(args.candidate.read_text()) if args.candidate is not None else None
        _print(
            what_if(
                read_leads(args.leads.read_text()),
                parse_config(args.offline.read_text()),
                candidate,
                RoutingState(rotation={}, load={}, availability={}),  # nobody has any lead yet
                datetime.now(UTC),
            )
        )
        return 0
    files: dict[str, Any] = {"leads": (args.leads.name, args.leads.read_bytes())}
    if args.candidate is not None:
        files["config"] = (args.candidate.name, args.candidate.read_bytes())
    with _client() as client:
        return _answer(client.post("/v1/route/simulate", files=files))


def _import(args: argparse.Namespace) -> int:
    """Upload the file (a progress bar on a terminal) and print the import's report."""
    size = args.file.stat().st_size
    files: dict[str, Any] = {}
    with (
        args.file.open("rb") as raw,
        tqdm(
            total=size, unit="B", unit_scale=True, desc=args.file.name, disable=not sys.stderr.isatty()
        ) as bar,
    ):
        files["file"] = (args.file.name, _Progress(raw, bar), "text/csv")
        if args.mapping is not None:
            files["mapping"] = (args.mapping.name, args.mapping.read_bytes(), "application/yaml")
        with _client() as client:
            client.timeout = httpx.Timeout(30, read=None)  # a million rows take minutes
            response = client.post(
                "/v1/mqls/import", files=files, params={"dry_run": str(args.dry_run).lower()}
            )
    return _answer(response)


class _Progress(io.RawIOBase):
    """A file read for upload that advances a progress bar as it is read."""

    def __init__(self, raw: BinaryIO, bar: tqdm[Any]) -> None:
        self._raw = raw
        self._bar = bar

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        self._bar.update(len(chunk))
        return chunk
