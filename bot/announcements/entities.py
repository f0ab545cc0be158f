"""Telegram HTML rebuilt from a message's text and its formatting entities, every value escaped.

Offsets and lengths are in UTF-16 code units, as Telegram gives them. Attribute values (link URLs, code
languages) are escaped with quotes, so a URL holding `&` or `"` gives a valid `href`. Overlapping entities
are closed and reopened around each other so that the tags always nest.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

_SIMPLE = {
    "bold": "b", "italic": "i", "underline": "u", "strikethrough": "s", "spoiler": "tg-spoiler",
    "code": "code", "pre": "pre", "blockquote": "blockquote",
}  # fmt: skip


@dataclass(frozen=True)
class Span:
    """One formatting entity: `kind` is Telegram's type (bold, text_link, pre…); unknown kinds are plain."""

    kind: str
    offset: int
    length: int
    url: str | None = None
    language: str | None = None
    user_id: int | None = None
    custom_emoji_id: str | None = None


def q(value: str) -> str:
    """An attribute value escaped for a double-quoted HTML attribute."""
    return html.escape(value, quote=True)


def _tags(span: Span) -> tuple[str, str] | None:
    if span.kind in _SIMPLE:
        name = _SIMPLE[span.kind]
        if span.kind == "pre" and span.language:
            return f'<pre><code class="language-{q(span.language)}">', "</code></pre>"
        return f"<{name}>", f"</{name}>"
    if span.kind == "expandable_blockquote":
        return "<blockquote expandable>", "</blockquote>"
    if span.kind == "text_link" and span.url:
        return f'<a href="{q(span.url)}">', "</a>"
    if span.kind == "text_mention" and span.user_id is not None:
        return f'<a href="tg://user?id={int(span.user_id)}">', "</a>"
    if span.kind == "custom_emoji" and span.custom_emoji_id:
        return f'<tg-emoji emoji-id="{q(span.custom_emoji_id)}">', "</tg-emoji>"
    return None


def entities_html(text: str, spans: Sequence[Span]) -> str:
    """`text` as Telegram HTML with `spans` applied; the text itself escaped."""
    units = text.encode("utf-16-le")
    size = len(units) // 2
    tagged = [(s, t) for s in spans if (t := _tags(s)) is not None and s.length > 0 and 0 <= s.offset < size]
    tagged.sort(key=lambda item: (item[0].offset, -item[0].length))

    def snap(at: int) -> int:  # never between the two halves of a surrogate pair (an emoji)
        low = at < size and 0xDC00 <= int.from_bytes(units[2 * at : 2 * at + 2], "little") <= 0xDFFF
        return at + 1 if low else at

    ends = (min(size, s.offset + s.length) for s, _ in tagged)
    boundaries = sorted({0, size, *(snap(s.offset) for s, _ in tagged), *(snap(e) for e in ends)})
    out: list[str] = []
    stack: list[tuple[Span, tuple[str, str]]] = []
    pending = list(tagged)
    for start, end in itertools.pairwise(boundaries):
        # close what ends here (reopening what was opened inside it), then open what starts here
        ending = [item for item in stack if snap(item[0].offset + item[0].length) <= start]
        if ending:
            first = min(stack.index(item) for item in ending)
            reopen = [item for item in stack[first:] if item not in ending]
            for item in reversed(stack[first:]):
                out.append(item[1][1])
            del stack[first:]
            for item in reopen:
                out.append(item[1][0])
                stack.append(item)
        while pending and snap(pending[0][0].offset) <= start:
            item = pending.pop(0)
            out.append(item[1][0])
            stack.append(item)
        out.append(html.escape(units[2 * start : 2 * end].decode("utf-16-le"), quote=False))
    out += [item[1][1] for item in reversed(stack)]
    return "".join(out)
