"""/importer: a coordinator sends a document (PDF, Word, slides, web page, Markdown, text) in a private chat;
the bot shows the sections it found (titles, pages, size) and « Importer » writes the resource, then swaps
in the new index at once (`LiveIndex.refresh`, as for the coordinators' answers): no restart.

`/importer [URL] [title…]` (or a document sent with that caption): the optional web address is the source
the answers cite (`URL#page=N`; the file name otherwise) and the optional title replaces the document's own.

Flow `importer` (conversation table): `{"step": "document", "source", "title"}` while waiting for the file,
then `{"step": "preview", "token", "file", "source", "title"}`. The file waits on disk under the importer
folder (`bot.knowledge.importing.uploads`), the row keeps its token: a restart, or another instance, finishes
the import. Buttons: `imp:ok:<token>`, `imp:no:<token>` (23 bytes).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from telegram import CallbackQuery, Message, Update
from telegram.constants import ChatAction, FileSizeLimit
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.conversations import Flow
from bot.knowledge.importing import Draft, ImportOptions, ImportRefused
from bot.knowledge.importing.preview import describe
from bot.messages import text
from bot.telegram.context import App, Context, add_flow_handler, on_button, private_only, privileged
from bot.telegram.render import Reply, html_text
from bot.telegram.replies import query_message, send
from bot.users import Role

IMPORT_FLOW = "importer"
_CAPTION = r"^/importer(@\w+)?(\s|$)"


def import_data(action: str, token: str) -> str:
    """ok (write the resource and index it), no (cancel)."""
    return f"imp:{action}:{token}"


def options_from(words: str) -> dict[str, str | None]:
    """`[URL] [title…]` after /importer: the document's web address and its title, both optional."""
    parts = words.split(maxsplit=1)
    if parts and parts[0].startswith(("http://", "https://")):
        return {"source": parts[0], "title": parts[1].strip() if len(parts) > 1 else None}
    return {"source": None, "title": " ".join(words.split()) or None}


def _options(state: dict[str, Any]) -> ImportOptions:
    return ImportOptions(source=state.get("source"), title=state.get("title"))


@private_only("importer", "importer_private")
@privileged(Role.COORDINATOR)
async def importer_command(update: Update, context: Context) -> None:
    """/importer [URL] [title]: wait for the document."""
    message = update.effective_message
    await context.start_flow(IMPORT_FLOW, {"step": "document", **options_from(" ".join(context.args or []))})
    limit = f"{context.services.config.importer.max_file_mb:g}"
    await send(message, Reply(html_text("importer_send", await context.language(), limit=limit)))


@private_only("importer", "importer_private", linked=False)
@privileged(Role.COORDINATOR)
async def importer_caption(update: Update, context: Context) -> None:
    """A document sent with the caption `/importer [URL] [title]`."""
    message = update.effective_message
    if message is None:
        return
    words = (message.caption or "").split(maxsplit=1)
    await receive(message, context, options_from(words[1] if len(words) > 1 else ""))


async def flow_message(update: Update, context: Context, flow: Flow) -> bool:
    """In the flow: a document is the one to import (a new one replaces the one previewed); text gets a
    reminder of what is awaited, a photo or another attachment the advice to send the document as a file."""
    message = update.effective_message
    if message is None:
        return False
    if message.document is not None:
        if message.caption and message.caption.startswith("/importer"):
            return False  # its own options: the caption's handler takes it
        await receive(message, context, {key: flow.state.get(key) for key in ("source", "title")})
        return True
    if message.text is None:  # a photo, a video, a voice message: only a file is imported
        key = "importer_as_file"
    else:
        key = "importer_waiting_confirm" if flow.state.get("step") == "preview" else "importer_waiting"
    await send(message, Reply(html_text(key, await context.language())))
    return True


async def receive(message: Message, context: Context, options: dict[str, str | None]) -> None:
    """Check the document's size before downloading it, read it off the event loop, show the preview."""
    document, language = message.document, await context.language()
    if document is None:
        return
    importer = context.services.importer
    name = Path(document.file_name or "document").name
    previous = await context.get_flow(IMPORT_FLOW)
    try:
        # Telegram tells the size: a file over the limits is refused before it is downloaded (when it does
        # not, the download itself is refused above 20 MB and `parse` checks the size).
        size = document.file_size if document.file_size is not None else 1
        importer.check_file(name, size, download_limit=FileSizeLimit.FILESIZE_DOWNLOAD)
        await message.get_bot().send_chat_action(message.chat_id, ChatAction.TYPING)
        data = bytes(await (await document.get_file()).download_as_bytearray())
        draft = await asyncio.to_thread(importer.parse, name, data, _options(options))
    except ImportRefused as refusal:
        await _forget(context, previous)
        await send(message, Reply(html_text(refusal.reason, language, **refusal.values)))
        return
    except TelegramError:
        await _forget(context, previous)
        await send(message, Reply(html_text("importer_download_failed", language, file=name)))
        return
    await _forget(context, previous)
    if draft.outcome == "unchanged":
        unchanged = _preview(context, draft, language) + html_text("importer_unchanged", language)
        await send(message, Reply(unchanged))
        return
    token = await asyncio.to_thread(importer.uploads.keep, data)
    await context.start_flow(IMPORT_FLOW, {"step": "preview", "token": token, "file": name, **options})
    body = _preview(context, draft, language) + html_text("importer_confirm", language)
    buttons = [[(text("importer_import", language), import_data("ok", token)),
                (text("importer_cancel", language), import_data("no", token))]]  # fmt: skip
    await send(message, Reply(body, buttons))


def _preview(context: Context, draft: Draft, language: str) -> str:
    """The title, date, sections (place and size) and warnings, one line each (`send` splits a long
    preview between lines, never inside a tag)."""
    lines = describe(draft, context.services.importer.knowledge_dir, language, html_text)
    return "\n".join([html_text("importer_preview", language), *lines]) + "\n\n"


async def _forget(context: Context, state: dict[str, Any] | None) -> None:
    """End the flow and delete the upload it was waiting to import, if any."""
    await context.end_flow(IMPORT_FLOW)
    if state and state.get("token"):
        await asyncio.to_thread(context.services.importer.uploads.drop, str(state["token"]))


async def import_button(query: CallbackQuery, context: Context, args: list[str]) -> str | None:
    """« Importer » writes the previewed document and indexes it; « Annuler » drops it. Only the button of
    the preview in progress works."""
    language = await context.language()
    if not await context.has_role(Role.COORDINATOR):
        return text("not_allowed", language, role=text("role_coordinator", language))
    state = await context.get_flow(IMPORT_FLOW)
    if len(args) != 2 or args[0] not in ("ok", "no") or not state or state.get("token") != args[1]:
        return text("button_stale", language)
    # Ending the flow is the lock: of two quick taps (or two instances), one goes on.
    if not await context.end_flow(IMPORT_FLOW):
        return text("button_stale", language)
    importer, token, message = context.services.importer, args[1], query_message(query)
    data = await asyncio.to_thread(importer.uploads.read, token)
    await asyncio.to_thread(importer.uploads.drop, token)
    if args[0] == "no" or data is None:
        await query.answer()
        key = "importer_cancelled" if args[0] == "no" else "importer_gone"
        await send(message, Reply(html_text(key, language)))
        return None
    await query.answer()  # now: reading and indexing may take longer than a button waits
    try:
        draft = await asyncio.to_thread(importer.parse, str(state["file"]), data, _options(state))
        await asyncio.to_thread(importer.write, draft)
    except ImportRefused as refusal:  # the knowledge changed meanwhile, e.g. a métier was removed
        await send(message, Reply(html_text(refusal.reason, language, **refusal.values)))
        return None
    await context.services.coordination.live.refresh()
    chunks = context.services.questions.searcher.index.chunks
    count = sum(chunk.resource_id == draft.resource_id for chunk in chunks)
    key = "importer_done" if count else "importer_done_later"
    await send(message, Reply(html_text(key, language, title=draft.title, count=count)))
    return None


def register(application: App) -> None:
    """/importer, a document captioned /importer, the preview's buttons, and the flow's messages."""
    fresh = filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler("importer", importer_command, filters=fresh))
    captioned = fresh & filters.Document.ALL & filters.CaptionRegex(_CAPTION)
    application.add_handler(MessageHandler(captioned, importer_caption))
    application.add_handler(CallbackQueryHandler(on_button(import_button), pattern=r"^imp:"))
    attachment = filters.PHOTO | filters.VIDEO | filters.AUDIO | filters.VOICE | filters.ANIMATION
    awaited = (
        filters.ChatType.PRIVATE
        & fresh
        & (filters.Document.ALL | attachment | (filters.TEXT & ~filters.COMMAND))
    )
    add_flow_handler(application, (IMPORT_FLOW,), flow_message, awaited, Role.COORDINATOR)
