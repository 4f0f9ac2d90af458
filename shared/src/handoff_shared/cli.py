"""``handoff``: operators' commands that work against any Handoff deployment.

``handoff dlq list [TOPIC...]``, ``handoff dlq show TOPIC/PARTITION/OFFSET``,
``handoff dlq replay TOPIC/PARTITION/OFFSET [--fixed FILE]`` and
``handoff dlq replay TOPIC --all [--error-class CLASS]``. Kafka is reached with the same
``HANDOFF_KAFKA_*`` settings as the services (docs/configuration.md).

Outbox rows the broker refused for good (set_aside.py) are named ``outbox:SCHEMA/ID``; with
``HANDOFF_DATABASE_URL`` set, ``list`` shows them beside the dead letters, ``show`` prints
one, and ``replay outbox:SCHEMA/ID`` (or ``replay outbox:SCHEMA --all``) puts them back for
the relay to publish, once the cause is fixed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import orjson
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import create_async_engine

from handoff_shared import dead_letters, set_aside
from handoff_shared.dead_letters import DeadLetter, ReplayRefused
from handoff_shared.settings import KafkaSettings
from handoff_shared.topics import DLQ_HEADERS, DLQ_SUFFIX


class OperatorSettings(KafkaSettings):
    """Kafka, and the database whose outboxes may hold set-aside rows (optional)."""

    database_url: SecretStr | None = None

    @property
    def database(self) -> str | None:
        if self.database_url is None:
            return None
        url = self.database_url.get_secret_value()
        for scheme in ("postgresql://", "postgres://"):
            if url.startswith(scheme):
                return "postgresql+asyncpg://" + url.removeprefix(scheme)
        return url


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    settings = OperatorSettings()
    try:
        code: int = asyncio.run(args.run(args, settings))
    except (ReplayRefused, LookupError, ValueError) as error:
        sys.stderr.write(f"handoff dlq: {error}\n")
        return 1
    except (KafkaError, OSError, TimeoutError) as error:
        sys.stderr.write(f"handoff dlq: Kafka at {settings.kafka_bootstrap} unreachable: {error!r}\n")
        return 1
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="handoff", description="Handoff's operator commands")
    commands = parser.add_subparsers(required=True)
    dlq = commands.add_parser("dlq", help="dead letters: list, show, replay").add_subparsers(required=True)
    listing = dlq.add_parser("list", help="the dead letters of one or every .dlq topic, and set-aside rows")
    listing.add_argument(
        "topics",
        nargs="*",
        help="dead-letter topics or outbox:SCHEMA (default: every *.dlq topic and every outbox)",
    )
    listing.set_defaults(run=_list)
    show = dlq.add_parser("show", help="one dead letter: reason, headers, key and value")
    show.add_argument("address", help="TOPIC/PARTITION/OFFSET or outbox:SCHEMA/ID, as `list` prints it")
    show.set_defaults(run=_show)
    replay = dlq.add_parser("replay", help="send dead letters back to their original topic")
    replay.add_argument(
        "address", help="TOPIC/PARTITION/OFFSET or outbox:SCHEMA/ID; TOPIC or outbox:SCHEMA with --all"
    )
    replay.add_argument("--fixed", type=Path, help="a corrected event (same CloudEvent id) to send instead")
    replay.add_argument("--all", action="store_true", help="every dead letter of TOPIC, unchanged")
    replay.add_argument("--error-class", help="with --all: only those dead-lettered for this reason")
    replay.set_defaults(run=_replay)
    return parser


def _address(text: str) -> tuple[str, int, int]:
    topic, _, rest = text.rpartition("/")
    topic, _, partition = topic.rpartition("/")
    if not topic or not partition.isdigit() or not rest.isdigit():
        raise ValueError(f"{text!r} is not TOPIC/PARTITION/OFFSET")
    return topic, int(partition), int(rest)


async def _dlq_topics(settings: KafkaSettings) -> list[str]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, **settings.kafka_security.client_options()
    )
    await admin.start()
    try:
        return sorted(topic for topic in await admin.list_topics() if topic.endswith(DLQ_SUFFIX))
    finally:
        await admin.close()


async def _list(args: argparse.Namespace, settings: OperatorSettings) -> int:
    outboxes = [name for name in args.topics if name.startswith(set_aside.ADDRESS_PREFIX)]
    topics = [name for name in args.topics if name not in outboxes]
    if not args.topics:
        topics = await _dlq_topics(settings)
        outboxes = [set_aside.ADDRESS_PREFIX + schema for schema in await _outboxes(settings)]
    if outboxes:
        await _list_set_aside(settings, outboxes)
    if args.topics and not topics:
        return 0
    count = 0
    for topic in topics:
        for letter in await dead_letters.read(settings.kafka_bootstrap, topic, settings.kafka_security):
            reason = letter.reason
            message = reason.get(DLQ_HEADERS.error_message, "").replace("\n", " ")[:100]
            sys.stdout.write(
                f"{letter.address}  id={letter.event_id or '-'}  {reason.get(DLQ_HEADERS.error_stage, '?')}:"
                f"{reason.get(DLQ_HEADERS.error_class, '?')}  {message}\n"
            )
            count += 1
    sys.stdout.write(f"{count} dead letter(s) in {len(topics)} topic(s)\n")
    return 0


async def _show(args: argparse.Namespace, settings: OperatorSettings) -> int:
    if args.address.startswith(set_aside.ADDRESS_PREFIX):
        return await _show_set_aside(settings, args.address)
    topic, partition, offset = _address(args.address)
    (letter,) = await dead_letters.read(
        settings.kafka_bootstrap, topic, settings.kafka_security, offsets=[(partition, offset)]
    )
    sys.stdout.write(f"{letter.address}\nevent id: {letter.event_id}\nreplays to: {letter.original_topic}\n")
    for name, value in letter.reason.items():
        sys.stdout.write(f"{name}: {value}\n")
    others = [(n, v.decode(errors="replace")) for n, v in letter.headers if n not in letter.reason]
    for name, value in others:
        sys.stdout.write(f"header {name}: {value}\n")
    sys.stdout.write(f"key: {letter.key.decode(errors='replace') if letter.key else None}\nvalue:\n")
    sys.stdout.write(_pretty(letter.value) + "\n")
    return 0


async def _replay(args: argparse.Namespace, settings: OperatorSettings) -> int:
    if args.address.startswith(set_aside.ADDRESS_PREFIX):
        return await _put_back(settings, args.address, every=args.all)
    security = settings.kafka_security
    chosen: list[tuple[DeadLetter, bytes | None]]
    if args.all:
        if args.fixed:
            raise ValueError("--fixed replaces one dead letter; --all sends each unchanged")
        letters = await dead_letters.read(settings.kafka_bootstrap, args.address, security)
        chosen = [
            (letter, None)
            for letter in letters
            if args.error_class is None or letter.reason.get(DLQ_HEADERS.error_class) == args.error_class
        ]
    else:
        topic, partition, offset = _address(args.address)
        (letter,) = await dead_letters.read(
            settings.kafka_bootstrap, topic, security, offsets=[(partition, offset)]
        )
        chosen = [(letter, args.fixed.read_bytes() if args.fixed else None)]
    for line in await dead_letters.replay(settings.kafka_bootstrap, security, chosen):
        sys.stdout.write(f"replayed {line}\n")
    sys.stdout.write(f"{len(chosen)} dead letter(s) replayed\n")
    return 0


def _database(settings: OperatorSettings) -> str:
    if settings.database is None:
        raise ValueError("set-aside rows live in the database: set HANDOFF_DATABASE_URL")
    return settings.database


async def _outboxes(settings: OperatorSettings) -> list[str]:
    if settings.database is None:
        return []
    engine = create_async_engine(settings.database)
    try:
        async with engine.connect() as connection:
            return await set_aside.outbox_schemas(connection)
    finally:
        await engine.dispose()


async def _list_set_aside(settings: OperatorSettings, outboxes: list[str]) -> None:
    engine = create_async_engine(_database(settings))
    count = 0
    try:
        async with engine.connect() as connection:
            for name in outboxes:
                schema, _ = set_aside.parse_address(name)
                for row in await set_aside.rows_set_aside(connection, schema):
                    sys.stdout.write(
                        f"{row.address}  topic={row.topic}  set aside {row.set_aside_at.isoformat()}"
                        f"  {row.reason[:100]}\n"
                    )
                    count += 1
    finally:
        await engine.dispose()
    sys.stdout.write(f"{count} set-aside row(s) in {len(outboxes)} outbox(es)\n")


async def _show_set_aside(settings: OperatorSettings, address: str) -> int:
    schema, row_id = set_aside.parse_address(address)
    if row_id is None:
        raise ValueError(f"{address!r}: name one row, outbox:SCHEMA/ID")
    engine = create_async_engine(_database(settings))
    try:
        async with engine.connect() as connection:
            rows = await set_aside.rows_set_aside(connection, schema, [row_id])
    finally:
        await engine.dispose()
    if not rows:
        raise LookupError(f"{address} is not set aside (published, replayed, or never there)")
    (row,) = rows
    sys.stdout.write(
        f"{row.address}\ntopic: {row.topic}\nwritten: {row.created_at.isoformat()}\n"
        f"set aside: {row.set_aside_at.isoformat()}\nreason: {row.reason}\n"
    )
    for name, value in row.headers:
        sys.stdout.write(f"header {name}: {value.decode(errors='replace')}\n")
    sys.stdout.write(f"key: {row.key.decode(errors='replace') if row.key else None}\n")
    size = len(row.value or b"")
    sys.stdout.write(f"value ({size} bytes):\n{_pretty(row.value[:65536] if row.value else row.value)}\n")
    return 0


async def _put_back(settings: OperatorSettings, address: str, *, every: bool) -> int:
    schema, row_id = set_aside.parse_address(address)
    if (row_id is None) != every:
        raise ValueError("replay outbox:SCHEMA/ID, or outbox:SCHEMA --all")
    engine = create_async_engine(_database(settings))
    try:
        async with engine.begin() as connection:
            ids = [row_id] if row_id is not None else []
            if every:
                ids = [row.id for row in await set_aside.rows_set_aside(connection, schema)]
            count = await set_aside.put_back(connection, schema, ids)
    finally:
        await engine.dispose()
    sys.stdout.write(f"{count} set-aside row(s) put back: the relay publishes them at its next round\n")
    return 0


def _pretty(value: bytes | None) -> str:
    if value is None:
        return "null"
    try:
        return orjson.dumps(orjson.loads(value), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        return value.decode(errors="replace")


if __name__ == "__main__":
    sys.exit(main())
