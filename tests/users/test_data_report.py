"""`/mesdonnees` readable: the export in the user's language, with Europe/Paris times."""

from __future__ import annotations

import re

from bot.announcements.records import CampaignAudience, CampaignStatus
from bot.delivery.outbox import Status as DeliveryStatus
from bot.events.records import RsvpAnswer
from bot.qa.records import DISLIKE_REASONS
from bot.qa.records import Status as QuestionStatus
from bot.storage import Storage
from bot.users.data_report import readable_export, readable_value
from bot.users.records import Role
from tests.storage.test_storage import ME, OTHER, populate
from tests.storage_fixtures import minutes

EXPORT = {
    "user": {
        "id": 7,
        "language": "fr",
        "role": "member",
        "active": True,
        "created_at": "2026-07-01T12:05:00+00:00",
    },
    "questions": [{"id": 1, "text": "Qui est Le RAMEAU ?", "created_at": "2026-01-15T08:30:00+00:00"}],
    "feedback": [],
    "preferences": None,
    "a_new_section": [{"a_new_field": 3}],
}


def test_french_names_and_paris_times_summer_and_winter() -> None:
    report = readable_export(EXPORT, "fr")
    assert report.startswith("Vos données chez catabot (heures de Paris)")
    assert "Créé le : mercredi 1er juillet 2026, 14 h 05" in report, "UTC+2 in summer"
    assert "Créé le : jeudi 15 janvier 2026, 9 h 30" in report, "UTC+1 in winter"
    assert "Actif : oui" in report and "Vos avis 👍/👎\n  (rien)" in report
    assert "a_new_section" in report and "a_new_field : 3" in report, "unknown keys are kept, not dropped"


def test_english_report() -> None:
    report = readable_export(EXPORT, "en")
    assert "Your questions" in report and "Created on : " not in report
    assert "Created on: Wednesday 1 July 2026, 2:05 pm" in report


def test_values() -> None:
    assert readable_value(None, "fr") == "—"
    assert readable_value({"a": 1}, "fr") == '{"a": 1}'
    assert readable_value("2026-13-40 not a date", "fr") == "2026-13-40 not a date"
    assert readable_value("2026-13-40 12:00", "fr") == "2026-13-40 12:00"


ENUMS = (Role, QuestionStatus, DeliveryStatus, CampaignStatus, CampaignAudience, RsvpAnswer)
CODES = (
    {str(v) for enum in ENUMS for v in enum}
    | {"reminder", "event_notice", "event_change", "announcement"}
    | {"private", "supergroup", "group", "fr", "en"}
    | set(DISLIKE_REASONS)
    | {"missing", "fragile", "to_check", "present"}
)  # not MediaKind: « photo », « document » are French words too


async def test_the_french_report_of_a_real_export_has_no_code_and_no_english_value(storage: Storage) -> None:
    await populate(storage)
    group_question = await storage.questions.record_question(
        ME, "supergroup", "Qui contacter ?", "fr", False, None, 0.2, now=minutes(20)
    )
    assert await storage.coordination.keep(group_question)
    theirs = await storage.questions.record_question(
        OTHER, "private", "Comment adhérer ?", "fr", True, "adhesion", 0.8, now=minutes(21)
    )
    assert await storage.questions.record_feedback(theirs, ME, -1, now=minutes(22))
    assert await storage.coordination.set_reason(theirs, ME, "wrong")
    report = readable_export(await storage.personal_data.export_user(ME), "fr")

    assert not re.findall(r"\b[a-z]+_[a-z_]+\b", report), "no raw snake_case key or code"
    lines = [line.split(" : ", 1) for line in report.splitlines() if " : " in line]
    assert [value for _, value in lines if value in CODES] == []
    for expected in (
        "Rôle : membre",
        "Langue : anglais",
        "Posée dans : groupe",
        "État : en attente d'une réponse des coordinateurs",
        "Confiance du bot : 20\xa0%",  # a no-break space, as French typography wants
        "Raison : Pas la bonne réponse",
        "Avis : 👎 pas utile",
        "Réponse : je viens",
        "Type : rappel d'événement",
        "État : envoyé",
        "État : en attente d'accord",
        "Destinataires : les membres",
        "Pièce jointe : photo",
        'Statuts : {"animation": "Manquant"}',
    ):
        assert expected in report, expected
    assert "Pseudonyme (vu par les coordinateurs) : " in report and "Traitée le : —" in report
