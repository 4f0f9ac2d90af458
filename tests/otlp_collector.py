"""A local OTLP/HTTP trace collector: it keeps the spans services export to ``/v1/traces`` and
prints a trace as a tree. Used by the tracing test, and by hand to look at a trace of the local
stack (``OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 make up``, then
``uv run --no-sync python -m tests.otlp_collector``). Not a production collector."""

from __future__ import annotations

import argparse
import contextlib
import gzip
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


@dataclass(frozen=True)
class ExportedSpan:
    service: str
    scope: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_id: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    return (
        getattr(value, which)
        if which in {"string_value", "int_value", "bool_value", "double_value"}
        else None
    )


def decode(body: bytes) -> list[ExportedSpan]:
    """The spans of one OTLP export request (protobuf)."""
    request = ExportTraceServiceRequest.FromString(body)
    spans: list[ExportedSpan] = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ExportedSpan(
                        service=str(resource.get("service.name", "?")),
                        scope=scope_spans.scope.name,
                        name=span.name,
                        kind=KINDS.get(span.kind, str(span.kind)),
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        attributes={a.key: _value(a.value) for a in span.attributes},
                    )
                )
    return spans


class Collector:
    """Listens on loopback; ``endpoint`` is what services take as their OTLP endpoint."""

    def __init__(self, port: int = 0) -> None:
        collector = self
        self.spans: list[ExportedSpan] = []
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                received = decode(body)
                with collector._lock:
                    collector.spans.extend(received)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Collector:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def trace(self, trace_id: str) -> list[ExportedSpan]:
        with self._lock:
            return [span for span in self.spans if span.trace_id == trace_id]


def tree(spans: Iterable[ExportedSpan], *, skip_scopes: tuple[str, ...] = ()) -> str:
    """One line per span, children indented under their parent, in start order; spans of
    ``skip_scopes`` (SQL statements) are counted on their parent's line instead of listed."""
    spans = sorted(spans, key=lambda span: span.start_ns)
    by_parent: dict[str, list[ExportedSpan]] = {}
    ids = {span.span_id for span in spans}
    for span in spans:
        by_parent.setdefault(span.parent_id if span.parent_id in ids else "", []).append(span)
    start = spans[0].start_ns if spans else 0
    lines: list[str] = []

    def walk(parent: str, depth: int) -> None:
        for span in by_parent.get(parent, []):
            if span.scope.startswith(skip_scopes):
                continue
            offset = (span.start_ns - start) / 1e6
            took = (span.end_ns - span.start_ns) / 1e6
            hidden = sum(
                1 for child in by_parent.get(span.span_id, []) if child.scope.startswith(skip_scopes)
            )
            lines.append(
                f"{'  ' * depth}{span.service:<12} {span.kind:<8} {span.name}"
                f"  (+{offset:.0f} ms, {took:.1f} ms{f', {hidden} SQL statements' if hidden else ''})"
            )
            walk(span.span_id, depth + 1)

    walk("", 0)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=4318)
    port = parser.parse_args().port
    collector = Collector(port).start()
    print(f"OTLP/HTTP collector on {collector.endpoint}; Ctrl-C prints every trace")
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
    collector.stop()
    for trace_id in dict.fromkeys(span.trace_id for span in collector.spans):
        print(f"trace {trace_id}")
        print(tree(collector.trace(trace_id), skip_scopes=("opentelemetry.instrumentation.sqlalchemy",)))


if __name__ == "__main__":
    main()
