"""The one reader of numbers and ids typed by people or carried by buttons, and stored text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.text import MAX_ID, MAX_ROW_ID, parse_id, parse_int, parse_row_id, stored_text


@pytest.mark.parametrize(
    "value",
    ["²", "١٢", "𝟙", "+5", " 5", "5 ", "1_000", "", "-", "0x10", "9" * 20, str(MAX_ID + 1), "0", "-3", "1.0"],
)
def test_odd_digits_huge_and_non_positive_ids_are_refused(value: str) -> None:
    assert parse_id(value) is None


def test_ids_in_range_are_read() -> None:
    assert parse_id("42") == 42 and parse_id(str(MAX_ID)) == MAX_ID and parse_id("007") == 7
    assert parse_row_id(str(MAX_ROW_ID)) == MAX_ROW_ID and parse_row_id(str(MAX_ROW_ID + 1)) is None
    assert parse_int("-1", -1, 1) == -1 and parse_int("2", -1, 1) is None


@given(st.text(max_size=25))
def test_whatever_the_text_an_id_is_none_or_a_positive_64_bit_integer_written_in_ascii(value: str) -> None:
    number = parse_id(value)
    assert number is None or (1 <= number <= MAX_ID and value.isascii() and value.lstrip("0") == str(number))


def test_clean_text_removes_nul_and_controls_and_composes() -> None:
    assert stored_text("a\x00b\x1b[0m\tc\r\nd\u0065\u0301") == "ab[0m\tc\r\ndé"
