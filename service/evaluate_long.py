"""What the long-article path gives the model to read, measured without the model.

Every incident of a labelled set is padded into a long article with the text of the set's
other articles (``evaluate.padded``: unrelated reports, their own tolls included) and read as
the service reads it (``passages.read_within``, token counts estimated). Counted per file: how
much of the article's own text is read, and how many sentences of the padding that report
casualties are read with it. Each of those brings another incident's toll to the model, which
is how a long article's record takes a figure that is not its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.article import read_article
from service.evaluate import padded
from service.passages import estimate_tokens, read_within, reports_any_casualty


@dataclass(frozen=True)
class SelectionCheck:
    file: str
    articles: int  # incidents, each padded
    own_read: float  # share of the article's own sentences read (mean)
    own_casualty_read: int  # of the article's own sentences reporting casualties, read
    own_casualty: int
    padding_read: float  # sentences of other articles read, per article (mean)
    padding_casualty_read: float  # of them reporting casualties, per article (mean)
    articles_with_padding_casualty: int  # articles that read at least one such sentence

    def line(self) -> str:
        return (
            f"| {self.file} | {self.articles} | {self.own_read:.3f} "
            f"| {self.own_casualty_read} of {self.own_casualty} | {self.padding_read:.1f} "
            f"| {self.padding_casualty_read:.1f} | {self.articles_with_padding_casualty} |"
        )


def selection_check(
    files: dict[str, list[dict[str, Any]]], *, words: int, budget: int, lead_chars: int
) -> list[SelectionCheck]:
    """Each file's incidents padded to ``words`` words and read within ``budget`` tokens."""
    checks = []
    for name, items in files.items():
        own_shares: list[float] = []
        own_casualty = own_casualty_read = with_padding_casualty = 0
        padding_read = padding_casualty_read = 0
        incidents = 0
        for item, long in zip(items, padded(items, words), strict=True):
            if not item.get("is_incident"):
                continue
            incidents += 1
            language = item.get("language")
            text = read_article(
                long["text"], title=None, published=item.get("published"), language=language
            )
            read, _ = read_within(text, budget=budget, count=estimate_tokens, lead_chars=lead_chars)
            chosen = {s.start for s in read.sentences}
            own_end = len(item["text"])
            own = [s for s in text.sentences if s.start < own_end]
            own_shares.append(sum(s.start in chosen for s in own) / max(1, len(own)))
            for sentence in own:
                if reports_any_casualty(sentence.text, language):
                    own_casualty += 1
                    own_casualty_read += sentence.start in chosen
            others = [s for s in read.sentences if s.start >= own_end]
            casualty = sum(reports_any_casualty(s.text, language) for s in others)
            padding_read += len(others)
            padding_casualty_read += casualty
            with_padding_casualty += casualty > 0
        checks.append(
            SelectionCheck(
                file=name,
                articles=incidents,
                own_read=sum(own_shares) / max(1, len(own_shares)),
                own_casualty_read=own_casualty_read,
                own_casualty=own_casualty,
                padding_read=padding_read / max(1, incidents),
                padding_casualty_read=padding_casualty_read / max(1, incidents),
                articles_with_padding_casualty=with_padding_casualty,
            )
        )
    return checks


def selection_text(checks: list[SelectionCheck]) -> str:
    head = (
        "| file | incidents | own sentences read | own casualty sentences read "
        "| padding sentences read (mean) | padding casualty sentences read (mean) "
        "| articles reading any |\n|---|---:|---:|---:|---:|---:|---:|"
    )
    return "\n".join([head, *(c.line() for c in checks)])
