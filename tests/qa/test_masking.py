"""Contact details in a question are masked for coordinators; numbers that are not phones are kept."""

from __future__ import annotations

import pytest

from bot.qa.masking import mask_contacts


def masked(text: str) -> str:
    return mask_contacts(text, email="[e-mail]", phone="[tél]")


@pytest.mark.parametrize(
    "phone",
    [
        "06 12 34 56 78", "06.12.34.56.78", "06-12-34-56-78", "0612345678", "01 23 45 67 89",
        "+33 6 12 34 56 78", "+33612345678", "+33 (0)6 12 34 56 78", "0033 6 12 34 56 78", "+44 20 7946 0958",
    ],
)  # fmt: skip
def test_french_and_international_phone_numbers_are_masked(phone: str) -> None:
    assert masked(f"Rappelez-moi au {phone} svp") == "Rappelez-moi au [tél] svp"


@pytest.mark.parametrize("email", ["marie.dupont@gmail.com", "j-p+asso@mairie-rennes.fr", "a_b@x.co.uk"])
def test_email_addresses_are_masked(email: str) -> None:
    assert masked(f"écrivez à {email}.") == "écrivez à [e-mail]."


def test_the_reviewers_question_keeps_its_words_and_loses_its_contacts() -> None:
    question = "Quelle subvention en 2027 ? contactez-moi marie.dupont@gmail.com 06 12 34 56 78"
    assert masked(question) == "Quelle subvention en 2027 ? contactez-moi [e-mail] [tél]"


@pytest.mark.parametrize(
    "text",
    [
        "350 catalyseurs en 2027",
        "une adhésion à 1 500 €",
        "loi 1901",
        "SIRET 123 456 789 00012",
        "le 12/03/2027",
    ],
)
def test_years_counts_amounts_and_identifiers_are_kept(text: str) -> None:
    assert masked(text) == text
