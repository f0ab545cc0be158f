"""Resources for the métiers a diagnosis finds missing or fragile, from the same passages as the answers.

Deterministic and model-free: a resource qualifies for a métier when its `roles` include it; the métier's own
fiche comes first, then resources about that métier alone, FAQ and fiches before other types; resources
mentioning the user's context (structure, territory) are boosted. A `Searcher` may add its lexical score.
No two recommendations of one diagnosis show the same page: each resource links the first of its passages'
sources not shown yet, and a resource whose sources are all shown already is left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot.diagnosis.engine import Diagnosis, Status
from bot.retrieval.chunker import Chunk, chunk_resource
from bot.retrieval.lexical import tokenize

if TYPE_CHECKING:
    from bot.retrieval.search import Searcher

# How much each kind of resource is preferred (the métier's own fiche is boosted on top of this).
TYPE_PREFERENCE = {"fiche": 6.0, "faq": 6.0, "concept": 2.0, "dispositif": 2.0, "ressource": 2.0}
OWN_FICHE = 100.0  # a fiche about this métier alone
SPECIFIC = {1: 8.0, 2: 4.0}  # resources about fewer métiers are more to the point
CONTEXT_MATCH, CONTEXT_MAX_MATCHES = 1.0, 3  # a tie-breaker among equally relevant resources
LEXICAL = 6.0  # weight of the searcher's lexical score, scaled to 0–1
ALREADY_GIVEN = 20.0  # penalty for a resource already recommended for a worse métier


@dataclass(frozen=True)
class Recommendation:
    resource_id: str
    title: str
    url: str
    passage: int = 0  # which of the resource's passages (0-based, in file order) `url` is a source of


@dataclass
class _Resource:
    id: str
    title: str
    urls: list[str]  # the links it may show, best first: its passages' own links, then their other sources
    type: str
    roles: tuple[str, ...]
    tokens: set[str]
    passages: dict[str, int] = field(default_factory=dict)  # link → the first passage it is a source of


def passage(chunks: Sequence[Chunk], resource_id: str, number: int) -> Chunk | None:
    """The `number`-th passage (0-based, file order) of resource `resource_id`; None when there is none."""
    own = [c for c in chunks if c.resource_id == resource_id]
    return own[number] if 0 <= number < len(own) else None


def knowledge_chunks(knowledge_dir: Path) -> list[Chunk]:
    """The passages of the knowledge base, as the index holds them, without loading any model."""
    from bot.knowledge import load_knowledge

    return [c for r in load_knowledge(knowledge_dir).resources for c in chunk_resource(r)]


def _resources(chunks: Sequence[Chunk]) -> list[_Resource]:
    found: dict[str, _Resource] = {}
    for chunk in chunks:
        resource = found.get(chunk.resource_id)
        if resource is None:
            resource = found[chunk.resource_id] = _Resource(
                chunk.resource_id, chunk.title, [], chunk.type, chunk.roles, set()
            )
        resource.urls.append(chunk.url)
        resource.tokens.update(tokenize(chunk.lexical_text))
    numbers: dict[str, int] = {}
    for chunk in chunks:
        resource = found[chunk.resource_id]
        resource.urls.extend(chunk.sources)
        number = numbers[chunk.resource_id] = numbers.get(chunk.resource_id, -1) + 1
        resource.passages.setdefault(chunk.url, number)
    numbers.clear()
    for chunk in chunks:
        number = numbers[chunk.resource_id] = numbers.get(chunk.resource_id, -1) + 1
        for url in chunk.sources:
            found[chunk.resource_id].passages.setdefault(url, number)
    for resource in found.values():
        resource.urls = list(dict.fromkeys(resource.urls))
    return list(found.values())


def _lexical(searcher: Searcher, query: str) -> dict[str, float]:
    """Best lexical score of each resource for `query`, scaled so that the best resource has 1."""
    scores = searcher.index.lexical.scores(tokenize(query))
    best: dict[str, float] = {}
    for chunk, value in zip(searcher.index.chunks, scores, strict=True):
        best[chunk.resource_id] = max(best.get(chunk.resource_id, 0.0), float(value))
    top = max(best.values(), default=0.0)
    return {k: v / top for k, v in best.items()} if top > 0 else {}


def recommend(
    diagnosis: Diagnosis,
    chunks: Sequence[Chunk],
    context: Iterable[str] | None = None,
    per_metier: int = 3,
    *,
    searcher: Searcher | None = None,
    statuses: Iterable[Status] = ("missing", "fragile"),
) -> dict[str, list[Recommendation]]:
    """Up to `per_metier` resources for each métier whose status is in `statuses`, worst métier first.

    `context`: words describing the user (default: the tags of their context answers, `diagnosis.keywords`).
    """
    wanted = set(statuses)
    resources = _resources(chunks)
    keywords = [tuple(tokenize(k)) for k in (diagnosis.keywords if context is None else context)]
    keywords = [k for k in keywords if k]
    given: set[str] = set()
    shown: set[str] = set()
    result: dict[str, list[Recommendation]] = {}
    for metier in diagnosis.metiers:
        if metier.status not in wanted:
            continue
        lexical = (
            _lexical(searcher, " ".join([metier.label, *(" ".join(k) for k in keywords)])) if searcher else {}
        )

        def rank(
            resource: _Resource, metier_id: str = metier.id, lexical: dict[str, float] = lexical
        ) -> float:
            value = TYPE_PREFERENCE.get(resource.type, 1.0) + SPECIFIC.get(len(resource.roles), 0.0)
            if resource.type == "fiche" and resource.roles == (metier_id,):
                value += OWN_FICHE
            matches = sum(all(t in resource.tokens for t in k) for k in keywords)
            value += CONTEXT_MATCH * min(matches, CONTEXT_MAX_MATCHES)
            value += LEXICAL * lexical.get(resource.id, 0.0)
            return value - (ALREADY_GIVEN if resource.id in given else 0.0)

        candidates = [r for r in resources if metier.id in r.roles]
        candidates.sort(key=lambda r: (-rank(r), r.id))
        chosen: list[Recommendation] = []
        for resource in candidates:
            if len(chosen) >= per_metier:
                break
            url = next((u for u in resource.urls if u not in shown), None)
            if url is not None:
                chosen.append(Recommendation(resource.id, resource.title, url, resource.passages.get(url, 0)))
                shown.add(url)
        given.update(r.resource_id for r in chosen)
        result[metier.id] = chosen
    return result
