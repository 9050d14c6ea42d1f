"""Serves the emulator over loopback HTTP, for benchmarks and for running the real bot."""

from __future__ import annotations

import asyncio
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
        fields = decode_body(request.headers.get("Content-Type", ""), body)
        try:
            status, payload = await emulator.call(token, method, fields)
        except TransportFault as fault:
            if fault.kind is FaultKind.TIMEOUT:
                await asyncio.sleep(TIMEOUT_SLEEP)
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)
        return web.json_response(payload, status=status)

    app = web.Application(client_max_size=64 * 1024 * 1024)
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
