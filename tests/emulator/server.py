"""Serves the emulator over loopback HTTP, for benchmarks and for running the real bot."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from tests.emulator.core import Emulator, FaultKind, TransportFault
from tests.emulator.transport import decode_body, split_path

TIMEOUT_SLEEP = 30.0


def make_app(emulator: Emulator) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        token, method = split_path(request.path)
        fields, files = decode_body(request.headers.get("Content-Type", ""), body)
        try:
            status, payload = await emulator.call(token, method, fields, files)
        except TransportFault as fault:
            if fault.kind is FaultKind.TIMEOUT:
                await asyncio.sleep(TIMEOUT_SLEEP)
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)
        return web.json_response(payload, status=status)

    async def arrivals(request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        rows = [[a.at, a.method, a.chat_id] for a in emulator.arrivals[since:]]
        return web.json_response(rows)

    async def reset(request: web.Request) -> web.Response:
        emulator.arrivals.clear()
        return web.json_response(True)

    async def download(request: web.Request) -> web.Response:
        token, _, path = request.path.removeprefix("/file/bot").partition("/")
        content = emulator.download(token, path)
        return web.Response(status=404 if content is None else 200, body=content or b"")

    async def upload(request: web.Request) -> web.Response:
        """Store a file as if a person had sent it; answers its file_id."""
        file_id = f"DOC{len(emulator.files) + 1}"
        emulator.files[file_id] = await request.read()
        return web.json_response(file_id)

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get("/_arrivals", arrivals)
    app.router.add_post("/_reset", reset)
    app.router.add_post("/_files", upload)
    app.router.add_get("/file/bot{tail:.*}", download)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


@asynccontextmanager
async def serve(emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Run the emulator on loopback; yields the `base_url` to give the bot (`.../bot`)."""
    runner = web.AppRunner(make_app(emulator), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.base_events.Server)
    bound_port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound_port}/bot"
    finally:
        emulator.wake_pollers()
        await runner.cleanup()


async def _serve_forever(port: int, latency: float, keep: bool) -> None:
    emulator = Emulator(open_chats=True, keep_messages=keep, latency=latency)
    async with serve(emulator, port=port) as base_url:
        print(base_url, flush=True)
        await asyncio.Event().wait()


def main() -> None:
    """`python -m tests.emulator.server --port N`: an emulator process for benchmarks."""
    parser = argparse.ArgumentParser(description="Bot API emulator on loopback")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each call")
    parser.add_argument("--keep", action="store_true", help="store sent messages (for edits)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(args.port, args.latency, args.keep))


if __name__ == "__main__":
    main()
