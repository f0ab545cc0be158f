"""`catabot chat`: the sandbox shows what a Telegram client would, and replays a script."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from bot.config import Config
from bot.messages import text
from bot.telegram.sandbox import Sandbox, terminal_text
from tests.botkit import bot_config

ROOT = Path(__file__).resolve().parents[2]
SESSION = ROOT / "docs" / "sandbox-session.txt"


@pytest.fixture
def config(tmp_path: Path, knowledge_copy: Path) -> Config:
    return bot_config(tmp_path, knowledge_copy)


def chat(config: Config, lines: list[str], files: Path) -> str:
    """The transcript of a sandbox session fed `lines`, as `catabot chat < file` prints it."""
    pending = iter(lines)

    def read(prompt: str) -> str:
        try:
            return next(pending)
        except StopIteration:
            raise EOFError from None

    out = io.StringIO()
    asyncio.run(Sandbox(config, read, out, files=files, echo=True).run())
    return out.getvalue()


def after(transcript: str, marker: str) -> str:
    assert marker in transcript, marker
    return transcript[transcript.index(marker) + len(marker) :]


@pytest.mark.slow
def test_the_committed_session_runs_a_diagnosis_an_event_answer_and_an_announcement(
    config: Config, tmp_path: Path
) -> None:
    files = tmp_path / "files"
    transcript = chat(config, SESSION.read_text(encoding="utf-8").splitlines(), files)
    assert "Traceback" not in transcript and text("error") not in transcript
    # The diagnosis is one message edited in place: every edit is shown again, marked as updated.
    started = after(transcript, "nouveau venu › /diagnostic")
    assert after(started, text("sandbox_updated")).lstrip().startswith("1/22 · Votre contexte")
    assert transcript.count(text("sandbox_updated")) >= 22
    result = after(transcript, "Résultat de votre autodiagnostic")
    assert "🔴 Gestion d'un lieu : 0/100 — Manquant" in result
    assert "1 réponse « Je ne sais pas »" in result, "a plural done properly"
    charts = sorted(files.glob("1000-*-photo.png"))
    assert len(charts) == 1 and charts[0].read_bytes().startswith(b"\x89PNG")
    assert f"[fichier enregistré : {charts[0]}]" in transcript
    # The member answers the event: the card is edited, its answer marked; the agenda file is saved.
    member = after(transcript, "membre › /evenements")
    assert "[Réponse enregistrée : Je participe.]" in member
    assert after(member, text("sandbox_updated")).count("• Je participe •") >= 1
    (ics,) = files.glob("1001-*-evenement-*.ics")
    assert ics.read_text(encoding="utf-8").startswith("BEGIN:VCALENDAR")
    # The announcement: progress edited to 3 / 3, then the report; the member finds it in their chat.
    waited = after(transcript, "coordinateur › /attendre 3")
    assert "3 / 3 envoyés" in waited and "📊 Bilan de l'annonce" in waited and "Envoyés : 3" in waited
    assert "Le prochain webinaire a lieu jeudi à 11 h." in after(waited, "Vous êtes maintenant : membre.")


@pytest.mark.slow
def test_a_number_without_its_button_gets_one_polite_line_and_is_not_a_question(
    config: Config, tmp_path: Path
) -> None:
    transcript = chat(
        config, ["2", "/start", "9", "/personne chef", "/personne membre", "/quitter"], tmp_path
    )
    assert text("sandbox_no_buttons") in transcript
    assert text("sandbox_no_such_button", number=9, count=4) in transcript
    assert text("no_answer") not in transcript, "« 2 » was not taken as a question"
    assert "Vous êtes : nouveau venu. Pour changer" in transcript
    assert "membre › /quitter" in transcript


def test_terminal_text_shows_links_and_drops_tags() -> None:
    assert terminal_text('<b>Vu</b> : <a href="https://x.org/?a=1&amp;b=2">page</a> &lt;3') == (
        "Vu : page (https://x.org/?a=1&b=2) <3"
    )


def test_a_reused_database_still_delivers_to_personas_of_earlier_runs(config: Config, tmp_path: Path) -> None:
    chat(config, ["/personne membre", "/start", "/quitter"], tmp_path / "files")
    second = [
        "/personne coordinateur", "/annonce", "Le webinaire a lieu jeudi à 11 h.", "1", "1", "/attendre 3",
        "/personne membre", "/quitter",
    ]  # fmt: skip
    transcript = chat(config, second, tmp_path / "files")  # the member does not write in this run
    assert "Traceback" not in transcript and "Chat not found" not in transcript
    assert "Le webinaire a lieu jeudi à 11 h." in after(transcript, "/personne membre")
