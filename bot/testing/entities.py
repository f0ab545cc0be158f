"""Telegram's three text styles parsed as the Bot API does: (plain text, entities) or EntityParseError.

Entity offsets and lengths are in UTF-16 code units, as Telegram counts them. HTML is a little stricter
than Telegram: a raw "&" that does not start a supported entity is refused, as the Bot API docs require
(https://core.telegram.org/bots/api#formatting-options).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

JsonDict = dict[str, Any]


class EntityParseError(ValueError):
    """Text that Telegram would refuse with "can't parse entities: <message>"."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _at(src: str, i: int) -> str:
    return f"byte offset {len(src[:i].encode())}"


class _Out:
    """Plain text under construction plus the entities found so far (UTF-16 offsets)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.entities: list[JsonDict] = []

    def emit(self, text: str) -> None:
        self.parts.append(text)
        self.pos += utf16_len(text)

    def add(self, kind: str, start: int, **extra: Any) -> None:
        if self.pos > start:  # Telegram drops empty entities
            self.entities.append({"type": kind, "offset": start, "length": self.pos - start, **extra})

    def result(self) -> tuple[str, list[JsonDict]]:
        return "".join(self.parts), sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))


_HTML_KINDS = {  # supported tag -> entity type
    tag: kind
    for kind, tags in [
        ("bold", "b strong"),
        ("italic", "i em"),
        ("underline", "u ins"),
        ("strikethrough", "s strike del"),
        ("spoiler", "span tg-spoiler"),
        ("text_link", "a"),
        ("code", "code"),
        ("pre", "pre"),
        ("blockquote", "blockquote"),
        ("custom_emoji", "tg-emoji"),
    ]
    for tag in tags.split()
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_CHAR_REF_RE = re.compile(r"&(?:#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8})|([A-Za-z][A-Za-z0-9]{0,31}));")
_TAG_NAME_RE = re.compile(r"</?([^\s<>/]*)")
_ATTR = r"""([A-Za-z_:][-\w:.]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?"""
_START_TAG_RE = re.compile(rf"<([A-Za-z][A-Za-z0-9-]*)((?:\s+{_ATTR})*)\s*>")
_ATTR_RE = re.compile(_ATTR)
_END_TAG_RE = re.compile(r"</([A-Za-z][A-Za-z0-9-]*)\s*>")


def _char_ref(src: str, i: int) -> tuple[str, int]:
    match = _CHAR_REF_RE.match(src, i)
    if match is None:
        raise EntityParseError(f'Character "&" must be escaped as "&amp;" at {_at(src, i)}')
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        if name not in _NAMED_ENTITIES:
            raise EntityParseError(f'Unsupported HTML entity "&{name};" at {_at(src, i)}')
        return _NAMED_ENTITIES[name], match.end()
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise EntityParseError(f"Invalid numeric character reference at {_at(src, i)}")
    return chr(code), match.end()


def _unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "&":
            char, i = _char_ref(value, i)
        else:
            char, i = value[i], i + 1
        out.append(char)
    return "".join(out)


def parse_html(src: str) -> tuple[str, list[JsonDict]]:
    """Parse Telegram's HTML style into (plain text, entities); raise EntityParseError like Telegram."""
    out = _Out()
    stack: list[tuple[str, int, dict[str, str]]] = []  # open tags: name, start offset, attributes
    i = 0
    while i < len(src):
        if src[i] == "&":
            char, i = _char_ref(src, i)
            out.emit(char)
            continue
        if src[i] != "<":
            out.emit(src[i])
            i += 1
            continue
        name_match = _TAG_NAME_RE.match(src, i)
        name = name_match.group(1).lower() if name_match else ""
        if src.startswith("</", i):
            end = _END_TAG_RE.match(src, i)
            if end is None:
                raise EntityParseError(f"Unclosed end tag at {_at(src, i)}")
            if not stack:
                raise EntityParseError(f"Unexpected end tag at {_at(src, i)}")
            open_name, start, open_attrs = stack.pop()
            if end.group(1).lower() != open_name:
                found = end.group(1)
                raise EntityParseError(
                    f'Unmatched end tag at {_at(src, i)}, expected "</{open_name}>", found "</{found}>"'
                )
            _close_tag(out, open_name, start, open_attrs, stack)
            i = end.end()
            continue
        if name not in _HTML_KINDS:
            raise EntityParseError(f'Unsupported start tag "{name}" at {_at(src, i)}')
        tag = _START_TAG_RE.match(src, i)
        if tag is None:
            raise EntityParseError(f"Unclosed start tag at {_at(src, i)}")
        attrs: dict[str, str] = {}
        for key, raw in _ATTR_RE.findall(tag.group(2)):
            attrs[key.lower()] = _unescape(raw[1:-1] if raw[:1] in ('"', "'") else raw)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError('Tag "span" must have class "tg-spoiler"')
        if name == "tg-emoji" and not attrs.get("emoji-id"):
            raise EntityParseError('Tag "tg-emoji" must have attribute "emoji-id"')
        stack.append((name, out.pos, attrs))
        i = tag.end()
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


def _close_tag(
    out: _Out, name: str, start: int, attrs: dict[str, str], stack: list[tuple[str, int, dict[str, str]]]
) -> None:
    kind, extra = _HTML_KINDS[name], dict[str, str]()
    if name == "a":
        if not attrs.get("href"):
            return
        extra["url"] = attrs["href"]
    elif name == "code" and stack and stack[-1][0] == "pre" and attrs.get("class", "")[:9] == "language-":
        stack[-1][2]["\0language"] = attrs["class"][9:]
        return
    elif name == "pre" and attrs.get("\0language"):
        extra["language"] = attrs["\0language"]
    elif name == "blockquote" and "expandable" in attrs:
        kind = "expandable_blockquote"
    elif name == "tg-emoji":
        extra["custom_emoji_id"] = attrs["emoji-id"]
    out.add(kind, start, **extra)


_MD2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MD2_KINDS = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
    "[": "text_link",
    "![": "custom_emoji",
}
_MD2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def _reserved(char: str) -> str:
    return f"Character '{char}' is reserved and must be escaped with the preceding '\\'"


def _md2_until(src: str, i: int, stop: str) -> tuple[str, int] | None:
    """Read escaped text from i up to `stop`; return (text, index after stop) or None if never closed."""
    chars = []
    while i < len(src) and not src.startswith(stop, i):
        if src[i] == "\\" and i + 1 < len(src):
            i += 1
        chars.append(src[i])
        i += 1
    return ("".join(chars), i + len(stop)) if i < len(src) else None


def parse_markdown_v2(src: str) -> tuple[str, list[JsonDict]]:
    """Parse MarkdownV2; unescaped reserved characters and unclosed entities raise EntityParseError."""
    out = _Out()
    stack: list[tuple[str, int, int]] = []  # open markers: marker, start offset, source index
    i = 0
    while i < len(src):
        char = src[i]
        if char == "\\" and i + 1 < len(src) and 0 < ord(src[i + 1]) < 127:
            out.emit(src[i + 1])
            i += 2
            continue
        if char not in _MD2_RESERVED:
            out.emit(char)
            i += 1
            continue
        line_start = i == 0 or src[i - 1] == "\n"
        if line_start and (char == ">" or src.startswith("**>", i)):  # block quotation marker
            i += 1 if char == ">" else 3
        elif char == "`":
            fence = "```" if src.startswith("```", i) else "`"
            read = _md2_until(src, i + len(fence), fence)
            if read is None:
                kind = "Pre" if fence == "```" else "Code"
                raise EntityParseError(f"Can't find end of {kind} entity at {_at(src, i)}")
            text, i_next = read
            start, extra = out.pos, dict[str, str]()
            if fence == "```":
                first, newline, rest = text.partition("\n")
                if newline and first and not any(c.isspace() for c in first):
                    text, extra = rest, {"language": first}
            out.emit(text)
            out.add("pre" if fence == "```" else "code", start, **extra)
            i = i_next
        elif char == "[" or src.startswith("![", i):
            marker = "[" if char == "[" else "!["
            stack.append((marker, out.pos, i))
            i += len(marker)
        elif char == "]" and stack and stack[-1][0] in ("[", "!["):
            marker, start, _ = stack.pop()
            url, i = "", i + 1
            if src.startswith("(", i):
                read = _md2_until(src, i + 1, ")")
                if read is None:
                    raise EntityParseError(f"Can't find end of a URL at {_at(src, i)}")
                url, i = read
            if marker == "![":
                if not url.startswith("tg://emoji?id="):
                    raise EntityParseError("Custom emoji URL must have an emoji identifier")
                out.add("custom_emoji", start, custom_emoji_id=url.removeprefix("tg://emoji?id="))
            elif url:
                out.add("text_link", start, url=url)
        elif char in "*_~|":
            marker = "__" if src.startswith("__", i) else "||" if src.startswith("||", i) else char
            if marker == "__" and stack and stack[-1][0] == "_":
                marker = "_"
            if marker == "|":
                raise EntityParseError(_reserved("|"))
            if stack and stack[-1][0] == marker:
                out.add(_MD2_KINDS[marker], stack.pop()[1])
            else:
                stack.append((marker, out.pos, i))
            i += len(marker)
        else:
            raise EntityParseError(_reserved(char))
    if stack:
        marker, _, index = stack[-1]
        name = _MD2_NAMES[_MD2_KINDS[marker]]
        raise EntityParseError(f"Can't find end of {name} entity at {_at(src, index)}")
    return out.result()


def parse_markdown(src: str) -> tuple[str, list[JsonDict]]:
    """Parse the legacy Markdown style (bold, italic, code, pre, links)."""
    out, i = _Out(), 0
    while i < len(src):
        char = src[i]
        if char == "\\" and src[i + 1 : i + 2] in ("_", "*", "`", "["):
            out.emit(src[i + 1])
            i += 2
            continue
        if char not in "_*`[":
            out.emit(char)
            i += 1
            continue
        unclosed = EntityParseError(f"Can't find end of the entity starting at {_at(src, i)}")
        start = out.pos
        if char == "[":
            close = src.find("]", i + 1)
            if close < 0:
                raise unclosed
            out.emit(src[i + 1 : close])
            i = close + 1
            if src.startswith("(", i):
                end = src.find(")", i)
                if end < 0:
                    raise unclosed
                out.add("text_link", start, url=src[i + 1 : end])
                i = end + 1
            continue
        fence = "```" if src.startswith("```", i) else char
        end = src.find(fence, i + len(fence))
        if end < 0:
            raise unclosed
        out.emit(src[i + len(fence) : end])
        out.add({"*": "bold", "_": "italic", "`": "code", "```": "pre"}[fence], start)
        i = end + len(fence)
    return out.result()


PARSERS: dict[str, Callable[[str], tuple[str, list[JsonDict]]]] = {
    "html": parse_html,
    "markdownv2": parse_markdown_v2,
    "markdown": parse_markdown,
}
