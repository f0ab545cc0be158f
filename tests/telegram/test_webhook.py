"""The webhook server: the secret is checked from the headers before any body byte is read; bodies are
capped at about 1 MB. Raw sockets send the headers alone and read the answer before sending the body."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from telegram.ext import Application, ApplicationBuilder

from bot.telegram.webhook import MAX_BODY, SECRET_HEADER, WebhookServer, WebhookSettings
from bot.testing.harness import free_port

SECRET = "s3cret-token_A"
USER = {"id": 5, "is_bot": False, "first_name": "A"}
MESSAGE = {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "from": USER, "text": "bonjour"}
UPDATE = {"update_id": 7, "message": MESSAGE}


@pytest.fixture
async def server() -> AsyncIterator[WebhookServer]:
    application: Application = ApplicationBuilder().token("123:ABC").updater(None).build()  # type: ignore[type-arg]
    port = free_port()
    settings = WebhookSettings("127.0.0.1", port, "telegram", f"http://127.0.0.1:{port}/telegram", SECRET)
    served = WebhookServer(application, settings)
    await served.start()
    try:
        yield served
    finally:
        await served.stop()


def _head(server: WebhookServer, length: int | None, secret: str | None, chunked: bool = False) -> bytes:
    lines = ["POST /telegram HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    if secret is not None:
        lines.append(f"{SECRET_HEADER}: {secret}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _answer_before_the_body(
    server: WebhookServer, head: bytes, first_bytes: bytes = b"{"
) -> tuple[int, bytes]:
    """Send the headers and a few body bytes, never the rest; return the status and what follows it
    (the connection must be closed by the server: reading to EOF returns)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.settings.port)
    try:
        writer.write(head + first_bytes)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 30)  # EOF: the server closed the connection
    finally:
        writer.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer


@pytest.mark.parametrize("secret", [None, "", "s3cret-token_B", SECRET + "x"])
async def test_a_huge_post_without_the_secret_is_refused_before_its_body_is_sent(
    server: WebhookServer, secret: str | None
) -> None:
    status, _ = await _answer_before_the_body(server, _head(server, 60_000_000, secret))
    assert status == 403
    assert server.application.update_queue.empty()


async def test_a_chunked_post_without_the_secret_is_refused_before_its_body_is_sent(
    server: WebhookServer,
) -> None:
    status, _ = await _answer_before_the_body(server, _head(server, None, None, chunked=True), b"10000\r\n{")
    assert status == 403


async def test_a_body_over_the_cap_with_the_secret_is_refused_before_it_is_sent(
    server: WebhookServer,
) -> None:
    status, _ = await _answer_before_the_body(server, _head(server, MAX_BODY + 1, SECRET))
    assert status == 413
    assert server.application.update_queue.empty()


async def test_a_chunked_body_over_the_cap_stops_being_read_at_the_cap(server: WebhookServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.settings.port)
    chunk = b"x" * 65536
    try:
        writer.write(_head(server, None, SECRET, chunked=True))
        status = None
        for _ in range(MAX_BODY // len(chunk) + 1):  # one chunk more than the cap, never the last chunk
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()
        status = int((await asyncio.wait_for(reader.readline(), 30)).split(b" ", 2)[1])
    finally:
        writer.close()
    assert status == 413
    assert server.application.update_queue.empty()


async def test_an_update_with_the_secret_is_queued_and_garbage_is_refused(server: WebhookServer) -> None:
    body = json.dumps(UPDATE).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.settings.port)
    try:
        writer.write(_head(server, len(body), SECRET) + body)
        await writer.drain()
        assert b" 200 " in await asyncio.wait_for(reader.readline(), 30)
    finally:
        writer.close()
    update = server.application.update_queue.get_nowait()
    assert update.update_id == 7 and update.message.text == "bonjour"
    status, _ = await _answer_before_the_body(server, _head(server, 9, SECRET), b"not json!")
    assert status == 400
