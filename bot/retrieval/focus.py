"""Question focus: what in a message steers retrieval.

A greeting or a sentence about oneself before the question (« Bonjour, je travaille dans une asso… C'est quoi
exactement ? ») must not steer the search: the question sentence does, with the context it points back to.
A short elliptic question right after another (« et pour les accompagnements ? », « qui sont ses
partenaires ? ») is read with the previous question; a question with its own topic is read alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.text import clean_text, fold_accents, split_sentences

_GREETING = re.compile(
    r"^\s*(?:bonjour|bonsoir|salut|coucou|hello|hi|hey|bjr|slt|dear \w+|madame|monsieur)"
    r"(?:\s+(?:a tous|a toutes|tout le monde|everyone|all|catabot|le bot))?\s*[,!.;:]*\s*",
    re.IGNORECASE,
)
_QUESTION_START = re.compile(
    r"^(?:qu|quo|quel|comment|pourquoi|combien|ou |où|quand|qui|est ce|est-ce|peut|pouvez|faut|dois|existe|"
    r"y a|avez|what|how|why|where|when|who|which|is |are |can |do |does |should )",
    re.IGNORECASE,
)
_FOLLOW_START = re.compile(
    r"^(?:et|and|what about|how about|mais|but|aussi|also|sinon|ensuite|then)\b", re.IGNORECASE
)
# Words pointing back to something said before (« ce », « ça », "it" are left out: « qu'est-ce que »).
_ANAPHORS = frozenset(
    {
        *("ses", "son", "sa", "leur", "leurs", "il", "elle", "ils", "elles", "lui", "eux", "celui", "celle"),
        *("ceux", "cela"),
        *("its", "their", "they", "them", "his", "her", "these", "those"),
    }
)
# A question with no content word but a question word (« pourquoi ? », « c'est quoi exactement ? ») asks
# about what was just said.
_QUESTION_WORDS = frozenset(
    {
        *("quoi", "pourquoi", "comment", "combien", "quand", "ou", "qui"),
        *("quel", "quelle", "quels", "quelles"),
        *("what", "why", "how", "when", "where", "who", "which"),
    }
)
# At most this many content words: longer questions carry their own topic.
_ELLIPTIC_WORDS = 4


@dataclass(frozen=True)
class Focus:
    """`question`: the sentences that ask; `context`: what they are read with ("" when alone)."""

    question: str
    context: str

    @property
    def text(self) -> str:
        return f"{self.context} {self.question}".strip()


def strip_greeting(text: str) -> str:
    stripped = _GREETING.sub("", fold_accents(text), count=1)
    return text[len(text) - len(stripped) :] if stripped != fold_accents(text) else text


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", fold_accents(text.lower()))


def question_focus(message: str) -> Focus:
    """The question sentences of a message, with the last clause before them as context.

    « Bonjour, je travaille dans une asso en milieu rural et on m'a parlé de catalyse territoriale. C'est quoi
    exactement ? » → question « C'est quoi exactement ? », context « on m'a parlé de catalyse territoriale ».
    """
    text = strip_greeting(clean_text(message))
    sentences = [strip_greeting(s) for s in split_sentences(text)]
    sentences = [s for s in sentences if s.strip(" ,;:!.")]
    asking = [i for i, s in enumerate(sentences) if s.endswith("?") or _QUESTION_START.match(fold_accents(s))]
    if len(sentences) < 2 or not asking or asking[0] == 0:
        return Focus(text or clean_text(message), "")
    first = asking[0]
    before = re.split(r"[,;:]|\s(?:et|mais|and|but)\s", sentences[first - 1])
    return Focus(" ".join(sentences[first:]), before[-1].strip(" .!"))


def is_follow_up(question: str, content_words: int) -> bool:
    """Whether `question` (with `content_words` topical words) leans on the question before it.

    A follow-up carries a content word of its own (« et pour les accompagnements ? », « qui sont ses
    partenaires ? ») or is a recognised elliptic form without one (« et lui ? », « pourquoi ? », « c'est
    quoi exactement ? »). Anything else without a content word (« ² », « ok », « ??? », an emoji) is not:
    it leans on nothing.
    """
    words = _words(question)
    if not words or content_words > _ELLIPTIC_WORDS:
        return False
    lowered = fold_accents(question.strip().lower())
    starts = bool(_FOLLOW_START.match(lowered))
    anaphor = any(w in _ANAPHORS for w in words)
    if content_words == 0:
        return (starts and len(words) > 1) or anaphor or any(w in _QUESTION_WORDS for w in words)
    return starts or (anaphor and content_words <= 2)
