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
from bot.retrieval.abstention import Evidence, answer_probability
from bot.retrieval.chunker import Chunk
from bot.retrieval.index import Index
from bot.retrieval.lexical import tokenize
from bot.text import split_sentences

Mode = Literal["hybrid", "lexical", "dense"]


class QuestionError(CatabotError, ValueError):
    """The question cannot be searched (empty, or too long); `reason` is a message-catalogue key."""

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


@dataclass(frozen=True)
class Answer:
    question: str
    answered: bool
    confidence: float
    hits: list[Hit]

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

    def check_question(self, question: str) -> str:
        text = " ".join(question.split())
        if not text:
            raise QuestionError("question_empty")
        if len(text) > self.config.max_question_chars:
            raise QuestionError("question_too_long", self.config.max_question_chars)
        return text

    def search(self, question: str, *, top: int | None = None, mode: Mode = "hybrid") -> Answer:
        return self.search_many([question], top=top, mode=mode)[0]

    def search_many(
        self, questions: Sequence[str], *, top: int | None = None, mode: Mode = "hybrid"
    ) -> list[Answer]:
        """Answers for many questions with one batched call to the embedding model.

        `mode` changes the ranking only; every mode decides whether to answer from the same evidence.
        """
        texts = [self.check_question(q) for q in questions]
        count = (self.config.leads + 1) if top is None else top
        queries = self._embed(texts)
        return [self._answer(text, queries[i], count, mode) for i, text in enumerate(texts)]

    def evidence(self, question: str) -> Evidence | None:
        text = self.check_question(question)
        tokens = tokenize(text)
        query = self._embed([text])[0]
        ranking = self._rank(tokens, query, "hybrid")
        best = self._best_per_resource(ranking)
        return self._evidence(tokens, query, ranking, best) if best else None

    def _embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        return self.embedder.embed_queries(texts)

    def _rank(self, tokens: list[str], query: npt.NDArray[np.float32], mode: Mode) -> _Ranking:
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
        order = sorted(fused, key=lambda i: -fused[i])
        return _Ranking(order, dense_order, dense, lexical, fused)

    def _best_per_resource(self, ranking: _Ranking) -> list[int]:
        seen: set[str] = set()
        best: list[int] = []
        for i in ranking.order:
            resource = self.index.chunks[i].resource_id
            if resource not in seen:
                seen.add(resource)
                best.append(i)
        return best

    def _answer(self, question: str, query: npt.NDArray[np.float32], count: int, mode: Mode) -> Answer:
        tokens = tokenize(question)
        ranking = self._rank(tokens, query, mode)
        best = self._best_per_resource(ranking)
        top_score = ranking.fused[best[0]] if best else 1.0
        hits = [
            Hit(
                chunk=self.index.chunks[i],
                score=round(ranking.fused[i] / top_score, 4),
                dense=float(self.index.vectors[i] @ query),
                lexical=float(ranking.lexical[i]),
                passage=self.excerpt(self.index.chunks[i], tokens),
            )
            for i in best[:count]
        ]
        if not best:
            return Answer(question, False, 0.0, hits)
        confidence = answer_probability(self._evidence(tokens, query, ranking, best), self.embedder.name)
        return Answer(question, bool(hits) and confidence >= self.config.answer_threshold, confidence, hits)

    def _evidence(
        self, tokens: list[str], query: npt.NDArray[np.float32], ranking: _Ranking, best: list[int]
    ) -> Evidence:
        top = best[0]
        unique = set(tokens)
        top_resource = self.index.chunks[top].resource_id
        lexical_top = int(np.argmax(ranking.lexical)) if ranking.lexical.any() else -1
        dense_top = ranking.dense_order[:5]
        if not dense_top:  # lexical-only ranking: the dense side was not searched yet
            _, found = self.index.dense.search(query.reshape(1, -1), min(5, len(self.index.chunks)))
            dense_top = [int(i) for i in found[0] if i >= 0]
        return Evidence(
            dense=float(self.index.vectors[top] @ query),
            coverage=len(unique & self.index.lexical.token_sets[top]) / len(unique) if unique else 0.0,
            known=len(set(self.index.lexical.known(tokens))) / len(unique) if unique else 0.0,
            agree=float(
                lexical_top >= 0
                and self.index.chunks[lexical_top].resource_id == top_resource
                and any(self.index.chunks[i].resource_id == top_resource for i in dense_top)
            ),
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
