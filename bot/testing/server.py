"""An in-process fake of the Telegram Bot API, as strict as Telegram where it matters.

`FakeTelegram` serves the Bot API over real HTTP on 127.0.0.1 (a free port), so the real
python-telegram-bot client, its request layer and its error mapping are exercised unchanged:

    async with FakeTelegram() as tg:
        app = ApplicationBuilder().token(tg.token).base_url(tg.base_url).base_file_url(tg.base_file_url)...
        ...
        await tg.user_sends(42, "/start")
        await tg.wait_for(lambda: tg.sent_to(42))

It records every call (`calls`, `invalid_requests`), keeps what the bot sent per chat (`sent_to`) and
plays the user side (`user_sends`, `user_clicks`, `user_blocks`...). Updates go to `getUpdates` long
polls, or are POSTed to the URL given to `setWebhook` (to several instances of the bot in turn: see
`bot.testing.updates`). Errors use Telegram's status codes and wording.
Message lengths are counted in characters (code points) after entity parsing. HTML is a little stricter
than Telegram: a raw "&" that does not start a supported entity is refused, as the Bot API docs require.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

from aiohttp import ClientSession, web

from bot.testing.entities import JsonDict
from bot.testing.methods import BotMethods
from bot.testing.records import ApiError, Call
from bot.testing.updates import Updates
from bot.testing.users import UserSide
from bot.testing.validation import TOKEN_RE, Params, read_params

Handler = Callable[[Params], Awaitable[Any]]


class FakeTelegram(UserSide, BotMethods, Updates):
    """A fake Bot API server plus a user-side driver. Use as `async with FakeTelegram() as tg:`."""

    def __init__(
        self, token: str = "123456:TEST", bot_username: str = "catabot_test_bot", *, bot_name: str = "Catabot"
    ) -> None:
        super().__init__(token, bot_username, bot_name=bot_name)
        handlers: dict[str, Handler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "editMessageText": self._edit_text,
            "editMessageCaption": self._edit_caption,
            "editMessageReplyMarkup": self._edit_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback,
            "sendChatAction": self._send_chat_action,
            "getFile": self._get_file,
            "setChatMenuButton": self._set_menu_button,
            "getChatMenuButton": self._get_menu_button,
            "setMyDescription": self._set_profile,
            "setMyShortDescription": self._set_profile,
            "setMyName": self._set_profile,
            "close": self._true,
            "logOut": self._true,
        }
        self._methods = {name.lower(): (name, handler) for name, handler in handlers.items()}

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 2**20)
        instance = "/{instance:[A-Za-z0-9_-]+}"  # one bot instance among several (see updates.py)
        for prefix in ("", instance):
            app.router.add_route("*", prefix + "/bot{token}/{method}", self._handle_method)
            app.router.add_get(prefix + "/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = int(self._runner.addresses[0][1])
        self._closing = False
        self._session = ClientSession()
        self._deliverer = asyncio.create_task(self._deliver_loop())

    async def stop(self) -> None:
        """Stop serving; pending long polls are released at once."""
        self._closing = True
        self._notify()
        if self._deliverer is not None:
            self._deliverer.cancel()
            with suppress(asyncio.CancelledError):
                await self._deliverer
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self._deliverer, self._session, self._runner = None, None, None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ------------------------------------------------------------ HTTP plumbing

    async def _not_found(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)

    def _check_token(self, token: str) -> None:
        if not TOKEN_RE.fullmatch(token):
            raise ApiError(404, "Not Found")
        if token != self.token:
            raise ApiError(401, "Unauthorized")

    def _record(self, call: Call, error: ApiError | None = None) -> None:
        self.calls.append(call)
        if error is not None:
            call.status, call.error = error.status, error.description
            if 400 <= error.status < 500 and not error.scripted:
                self.invalid_requests.append(call)

    async def _handle_method(self, request: web.Request) -> web.Response:
        entry = self._methods.get(request.match_info["method"].lower())
        call = Call(entry[0] if entry else request.match_info["method"], {}, time=time.monotonic())
        try:
            call.params = await read_params(request)
            self._check_token(request.match_info["token"])
            if entry is None:
                raise ApiError(404, "Not Found")
            queue = self._flood.get(call.method.lower())
            if queue:
                delay = queue.pop(0)
                raise ApiError(
                    429, f"Too Many Requests: retry after {delay}", {"retry_after": delay}, scripted=True
                )
            result = await entry[1](Params(call.params, request, call))
        except ApiError as error:
            self._record(call, error)
            body: JsonDict = {"ok": False, "error_code": error.status, "description": error.description}
            if error.parameters:
                body["parameters"] = error.parameters
            return web.json_response(body, status=error.status)
        self._record(call)
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        call = Call("downloadFile", {"file_path": path}, time=time.monotonic())
        try:
            self._check_token(request.match_info["token"])
            file = next((f for f in self._files.values() if f.file_path == path), None)
            if file is None:
                raise ApiError(404, "Not Found")
        except ApiError as error:
            self._record(call, error)
            body = {"ok": False, "error_code": error.status, "description": error.description}
            return web.json_response(body, status=error.status)
        self._record(call)
        return web.Response(body=file.data, content_type=file.mime_type or "application/octet-stream")
