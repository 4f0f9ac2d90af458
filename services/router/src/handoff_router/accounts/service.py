"""Account book use cases: replace or upsert the book from a file, read one account, move a rep's
accounts to a successor; and the index and memory routing reads."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.accounts import repository
from handoff_router.accounts.book_files import PRESETS, BookFileInvalid, Format, rows, unreadable
from handoff_router.accounts.book_index import BookIndex
from handoff_router.accounts.errors import AccountNotFound, BookConflicts, BookTooLarge, BookUnreadable
from handoff_router.accounts.rows import OwnerNames, checked
from handoff_router.context import RouterContext
from handoff_router.routing.matching import AccountRecord

BATCH = 2000
MAX_IMPORT_BYTES = 512 * 1024 * 1024
MAX_LISTED = 1000  # refused rows and unknown owners listed in an answer; the counts are whole
_SPOOL = 8 * 1024 * 1024  # bytes of an upload kept in memory before it goes to a temporary file


@dataclass
class ImportReport:
    """What an import did: rows read, accounts written, rows refused (line and problems), owners
    that are not reps of the active config."""

    mode: str
    rows: int = 0
    accepted: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)
    refused_count: int = 0
    owners_not_reps: list[dict[str, Any]] = field(default_factory=list)
    owners_not_reps_count: int = 0
    version: int = 0

    def refuse(self, line: int, problems: list[str]) -> None:
        self.refused_count += 1
        if len(self.refused) < MAX_LISTED:
            self.refused.append({"line": line, "problems": problems})

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "rows": self.rows,
            "accepted": self.accepted,
            "refused": self.refused,
            "refused_count": self.refused_count,
            "owners_not_reps": self.owners_not_reps,
            "owners_not_reps_count": self.owners_not_reps_count,
            "version": self.version,
        }


@dataclass
class Accounts:
    """The account book."""

    context: RouterContext
    book: BookIndex

    async def load(
        self,
        body: AsyncIterator[bytes],
        kind: Format,
        *,
        replace: bool,
        preset: str | None = None,
        mapping: Mapping[str, str] | None = None,
    ) -> ImportReport:
        """Replace (PUT) or upsert (PATCH) the book from a file streamed in: valid rows are
        written, invalid ones refused with their line; duplicate ids or shared domains refuse it
        all (the book stays as it was)."""
        if preset is not None and preset not in PRESETS:
            raise BookUnreadable(f"unknown preset {preset!r}; use one of {', '.join(PRESETS)}")
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL) as file:
            await _spool(body, file)
            file.seek(0)
            return await self._load(file, kind, replace=replace, preset=preset, mapping=mapping)

    async def _load(
        self,
        file: IO[bytes],
        kind: Format,
        *,
        replace: bool,
        preset: str | None,
        mapping: Mapping[str, str] | None,
    ) -> ImportReport:
        report = ImportReport("replace" if replace else "upsert")
        async with self.context.transaction() as session:
            now = self.context.clock()
            version = await self.context.configs.active(session)
            owners = OwnerNames.of(version.config.reps if version is not None else ())
            if replace:
                await repository.clear(session)
            seen: dict[str, int] = {}
            conflicts: list[dict[str, Any]] = []
            batch: list[AccountRecord] = []
            try:
                for line, row in rows(file, kind, mapping, preset):
                    report.rows += 1
                    account = self._account(line, row, report, owners, seen, conflicts)
                    if account is not None:
                        batch.append(account)
                    if len(batch) >= BATCH:
                        await self._write(session, batch, now, replace=replace)
                        report.accepted += len(batch)
                        batch = []
            except BookFileInvalid as error:
                raise BookUnreadable(str(error)) from None
            await self._write(session, batch, now, replace=replace)
            report.accepted += len(batch)
            conflicts += [
                {
                    "domain": domain,
                    "account_ids": ids,
                    "problem": f"{domain} is claimed by {len(ids)} accounts",
                }
                for domain, ids in await repository.shared_domains(session)
            ]
            if conflicts:
                raise BookConflicts(
                    f"{len(conflicts)} conflict(s); the book is unchanged", conflicts=conflicts[:MAX_LISTED]
                )
            report.version = await repository.bump_version(session, now)
        return report

    def _account(
        self,
        line: int,
        row: Any,
        report: ImportReport,
        owners: OwnerNames,
        seen: dict[str, int],
        conflicts: list[dict[str, Any]],
    ) -> AccountRecord | None:
        why = unreadable(row)
        account, problems = (None, [why]) if why is not None else checked(row)
        if account is None:
            report.refuse(line, problems)
            return None
        first = seen.get(account.id)
        if first is not None:
            conflicts.append(
                {"account_id": account.id, "lines": [first, line], "problem": f"duplicate id {account.id!r}"}
            )
            return None
        seen[account.id] = line
        if account.owner is not None:
            rep_id = owners.resolve(account.owner)
            if rep_id is None:
                report.owners_not_reps_count += 1
                if len(report.owners_not_reps) < MAX_LISTED:
                    report.owners_not_reps.append(
                        {"line": line, "account_id": account.id, "owner": account.owner}
                    )
            elif rep_id != account.owner:
                account = AccountRecord(
                    account.id,
                    account.name,
                    account.domains,
                    rep_id,
                    account.status,
                    account.tier,
                    account.attributes,
                )
        return account

    @staticmethod
    async def _write(session: AsyncSession, batch: list[AccountRecord], now: Any, *, replace: bool) -> None:
        if replace:
            await repository.insert_many(session, batch, now)
        else:
            await repository.upsert_many(session, batch, now)

    async def get(self, account_id: str) -> dict[str, Any]:
        """One account of the book."""
        async with self.context.sessions() as session:
            row = await repository.get(session, account_id)
        if row is None:
            raise AccountNotFound(f"no account {account_id!r} in the book")
        account = repository.record_of(row)
        return {**account.fields(), "updated_at": row.updated_at.isoformat()}

    async def move_ownership(self, session: AsyncSession, from_rep: str, to_rep: str) -> int:
        """In the caller's unit of work: ``from_rep``'s accounts now belong to ``to_rep`` (a rep
        offboarded to a successor). Answers how many moved."""
        moved = await repository.move_ownership(session, from_rep, to_rep, self.context.clock())
        if moved:
            await repository.bump_version(session, self.context.clock())
        return moved


async def _spool(body: AsyncIterator[bytes], file: IO[bytes]) -> None:
    size = 0
    async for chunk in body:
        size += len(chunk)
        if size > MAX_IMPORT_BYTES:
            raise BookTooLarge(f"an account book import is at most {MAX_IMPORT_BYTES // (1024 * 1024)} MB")
        file.write(chunk)
