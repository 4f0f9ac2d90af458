"""``handoff``: operators' commands that work against any Handoff deployment.

``handoff dlq list [TOPIC...]``, ``handoff dlq show TOPIC/PARTITION/OFFSET``,
``handoff dlq replay TOPIC/PARTITION/OFFSET [--fixed FILE]`` and
``handoff dlq replay TOPIC --all [--error-class CLASS]``. Kafka is reached with the same
``HANDOFF_KAFKA_*`` settings as the services (docs/configuration.md).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import orjson
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from handoff_shared import dead_letters
from handoff_shared.dead_letters import DeadLetter, ReplayRefused
from handoff_shared.settings import KafkaSettings
from handoff_shared.topics import DLQ_HEADERS, DLQ_SUFFIX


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    settings = KafkaSettings()
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
    listing = dlq.add_parser("list", help="the dead letters of one or every .dlq topic")
    listing.add_argument("topics", nargs="*", help="dead-letter topics (default: every *.dlq topic)")
    listing.set_defaults(run=_list)
    show = dlq.add_parser("show", help="one dead letter: reason, headers, key and value")
    show.add_argument("address", help="TOPIC/PARTITION/OFFSET, as `list` prints it")
    show.set_defaults(run=_show)
    replay = dlq.add_parser("replay", help="send dead letters back to their original topic")
    replay.add_argument("address", help="TOPIC/PARTITION/OFFSET, or TOPIC with --all")
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


async def _list(args: argparse.Namespace, settings: KafkaSettings) -> int:
    topics = args.topics or await _dlq_topics(settings)
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


async def _show(args: argparse.Namespace, settings: KafkaSettings) -> int:
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


async def _replay(args: argparse.Namespace, settings: KafkaSettings) -> int:
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


def _pretty(value: bytes | None) -> str:
    if value is None:
        return "null"
    try:
        return orjson.dumps(orjson.loads(value), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        return value.decode(errors="replace")
