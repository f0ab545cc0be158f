"""Long Telegram HTML split into parts that each parse under Telegram's rules and fit the limit."""

from __future__ import annotations

import html

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.telegram import html_split
from bot.telegram.render import split_message
from bot.testing.entities import parse_html, utf16_len

_PIECES = st.sampled_from(["&", "<", ">", '"', "'", " ", "\n", "é", "😀", "👍🏽", "a", "b", "«", "»"])
_PLAIN = st.lists(_PIECES, max_size=60).map("".join)


@st.composite
def messages(draw: st.DrawFn) -> tuple[str, str]:
    """(Telegram HTML, the text it shows): escaped random text, some of it in tags and links."""
    source, shown = [], []
    for _ in range(draw(st.integers(1, 12))):
        plain = draw(_PLAIN)
        kind = draw(st.sampled_from(["", "b", "i", "a", "b+i"]))
        escaped = html.escape(plain)
        if kind == "a":
            url = "https://example.org/?q=" + draw(_PLAIN)
            escaped = f'<a href="{html.escape(url)}">{escaped}</a>'
        elif kind == "b+i":
            escaped = f"<b>x<i>{escaped}</i>y</b>"
            plain = f"x{plain}y"
        elif kind:
            escaped = f"<{kind}>{escaped}</{kind}>"
        source.append(escaped)
        shown.append(plain)
    return "".join(source), "".join(shown)


@settings(max_examples=400, deadline=None)
@given(messages(), st.integers(2, 120))
def test_every_part_parses_and_fits(message: tuple[str, str], limit: int) -> None:
    source, shown = message
    parts = split_message(source, limit)
    texts = []
    for part in parts:
        text, _ = parse_html(part)  # raises like Telegram's « can't parse entities »
        assert utf16_len(text) <= limit
        texts.append(text)
    if shown.strip():
        # nothing is lost but the line breaks or spaces where parts were cut
        assert "".join(texts).replace("\n", "").replace(" ", "") == shown.replace("\n", "").replace(" ", "")


def test_a_thousand_ampersands_are_never_cut_inside_an_entity() -> None:
    source = "Question : " + html.escape("&" * 1000 + "l'été " * 800)
    parts = split_message(source, 4096)
    assert len(parts) > 1
    for part in parts:
        text, _ = parse_html(part)
        assert len(text) <= 4096


def test_a_link_across_a_cut_is_closed_and_reopened() -> None:
    source = '<a href="https://example.org/?a=1&amp;b=2">' + "mot " * 30 + "</a>"
    parts = split_message(source, 50)
    assert len(parts) > 1
    for part in parts:
        assert part.startswith('<a href="https://example.org/?a=1&amp;b=2">') and part.endswith("</a>")
        parse_html(part)


_RAW = st.lists(
    st.sampled_from(
        ["<b>", "</b>", "<I>", "</i>", '<a href="x">', "</a>", "&amp;", "&#x27;", "&#39;", "<", ">"]
    )
    | _PIECES,
    max_size=40,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(messages().map(lambda m: m[0]) | _RAW)
def test_a_message_that_fits_gives_the_same_part_as_the_full_split(message: str) -> None:
    """The short-message path (no token per character) is the full split's result, tags left open
    closed, a message with nothing visible dropped, even on HTML that is not well formed."""
    exact = sum(token.size for token in html_split._tokens(message))
    assert html_split._bound(message) >= exact
    limit = max(2, html_split._bound(message))
    assert html_split.split_html(message, limit) == html_split._split(message, limit)
