from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.knowledge.loader import check_knowledge
from tests.conftest import KNOWLEDGE, write_config

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
    briefing = KNOWLEDGE.parent.parent / "shared" / "research" / "domain.md"
    if not briefing.exists():
        pytest.skip("the domain briefing (../shared/research/domain.md) is not beside this checkout")
    text = briefing.read_text(encoding="utf-8")
    base, _ = check_knowledge(KNOWLEDGE)
    unknown = {(r.id, url) for r in base.resources for url in r.sources if url not in text}
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
