"""Splitting a long Telegram HTML message into parts that each parse and fit the length limit.

A part is never cut inside a character reference (`&amp;`, `&#x27;`) or a tag; tags open at a cut are
closed at the end of the part and opened again at the start of the next one. Cuts go at a line break
when one is close enough, else at a space, else anywhere between two characters. The limit counts what
Telegram counts, the text after parsing, in UTF-16 code units (an emoji may take two); the HTML source
of a part is kept under the limit too (a tag costs its length plus its end tag's), which bounds both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"</?[A-Za-z][A-Za-z0-9-]*(?:\s+[^<>]*)?>"  # a tag (attribute values never hold < or > once escaped)
    r"|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z]+);"  # a character reference
    r"|.",
    re.DOTALL,
)
_TAG_NAME = re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)")
_MARKUP = re.compile(_TOKEN.pattern.rpartition("|")[0], re.DOTALL)  # a tag or a reference, not "."
_START_TAG_NAME = re.compile(r"<([A-Za-z][A-Za-z0-9-]*)")


@dataclass(frozen=True)
class _Token:
    raw: str
    size: int  # cost: UTF-16 code units of a character, source length of a reference, tag + end tag
    opens: str = ""  # tag name, for a start tag
    closes: str = ""  # tag name, for an end tag


def _tokens(message: str) -> list[_Token]:
    tokens: list[_Token] = []
    for match in _TOKEN.finditer(message):
        raw = match.group()
        if len(raw) > 1 and raw[0] == "<":
            name = _TAG_NAME.match(raw).group(1).lower()  # type: ignore[union-attr]
            if raw[1] == "/":
                tokens.append(_Token(raw, 0, closes=name))  # paid for by its start tag
            else:
                tokens.append(_Token(raw, len(raw) + len(name) + 3, opens=name))
        elif raw[0] == "&" and len(raw) > 1:
            tokens.append(_Token(raw, len(raw)))
        else:
            tokens.append(_Token(raw, len(raw.encode("utf-16-le")) // 2))
    return tokens


def _cut(tokens: list[_Token], start: int, limit: int) -> int:
    """The end (exclusive) of the part starting at `start`: at most `limit` units, cut at a good place."""
    size, end, newline, space = 0, start, -1, -1
    while end < len(tokens) and size + tokens[end].size <= limit:
        size += tokens[end].size
        if tokens[end].raw == "\n":
            newline = end
        elif tokens[end].raw == " ":
            space = end
        end += 1
    if end == len(tokens):
        return end
    if newline > start and newline - start >= (end - start) // 2:
        return newline
    if space > start and space - start >= (end - start) // 2:
        return space
    if newline > start:
        return newline
    return max(end, start + 1)


def split_html(message: str, limit: int = 4096) -> list[str]:
    """`message` (valid Telegram HTML) in parts of at most `limit` parsed units, each valid on its own.

    The line break or space where a part was cut is dropped; parts with no visible text are left out
    (a message with no visible text gives no part: Telegram would refuse it).
    `limit` must be at least 2 (an emoji may take two units); a tag longer than `limit` still goes whole.
    """
    if limit < 2:
        raise ValueError("limit must be at least 2")
    if _bound(message) <= limit:  # the usual reply: one part, found without a token per character
        return _whole(message)
    return _split(message, limit)


def _split(message: str, limit: int) -> list[str]:
    tokens = _tokens(message)
    parts: list[str] = []
    stack: list[_Token] = []  # start tags open at the current position
    start = 0
    while start < len(tokens):
        reopened = sum(t.size for t in stack)  # the tags reopened at the start and closed at the end
        end = _cut(tokens, start, limit - reopened)
        body = [t.raw for t in stack]
        visible = False
        for token in tokens[start:end]:
            body.append(token.raw)
            if token.opens:
                stack.append(token)
            elif token.closes and stack:
                stack.pop()
            elif token.size and not token.raw.isspace():
                visible = True
        body += [f"</{t.opens}>" for t in reversed(stack)]
        if visible:
            parts.append("".join(body))
        start = end + 1 if end < len(tokens) and tokens[end].raw in ("\n", " ") else end
    return parts


def _bound(message: str) -> int:
    """At least the cost of all of `message`'s tokens: its UTF-16 units (a reference costs its length,
    an end tag nothing) plus, for each start tag, its end tag's length."""
    units = len(message) if message.isascii() else len(message.encode("utf-16-le")) // 2
    return units + sum(len(name) + 3 for name in _START_TAG_NAME.findall(message))


def _whole(message: str) -> list[str]:
    """What `split_html` gives for a message that fits in one part, without a token per character: the
    message (tags left open closed at its end), or nothing when it has no visible text."""
    stack: list[str] = []
    visible, position = False, 0
    for match in _MARKUP.finditer(message):  # the same tags and references as `_tokens` finds
        gap = message[position : match.start()]  # plain characters
        visible = visible or (gap != "" and not gap.isspace())
        raw, position = match.group(), match.end()
        if raw[0] == "&":
            visible = True
        elif raw[1] == "/":
            if stack:
                stack.pop()
        else:
            stack.append(_TAG_NAME.match(raw).group(1).lower())  # type: ignore[union-attr]
    rest = message[position:]
    visible = visible or (rest != "" and not rest.isspace())
    if not visible:
        return []
    return [message + "".join(f"</{name}>" for name in reversed(stack))]
