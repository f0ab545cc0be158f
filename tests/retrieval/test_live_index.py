"""The live index: a change of knowledge/ swapped in while questions are answered, coordinators' FAQ
entries written, corrected and withdrawn (the fast fake embedder, a private copy of the knowledge)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from bot.app import open_services
from bot.config import Config
from bot.knowledge import load_knowledge
from bot.knowledge.contributions import Contributions

QUESTIONS = [
    "Qu'est-ce qu'un tiers-lieu ?",
    "Comment convaincre mon maire ?",
    "Quelle recette de pâte à crêpes ?",
]


async def test_a_swap_while_questions_are_answered_fails_none_and_mixes_no_index(fake_config: Config) -> None:
    services = await open_services(fake_config, say=lambda _: None)
    try:
        live = services.coordination.live
        old = {id(c) for c in live.current.index.chunks}
        knowledge_dir = fake_config.path(fake_config.knowledge_dir)
        Contributions(knowledge_dir).add(
            "Comment faire une pâte à crêpes ?", "250 g de farine.", dt.date(2026, 1, 5)
        )
        asks = [services.questions.ask(1, q, chat_type="private", language="fr") for q in QUESTIONS * 20]
        results = await asyncio.gather(*asks[:30], live.refresh(), *asks[30:])
        swap = results[30]
        assert swap is not None and swap.embedded == 1, "only the new passage is embedded"
        new = {id(c) for c in live.current.index.chunks}
        assert services.questions.searcher is live.current
        for asked in results[:30] + results[31:]:
            chunks = {id(h.chunk) for h in asked.answer.hits}  # type: ignore[union-attr]
            assert chunks <= old or chunks <= new, "every answer comes from one index"
        assert await live.refresh() is None, "nothing changed since"
        recipe = await services.questions.ask(
            2, "Quelle recette de pâte à crêpes ?", chat_type="private", language="fr"
        )
        assert (
            recipe.answer.best is not None
            and recipe.answer.best.chunk.resource_id == "coordinateurs-2026-01-05-1"
        )
    finally:
        await services.close()


async def test_two_instances_converge_on_the_same_content(fake_config: Config) -> None:
    first = await open_services(fake_config, say=lambda _: None)
    second = await open_services(fake_config, say=lambda _: None)
    try:
        await first.coordination.add_to_base("Comment faire une pâte à crêpes ?", "250 g de farine.")
        assert await second.coordination.live.refresh() is not None
        assert first.coordination.live.content_hash == second.coordination.live.content_hash
    finally:
        await first.close()
        await second.close()


def test_contributions_pass_the_check_and_can_be_corrected_and_withdrawn(knowledge_copy: Path) -> None:
    contributions = Contributions(knowledge_copy)
    entry = contributions.add(
        "## Comment <!-- x --> faire ?", "Une réponse\n---\n# titre", dt.date(2026, 2, 3)
    )
    assert entry.id == "coordinateurs-2026-02-03-1"
    assert contributions.add("Autre ?", "Autre réponse.", dt.date(2026, 2, 3)).id.endswith("-2")
    resource = load_knowledge(knowledge_copy).by_id()[entry.id]
    assert resource.sources == (f"{entry.id}.md",) and resource.sections[0].sources == (f"{entry.id}.md",)
    assert "<!-- x" not in resource.title
    fixed = contributions.correct(entry.id, "Réponse corrigée.", dt.date(2026, 3, 1))
    assert fixed is not None
    assert load_knowledge(knowledge_copy).by_id()[entry.id].updated == dt.date(2026, 3, 1)
    assert contributions.withdraw(entry.id) and entry.id not in load_knowledge(knowledge_copy).by_id()
    assert contributions.get("../etc/passwd") is None and not contributions.withdraw("faq-01")
