"""The fake Bot API, driven by the real PTB client over HTTP: strictness rules, polling, webhook, files."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MenuButtonCommands,
    MenuButtonDefault,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, EndPointNotFound, Forbidden, RetryAfter
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes
from telegram.helpers import escape_markdown

from bot.testing import TINY_PNG, FakeTelegram, SentMessage

USER = 42


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake
        assert fake.invalid_requests == [], "unexpected invalid requests (use take_invalid)"


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url) as client:
        await tg.user_sends(USER, "hello")  # the chat is now known to the bot
        yield client


def take_invalid(tg: FakeTelegram) -> list[str]:
    """Errors of the invalid requests so far (and forget them, so the fixture's final check passes)."""
    errors = [str(call.error) for call in tg.invalid_requests]
    tg.invalid_requests.clear()
    return errors


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d, callback_data=d) for d in data]])


def seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


# ----------------------------------------------------------------- basics


async def test_get_me_and_addresses(tg: FakeTelegram, bot: Bot) -> None:
    assert bot.username == "catabot_test_bot" and bot.id == 123456
    assert tg.base_url == f"{tg.api_root}/bot" and tg.base_file_url == f"{tg.api_root}/file/bot"
    assert tg.calls_to("getMe")[0].status == 200


async def test_wrong_token_and_unknown_method(tg: FakeTelegram, bot: Bot) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{tg.base_url}999:WRONG/getMe") as response:
            assert response.status == 401
        async with http.post(f"{tg.base_url}not-a-token/getMe") as response:
            assert response.status == 404
    with pytest.raises(EndPointNotFound):  # PTB's name for a 404 once the token is known to work
        await bot.do_api_request("fooBar")
    assert take_invalid(tg) == ["Unauthorized", "Not Found", "Not Found"]


async def test_send_message_returns_a_complete_message(tg: FakeTelegram, bot: Bot) -> None:
    message = await bot.send_message(USER, "Bonjour", reply_markup=keyboard("a"))
    assert message.message_id == 2  # the user's "hello" was message 1 of this chat
    assert message.chat.id == USER and message.from_user and message.from_user.is_bot
    assert abs(message.date.timestamp() - time.time()) < 5
    assert message.reply_markup == keyboard("a")
    [sent] = tg.sent_to(USER)
    assert (sent.kind, sent.text, sent.message_id) == ("text", "Bonjour", 2)
    assert sent.reply_markup == keyboard("a").to_dict()


async def test_form_fields_are_not_json_decoded(tg: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(USER, "[1, 2]")
    async with aiohttp.ClientSession() as http:
        body = {
            "chat_id": USER,
            "text": "{}",
            "reply_markup": {"inline_keyboard": [[{"text": "x", "url": "https://e.org"}]]},
        }
        async with http.post(f"{tg.base_url}{tg.token}/sendMessage", json=body) as response:
            assert response.status == 200
    assert [m.text for m in tg.sent_to(USER)] == ["[1, 2]", "{}"]
    assert tg.sent_to(USER)[1].buttons == [{"text": "x", "url": "https://e.org"}]


async def test_chat_not_found(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(777, "x")
    assert take_invalid(tg) == ["Bad Request: chat not found"]


# ----------------------------------------------------------------- text, HTML, MarkdownV2


async def test_text_length_is_measured_after_parsing(tg: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(USER, "x" * 4096)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER, "x" * 4097)
    message = await bot.send_message(USER, f"<b>{'y' * 4096}</b>", parse_mode=ParseMode.HTML)
    assert message.entities == (MessageEntity("bold", 0, 4096),)
    await bot.send_message(USER, "&amp;" * 4096, parse_mode=ParseMode.HTML)
    assert tg.sent_to(USER)[-1].text == "&" * 4096
    for empty in ("", "<b></b>", "   "):
        with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
            await bot.send_message(USER, empty, parse_mode=ParseMode.HTML)
    assert (
        take_invalid(tg) == ["Bad Request: message is too long"] + ["Bad Request: message text is empty"] * 3
    )


@pytest.mark.parametrize(
    "html",
    ["a < b", "1 <2", "line<br>break", "<b>unclosed", "<b>x</i>", "x</b>", "&nbsp;", "R&D", "<span>x</span>"],
)
async def test_bad_html_is_refused(tg: FakeTelegram, bot: Bot, html: str) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(USER, html, parse_mode=ParseMode.HTML)
    assert len(take_invalid(tg)) == 1
    assert tg.sent_to(USER) == []


async def test_valid_html_gives_entities(tg: FakeTelegram, bot: Bot) -> None:
    html = (
        '<b>Gras</b> &lt;3 &amp; <i>é</i> <a href="https://ex.org/?a=1&amp;b=2">lien</a> 😀<u>u</u>'
        '<tg-spoiler>s</tg-spoiler><pre><code class="language-python">x = 1</code></pre>'
        "<blockquote expandable>cite</blockquote> a > b &#39;"
    )
    message = await bot.send_message(USER, html, parse_mode=ParseMode.HTML)
    assert message.text == "Gras <3 & é lien 😀us" + "x = 1cite a > b '"
    kinds = {(e.type, e.offset, e.length) for e in message.entities}
    assert {
        ("bold", 0, 4),
        ("italic", 10, 1),
        ("text_link", 12, 4),
        ("underline", 19, 1),
    } <= kinds  # 😀 = 2 units
    assert next(e for e in message.entities if e.type == "text_link").url == "https://ex.org/?a=1&b=2"
    assert next(e for e in message.entities if e.type == "pre").language == "python"
    assert "expandable_blockquote" in {e.type for e in message.entities}
    assert tg.sent_to(USER)[0].source == html


async def test_markdown_v2_and_unknown_parse_mode(tg: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(
        USER, escape_markdown("Prix : 1.5 € (environ) !", version=2), parse_mode="MarkdownV2"
    )
    message = await bot.send_message(USER, "*gras* _it_ [lien](https://ex.org)", parse_mode="MarkdownV2")
    assert message.text == "gras it lien" and len(message.entities) == 3
    with pytest.raises(BadRequest, match=r"(?i)reserved"):
        await bot.send_message(USER, "Prix : 1.5", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match=r"(?i)unsupported parse_mode"):
        await bot.send_message(USER, "x", parse_mode="XML")
    assert len(take_invalid(tg)) == 2


async def test_caption_limit(tg: FakeTelegram, bot: Bot) -> None:
    await bot.send_document(USER, b"data", filename="a.txt", caption="c" * 1024)
    with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
        await bot.send_document(USER, b"data", filename="a.txt", caption="<i>c</i>" * 1025, parse_mode="HTML")
    assert take_invalid(tg) == ["Bad Request: message caption is too long"]


# ----------------------------------------------------------------- keyboards and callbacks


async def test_callback_data_is_limited_to_64_bytes(tg: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(USER, "ok", reply_markup=keyboard("a" * 64, "é" * 32))
    for data in ("a" * 65, "é" * 32 + "a", ""):
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("label", callback_data=data)]])
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            await bot.send_message(USER, "x", reply_markup=markup)
    assert take_invalid(tg) == ["Bad Request: BUTTON_DATA_INVALID"] * 3


async def test_keyboard_shape_rules(tg: FakeTelegram, bot: Bot) -> None:
    bad_markups = [
        InlineKeyboardMarkup([[InlineKeyboardButton("text only")]]),
        InlineKeyboardMarkup([[InlineKeyboardButton("both", callback_data="a", url="https://ex.org")]]),
        keyboard(*"abcdefghi"),  # 9 in a row
        InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data=str(i))] for i in range(101)]),
    ]
    for markup in bad_markups:
        with pytest.raises(BadRequest):
            await bot.send_message(USER, "x", reply_markup=markup)
    assert len(take_invalid(tg)) == 4
    await bot.send_message(USER, "eight", reply_markup=keyboard(*"abcdefgh"))


async def test_clicks_and_answers(tg: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(USER, "Choisis", reply_markup=keyboard("yes", "no"))
    [sent] = tg.sent_to(USER)
    with pytest.raises(AssertionError, match="maybe"):
        await tg.user_clicks(USER, sent, "maybe")
    query_id = await tg.user_clicks(USER, sent, "yes")
    [update] = [u for u in await bot.get_updates(offset=2) if u.callback_query]
    assert (
        update.callback_query and update.callback_query.data == "yes" and update.callback_query.id == query_id
    )
    assert update.callback_query.message and update.callback_query.message.message_id == sent.message_id
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query("123")
    with pytest.raises(BadRequest):
        await bot.answer_callback_query(query_id, text="t" * 201)
    assert tg.answered_callback(query_id) is None
    await bot.answer_callback_query(query_id, text="Noté")
    answer = tg.answered_callback(query_id)
    assert answer is not None and answer.params["text"] == "Noté"
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query_id)
    forged = await tg.user_sends_raw_callback(USER, 999, USER, "anything")
    assert forged in {u.callback_query.id for u in await bot.get_updates() if u.callback_query}
    assert len(take_invalid(tg)) == 3


async def test_edits(tg: FakeTelegram, bot: Bot) -> None:
    message = await bot.send_message(USER, "v1", reply_markup=keyboard("a"))
    sent = tg.sent_to(USER)[0]
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("v1", USER, message.message_id, reply_markup=keyboard("a"))
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("v2", USER, 999)
    await bot.edit_message_text(
        "<b>v2</b>", USER, message.message_id, reply_markup=keyboard("b"), parse_mode="HTML"
    )
    assert (sent.text, sent.callback_data, len(sent.edits)) == ("v2", ["b"], 1)
    assert sent.edits[0].before["text"] == "v1" and sent.entities[0]["type"] == "bold"
    await bot.edit_message_reply_markup(USER, message.message_id, reply_markup=keyboard("c"))
    edited = await bot.edit_message_text("v3", USER, message.message_id)  # no markup: the keyboard goes away
    assert isinstance(edited, Message) and edited.reply_markup is None
    assert sent.buttons == [] and len(sent.edits) == 3
    with pytest.raises(AssertionError):
        await tg.user_clicks(USER, sent, "c")
    await bot.delete_message(USER, message.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("v4", USER, message.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(USER, "x", reply_to_message_id=message.message_id)
    assert len(take_invalid(tg)) == 4


# ----------------------------------------------------------------- scripted failures


async def test_blocked_user_gives_forbidden_and_a_member_update(tg: FakeTelegram, bot: Bot) -> None:
    await tg.user_blocks(USER)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(USER, "x")
    updates = await bot.get_updates()
    member = updates[-1].my_chat_member
    assert member and member.new_chat_member.status == "kicked" and member.old_chat_member.status == "member"
    await tg.user_unblocks(USER)
    await bot.send_message(USER, "welcome back")
    assert tg.calls_to("sendMessage")[0].status == 403 and tg.invalid_requests == []


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # retry_after int -> timedelta
async def test_flood_script_gives_retry_after(tg: FakeTelegram, bot: Bot) -> None:
    tg.flood("sendMessage", 3, 1)
    for expected in (3, 1):
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(USER, "x")
        assert seconds(caught.value.retry_after) == expected
    await bot.send_message(USER, "x")
    assert [c.status for c in tg.calls_to("sendMessage")] == [429, 429, 200]
    assert tg.invalid_requests == []


# ----------------------------------------------------------------- updates


async def test_long_polling_with_offsets(tg: FakeTelegram, bot: Bot) -> None:
    [first] = await bot.get_updates(timeout=0)
    assert first.message and first.message.text == "hello"
    poll = asyncio.create_task(bot.get_updates(offset=first.update_id + 1, timeout=5))
    await asyncio.sleep(0.1)
    assert not poll.done()
    started = time.monotonic()
    pushed = await tg.user_sends(USER, "/start@catabot_test_bot now")
    [update] = await poll
    assert time.monotonic() - started < 0.5 and update.update_id == pushed
    assert update.message and update.message.entities[0].type == "bot_command"
    assert update.message.entities[0].length == len("/start@catabot_test_bot")
    assert await bot.get_updates(offset=pushed + 1, timeout=0) == ()
    for i in range(5):
        await tg.user_sends(USER, f"m{i}")
    assert [u.message.text for u in await bot.get_updates(limit=2) if u.message] == ["m0", "m1"]
    updates = await bot.get_updates(offset=pushed + 3)
    assert [u.message.text for u in updates if u.message] == ["m2", "m3", "m4"]


async def test_a_second_poller_conflicts_the_first(tg: FakeTelegram, bot: Bot) -> None:
    async with Bot(tg.token, base_url=tg.base_url) as other:
        await bot.get_updates(offset=2)
        first = asyncio.create_task(bot.get_updates(offset=2, timeout=5))
        await asyncio.sleep(0.1)
        second = asyncio.create_task(other.get_updates(offset=2, timeout=0))
        with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates"):
            await first
        assert await second == ()
    assert len(take_invalid(tg)) == 1


async def test_stop_releases_pending_long_polls() -> None:
    fake = FakeTelegram()
    await fake.start()
    async with Bot(fake.token, base_url=fake.base_url) as client:
        poll = asyncio.create_task(client.get_updates(timeout=30))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await fake.stop()
        assert await poll == ()
        assert time.monotonic() - started < 1


async def test_group_messages_stickers_photos_and_edits(tg: FakeTelegram, bot: Bot) -> None:
    await tg.user_sends(7, "/aide", chat_id=-100123, chat_type="supergroup")
    await tg.user_sends_sticker(USER)
    await tg.user_sends_photo(USER, caption="regarde")
    await tg.user_sends(USER, "corrigé", edited=True)
    updates = await bot.get_updates(offset=2)
    group, sticker, photo, edit = updates
    assert group.message and group.message.chat.type == "supergroup" and group.message.chat.id == -100123
    assert sticker.message and sticker.message.sticker and sticker.message.sticker.emoji == "👍"
    assert photo.message and photo.message.photo and photo.message.caption == "regarde"
    data = await (await photo.message.photo[-1].get_file()).download_as_bytearray()
    assert bytes(data) == TINY_PNG
    assert (
        edit.edited_message and edit.edited_message.text == "corrigé" and edit.edited_message.message_id == 1
    )
    await bot.send_message(-100123, "pour le groupe")
    assert [m.text for m in tg.sent_to(-100123)] == ["pour le groupe"]
    with pytest.raises(ValueError):
        await tg.user_sends(7, "x", chat_type="group")


# ----------------------------------------------------------------- commands, webhook info, files


async def test_set_my_commands(tg: FakeTelegram, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("start", "Démarrer"), BotCommand("aide_2", "Aide")])
    assert tg.commands == [
        {"command": "start", "description": "Démarrer"},
        {"command": "aide_2", "description": "Aide"},
    ]
    assert [c.command for c in await bot.get_my_commands()] == ["start", "aide_2"]
    for bad in (
        BotCommand("Start", "x"),
        BotCommand("a" * 33, "x"),
        BotCommand("ok", ""),
        BotCommand("é", "x"),
    ):
        with pytest.raises(BadRequest):
            await bot.set_my_commands([bad])
    with pytest.raises(BadRequest, match=r"(?i)too_much"):
        await bot.set_my_commands([BotCommand(f"c{i}", "x") for i in range(101)])
    assert len(take_invalid(tg)) == 5
    await bot.send_chat_action(USER, "typing")


async def test_webhook_blocks_get_updates(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest):
        await bot.set_webhook("http://127.0.0.1:9/hook", secret_token="not allowed!")
    await bot.set_webhook("http://127.0.0.1:9/hook", secret_token="ok_token-1")
    info = await bot.get_webhook_info()
    assert info.url == "http://127.0.0.1:9/hook"
    assert info.pending_update_count == 1, "the fixture's 'hello' cannot reach port 9: it stays pending"
    with pytest.raises(Conflict):
        await bot.get_updates()
    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()
    assert len(take_invalid(tg)) == 2


async def test_document_upload_and_download(tg: FakeTelegram, bot: Bot) -> None:
    payload = bytes(range(256)) * 40
    message = await bot.send_document(
        USER, payload, filename="rapport.pdf", caption="Le <b>rapport</b>", parse_mode="HTML"
    )
    assert (
        message.document and message.document.file_name == "rapport.pdf" and message.caption == "Le rapport"
    )
    file = await bot.get_file(message.document.file_id)
    assert bytes(await file.download_as_bytearray()) == payload
    again = await bot.send_document(USER, message.document.file_id)
    assert again.document and again.document.file_id == message.document.file_id
    await bot.send_photo(USER, TINY_PNG)
    sent = tg.sent_to(USER)
    assert [(m.kind, m.filename) for m in sent] == [
        ("document", "rapport.pdf"),
        ("document", "rapport.pdf"),
        ("photo", None),
    ]
    assert sent[0].document == payload and sent[2].document == TINY_PNG
    with pytest.raises(BadRequest, match=r"(?i)image_process_failed"):
        await bot.send_photo(USER, b"not an image")
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_document(USER, "no-such-file-id")
    with pytest.raises(BadRequest):
        await bot.get_file("no-such-file-id")
    assert len(take_invalid(tg)) == 3


async def test_wait_for_explains_a_timeout(tg: FakeTelegram) -> None:
    with pytest.raises(TimeoutError, match="last calls"):
        await tg.wait_for(lambda: False, timeout=0.05)


# ----------------------------------------------------------------- full applications


async def start_reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message
    await update.effective_message.reply_text(
        "<b>Bienvenue</b>", parse_mode="HTML", reply_markup=keyboard("menu")
    )


def build_app(tg: FakeTelegram) -> Application[Any, Any, Any, Any, Any, Any]:
    app = ApplicationBuilder().token(tg.token).base_url(tg.base_url).base_file_url(tg.base_file_url).build()
    app.add_handler(CommandHandler("start", start_reply))
    return app


async def test_application_in_polling_mode(tg: FakeTelegram) -> None:
    app = build_app(tg)
    await app.initialize()
    await app.start()
    assert app.updater
    await app.updater.start_polling(poll_interval=0, timeout=10)
    await tg.user_sends(USER, "/start")
    await tg.user_sends(7, "/start@catabot_test_bot", chat_id=-100, chat_type="group")
    await tg.wait_for(lambda: tg.sent_to(USER) and tg.sent_to(-100))
    sent = tg.sent_to(USER)[0]
    assert (sent.text, sent.callback_data, sent.entities[0]["type"]) == ("Bienvenue", ["menu"], "bold")
    await tg.user_clicks(USER, sent, "menu")  # no handler: the update is simply ignored
    started = time.monotonic()
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    assert time.monotonic() - started < 1.5
    assert tg.calls_to("deleteWebhook") and tg.calls_to("getUpdates")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_application_in_webhook_mode(tg: FakeTelegram) -> None:
    app = build_app(tg)
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    await app.initialize()
    await app.start()
    assert app.updater
    await app.updater.start_webhook(
        listen="127.0.0.1", port=port, url_path="hook", webhook_url=url, secret_token="s3cret"
    )
    try:
        assert tg.webhook_url == url
        await tg.user_sends(USER, "/start")
        await tg.wait_for(lambda: tg.sent_to(USER))
        assert any(d.status == 200 for d in tg.webhook_deliveries)
        forged = {
            "update_id": 99,
            "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "/start"},
        }
        async with aiohttp.ClientSession() as http:
            async with http.post(
                url, data=json.dumps(forged), headers={"Content-Type": "application/json"}
            ) as resp:
                assert resp.status == 403
            headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "wrong"}
            async with http.post(url, data=json.dumps(forged), headers=headers) as resp:
                assert resp.status == 403
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert [m.text for m in tg.sent_to(USER)] == ["Bienvenue"]


AnyApp = Application[Any, Any, Any, Any, Any, Any]


@asynccontextmanager
async def instance(tg: FakeTelegram, name: str) -> AsyncIterator[tuple[AnyApp, str]]:
    """One bot instance of tg's token, talking through its own API root, answering /start with its name."""

    async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message
        await update.effective_message.reply_text(name)

    root = tg.instance_root(name)
    builder = ApplicationBuilder().token(tg.token).base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
    app = builder.build()
    app.add_handler(CommandHandler("start", reply))
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    await app.initialize()
    await app.start()
    assert app.updater
    await app.updater.start_webhook(listen="127.0.0.1", port=port, url_path="hook", webhook_url=url)
    try:
        yield app, url
    finally:
        if app.updater.running:
            await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def start_from_users(tg: FakeTelegram, users: range) -> dict[int, list[str | None]]:
    for user in users:
        await tg.user_sends(user, "/start")
    await tg.wait_for(lambda: all(tg.sent_to(user) for user in users))
    return {user: [m.text for m in tg.sent_to(user)] for user in users}


async def test_webhooks_of_several_instances_take_turns(tg: FakeTelegram) -> None:
    async with instance(tg, "a") as (_, url_a), instance(tg, "b") as (app_b, url_b):
        assert tg.webhook_urls == [url_a, url_b]
        info = await app_b.bot.get_webhook_info()
        assert info.url == url_b, "each instance sees its own webhook"
        replies = await start_from_users(tg, range(100, 106))
        assert replies == {user: [["a", "b"][i % 2]] for i, user in enumerate(range(100, 106))}
        delivered = [(d.update_id, d.url, d.status) for d in tg.webhook_deliveries]
        assert len(delivered) == 6 and {d[0] for d in delivered} == set(range(1, 7)), "each update once"
        assert [d[1] for d in delivered] == [url_a, url_b] * 3 and {d[2] for d in delivered} == {200}

        await app_b.bot.delete_webhook()  # removes b's URL only
        assert tg.webhook_urls == [url_a]
        assert await start_from_users(tg, range(200, 203)) == {user: ["a"] for user in range(200, 203)}
        with pytest.raises(Conflict):  # a's webhook is still active
            await app_b.bot.get_updates()
    assert [error.split(";")[0] for error in take_invalid(tg)] == [
        "Conflict: can't use getUpdates method while webhook is active"
    ]


async def test_an_instance_that_is_down_gets_nothing_and_loses_nothing(tg: FakeTelegram) -> None:
    async with instance(tg, "a"), instance(tg, "b") as (app_b, url_b):
        assert app_b.updater
        await app_b.updater.stop()  # b's server is gone, its webhook still registered (a crash)
        replies = await start_from_users(tg, range(300, 304))
        assert replies == {user: ["a"] for user in range(300, 304)}, "every update once, all to a"
        failed = [d for d in tg.webhook_deliveries if d.status != 200]
        assert failed and {d.url for d in failed} == {url_b} and {d.status for d in failed} == {0}
        info = await app_b.bot.get_webhook_info()
        assert info.pending_update_count == 0 and "Connection failed" in (info.last_error_message or "")


async def test_an_instance_name_must_fit_in_a_path(tg: FakeTelegram) -> None:
    for bad_name in ("", "a/b", "file", "bot1", "é"):
        with pytest.raises(ValueError, match="instance name"):
            tg.instance_root(bad_name)


def test_sent_message_helpers() -> None:
    sent = SentMessage(1, 1, "text", 0, text="x", reply_markup=keyboard("a", "b").to_dict())
    assert sent.callback_data == ["a", "b"] and sent.state()["reply_markup"] is not None


async def test_misc_methods(tg: FakeTelegram, bot: Bot) -> None:
    url = f"{tg.base_url}{tg.token}/getme"  # GET, any case, like Telegram
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200 and (await response.json())["result"]["username"] == bot.username
    await bot.set_chat_menu_button(USER, MenuButtonCommands())
    assert isinstance(await bot.get_chat_menu_button(USER), MenuButtonCommands)
    assert isinstance(await bot.get_chat_menu_button(), MenuButtonDefault)
    await tg.user_sends_document(USER, b"%PDF-1.4", "cv.pdf", mime_type="application/pdf")
    await tg.push_update({"chat_member": {}})  # opt-in update type: dropped unless asked for
    updates = await bot.get_updates(offset=2)
    assert len(updates) == 1 and updates[0].message and updates[0].message.document
    file = await updates[0].message.document.get_file()
    assert bytes(await file.download_as_bytearray()) == b"%PDF-1.4"
    with pytest.raises(BadRequest):
        await bot.send_chat_action(USER, "dancing")
    assert take_invalid(tg) == ["Bad Request: wrong parameter action in request"]
