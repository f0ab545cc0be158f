"""/importer through the fake Bot API: a coordinator sends a document, reads its sections, confirms, and the
running bot answers from it at once (page cited); bad files, members, stale buttons and restarts."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Config
from bot.messages import text
from bot.telegram.render import MAX_MESSAGE
from bot.testing import FakeTelegram, SentMessage
from bot.users import Role
from tests import document_fixtures as fx
from tests.botkit import ADMIN, BotEnv, bot_config, buttons, running_bot
from tests.conftest import KNOWLEDGE

SEED_NAME = "catalyse-territoriale-atelier-2021-06-02.pdf"
NEWCOMER, MEMBER = 101, 102
QUESTION = "Quand ont lieu les Rencontres annuelles du réseau ?"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """A knowledge base with the métiers, the questionnaire and one entry about the three ingénieries:
    nothing about the network's annual meeting until a document is imported."""
    knowledge = tmp_path / "kb"
    knowledge.mkdir()
    for name in ("roles.yaml", "diagnostic.yaml", "faq/faq-04-trois-ingenieries.md"):
        shutil.copy(KNOWLEDGE / name, knowledge / Path(name).name)
    return bot_config(tmp_path, knowledge)


@pytest.fixture
async def env(config: Config) -> AsyncIterator[BotEnv]:
    async with running_bot(config) as running:
        yield running
        assert running.fake.invalid_requests == []


def documents(config: Config) -> list[str]:
    """What the importer folder holds, pending uploads included."""
    folder = config.path(config.knowledge_dir) / config.importer.folder
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


async def send_document(
    fake: FakeTelegram, user: int, data: bytes, name: str, caption: str | None = None, **kwargs: object
) -> SentMessage:
    """The user sends a document; the bot's first message after it."""
    before = len(fake.sent_to(user))
    await fake.user_sends_document(user, data, name, caption=caption, **kwargs)  # type: ignore[arg-type]
    await fake.wait_for(lambda: len(fake.sent_to(user)) > before)
    return fake.sent_to(user)[before]


async def press(env: BotEnv, user: int, message: SentMessage, action: str) -> SentMessage:
    """Press the preview's « Importer » (ok) or « Annuler » (no); the bot's message after it."""
    data = next(d for _, d in buttons(message) if d.startswith(f"imp:{action}:"))
    before = len(env.fake.sent_to(user))
    await env.click(user, message, data)
    await env.fake.wait_for(lambda: len(env.fake.sent_to(user)) > before)
    return env.fake.sent_to(user)[before]


async def test_an_imported_pdf_answers_the_next_question_with_its_page(
    env: BotEnv, config: Config, seed_text: str
) -> None:
    before = await env.say(NEWCOMER, QUESTION)
    assert "12 juillet" not in before.text
    prompt = await env.say(ADMIN, "/importer")
    assert prompt.text.startswith("Envoyez-moi le document à importer") and "20 Mo au plus" in prompt.text
    preview = await send_document(env.fake, ADMIN, fx.seed_pdf(seed_text), SEED_NAME)
    pages = fx.seed_pages(seed_text)
    assert preview.text.startswith("Aperçu de l'import")
    assert "« La catalyse territoriale », 2 juin 2021 — nouvelle ressource" in preview.text
    assert "• Le RAMEAU en 3 Actes ! — page 2, 1058 caractères" in preview.text
    assert preview.text.count("caractères") == len(pages) and f"page {len(pages)}, " in preview.text
    assert [label for label, _ in buttons(preview)] == ["✅ Importer", "Annuler"]
    assert documents(config)[0].startswith(".pending/"), "the upload waits on disk, not in the database"

    done = await press(env, ADMIN, preview, "ok")
    assert done.text.startswith("« La catalyse territoriale » est dans la base :")
    passages = sum(
        c.resource_id == "la-catalyse-territoriale" for c in env.services.questions.searcher.index.chunks
    )
    assert passages >= len(pages) and f"{passages} passages indexés" in done.text
    assert documents(config) == ["la-catalyse-territoriale.md"], "the upload is gone once imported"

    answer = await env.say(NEWCOMER, QUESTION)  # the same running bot, no restart
    assert "le 12 juillet prochain" in answer.text
    assert "Extrait de « La catalyse territoriale », document du 2 juin 2021, page 8" in answer.text
    assert f"{SEED_NAME}#page=8" in answer.text

    again = await send_document(env.fake, ADMIN, fx.seed_pdf(seed_text), SEED_NAME, caption="/importer")
    assert again.text.endswith(text("importer_unchanged")) and buttons(again) == []


async def test_a_document_in_english_is_previewed_with_the_language_warning(env: BotEnv) -> None:
    page = (
        "<html><body><h1>About</h1><p>This document is written entirely in English. Territorial "
        "catalysts bring together local authorities, companies and associations so that they answer "
        "the needs of their territory together.</p></body></html>"
    )
    preview = await send_document(env.fake, ADMIN, page.encode(), "en.html", caption="/importer")
    assert preview.text.startswith("Aperçu de l'import")
    assert text("import_language", file="en.html", language="en") in preview.text
    assert [label for label, _ in buttons(preview)] == ["✅ Importer", "Annuler"]


async def test_a_scanned_pdf_is_refused_with_the_ocr_message(env: BotEnv, config: Config) -> None:
    refused = await send_document(env.fake, ADMIN, fx.scanned_pdf(), "scan.pdf", caption="/importer")
    assert refused.text == text("import_no_text", file="scan.pdf")
    assert "passer à l'OCR" in refused.text
    assert documents(config) == []
    assert await env.services.conversations.current(ADMIN, ADMIN) is None


async def test_a_member_cannot_import(env: BotEnv, config: Config, seed_text: str) -> None:
    await env.services.database.storage.users.set_role(MEMBER, Role.MEMBER)
    refusal = text("not_allowed", role=text("role_coordinator"))
    assert (await env.say(MEMBER, "/importer")).text == refusal
    sent = await send_document(env.fake, MEMBER, fx.seed_pdf(seed_text), SEED_NAME, caption="/importer")
    assert sent.text == refusal
    assert documents(config) == [] and env.fake.calls_to("getFile") == []
    assert "/importer" not in (await env.say(MEMBER, "/aide")).text
    assert "/importer – ajouter un document" in (await env.say(ADMIN, "/aide")).text


async def test_a_restart_between_preview_and_confirm_still_imports(config: Config, seed_text: str) -> None:
    async with FakeTelegram() as fake:
        async with running_bot(config, fake=fake) as first:
            await first.say(ADMIN, "/importer https://example.org/atelier.pdf Atelier catalyse 2021")
            preview = await send_document(fake, ADMIN, fx.seed_pdf(seed_text), SEED_NAME)
            assert "« Atelier catalyse 2021 »" in preview.text
        async with running_bot(config, fake=fake) as second:
            done = await press(second, ADMIN, preview, "ok")
            assert done.text.startswith("« Atelier catalyse 2021 » est dans la base")
            answer = await second.say(NEWCOMER, QUESTION)
            assert "Extrait de « Atelier catalyse 2021 », document du 2 juin 2021, page 8" in answer.text
            assert '<a href="https://example.org/atelier.pdf#page=8">' in (answer.source or "")
            assert fake.invalid_requests == []
    written = config.path(config.knowledge_dir) / config.importer.folder / "atelier-catalyse-2021.md"
    assert "imported_from: https://example.org/atelier.pdf" in written.read_text(encoding="utf-8")


async def test_cancel_writes_nothing_and_old_or_forged_buttons_are_refused(
    env: BotEnv, config: Config, seed_text: str
) -> None:
    await env.say(ADMIN, "/importer")
    preview = await send_document(env.fake, ADMIN, fx.seed_pdf(seed_text), SEED_NAME)
    ok = next(d for _, d in buttons(preview) if d.startswith("imp:ok:"))
    cancelled = await press(env, ADMIN, preview, "no")
    assert cancelled.text == text("importer_cancelled") and documents(config) == []
    stale = text("button_stale")
    assert await env.click(ADMIN, preview, ok) == stale
    for forged in ("imp:ok:0123456789abcdef", "imp:ok:../../roles", "imp:zz"):
        query = await env.fake.user_sends_raw_callback(ADMIN, preview.message_id, ADMIN, forged)
        await env.fake.wait_for(lambda q=query: env.fake.answered_callback(q) is not None)  # type: ignore[misc]
        answered = env.fake.answered_callback(query)
        assert answered is not None and answered.params.get("text") == stale
    assert documents(config) == []


async def test_a_file_over_the_limit_is_refused_before_it_is_downloaded(config: Config) -> None:
    small = dataclasses.replace(config, importer=dataclasses.replace(config.importer, max_file_mb=0.01))
    async with running_bot(small) as env:
        await env.say(ADMIN, "/importer")
        big = "\n\n".join(f"Paragraphe {n} du guide des catalyseurs." for n in range(400)).encode()
        refused = await send_document(env.fake, ADMIN, big, "guide.txt")
        assert refused.text.startswith("guide.txt : le fichier fait ") and "0,01 Mo" in refused.text
        assert env.fake.calls_to("getFile") == []
        wrong = await send_document(env.fake, ADMIN, b"\x00\x01", "photo.exe", caption="/importer")
        assert wrong.text.startswith("photo.exe : ce type de fichier n'est pas pris en charge")
        assert env.fake.calls_to("getFile") == []


async def test_a_long_preview_is_split_between_lines_with_the_buttons_last(env: BotEnv) -> None:
    markdown = "".join(
        f"## Étape {n} <du parcours>\n\nLe texte de l'étape {n} du parcours.\n\n" for n in range(150)
    )
    await env.say(ADMIN, "/importer")
    before = len(env.fake.sent_to(ADMIN))
    await env.fake.user_sends_document(ADMIN, markdown.encode(), "parcours.md")
    await env.fake.wait_for(lambda: any(buttons(m) for m in env.fake.sent_to(ADMIN)[before:]))
    parts = env.fake.sent_to(ADMIN)[before:]
    assert len(parts) > 1 and all(len(p.text) <= MAX_MESSAGE for p in parts)
    assert [bool(buttons(p)) for p in parts] == [False] * (len(parts) - 1) + [True]
    shown = "\n".join(p.text for p in parts)
    assert all(f"Étape {n} <du parcours> — " in shown for n in range(150))


async def test_in_a_group_the_coordinator_is_asked_to_write_in_private(env: BotEnv) -> None:
    reply = await env.say(ADMIN, "/importer", chat_id=-100, chat_type="group")
    assert reply.text == text("importer_private")


async def test_text_while_waiting_for_the_document_gets_a_reminder(env: BotEnv) -> None:
    await env.say(ADMIN, "/importer")
    assert (await env.say(ADMIN, "Voici le guide")).text == text("importer_waiting")
    assert (await env.say(ADMIN, "/annuler")).text == text("flow_cancelled")


async def test_a_broken_pdf_is_named_in_a_plain_sentence(env: BotEnv) -> None:
    await env.say(ADMIN, "/importer")
    broken = b"%PDF-1.7\n1 0 obj << /Length 99 >> stream\nbroken"
    reply = await send_document(env.fake, ADMIN, broken, "faux.pdf")
    assert reply.text == text("import_corrupt", file="faux.pdf")
    assert "Error" not in reply.text and "(" not in reply.text


async def test_a_photo_while_waiting_for_the_document_asks_for_a_file(env: BotEnv) -> None:
    await env.say(ADMIN, "/importer")
    before = len(env.fake.sent_to(ADMIN))
    await env.fake.user_sends_photo(ADMIN)
    await env.fake.wait_for(lambda: len(env.fake.sent_to(ADMIN)) > before)
    assert env.fake.sent_to(ADMIN)[-1].text == text("importer_as_file")
    assert (await env.say(ADMIN, "Voici le guide")).text == text("importer_waiting"), "still waiting"
