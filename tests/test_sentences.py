"""Articles split into numbered sentences whose offsets point back into the original text."""

# The examples are in Cyrillic, Turkish and other scripts on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

from itertools import pairwise

import pytest

from service.sentences import MAX_CHARS, Sentence, numbered, split_sentences


def texts(text: str, language: str | None = "en") -> list[str]:
    return [s.text for s in split_sentences(text, language)]


def assert_exact(text: str, sentences: tuple[Sentence, ...]) -> None:
    assert [s.number for s in sentences] == list(range(1, len(sentences) + 1))
    for s in sentences:
        assert text[s.start : s.end] == s.text
        assert s.text and s.text == s.text.strip()
        assert len(s.text) <= MAX_CHARS
    assert all(a.end <= b.start for a, b in pairwise(sentences))


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        (
            "en",
            "The U.S. Gen. Ray Holt visited the depot. Two guards were hurt.",
            ["The U.S. Gen. Ray Holt visited the depot.", "Two guards were hurt."],
        ),
        (
            "de",
            "Es gab z. B. viele Verletzte. Die Polizei sperrte die Straße.",
            ["Es gab z. B. viele Verletzte.", "Die Polizei sperrte die Straße."],
        ),
        (
            "ru",
            "Пострадали т. е. ранены трое. Дорогу перекрыли.",
            ["Пострадали т. е. ранены трое.", "Дорогу перекрыли."],
        ),
        (
            "hi",
            "बाज़ार में आग लगी। तीन लोग घायल हुए।",
            ["बाज़ार में आग लगी।", "तीन लोग घायल हुए।"],
        ),
        (
            "ar",
            "هل انهار الجسر؟ نعم، أصيب رجلان.",
            ["هل انهار الجسر؟", "نعم، أصيب رجلان."],
        ),
        (
            "ja",
            "工場で火事がありました。二人がけがをしました。",
            ["工場で火事がありました。", "二人がけがをしました。"],
        ),
        (
            "es",
            "¿Hubo heridos? Sí, dos vecinos. El fuego ya está controlado.",
            ["¿Hubo heridos?", "Sí, dos vecinos.", "El fuego ya está controlado."],
        ),
    ],
)
def test_splits_each_language_at_its_own_punctuation(language, text, expected):
    sentences = split_sentences(text, language)
    assert [s.text for s in sentences] == expected
    assert_exact(text, sentences)


def test_offsets_survive_surrounding_whitespace_and_tabs():
    text = "  \tA fire broke out.   \n\n  Crews arrived at  noon.\t \r\n"
    sentences = split_sentences(text, "en")
    assert [s.text for s in sentences] == ["A fire broke out.", "Crews arrived at  noon."]
    assert_exact(text, sentences)


def test_a_line_break_always_ends_a_sentence():
    text = "Bridge collapses in storm\nRIVERTON, May 3 -\nA bridge fell into the river on Friday."
    assert texts(text) == [
        "Bridge collapses in storm",
        "RIVERTON, May 3 -",
        "A bridge fell into the river on Friday.",
    ]


def test_a_long_sentence_is_cut_at_a_clause_boundary():
    clause = "the crews worked through the night on the northern embankment"
    text = ", ".join([clause] * 12) + "."
    sentences = split_sentences(text, "en")
    assert len(sentences) > 1
    assert_exact(text, sentences)
    assert all(s.text.endswith(",") for s in sentences[:-1])


def test_a_long_run_without_spaces_is_cut_at_the_limit():
    text = "火" * (MAX_CHARS * 2 + 10)
    sentences = split_sentences(text, "ja")
    assert [len(s.text) for s in sentences] == [MAX_CHARS, MAX_CHARS, 10]
    assert_exact(text, sentences)


@pytest.mark.parametrize("language", [None, "", "xx", "pt-BR", "EN", "zz-Latn"])
def test_any_language_code_or_none_still_splits(language):
    text = "Dois feridos. O trânsito foi desviado."
    assert texts(text, language) == ["Dois feridos.", "O trânsito foi desviado."]


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t"])
def test_blank_text_has_no_sentences(text):
    assert split_sentences(text, "en") == ()


def test_the_same_article_is_split_once():
    text = "A ferry sank. Ten people were rescued."
    assert split_sentences(text, "en") is split_sentences(text, "en")


def test_numbered_puts_one_sentence_on_each_line():
    sentences = split_sentences("Smoke rose. Two men were hurt.", "en")
    assert numbered(sentences) == "[1] Smoke rose.\n[2] Two men were hurt.\n"


def test_numbered_flattens_line_breaks_inside_a_sentence():
    sentence = Sentence(number=4, start=0, end=16, text="Flood\nwaters rose")
    assert numbered([sentence]) == "[4] Flood waters rose\n"
