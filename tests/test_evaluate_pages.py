"""The evaluation's page and long-article forms: pages made around an article's text extract
back to that text; padded articles keep their own text first."""

from __future__ import annotations

from service.evaluate import as_pages, extraction_check, padded, request_body
from service.html_text import page_article
from service.news_page import LAYOUTS, wrap

ITEMS = [
    {
        "id": "a1",
        "is_incident": True,
        "published": "2024-02-03",
        "language": "en",
        "text": "Ferry capsizes off Port Selden\n"
        "At least 11 passengers drowned when a ferry capsized in a storm off Port Selden on "
        "Friday, the coastguard said.\n"
        "Another 40 people were pulled from the water by fishing boats and taken to hospital.\n"
        "The ferry was licensed to carry 120 passengers, but witnesses said more than 200 were "
        "on board when it left the harbour.",
    },
    {
        "id": "a2",
        "is_incident": False,
        "published": None,
        "language": "en",
        "text": "The city council approved its budget for next year on Tuesday after a debate "
        "that lasted most of the afternoon.\n"
        "Spending on roads and schools will rise by four percent, while the parks department "
        "faces a small cut that opposition members criticised.\n"
        "The budget now goes to the regional assembly, which is expected to sign it off "
        "without changes next month.",
    },
]


def test_every_layout_extracts_back_to_the_articles_text():
    for item in ITEMS:
        for layout in LAYOUTS:
            page = wrap(item["text"], key=item["id"], published=item["published"], layout=layout)
            found = page_article(page.html, min_chars=80)
            # Every line of the article is found; a layout may add its own credit lines.
            assert all(line in found.text for line in page.body.splitlines()), layout
            assert found.title == page.headline
            assert found.published == item["published"]
    checks = {c.layout: c for c in extraction_check(ITEMS)}
    assert checks["news_site"].equal == 2
    # The wire page's credit line is text of the story (a large share of a short article).
    assert all(c.no_article == 0 and c.similarity_mean > 0.85 for c in checks.values())
    assert checks["news_site"].dates == checks["news_site"].dated == 1


def test_a_page_item_is_sent_as_html_with_its_date_in_the_markup():
    body = request_body(as_pages(ITEMS)[0])
    assert set(body) == {"html", "language"}
    assert "Port Selden" in body["html"] and "2024-02-03" in body["html"]
    assert request_body(ITEMS[0]) == {
        "text": ITEMS[0]["text"],
        "published": "2024-02-03",
        "language": "en",
    }


def test_padded_articles_keep_their_own_text_first():
    long = padded(ITEMS, words=300)
    for original, item in zip(ITEMS, long, strict=True):
        assert item["text"].startswith(original["text"])
        assert len(item["text"].split()) >= 300
        assert item["id"] == original["id"]
    # The padding is the other articles' text, never the article itself again.
    assert long[0]["text"].count("Port Selden") == ITEMS[0]["text"].count("Port Selden")


def test_an_article_without_a_headline_line_has_a_page_without_a_title():
    text = (
        "Firefighters rescued 14 people from a burning apartment block in the east of the city "
        "late on Sunday, the fire service said, and three of them were taken to hospital.\n"
        "The cause of the fire is not yet known."
    )
    for layout in LAYOUTS:
        page = wrap(text, key="x", layout=layout)
        assert page.headline is None
        found = page_article(page.html, min_chars=80)
        # No title reaches the model, as on the text path: not "Latest news", nor a side
        # heading of the page ("Related", "Most popular") taken for one.
        assert found.title is None, layout
        assert found.text.startswith("Firefighters rescued 14 people") or layout == "live"
        assert "Firefighters rescued 14 people" in found.text
