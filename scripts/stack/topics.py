"""Create the local stack's Kafka topics when missing, waiting for the broker to answer first.

``python scripts/stack/topics.py --bootstrap 127.0.0.1:19092 --partitions 4 TOPIC...``
A topic that already exists is left as it is (a different partition count is reported).
It also waits for the group coordinator, which creates ``__consumer_offsets`` on a new
broker, so that the services' first consumers do not wait for it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

TOPIC_ALREADY_EXISTS = 36


async def connect(bootstrap: str, deadline: float) -> AIOKafkaAdminClient:
    """An admin client of a broker that answers metadata requests (by ``time.monotonic()`` deadline)."""
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await asyncio.wait_for(admin.start(), timeout=10)
            await admin.list_topics()
            return admin
        except (KafkaError, OSError, TimeoutError) as error:
            await admin.close()
            if time.monotonic() > deadline:
                raise TimeoutError(f"Kafka at {bootstrap} did not answer: {error!r}") from error
            await asyncio.sleep(0.5)


async def partition_counts(admin: AIOKafkaAdminClient, topics: list[str], deadline: float) -> dict[str, int]:
    """Each topic's partition count, once every partition has a leader."""
    while True:
        described = await admin.describe_topics(topics)
        led = {
            topic["topic"]: len(topic["partitions"])
            for topic in described
            if topic["error_code"] == 0 and all(p["leader"] >= 0 for p in topic["partitions"])
        }
        if len(led) == len(topics) or time.monotonic() > deadline:
            return led
        await asyncio.sleep(0.2)


async def wait_for_group_coordinator(admin: AIOKafkaAdminClient, deadline: float) -> None:
    while True:
        try:
            await admin.find_coordinator("handoff-stack")
            return
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def ensure_topics(bootstrap: str, topics: list[str], partitions: int, deadline: float) -> None:
    admin = await connect(bootstrap, deadline)
    try:
        existing = set(await admin.list_topics())
        missing = [topic for topic in topics if topic not in existing]
        if missing:
            response = await admin.create_topics(
                [NewTopic(topic, num_partitions=partitions, replication_factor=1) for topic in missing],
                timeout_ms=30_000,
            )
            failed = [error for error in response.topic_errors if error[1] not in (0, TOPIC_ALREADY_EXISTS)]
            if failed:
                raise RuntimeError(f"could not create topics: {failed}")
            print(f"stack: created topics {', '.join(missing)}")
        counts = await partition_counts(admin, topics, deadline)
        if leaderless := sorted(set(topics) - counts.keys()):
            raise RuntimeError(f"topics without a leader for every partition: {leaderless}")
        for topic, count in counts.items():
            if count != partitions:
                print(f"stack: topic {topic} has {count} partitions, not {partitions}", file=sys.stderr)
        await wait_for_group_coordinator(admin, deadline)
    finally:
        await admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the broker")
    parser.add_argument("topics", nargs="+")
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    asyncio.run(ensure_topics(args.bootstrap, args.topics, args.partitions, deadline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
