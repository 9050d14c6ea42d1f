"""Plugs the emulator into python-telegram-bot through httpx, so PTB's real request code runs."""

from __future__ import annotations

import email.parser
import email.policy
from urllib.parse import parse_qsl

import httpx
from telegram.request import HTTPXRequest

from tests.emulator.core import Emulator, FaultKind, TransportFault, Upload


def decode_body(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, Upload]]:
    """Form fields, and uploaded files by field name, from a url-encoded or multipart body."""
    if not content_type.startswith("multipart/form-data"):
        return dict(parse_qsl(body.decode(), keep_blank_values=True)), {}
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            continue
        filename = part.get_filename()
        if filename:
            files[name] = Upload(filename, payload)
        else:
            fields[name] = payload.decode()
    return fields, files


def split_path(path: str) -> tuple[str, str]:
    """`/bot<token>/<method>` into token and method."""
    _, _, rest = path.partition("/bot")
    token, _, method = rest.partition("/")
    return token, method


class EmulatorTransport(httpx.AsyncBaseTransport):
    """An httpx transport whose every request is answered by the emulator."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        if request.url.path.startswith("/file/bot"):
            token, _, path = request.url.path.removeprefix("/file/bot").partition("/")
            content = self.emulator.download(token, path)
            return httpx.Response(404 if content is None else 200, content=content or b"")
        token, method = split_path(request.url.path)
        fields, files = decode_body(request.headers.get("content-type", ""), body)
        try:
            status, payload = await self.emulator.call(token, method, fields, files)
        except TransportFault as fault:
            if fault.kind is FaultKind.TIMEOUT:
                raise httpx.ReadTimeout("emulated timeout", request=request) from None
            if fault.kind is FaultKind.CUT:
                raise httpx.RemoteProtocolError(
                    "emulated cut connection", request=request
                ) from None
            raise httpx.ConnectError("emulated refused connection", request=request) from None
        return httpx.Response(status, json=payload)


def emulator_request(emulator: Emulator, pool_size: int = 32) -> HTTPXRequest:
    """A PTB request object that talks to the emulator instead of the network."""
    return HTTPXRequest(
        connection_pool_size=pool_size,
        httpx_kwargs={"transport": EmulatorTransport(emulator)},
    )
