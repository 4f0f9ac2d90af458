"""The benchmark's callback receiver: a minimal HTTP/1.1 keep-alive server on asyncio, run as
separate processes sharing one loopback port (SO_REUSEPORT), so it is never what is measured.

Each process answers every POST with 200 at once and notes the call (wall clock, webhook-id,
subject, ``data.assigned_at``) in a file; ``Receivers.poll()`` reads those files. It imports
only the standard library and orjson, so it starts fast even on a loaded machine.

    python bench/_callback_receiver.py --serve PORT FILE
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

RECEIVER = str(Path(__file__).resolve())
FLUSH_EVERY = 0.02
OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok"


class _Hook(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, Content-Length bodies only (what httpx sends): answer 200, note it."""

    def __init__(self, note: list[bytes]) -> None:
        self.note = note
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            length, webhook_id = 0, b""
            for line in bytes(self.buffer[:end]).split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"webhook-id":
                    webhook_id = value.strip()
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            at = time.time()
            try:
                event = orjson.loads(body)
                payload = event.get("data") or {}
                subject, assigned = event.get("subject") or "", payload.get("assigned_at") or ""
            except (orjson.JSONDecodeError, AttributeError):
                subject, assigned = "", ""
            self.note.append(
                b"%f %s %s %s\n"
                % (at, webhook_id or b"-", (subject or "-").encode(), (assigned or "-").encode())
            )
            assert self.transport is not None
            self.transport.write(OK)


async def serve(port: int, path: Path) -> None:
    """One receiver process: listen on ``port`` (shared with its siblings), note calls in ``path``."""
    note: list[bytes] = []
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    server = await asyncio.get_running_loop().create_server(lambda: _Hook(note), sock=sock, backlog=1024)
    with path.open("ab", buffering=0) as out:
        async with server:
            while True:
                if note:
                    lines, note[:] = b"".join(note), []
                    out.write(lines)
                await asyncio.sleep(FLUSH_EVERY)


@dataclass
class Call:
    at: float  # wall clock, seconds
    webhook_id: str
    subject: str
    assigned_at: str


class Receivers:
    """``count`` receiver processes on one loopback port; ``poll()`` reads the calls they noted."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.port = _free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="handoff-bench-receiver-"))
        self.processes: list[asyncio.subprocess.Process] = []
        self.calls: list[Call] = []
        self._read: dict[Path, int] = {}

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    async def start(self) -> Receivers:
        for n in range(self.count):
            path = self.folder / f"calls-{n}.txt"
            path.touch()
            self._read[path] = 0
            self.processes.append(
                await asyncio.create_subprocess_exec(
                    sys.executable, RECEIVER, "--serve", str(self.port), str(path)
                )
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return self
            except OSError:
                await asyncio.sleep(0.1)
        raise SystemExit("the receiver processes did not start")

    async def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            await asyncio.wait_for(process.wait(), timeout=10)

    def poll(self) -> int:
        """Read what the receivers noted since the last poll; answer how many calls in all."""
        for path, offset in self._read.items():
            with path.open("rb") as source:
                source.seek(offset)
                chunk = source.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]
            self._read[path] = offset + len(complete)
            for line in complete.splitlines():
                at, webhook_id, subject, assigned = line.decode().split(" ")
                self.calls.append(Call(float(at), webhook_id, subject, assigned))
        return len(self.calls)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(int(sys.argv[2]), Path(sys.argv[3])))
