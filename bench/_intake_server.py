"""The router's app with one more endpoint, for bench/intake.py: ``POST /bench/bare`` reads the
body and produces those bytes to the same topic with the same idempotent producer, then answers
202, so intake's cost is measured against the bare HTTP + Kafka path in the same process.

    HANDOFF_... uv run python bench/_intake_server.py   (settings from the environment)
"""

from __future__ import annotations

import uvicorn
from fastapi import Request, Response
from handoff_router.app import create_app
from handoff_router.settings import RouterSettings


def main() -> None:
    settings = RouterSettings()  # from the environment
    app = create_app(settings)
    runtime = app.state.runtime

    @app.post("/bench/bare")
    async def bare(request: Request) -> Response:
        body = await request.body()
        await (await runtime.producer.send(settings.topic_mql_created, value=body, key=b"bench"))
        return Response(b'{"accepted":1}', status_code=202, media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=settings.http_port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
