"""An article's text, title and publication date from its web page.

Pages as newsrooms hold them carry navigation, cookie banners, related links, captions, ads and
comments around the article. trafilatura finds the main text and the title; htmldate finds the
page's own publication date from its markup (JSON-LD, meta tags, ``<time>``), never the day of
the fetch, and never a date merely written in the article. The text is what the model reads and
what evidence offsets point into, so it is kept exactly as extracted (paragraphs one per line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import htmldate
import trafilatura
from trafilatura.utils import decode_file, load_html

from service.errors import NoArticleText

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
# Where a page names its own headline: <title>, <h1>, and the title of its sharing metadata.
_HEADLINES = (
    "//title//text()",
    "//h1//text()",
    "//meta[@property='og:title' or @name='og:title' or @name='twitter:title' "
    "or @property='twitter:title']/@content",
)


@dataclass(frozen=True)
class PageArticle:
    text: str
    title: str | None
    published: str | None  # YYYY-MM-DD


def decode(content: bytes, charset: str | None) -> str:
    """A fetched page as text: the header's charset, else what the page itself declares."""
    if charset:
        try:
            return content.decode(charset, errors="replace")
        except LookupError:
            pass  # an unknown charset name: let the page's own declaration decide
    return decode_file(content)


def page_article(
    html: str, *, url: str | None = None, title: str | None = None, min_chars: int = 1
) -> PageArticle:
    """The article in ``html``; ``NoArticleText`` (saying what was found) when there is none.

    ``title``: the headline the caller gave, if any. The headline is the record's title, not
    a sentence of the body: a first line repeating it (the page's ``<h1>``) is left out, so
    the same article sent as text or as its page is the same text.
    """
    # favor_precision: a page without an article (a section front, an error page) then yields
    # its heading alone rather than its menus and teasers as "text".
    document = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        favor_precision=True,
        include_comments=False,
        include_tables=False,
        include_images=False,
        deduplicate=False,
    )
    found_title = _headline_only(_clean(getattr(document, "title", None) or "") or None, html)
    text = _without_headline(_clean(getattr(document, "text", None) or ""), title, found_title)
    if len(text) < min_chars:
        raise NoArticleText(_what_was_found(html, text, title, min_chars))
    return PageArticle(text=text, title=found_title, published=publication_date(html, url))


def _headline_only(title: str | None, html: str) -> str | None:
    """``title`` when the page gives it as its headline; else None.

    With no headline of its own (no ``<title>``, ``<h1>`` or sharing title), an extractor
    takes the first side heading it finds ("Related", "Most popular") for the title, and that
    would reach the model as the article's title.
    """
    if title is None:
        return None
    wanted = _key(title)
    tree = load_html(html)
    if tree is None:
        return None
    for path in _HEADLINES:
        if any(wanted in _key(str(found)) for found in tree.xpath(path)):
            return title
    return None


def publication_date(html: str, url: str | None = None) -> str | None:
    """The page's own publication date (markup only), as YYYY-MM-DD."""
    try:
        found = htmldate.find_date(html, url=url, original_date=True, extensive_search=False)
    except (ValueError, TypeError):
        return None
    return found or None


def _clean(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _without_headline(text: str, *titles: str | None) -> str:
    first, _, rest = text.partition("\n")
    heads = {_key(t) for t in titles if t}
    return rest if rest and _key(first) in heads else text


def _key(line: str) -> str:
    return " ".join(line.split()).casefold()


def _what_was_found(html: str, text: str, title: str | None, min_chars: int) -> str:
    if title is None:
        match = _TITLE.search(html)
        title = " ".join(match.group(1).split()) if match else None
    found = f"title {title[:120]!r}" if title else "no title"
    if text:
        found += f", {len(text)} characters of text ({text[:80]!r})"
    else:
        found += ", no main text"
    return (
        f"no article text found in the page ({found}); an article needs at least "
        f"{min_chars} characters of main text"
    )
