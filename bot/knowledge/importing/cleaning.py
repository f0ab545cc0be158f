"""Clean extracted text: characters, bullet glyphs, words hyphenated at line ends, lines re-flowed, and the
header or footer a document repeats on every page or slide."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

from bot.knowledge.importing.document import Block

# Bullet glyphs of word processors and slide tools, Wingdings' private-use ones included.
_BULLETS = "•◦▪▫■□●○►▸▹▶❑❒❏➢➤➔→✓✔✗✘◆◇♦–—\uf0a7\uf0b7\uf076\uf0d8\uf0fc\uf06e\uf0a8\uf0e0"
_BULLET_LINE = re.compile(rf"^\s*[{_BULLETS}*+-]+\s*")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
_HYPHENATED = re.compile(r"(\w+)-$")
_WORD = re.compile(r"\w+")
_COMPOUND = re.compile(r"\b(\w+)-(\w+)\b")
_SENTENCE_END = re.compile(r"[.!?…:;»)\]]$")
# A block repeated on this share of the pages (and at least on 3) is a running header or footer.
REPEATED_SHARE = 0.6
_REPEATED_MAX_CHARS = 160


def normalize_characters(text: str) -> str:
    """Ligatures (ﬁ, ﬂ…) written out, every kind of space (non-breaking, thin…) as a plain space,
    soft hyphens and zero-width characters removed, line ends unified."""
    out = []
    for char in text.translate(_INVISIBLE).replace("\r\n", "\n").replace("\r", "\n"):
        if "\ufb00" <= char <= "\ufb06":
            out.append(unicodedata.normalize("NFKC", char))
        elif char == "\t" or unicodedata.category(char) == "Zs":
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)


def _key(text: str) -> str:
    """Equal for the same running header or footer on every page, page numbers included."""
    return re.sub(r"\d+", "#", " ".join(text.split())).casefold()


def drop_repeated(blocks: list[Block], pages: int) -> list[Block]:
    """Blocks whose text (numbers aside) comes back on most pages or slides, removed; headings kept."""
    if pages < 3:
        return blocks
    seen = Counter(
        key for key in {(_key(b.text), b.page) for b in blocks if not b.heading and b.page is not None}
    )
    pages_with = Counter(key for key, _ in seen)
    threshold = max(3, REPEATED_SHARE * pages)
    repeated = {
        key for key, count in pages_with.items() if count >= threshold and len(key) <= _REPEATED_MAX_CHARS
    }
    return [b for b in blocks if b.heading or _key(b.text) not in repeated]


def compounds(texts: Iterable[str]) -> set[str]:
    """Hyphenated words the document writes inside a line (co-construction), to keep their hyphen when
    one of them is cut at a line end."""
    return {m.group(0).casefold() for text in texts for m in _COMPOUND.finditer(text)}


def continues(previous: str, following: str) -> bool:
    """True when `following` goes on with the sentence `previous` left open: `previous` ends with no
    sentence end (. ! ? … : ; » or a closing bracket) and `following` starts with a lowercase letter."""
    previous = previous.rstrip()
    return bool(previous) and not _SENTENCE_END.search(previous) and following[:1].islower()


def join_lines(previous: str, following: str, known_compounds: set[str]) -> str:
    """`previous` and the line that goes on with it, a word cut at the end of `previous` rejoined; the cut
    keeps its hyphen only when the document writes the word hyphenated elsewhere (co-construction)."""
    previous, following = previous.rstrip(), following.lstrip()
    cut = _HYPHENATED.search(previous)
    rest = _WORD.match(following)
    if cut and rest and following[:1].islower():
        whole = f"{cut.group(1)}-{rest.group(0)}".casefold()
        joiner = "-" if whole in known_compounds else ""
        return previous[: cut.end(1)] + joiner + following
    return f"{previous} {following}"


def reflow(text: str, known_compounds: set[str]) -> str:
    """Lines of a paragraph joined, words cut at a line end rejoined, bullets as `- ` list items.

    A blank line ends a paragraph unless the sentence goes on across it (`continues`: no sentence end
    before, a lowercase letter after: « co-construc-⏎⏎tion », « les catalyseurs⏎⏎organisent »); list items
    stay on their own lines."""
    out: list[str] = []
    for raw in normalize_characters(text).split("\n"):
        line = " ".join(raw.split())
        bullet = _BULLET_LINE.match(line)
        if bullet and line[bullet.end() :]:
            out.append("- " + line[bullet.end() :])
            continue
        if not line or bullet:
            if out and out[-1]:
                out.append("")
            continue
        if len(out) >= 2 and not out[-1] and continues(out[-2], line):
            out.pop()
        if out and out[-1]:
            out[-1] = join_lines(out[-1], line, known_compounds)
        else:
            out.append(line)
    return "\n".join(out).strip()
