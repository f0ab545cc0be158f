"""PTB's requests over aiohttp: the errors PTB expects, and never the token in their messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from telegram import InputFile
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.telegram.http import AiohttpRequest
from bot.testing.harness import free_port

TOKEN = "123456:SECRET-token-value"


@pytest.fixture
async def request_() -> AsyncIterator[AiohttpRequest]:
    request = AiohttpRequest(2, read_timeout=0.3, connect_timeout=0.5)
    await request.initialize()
    yield request
    await request.shutdown()


async def serve(handler: web.RequestHandler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/bot{TOKEN}"


async def test_form_fields_and_files_reach_the_server_as_ptb_sends_them(request_: AiohttpRequest) -> None:
    seen: dict[str, object] = {}

    async def handler(request: web.Request) -> web.Response:
        form = await request.post()
        seen.update(
            {k: (v.filename, v.file.read()) if isinstance(v, web.FileField) else v for k, v in form.items()}
        )
        return web.json_response({"ok": True, "result": True})

    runner, root = await serve(handler)
    try:
        plain = RequestData(
            [RequestParameter.from_input("chat_id", 42), RequestParameter.from_input("text", "é & <b>")]
        )
        assert await request_.do_request(f"{root}/sendMessage", "POST", plain) == (
            200,
            b'{"ok": true, "result": true}',
        )
        assert seen == {"chat_id": "42", "text": "é & <b>"}
        seen.clear()
        document = RequestParameter.from_input(
            "document", InputFile(b"BEGIN:VCALENDAR", filename="agenda.ics", attach=True)
        )
        await request_.do_request(
            f"{root}/sendDocument",
            "POST",
            RequestData([RequestParameter.from_input("chat_id", 42), document]),
        )
        assert seen["chat_id"] == "42"
        assert ("agenda.ics", b"BEGIN:VCALENDAR") in seen.values()
    finally:
        await runner.cleanup()


async def test_a_slow_server_is_a_timeout_and_a_closed_port_a_network_error_without_the_token(
    request_: AiohttpRequest,
) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({"ok": True, "result": True})

    runner, root = await serve(slow)
    try:
        with pytest.raises(TimedOut) as timed_out:
            await request_.do_request(f"{root}/getMe", "POST")
    finally:
        await runner.cleanup()
    with pytest.raises(NetworkError) as refused:
        await request_.do_request(f"http://127.0.0.1:{free_port()}/bot{TOKEN}/getMe", "POST")
    for error in (timed_out.value, refused.value):
        assert TOKEN not in str(error) and error.__cause__ is None


async def test_a_request_before_initialize_is_refused() -> None:
    with pytest.raises(RuntimeError, match="not initialized"):
        await AiohttpRequest().do_request("http://127.0.0.1:1/bot1:x/getMe", "POST")


async def test_a_redirect_is_not_followed(request_: AiohttpRequest) -> None:
    """Followed, a 302 would turn the POST into a GET without its fields."""

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/elsewhere")

    runner, root = await serve(moved)
    try:
        status, _ = await request_.do_request(f"{root}/sendMessage", "POST")
    finally:
        await runner.cleanup()
    assert status == 302


def test_the_environments_proxy_is_used_except_for_the_hosts_it_bypasses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,internal.example")
    request = AiohttpRequest()
    assert request._proxy(f"https://api.telegram.org/bot{TOKEN}/getMe") == "http://proxy.example:3128"
    assert request._proxy("https://internal.example/bot1/getMe") is None
    assert request._proxy("http://127.0.0.1:8081/bot1/getMe") is None  # no HTTP proxy set
