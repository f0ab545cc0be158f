"""Hybrid search: fuse lexical and dense rankings, keep one passage per resource, decide whether to answer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from bot.config import RetrievalConfig
from bot.embedding.base import Embedder
from bot.errors import CatabotError
from bot.retrieval.abstention import Evidence, answer_probability, field_threshold
from bot.retrieval.chunker import Chunk
from bot.retrieval.citation import shown_sources
from bot.retrieval.focus import Focus, is_follow_up, question_focus
from bot.retrieval.index import Index
from bot.retrieval.language import in_french_terms, question_language
from bot.retrieval.lexical import tokenize
from bot.retrieval.passages import PassageChooser
from bot.text import clean_text, split_sentences

Mode = Literal["hybrid", "lexical", "dense"]


class QuestionError(CatabotError, ValueError):
    """The question cannot be searched; `reason` is a message-catalogue key: "question_empty" (nothing
    visible), "question_unclear" (visible but without a single letter: « ² », « &<> », « 123 », emoji) or
    "question_too_long" (`limit` characters at most)."""

    def __init__(self, reason: str, limit: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.limit = limit


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    dense: float
    lexical: float
    passage: str

    @property
    def urls(self) -> list[str]:
        """The links shown with this passage (1 or more): the sources of its section that the shown text
        names (« Selon associations.gouv.fr… »), in the order it names them, else its section's first source.
        An imported document's passage keeps its own link (with its #page)."""
        if self.chunk.imported or not self.chunk.sources:
            return [self.chunk.url]
        return shown_sources(self.chunk.sources, self.passage)

    @property
    def url(self) -> str:
        """The first link shown with this passage: where its facts come from."""
        return self.urls[0]


@dataclass(frozen=True)
class Answer:
    """`language`: the question's (ISO 639-1); `in_field`: False when the question is far from territorial
    catalysis (weather, taxes, football), so there is nothing for the coordinators to answer; `context`: the
    previous question this one was read with, when it was a follow-up."""

    question: str
    answered: bool
    confidence: float
    hits: list[Hit]
    language: str = "fr"
    in_field: bool = True
    context: str = ""

    @property
    def best(self) -> Hit | None:
        return self.hits[0] if self.hits else None


@dataclass(frozen=True)
class _Ranking:
    order: list[int]
    dense_order: list[int]
    dense: npt.NDArray[np.float32]
    lexical: npt.NDArray[np.float32]
    fused: dict[int, float]


class Searcher:
    def __init__(self, index: Index, embedder: Embedder, config: RetrievalConfig) -> None:
        self.index = index
        self.embedder = embedder
        self.config = config
        self._by_resource: dict[str, list[int]] = {}
        for i, chunk in enumerate(index.chunks):
            self._by_resource.setdefault(chunk.resource_id, []).append(i)
        self._passages = PassageChooser(index.chunks, index.lexical)

    def check_question(self, question: str) -> str:
        """The question as read (invisible characters dropped, apostrophes unified); raises QuestionError.

        A message without a single letter is not a question in words, whatever came before it: it is never
        searched, nor read as a follow-up.
        """
        text = clean_text(question)
        if not text:
            raise QuestionError("question_empty")
        if not any(c.isalpha() for c in text):
            raise QuestionError("question_unclear")
        if len(text) > self.config.max_question_chars:
            raise QuestionError("question_too_long", self.config.max_question_chars)
        return text

    def search(
        self, question: str, *, top: int | None = None, mode: Mode = "hybrid", previous: str = ""
    ) -> Answer:
        return self.search_many([question], top=top, mode=mode, previous=[previous])[0]

    def search_many(
        self,
        questions: Sequence[str],
        *,
        top: int | None = None,
        mode: Mode = "hybrid",
        previous: Sequence[str] | None = None,
    ) -> list[Answer]:
        """Answers for many questions with one batched call to the embedding model.

        `previous[i]`: the question asked just before `questions[i]` in the same chat ("" if none); a short
        elliptic question is read with it. `mode` changes the ranking only; every mode decides whether to
        answer from the same evidence.
        """
        texts = [self.check_question(q) for q in questions]
        focuses = [self.focus(t, p) for t, p in zip(texts, previous or [""] * len(texts), strict=True)]
        count = (self.config.leads + 1) if top is None else top
        queries = self._queries(focuses)
        return [
            self._answer(text, focus, queries[i], count, mode)
            for i, (text, focus) in enumerate(zip(texts, focuses, strict=True))
        ]

    def focus(self, text: str, previous: str = "") -> Focus:
        """What steers retrieval: the question sentences, with the context they lean on, if any."""
        focus = question_focus(in_french_terms(text))
        context = focus.context or clean_text(previous)
        if context and is_follow_up(focus.question, len(set(tokenize(focus.question)))):
            return Focus(focus.question, context)
        return Focus(focus.question, "")

    def _queries(self, focuses: list[Focus]) -> npt.NDArray[np.float32]:
        """One query vector per focus: the question's, averaged with the question-in-context's if any."""
        texts = [f.question for f in focuses] + [f.text for f in focuses if f.context]
        vectors = self._embed(texts)
        extra = iter(vectors[len(focuses) :])
        queries = vectors[: len(focuses)].copy()
        for i, focus in enumerate(focuses):
            if focus.context:
                mixed = queries[i] + next(extra)
                queries[i] = mixed / max(float(np.linalg.norm(mixed)), 1e-9)
        return queries

    def _tokens(self, focus: Focus) -> list[str]:
        # The question's own words count twice: the context only completes it.
        question = self.index.lexical.correct(tokenize(focus.question))
        return (
            question * 2 + self.index.lexical.correct(tokenize(focus.context)) if focus.context else question
        )

    def evidence(self, question: str, *, foreign: bool | None = None) -> Evidence | None:
        """The answer/abstain evidence of the best passage; `foreign` forces how the question's words are
        compared (None: French questions word for word, others by cognates)."""
        text = self.check_question(question)
        focus = self.focus(text)
        tokens = self._tokens(focus)
        query = self._queries([focus])[0]
        ranking = self._rank(tokens, query, "hybrid", focus.question)
        best = self._best_per_resource(ranking, query, focus)
        return self._evidence(text, tokens, query, ranking, best, foreign) if best else None

    def _embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        return self.embedder.embed_queries(texts)

    def _rank(
        self, tokens: list[str], query: npt.NDArray[np.float32], mode: Mode, question: str = ""
    ) -> _Ranking:
        size = len(self.index.chunks)
        depth = min(size, max(self.config.candidates, 1))
        lexical = self.index.lexical.scores(tokens)
        dense = np.full(size, -1.0, dtype=np.float32)
        fused: dict[int, float] = {}
        dense_order: list[int] = []
        if mode != "lexical" and size:
            scores, ids = self.index.dense.search(query.reshape(1, -1), size if mode == "dense" else depth)
            for rank, (i, s) in enumerate(zip(ids[0], scores[0], strict=True)):
                if i < 0:
                    continue
                dense[i] = s
                dense_order.append(int(i))
                fused[int(i)] = fused.get(int(i), 0.0) + self.config.dense_weight / (
                    self.config.rrf_k + rank + 1
                )
        if mode != "dense":
            positive = np.flatnonzero(lexical > 0)
            best = positive[np.argsort(-lexical[positive], kind="stable")][
                : size if mode == "lexical" else depth
            ]
            for rank, i in enumerate(best):
                fused[int(i)] = fused.get(int(i), 0.0) + self.config.lexical_weight / (
                    self.config.rrf_k + rank + 1
                )
        if mode != "dense":
            # A question asking for examples ranks passages of examples as if a retriever put them third.
            for i in self._passages.asked_for(question):
                fused[i] = fused.get(i, 0.0) + self.config.lexical_weight / (self.config.rrf_k + 3)
        order = sorted(fused, key=lambda i: -fused[i])
        return _Ranking(order, dense_order, dense, lexical, fused)

    def _best_per_resource(
        self, ranking: _Ranking, query: npt.NDArray[np.float32], focus: Focus
    ) -> list[int]:
        """Resources in fused order, each shown by the passage of it that answers best.

        The fused rank picks the resource; within it, `PassageChooser` picks the section that holds the
        question's focus (a resource's opening often outranks the section that holds the fact).
        """
        seen: set[str] = set()
        best: list[int] = []
        top_lexical = float(ranking.lexical.max()) if ranking.lexical.size and ranking.lexical.any() else 1.0
        # A follow-up keeps what the previous question asked for (« les missions ») as its own focus.
        own = self.index.lexical.correct(tokenize(focus.text))
        for i in ranking.order:
            resource = self.index.chunks[i].resource_id
            if resource in seen:
                continue
            seen.add(resource)
            siblings = self._by_resource[resource]
            if len(best) < self.config.leads + 1 and len(siblings) > 1:
                i = self._passages.choose(
                    siblings,
                    self.index.vectors[siblings] @ query,
                    ranking.lexical[siblings] / top_lexical,
                    self._passages.focus(own, focus.text, i),
                )
            best.append(i)
        return best

    def _answer(
        self, question: str, focus: Focus, query: npt.NDArray[np.float32], count: int, mode: Mode
    ) -> Answer:
        tokens = self._tokens(focus)
        ranking = self._rank(tokens, query, mode, focus.question)
        best = self._best_per_resource(ranking, query, focus)
        top_score = max((ranking.fused.get(i, 0.0) for i in best[:1]), default=1.0) or 1.0
        hits = [
            Hit(
                chunk=self.index.chunks[i],
                score=round(min(ranking.fused.get(i, 0.0) / top_score, 1.0), 4),
                dense=float(self.index.vectors[i] @ query),
                lexical=float(ranking.lexical[i]),
                passage=self.excerpt(self.index.chunks[i], tokens),
            )
            for i in best[:count]
        ]
        language = question_language(question)
        if not best:
            return Answer(question, False, 0.0, hits, language, False, focus.context)
        evidence = self._evidence(question, tokens, query, ranking, best)
        confidence = answer_probability(evidence, self.embedder.name)
        answered = bool(hits) and confidence >= self.config.answer_threshold
        cut = field_threshold(self.embedder.name)
        in_field = answered or cut is None or evidence.dense >= cut
        return Answer(question, answered, confidence, hits, language, in_field, focus.context)

    def _evidence(
        self,
        question: str,
        tokens: list[str],
        query: npt.NDArray[np.float32],
        ranking: _Ranking,
        best: list[int],
        foreign: bool | None = None,
    ) -> Evidence:
        top = best[0]
        top_resource = self.index.chunks[top].resource_id
        lexical_top = int(np.argmax(ranking.lexical)) if ranking.lexical.any() else -1
        dense_top = ranking.dense_order[:10]
        if len(dense_top) < 10:  # lexical-only ranking: the dense side was not searched yet
            _, found = self.index.dense.search(query.reshape(1, -1), min(10, len(self.index.chunks)))
            dense_top = [int(i) for i in found[0] if i >= 0]
        similarity = float(self.index.vectors[top] @ query)
        tenth = float(self.index.vectors[dense_top[-1]] @ query) if dense_top else similarity
        if foreign is None:
            foreign = question_language(question) != "fr"
        overlap = self.index.lexical.overlap(tokens, top, cognates=foreign)
        return Evidence(
            dense=similarity,
            coverage=overlap.coverage,
            known=overlap.known,
            agree=float(
                lexical_top >= 0
                and self.index.chunks[lexical_top].resource_id == top_resource
                and any(self.index.chunks[i].resource_id == top_resource for i in dense_top[:5])
            ),
            topical=overlap.topical,
            margin=similarity - tenth,
            missing=overlap.missing,
            phrase=overlap.phrase,
            foreign=foreign,
        )

    def excerpt(self, chunk: Chunk, tokens: Sequence[str]) -> str:
        """The sentences of the passage that answer the question, within `max_passage_chars`."""
        limit = self.config.max_passage_chars
        if len(chunk.text) <= limit:
            return chunk.text
        sentences = split_sentences(chunk.text)
        wanted = set(tokens)
        scored = sorted(
            range(len(sentences)),
            key=lambda i: (-len(wanted & set(tokenize(sentences[i]))), i),
        )
        chosen: list[int] = []
        used = 0
        for i in scored:
            if used + len(sentences[i]) + 2 > limit and chosen:
                continue
            chosen.append(i)
            used += len(sentences[i]) + 2
        chosen.sort()
        parts: list[str] = []
        for position, i in enumerate(chosen):
            if position and i != chosen[position - 1] + 1:
                parts.append("…")
            parts.append(sentences[i])
        text = " ".join(parts)
        return text if len(text) <= limit else _cut(text, limit)


def _cut(text: str, limit: int) -> str:
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return re.sub(r"[\s,;:]+$", "", cut[: space if space > limit // 2 else len(cut)]) + "…"
