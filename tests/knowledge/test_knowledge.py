from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.knowledge.loader import check_knowledge, load_knowledge
from bot.retrieval.chunker import chunk_resource
from tests.conftest import KNOWLEDGE, domain_sources, write_config

GOOD = """---
id: {id}
title: "Une ressource"
type: fiche
sources:
  - https://catalyseurs-territoriaux.org/ressources-utiles
roles: [dialogue-territorial]
tags: [test]
updated: 2026-11-26
---
## Une section
<!-- sources: https://catalyseurs-territoriaux.org/ressources-utiles -->
Du texte.
"""


def test_the_repository_knowledge_base_is_valid() -> None:
    base, problems = check_knowledge(KNOWLEDGE)
    assert problems == []
    assert len(base.resources) >= 60
    assert {r.id for r in base.roles} == {
        "dialogue-territorial",
        "experimentations-collectives",
        "accompagnements",
        "gestion-lieu",
    }


def test_every_source_comes_from_the_domain_briefing() -> None:
    known = domain_sources()
    base, _ = check_knowledge(KNOWLEDGE)
    unknown = {(r.id, url) for r in base.resources for url in r.sources if url not in known}
    assert unknown == set()


def test_every_metier_has_its_fiche_and_every_faq_question_is_answered() -> None:
    base, _ = check_knowledge(KNOWLEDGE)
    for role in base.roles:
        assert any(role.id in r.roles and r.type == "fiche" for r in base.resources), role.id
    assert len([r for r in base.resources if r.type == "faq"]) == 40


def _problems(folder: Path, name: str, content: str) -> list[str]:
    (folder / name).write_text(content, encoding="utf-8")
    _, problems = check_knowledge(folder)
    return [str(p) for p in problems]


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        (GOOD.format(id="x").replace('title: "Une ressource"\n', ""), 1, "title: missing field"),
        (
            GOOD.format(id="x").replace("[dialogue-territorial]", "[cuisine]"),
            7,
            "roles: unknown métier 'cuisine'",
        ),
        (GOOD.format(id="x").replace("type: fiche", "type: roman"), 4, "type: unknown type 'roman'"),
        (
            GOOD.format(id="x").replace("sources:\n  - https", "sources: [ftp"),
            6,
            "front matter is not valid YAML",
        ),
        (GOOD.format(id="x").replace("2026-11-26", "hier"), 9, "updated: must be a date"),
        ("Pas de front matter\n", 1, "missing front matter"),
        (GOOD.format(id="y"), 2, "id: 'y' differs from the file name 'x'"),
    ],
)
def test_broken_resources_are_reported_by_file_line_and_field(
    knowledge_copy: Path, content: str, line: int, message: str
) -> None:
    problems = _problems(knowledge_copy, "x.md", content)
    assert any(p.startswith(f"{knowledge_copy / 'x.md'}:{line}: {message}") for p in problems), problems


def test_duplicate_ids_are_reported(knowledge_copy: Path) -> None:
    (knowledge_copy / "autre").mkdir()
    copy = knowledge_copy / "autre" / "metier-gestion-lieu.md"
    copy.write_text(GOOD.format(id="metier-gestion-lieu"), encoding="utf-8")
    original = knowledge_copy / "fiches" / "metier-gestion-lieu.md"
    _, problems = check_knowledge(knowledge_copy)
    assert len(problems) == 1
    message = str(problems[0])
    assert ":2: id: duplicate id 'metier-gestion-lieu', also used by " in message
    assert str(copy) in message and str(original) in message


def test_knowledge_check_command_prints_problems_and_fails(
    tmp_path: Path, knowledge_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    assert main(["--config", str(config), "knowledge", "check"]) == 0
    assert "all valid" in capsys.readouterr().out
    (knowledge_copy / "casse.md").write_text(
        GOOD.format(id="casse").replace("roles: [dialogue-territorial]\n", "")
    )
    assert main(["--config", str(config), "knowledge", "check"]) == 1
    out = capsys.readouterr().out
    assert f"{knowledge_copy / 'casse.md'}:1: roles: missing field" in out


def test_knowledge_check_refuses_an_id_whose_buttons_overflow_callback_data(
    tmp_path: Path, knowledge_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    diagnostic = knowledge_copy / "diagnostic.yaml"
    source = diagnostic.read_text(encoding="utf-8")
    long_id = "a" + "-abcdefghi" * 6 + "z"  # 62 characters: « d:a:<id>:partie » takes 73 bytes
    assert len(long_id) == 62
    lines = source.splitlines()
    line = next(n for n, t in enumerate(lines, 1) if t.strip() == "- id: territoire")
    lines[line - 1] = lines[line - 1].replace("territoire", long_id)
    diagnostic.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["--config", str(config), "knowledge", "check"]) == 1
    out = capsys.readouterr().out
    assert f"{diagnostic}:{line}: id: {long_id!r} is too long" in out
    assert "Telegram allows 64" in out


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        (
            "<!-- sources: https://catalyseurs-territoriaux.org/ressources-utiles -->\n",
            "",
            11,
            "no sources marker",
        ),
        (
            "ressources-utiles -->",
            "ressources-utiles, https://www.lerameau.fr/autre-page/ -->",
            12,
            "https://www.lerameau.fr/autre-page/ is not in the front matter's sources",
        ),
        (
            "Du texte.\n",
            "Du texte.\n<!-- sources: https://catalyseurs-territoriaux.org/ressources-utiles -->\n",
            14,
            "more than one sources marker",
        ),
        ("## Une section\n", "Un préambule.\n\n## Une section\n", 11, "text before the first '## ' heading"),
    ],
)
def test_a_section_without_its_own_known_source_is_refused(
    knowledge_copy: Path, old: str, new: str, line: int, message: str
) -> None:
    problems = _problems(knowledge_copy, "x.md", GOOD.format(id="x").replace(old, new))
    assert any(p.startswith(f"{knowledge_copy / 'x.md'}:{line}: ") and message in p for p in problems), (
        problems
    )


def test_a_marker_url_may_carry_a_fragment_and_unused_front_matter_sources_are_fine(
    knowledge_copy: Path,
) -> None:
    content = (
        GOOD.format(id="x")
        .replace("ressources-utiles -->", "ressources-utiles#page=3 -->")
        .replace("sources:\n", "sources:\n  - https://www.lerameau.fr/le-programme-impact/\n")
    )
    assert _problems(knowledge_copy, "x.md", content) == []


def test_two_resources_with_the_same_title_are_refused(knowledge_copy: Path) -> None:
    (knowledge_copy / "x.md").write_text(GOOD.format(id="x"), encoding="utf-8")
    twin = GOOD.format(id="y").replace('"Une ressource"', '"UNE RESSOURCÉ"')
    (knowledge_copy / "y.md").write_text(twin, encoding="utf-8")
    _, problems = check_knowledge(knowledge_copy)
    twin_line = f"{knowledge_copy / 'y.md'}:3: title: duplicate title 'UNE RESSOURCÉ'"
    assert [str(p) for p in problems] == [f"{twin_line}, also used by {knowledge_copy / 'x.md'}"]


def test_each_passage_carries_its_own_sections_sources_without_the_marker(knowledge_copy: Path) -> None:
    first = "https://catalyseurs-territoriaux.org/ressources-utiles"
    second = "https://www.lerameau.fr/le-programme-impact/"
    content = GOOD.format(id="x").replace("sources:\n", f"sources:\n  - {second}\n") + (
        f"\n## Une autre section\n<!-- sources: {second}#page=2, {first} -->\nAutre texte.\n"
    )
    (knowledge_copy / "x.md").write_text(content, encoding="utf-8")
    resource = next(r for r in load_knowledge(knowledge_copy).resources if r.id == "x")
    chunks = chunk_resource(resource)
    assert [(c.heading, c.url, c.sources) for c in chunks] == [
        ("Une section", first, (first,)),
        ("Une autre section", f"{second}#page=2", (f"{second}#page=2", first)),
    ]
    assert all("<!--" not in c.text and "sources:" not in c.text for c in chunks)


def test_the_2020_figures_link_their_own_sources_not_the_co_construction_page() -> None:
    own = ("associations.gouv.fr/un-bilan-2020", "banquedesterritoires.fr/")
    chunks = [c for r in load_knowledge(KNOWLEDGE).resources for c in chunk_resource(r)]
    figures = [c for c in chunks if "92 %" in c.text and "besoin d'alliances" in c.text]
    assert len(figures) >= 3
    assert all(any(o in c.url for o in own) for c in figures), [(c.id, c.url) for c in figures]
    ronalpia = [c for c in chunks if "Ronalpia" in c.text]
    assert ronalpia and all("decouvrir-le-fonds-odd-17" in c.url for c in ronalpia), [
        (c.id, c.url) for c in ronalpia
    ]


def test_every_section_marker_url_comes_from_the_domain_briefing() -> None:
    known = domain_sources()
    base, _ = check_knowledge(KNOWLEDGE)
    unknown = {
        (r.id, s.heading, url)
        for r in base.resources
        for s in r.sections
        for url in s.sources
        if url.split("#", 1)[0] not in known
    }
    assert unknown == set()
    assert all(r.sections for r in base.resources)


def test_no_address_carries_the_spam_path_segment() -> None:
    base, _ = check_knowledge(KNOWLEDGE)
    assert not [u for r in base.resources for u in r.sources if "ecole.org" in u and "/fr/seance/" not in u]


def test_an_imported_document_is_cited_by_its_file_name_and_dated(knowledge_copy: Path) -> None:
    content = (
        GOOD.format(id="x")
        .replace(
            "  - https://catalyseurs-territoriaux.org/ressources-utiles",
            "  - atelier.pdf\ndocument_date: 2021-06-02\nlanguage: fr\nimported_from: atelier.pdf",
        )
        .replace(
            "sources: https://catalyseurs-territoriaux.org/ressources-utiles", "sources: atelier.pdf#page=2"
        )
    )
    assert _problems(knowledge_copy, "x.md", content) == []
    resource = check_knowledge(knowledge_copy)[0].by_id()["x"]
    assert resource.sources == ("atelier.pdf",) and resource.imported_from == "atelier.pdf"
    assert resource.document_date is not None and resource.document_date.isoformat() == "2021-06-02"


@pytest.mark.parametrize(
    ("replacement", "message"),
    [
        ("  - un dossier/atelier.pdf", "sources: must be a non-empty list of http(s) URLs"),
        ("  - atelier.pdf\ndocument_date: juin 2021", "document_date: must be a date"),
        ("  - atelier.pdf\nimported_from: ''", "imported_from: must be a non-empty text"),
    ],
)
def test_wrong_import_fields_are_reported(knowledge_copy: Path, replacement: str, message: str) -> None:
    content = GOOD.format(id="x").replace(
        "  - https://catalyseurs-territoriaux.org/ressources-utiles", replacement
    )
    assert any(message in p for p in _problems(knowledge_copy, "x.md", content))
