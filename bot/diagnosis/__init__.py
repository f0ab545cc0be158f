"""Guided self-diagnosis: which of the four métiers of catalysis are missing or fragile in a territory.

`questionnaire` loads and checks `knowledge/diagnostic.yaml`; `engine` runs the flow and scores it (pure
functions over a `dict[str, str]` of answers); `recommend` picks resources; `chart` draws the scores; `cli`
is the terminal adapter.
"""
