"""The forced-token benchmark sorts an answer's characters into what the schema fixes and what
the model writes; its figures rest on that split being right."""

from bench.forced_tokens import fixed_characters, runs_of_fixed


def _fixed_parts(text: str) -> list[str]:
    """The runs of fixed characters, in order."""
    marked = "".join(c if f else "\0" for c, f in zip(text, fixed_characters(text), strict=True))
    return [part for part in marked.split("\0") if part]


def test_keys_and_punctuation_are_fixed_values_are_not() -> None:
    text = '{"killed": 3, "place": "Camp: Taji, Iraq", "groups": [], "iso": null}'
    assert _fixed_parts(text) == ['{"killed": ', ', "place": ', ', "groups": [], "iso": ', "}"]


def test_an_escaped_quote_does_not_end_a_value() -> None:
    text = '{"summary":"He said \\"3 dead\\": none","x":1}'
    assert _fixed_parts(text) == ['{"summary":', ',"x":', "}"]


def test_tokens_count_as_fixed_only_when_every_character_is() -> None:
    pieces = ['{"', "killed", '":', "3", ',"', "place", '":"', "Taji", '"}']
    marks, runs = runs_of_fixed(pieces, fixed_characters("".join(pieces)))
    # '":"' ends a key and opens a value: the opening quote is the model's, so not fixed.
    assert marks == [True, True, True, False, True, True, False, False, False]
    assert runs == [3, 2]
