"""Importing a CSV file of MQLs: rows read in chunks off the event loop, each chunk's events
produced and acknowledged before the next is read, so memory stays bounded whatever the length
of the file. The report (CONTRACT §10) lists refused rows with their lines and problems."""

from __future__ import annotations

import asyncio
import hashlib
import io
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from handoff_router.intake import repository
from handoff_router.intake.csv_import import CsvRefused, read_mapping, read_rows
from handoff_router.intake.errors import InvalidImport
from handoff_router.intake.records import Accepted, Outcome, Refused
from handoff_router.intake.service import Intake

CHUNK = 2000
MAX_LISTED = 10_000  # refused rows listed one by one; beyond, only counted (memory stays bounded)


@dataclass
class ImportReport:
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)
    refused_total: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "refused": self.refused,
            "refused_total": self.refused_total,
        }


async def import_csv(
    intake: Intake, file: IO[bytes], mapping_text: str | None, *, dry_run: bool
) -> ImportReport:
    """Read, validate and (unless ``dry_run``) emit every row of ``file``."""
    try:
        preset, mapping = read_mapping(mapping_text)
    except CsvRefused as error:
        raise InvalidImport(str(error)) from None
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    rows = _rows(text, preset, mapping)
    try:
        first = await asyncio.to_thread(_take, rows)
    except CsvRefused as error:
        raise InvalidImport(str(error)) from None
    report = ImportReport()
    seen = array("Q")
    chunk = first
    while chunk:
        accepted = [outcome for _, outcome in chunk if isinstance(outcome, Accepted)]
        report.rows += len(chunk)
        for line, outcome in chunk:
            if isinstance(outcome, Refused):
                _refuse(report, line, outcome.message)
        fresh = accepted
        if accepted:
            async with intake.context.sessions() as session:
                done = await repository.already_processed(session, [a.event_id for a in accepted])
            fresh = [a for a in accepted if a.event_id not in done]
            report.duplicates += len(accepted) - len(fresh)
        seen.extend(
            int.from_bytes(hashlib.blake2b(a.event_id.encode(), digest_size=8).digest()) for a in fresh
        )
        report.accepted += len(fresh)
        if fresh and not dry_run:
            await intake.emit(fresh, b"", "import", key="import")
        chunk = await asyncio.to_thread(_take, rows)
    repeats = _repeats(seen)
    report.duplicates += repeats
    report.accepted -= repeats
    return report


def _rows(text: IO[str], preset: str | None, mapping: dict[str, str]) -> Iterator[tuple[int, Outcome]]:
    rows = read_rows(text, preset, mapping)
    line = 1
    try:
        for line, outcome in rows:
            yield line, outcome
    except UnicodeDecodeError:
        if line == 1:
            raise CsvRefused("the file is not UTF-8 text: a UTF-8 CSV file was expected") from None
        yield (
            line + 1,
            Refused(line + 1, "not_utf8", "not UTF-8 text here; the rest of the file was not read"),
        )


def _take(rows: Iterator[tuple[int, Outcome]]) -> list[tuple[int, Outcome]]:
    chunk: list[tuple[int, Outcome]] = []
    for item in rows:
        chunk.append(item)
        if len(chunk) >= CHUNK:
            break
    return chunk


def _refuse(report: ImportReport, line: int, message: str) -> None:
    report.refused_total += 1
    if len(report.refused) < MAX_LISTED:
        problems = [part.strip() for part in message.removeprefix(f"record {line}: ").split("; ")]
        report.refused.append({"line": line, "problems": problems})


def _repeats(seen: array[int]) -> int:
    """How many rows repeat an earlier row of the file (the same event id), counted a sixteenth
    of the ids at a time so the peak stays a fraction of the file's ids."""
    repeats = 0
    for bucket in range(16):
        part = [value for value in seen if value >> 60 == bucket]
        repeats += len(part) - len(set(part))
    return repeats
