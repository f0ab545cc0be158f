"""Contact details inside a question, hidden from the coordinators who read it.

A user may write « contactez-moi à marie.dupont@gmail.com ou au 06 12 34 56 78 » in a question that is kept
for the coordinators and may become a FAQ entry: the address and the number are personal data that neither
needs, so what coordinators see, and the FAQ draft, show a placeholder instead (the asker still sees their
own words quoted back).
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# French numbers, 10 digits: 06 12 34 56 78, 06.12.34.56.78, 0612345678, +33 6 12 34 56 78, +33 (0)6…,
# 0033 6…; other international ones: + then 7 to 14 digits, spaced or not.
_PHONE = re.compile(
    r"(?<![\w+])(?:(?:(?:\+|00)33[\s.-]?(?:\(0\)[\s.-]?)?|0)[1-9](?:[\s.-]?\d{2}){4}"
    r"|\+\d(?:[\s.-]?\d){6,13})(?!\d)"
)


def mask_contacts(text: str, *, email: str, phone: str) -> str:
    """`text` with every e-mail address replaced by `email` and every phone number by `phone` (the
    placeholders, e.g. « [adresse e-mail] », « [numéro de téléphone] »). Years, counts and amounts
    (« 2027 », « 350 », « 1 500 € ») are left alone: a phone number has 10 digits in France (0 then 9), or
    starts with +."""
    return _PHONE.sub(phone, _EMAIL.sub(email, text))
