"""`/mesdonnees` readable: the export in the user's language, with Europe/Paris times."""

from __future__ import annotations

from bot.users.data_report import readable_export, readable_value

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
