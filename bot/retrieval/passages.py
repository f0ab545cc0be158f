"""Which passage of a resource to show: the section that holds what is specific to the question.

Passages of one resource are close to any question about it (e5 similarities differ by 0.01–0.05), so the
whole-question vector alone often shows the opening or a neighbouring section. What tells them apart is the
question's *focus*: its words minus the words of the resource's title (« Quels catalyseurs le Fonds ODD 17
cite-t-il en exemple ? » on « Le Fonds ODD 17 » → catalyseur, cit, exempl), plus what its framing asks for
(« ça consiste en quoi concrètement ? » asks for the missions; « des exemples concrets ? » for examples).
A section whose heading holds the focus is the one shown; its text holding the focus counts less. A
question with no focus left (all its words are the title's) asks what the resource is about: its opening.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from bot.retrieval.chunker import Chunk
from bot.retrieval.lexical import LexicalIndex, tokenize
from bot.text import fold_accents

# Framing words (mostly stop words, so absent from the tokens) and the section words they ask for.
_INTENT_WORDS = {
    "mission": (
        "concretement",
        "consiste",
        "consistent",
        "concretely",
        "consist",
        "consists",
        "involve",
        "involves",
        "taches",
        "tasks",
        "activites",
        "duties",
    ),
    "exemple": (
        "concret",
        "concrets",
        "concrete",
        "concretes",
        "cas",
        "example",
        "examples",
        "illustration",
        "illustrations",
        "marche",
        "marchent",
        "reussi",
        "reussie",
        "reussies",
        "reussis",
        "works",
    ),
}

# Intents that ask for a kind of resource, not only a section: « des exemples concrets ? » asks for the
# resources that are collections of examples (their title or tags say so).
_RESOURCE_INTENTS = ("exemple",)

# Within-resource score: dense similarity + these bonuses (dense differences are 0.01–0.05).
_LEXICAL_NUDGE = 0.02  # the passage's BM25 score relative to the best passage overall
_HEADING_FOCUS = 0.04  # share of the focus (rarity-weighted) in the section's heading
_TEXT_FOCUS = 0.02  # same in its text
_OPENING = 0.03  # no focus left: the resource's opening answers the question its title asks


def _intent_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for target, words in _INTENT_WORDS.items():
        stem = tokenize(target)[0]
        table.update({word: stem for word in words})
    return table


_INTENT = _intent_table()
_RESOURCE_INTENT_TOKENS = frozenset(tokenize(" ".join(_RESOURCE_INTENTS)))


def section_intent(question: str) -> set[str]:
    """Section words the question's framing asks for: « en quoi ça consiste concrètement ? » → {mission}."""
    words = fold_accents(question.lower()).replace("'", " ").replace("-", " ").split()
    return {_INTENT[w.strip('?!.,;:«»"()')] for w in words if w.strip('?!.,;:«»"()') in _INTENT}


class PassageChooser:
    """Chooses, among the passages of one resource, the one to show for a question."""

    def __init__(self, chunks: Sequence[Chunk], lexical: LexicalIndex) -> None:
        self._lexical = lexical
        self._title = [frozenset(tokenize(c.title)) for c in chunks]
        self._heading = [frozenset(tokenize(c.heading)) for c in chunks]
        self._text = [frozenset(tokenize(c.text)) for c in chunks]
        self._about = [frozenset(tokenize(f"{c.title} {c.heading} {' '.join(c.tags)}")) for c in chunks]

    def asked_for(self, question: str) -> list[int]:
        """Passages of the kind the question's framing asks for (when it asks for examples: the sections
        headed as examples and every passage of the resources whose title or tags say they are examples);
        [] for most questions."""
        wanted = section_intent(question) & _RESOURCE_INTENT_TOKENS
        return [i for i, about in enumerate(self._about) if wanted & about] if wanted else []

    def focus(self, tokens: Sequence[str], question: str, chunk: int) -> set[str]:
        """The question's words that are not its resource's title words, plus the intent of its framing."""
        return (set(tokens) - self._title[chunk]) | section_intent(question)

    def _share(self, focus: set[str], words: frozenset[str], weights: dict[str, float]) -> float:
        total = sum(weights.values())
        return sum(weights[w] for w in focus if w in words) / total if total else 0.0

    def choose(
        self,
        siblings: Sequence[int],
        dense: npt.NDArray[np.float32],
        lexical: npt.NDArray[np.float32],
        focus: set[str],
    ) -> int:
        """The passage among `siblings` (chunk ids of one resource, in document order) to show.

        `dense`: their similarities to the question; `lexical`: their BM25 scores relative to the best
        passage overall (0–1).
        """
        scores = dense + _LEXICAL_NUDGE * lexical
        if focus:
            weights = {w: max(self._lexical.idf(w), math.log(2)) for w in focus}
            scores = scores + np.array(
                [
                    _HEADING_FOCUS * self._share(focus, self._heading[i], weights)
                    + _TEXT_FOCUS * self._share(focus, self._text[i], weights)
                    for i in siblings
                ]
            )
        else:
            scores[0] += _OPENING
        return siblings[int(np.argmax(scores))]
