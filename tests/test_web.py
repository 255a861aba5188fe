"""The newsroom page in a real browser: headless Chromium (Debian's ``chromium``) driven by
Playwright, against the real service on a loopback port, the model scripted at the HTTP
boundary. Screenshots land in ``artifacts/web/``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from service.app import create_app
from service.config import Settings
from service.sentences import split_sentences
from tests.conftest import ROOT, SEEDS, load_seed
from tests.fake_llm import ScriptedLLM, draft_from_record
from tests.scripted_openai import article_of

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "artifacts" / "web"
API_KEY = "newsroom-test-key"
MODEL_DELAY_S = 1.0  # long enough to see the progress indicator, short enough to keep CI fast

# An invented article that carries markup, and a character outside the Basic Multilingual
# Plane before its evidence: offsets count code points, JavaScript strings count UTF-16 units.
MARKUP_TEXT = (
    "\U0001f6a8 Live: <script>window.__injected = true</script>\n\n"
    "Four people were killed and nine were injured when a fuel tanker exploded on the ring "
    "road outside Tartu on Tuesday, the regional rescue service said. "
    '<img src="x" onerror="window.__injected = true"> Police said the driver had lost '
    "control of the vehicle on a wet bend."
)
MARKUP_KILLED = "Four people were killed and nine were injured when a fuel tanker exploded"
MARKUP_RECORD: dict[str, Any] = {
    "is_incident": True,
    "headline": "4 killed, 9 injured in <b>fuel tanker</b> explosion near Tartu, Estonia",
    "summary": (
        'A fuel tanker exploded near Tartu, killing four people. <img src="x" '
        'onerror="window.__injected = true"><script>window.__injected = true</script>'
    ),
    "category": "transport_accident",
    "date": {"text": "on Tuesday", "iso": None, "precision": None},
    "location": {
        "place": "Tartu ring road",
        "region": "Tartu",
        "country": "Estonia",
        "country_code": "EE",
    },
    "casualties": {
        "killed": 4,
        "injured": 9,
        "missing": None,
        "qualifier": "exact",
        "groups": [],
    },
    "perpetrators": [],
    "weapons": ["<i>fuel tanker</i> explosion"],
    "responses": [],
    "evidence": [
        {"field": "casualties.killed", "quote": MARKUP_KILLED, "start": 0, "end": 0},
        {"field": "casualties.injured", "quote": MARKUP_KILLED, "start": 0, "end": 0},
    ],
}


# ---------------------------------------------------------------------------------------
# The service on a loopback port, the model scripted per article


def _articles() -> list[tuple[str, dict[str, Any]]]:
    """(article text, the draft the scripted model answers with) for every known article."""
    known = [(s["request"]["text"], s["expected"]) for s in map(_read, SEEDS.glob("*.json"))]
    known.append((MARKUP_TEXT, MARKUP_RECORD))
    return [(text, draft_from_record(record)) for text, record in known]


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _squash(text: str) -> str:
    return " ".join(text.split())


def scripted_model() -> ScriptedLLM:
    """Answers each known article with its draft; anything else gets prose, not a record."""
    drafts = [(_squash(text)[:120], draft) for text, draft in _articles()]

    def answer(body: dict[str, Any]) -> Any:
        prompt = _squash(article_of(body))
        for opening, draft in drafts:
            if opening in prompt:
                return draft
        return "I could not find an incident in this article."

    return ScriptedLLM(answer, delay=MODEL_DELAY_S)


@contextmanager
def live_service(
    settings: Settings, llm: ScriptedLLM, *, fetch_resolver: Any = None
) -> Iterator[str]:
    """The real app under uvicorn on a free loopback port; yields its base URL."""
    app = create_app(settings, llm_transport=llm.transport(), fetch_resolver=fetch_resolver)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the service did not become ready"
            time.sleep(0.05)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def _settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "llm_base_url": "http://scripted.test/v1",
        "llm_model": "scripted-model",
        "data_dir": data_dir,
        "retry_max_wait_s": 0.01,
        "request_deadline_s": 20.0,
        "max_attempts": 2,
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_service(_settings(tmp_path_factory.mktemp("web")), scripted_model()) as base:
        yield base


@pytest.fixture(scope="module")
def keyed_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = _settings(tmp_path_factory.mktemp("web-keyed"), api_keys=API_KEY)
    with live_service(settings, scripted_model()) as base:
        yield base


# ---------------------------------------------------------------------------------------
# The browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install chromium) "
            "or set CHROMIUM_PATH"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Open the page at a base URL in a fresh browser context; fail on any script error."""
    contexts = []
    errors: list[str] = []

    def open_(base: str, *, width: int = 1280, height: int = 900, path: str = "/") -> Page:
        context = browser.new_context(
            base_url=base,
            viewport={"width": width, "height": height},
            permissions=["clipboard-read", "clipboard-write"],
        )
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda msg: (
                errors.append(f"console {msg.type}: {msg.text}")
                if msg.type == "error" and not _expected_console_error(msg.text)
                else None
            ),
        )
        page.goto(path)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == []


def _expected_console_error(text: str) -> bool:
    # Chromium logs every non-2xx fetch response; the tests provoke some on purpose.
    return "Failed to load resource" in text


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def paste_article(page: Page, request: dict[str, Any]) -> None:
    page.get_by_label("Title").fill(request.get("title") or "")
    page.get_by_label("Article text").fill(request["text"])
    page.get_by_label("Publication date").fill(request.get("published") or "")


def quote_of(record: dict[str, Any], field: str) -> str:
    return next(e["quote"] for e in record["evidence"] if e["field"] == field)


# ---------------------------------------------------------------------------------------
# Tests


def test_page_and_assets_are_served_by_the_app_without_a_key(keyed_service: str) -> None:
    page = httpx.get(keyed_service + "/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    # Everything the page loads comes from the service itself: nothing to fetch offline.
    loaded = re.findall(r'<(?:script|link|img)\b[^>]*?\b(?:src|href)="([^"]*)"', page.text)
    assert len(loaded) == 3, loaded  # the style sheet, the script and an empty icon
    for ref in loaded:
        assert ref.startswith(("/web/", "data:")), ref
        if ref.startswith("/web/"):
            assert httpx.get(keyed_service + ref).status_code == 200, ref
    missing = httpx.get(keyed_service + "/web/app.py")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    # The API behind it still wants the key.
    assert httpx.get(keyed_service + "/v1/summaries").status_code == 401


def test_seed_article_to_card_then_found_in_the_list(
    service: str, open_page: Callable[..., Page]
) -> None:
    seed = load_seed("seed-camp-taji.json")
    expected = seed["expected"]
    page = open_page(service)
    expect(page.get_by_role("heading", name="Summarize an article")).to_be_visible()
    paste_article(page, seed["request"])
    page.get_by_role("button", name="Summarize").click()

    progress = page.locator("#progress")
    expect(progress).to_be_visible()
    expect(progress).to_contain_text("Summarizing")
    expect(page.get_by_role("button", name="Summarize")).to_be_disabled()

    card = page.locator("#card")
    expect(card.locator("#card-headline")).to_have_text(expected["headline"], timeout=20_000)
    expect(progress).to_be_hidden()
    toll = card.locator("#toll")
    expect(toll.locator("[data-figure=killed] .figure-value")).to_have_text("3")
    expect(toll.locator("[data-figure=injured] .figure-value")).to_have_text("12")
    expect(toll.locator("[data-figure=missing] .figure-value")).to_have_text("not stated")
    rows = card.locator("#groups tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("US servicemen")
    expect(rows.nth(1)).to_contain_text("GB")
    expect(card).to_contain_text("Camp Taji, Baghdad, Iraq")
    expect(card).to_contain_text("2020-03-11")
    expect(card).to_contain_text("not established")  # an unclaimed attack
    expect(card.locator("#summary-text")).to_have_text(expected["summary"])
    shown = card.inner_text()
    assert "null" not in shown and "undefined" not in shown

    # Every evidence quote is highlighted where it occurs in the pasted article.
    marks = card.locator("#article-text mark")
    highlighted = marks.all_text_contents()
    for ev in expected["evidence"]:
        assert ev["quote"] in highlighted, (ev["quote"], highlighted)
    # Hovering a figure shows its quote.
    injured_tip = toll.locator("[data-figure=injured] .tip")
    expect(injured_tip).to_be_hidden()
    toll.locator("[data-figure=injured] button").hover()
    expect(injured_tip).to_be_visible()
    expect(injured_tip).to_have_text(f"“{quote_of(expected, 'casualties.injured')}”")
    screenshot(page, "card-seed")

    page.get_by_role("button", name="Copy headline").click()
    expect(page.locator("#toast")).to_have_text("Headline copied")
    assert page.evaluate("navigator.clipboard.readText()") == expected["headline"]
    page.get_by_role("button", name="Copy JSON").click()
    copied = json.loads(page.evaluate("navigator.clipboard.readText()"))
    assert copied["incident"] == expected
    summary_id = copied["id"]

    # A second stored summary, from another country, so the country filter has work to do.
    kenya = load_seed("bus-crash-kenya-updated-toll.json")
    stored = httpx.post(service + "/v1/summaries", json=kenya["request"], timeout=20)
    assert stored.status_code == 200, stored.text

    # Summarized again: a second record of the seed article. The list shows the article once,
    # as its newest record.
    paste_article(page, seed["request"])
    page.get_by_label("Summarize again even if this article is already stored").check()
    with page.expect_response(lambda r: "refresh=true" in r.url, timeout=20_000) as answer:
        page.get_by_role("button", name="Summarize").click()
    newest_id = answer.value.json()["id"]
    assert newest_id != summary_id
    expect(progress).to_be_hidden(timeout=20_000)

    page.get_by_role("link", name="Stored summaries").click()
    results = page.locator("#results li")
    expect(results).to_have_count(2)
    page.get_by_label("Country code").fill("iq")
    page.get_by_role("button", name="Search").click()
    expect(results).to_have_count(1)
    expect(results.first.locator("a")).to_have_text(expected["headline"])
    expect(results.first).to_contain_text("Iraq (IQ)")
    assert "country_code=IQ" in page.url
    expect(page.locator("#list-status")).to_contain_text("1 summary matching the filters")
    screenshot(page, "list-filtered-iq")

    page.get_by_label("Country code").fill("KE")
    page.get_by_role("button", name="Search").click()
    expect(results).to_have_count(1)
    expect(results.first.locator("a")).to_have_text(kenya["expected"]["headline"])
    page.go_back()
    expect(results.first.locator("a")).to_have_text(expected["headline"])

    # The other filters of the contract, each narrowing the two stored summaries to one. After
    # each "Clear filters" the unfiltered list is awaited before the next filter is typed: the
    # cleared address is routed (filling the form from it, as a reload or a shared link would)
    # a moment after the click.
    unfiltered = page.locator("#list-status")
    page.get_by_role("button", name="Clear filters").click()
    expect(results).to_have_count(2)
    expect(unfiltered).to_have_text("2 summaries.")
    page.get_by_label("Category").select_option(label="transport accident")
    page.get_by_role("button", name="Search").click()
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Kenya (KE)")
    page.get_by_role("button", name="Clear filters").click()
    expect(unfiltered).to_have_text("2 summaries.")
    page.get_by_label("Event on or after").fill("2020-01-01")
    page.get_by_label("Event on or before").fill("2020-12-31")
    page.get_by_role("button", name="Search").click()
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("2020-03-11")
    page.get_by_role("button", name="Clear filters").click()
    expect(unfiltered).to_have_text("2 summaries.")
    page.get_by_label("Text in headline or summary").fill("ravine")
    page.get_by_role("button", name="Search").click()
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Kenya (KE)")
    page.get_by_label("Text in headline or summary").fill("avalanche")
    page.get_by_role("button", name="Search").click()
    expect(results).to_have_count(0)
    expect(page.locator("#list-status")).to_have_text("No stored summary matches these filters.")

    page.get_by_label("Country code").fill("IQ")
    page.get_by_label("Text in headline or summary").fill("")
    page.get_by_role("button", name="Search").click()
    expect(results).to_have_count(1)

    results.first.locator("a").click()
    expect(page.locator("#card-headline")).to_have_text(expected["headline"])
    assert page.url.endswith(f"#summary/{newest_id}")
    # The text pasted in this tab is kept with the id, so the quotes are highlighted again.
    expect(page.locator("#article-text mark").first).to_be_visible()


def test_markup_in_article_and_record_renders_as_text(
    service: str, open_page: Callable[..., Page]
) -> None:
    page = open_page(service)
    paste_article(page, {"text": MARKUP_TEXT, "published": "2024-05-08"})
    page.get_by_role("button", name="Summarize").click()
    card = page.locator("#card")
    expect(card.locator("#card-headline")).to_have_text(MARKUP_RECORD["headline"], timeout=20_000)
    expect(card.locator("#summary-text")).to_have_text(MARKUP_RECORD["summary"])
    expect(card.locator("#article-text")).to_contain_text(
        "<script>window.__injected = true</script>"
    )
    expect(card).to_contain_text("<i>fuel tanker</i> explosion")
    assert card.locator("b, i, img, script").count() == 0
    assert page.evaluate("window.__injected") is None
    # The quote after the emoji is highlighted exactly, not shifted by a UTF-16 unit.
    # Evidence is the article's whole sentence holding the figures.
    (sentence,) = [s.text for s in split_sentences(MARKUP_TEXT, "en") if MARKUP_KILLED in s.text]
    assert card.locator("#article-text mark").all_text_contents() == [sentence]
    screenshot(page, "card-markup")


def test_api_errors_show_the_contract_message(service: str, open_page: Callable[..., Page]) -> None:
    page = open_page(service)
    error = page.locator("#error")

    blank = {"text": "   \n  "}
    direct = httpx.post(service + "/v1/summaries", json=blank).json()["error"]
    page.get_by_label("Article text").fill(blank["text"])
    page.get_by_role("button", name="Summarize").click()
    expect(error).to_be_visible()
    expect(error).to_contain_text(direct["message"])
    expect(error).to_contain_text("invalid_input")
    expect(error).to_contain_text("HTTP 422")
    expect(error).to_be_focused()

    # The scripted model answers this article with prose: no valid record, 502.
    page.get_by_label("Article text").fill(
        "The river festival opened on Saturday with boat races and a lantern parade."
    )
    page.get_by_role("button", name="Summarize").click()
    expect(error).to_contain_text("model_invalid_output", timeout=20_000)
    expect(error).to_contain_text("HTTP 502")
    expect(error.locator("code").last).to_have_text(re.compile(r"^[0-9a-f]{32}$"))
    expect(page.locator("#card")).to_have_count(0)
    expect(page.get_by_role("button", name="Summarize")).to_be_enabled()
    screenshot(page, "error-502")

    page.goto("/#summary/0123456789abcdef0123456789abcdef")
    expect(error).to_contain_text("not_found")
    expect(error).to_contain_text("HTTP 404")


def test_api_key_is_asked_once_and_kept_for_the_session(
    keyed_service: str, open_page: Callable[..., Page]
) -> None:
    page = open_page(keyed_service, path="/#list")
    sent_keys: list[str | None] = []
    page.on(
        "request",
        lambda r: sent_keys.append(r.headers.get("x-api-key")) if "/v1/" in r.url else None,
    )
    dialog = page.locator("#key-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("This service needs an API key")
    expect(page.get_by_label("Key for this service")).to_be_focused()

    page.get_by_label("Key for this service").fill("not-the-key")
    page.keyboard.press("Enter")
    expect(dialog).to_contain_text("The key in use was refused")
    page.get_by_label("Key for this service").fill(API_KEY)
    page.get_by_role("button", name="Use key").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#list-status")).to_have_text("No summaries stored yet.")
    expect(page.get_by_role("button", name="Forget API key")).to_be_visible()

    page.get_by_role("link", name="Summarize").click()
    seed = load_seed("seed-camp-taji.json")
    paste_article(page, seed["request"])
    page.get_by_role("button", name="Summarize").click()
    expect(page.locator("#card-headline")).to_have_text(
        seed["expected"]["headline"], timeout=20_000
    )

    page.reload()  # the key lives in sessionStorage: a reload keeps it, no second prompt
    page.get_by_role("link", name="Stored summaries").click()
    expect(page.locator("#results li")).to_have_count(1)
    expect(dialog).to_be_hidden()
    assert sent_keys[-1] == API_KEY
    assert "not-the-key" in sent_keys and sent_keys.count(API_KEY) >= 3

    page.get_by_role("button", name="Forget API key").click()
    page.get_by_role("button", name="Search").click()
    expect(dialog).to_be_visible()
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#error")).to_contain_text("unauthorized")


def test_phone_width_and_keyboard_only(service: str, open_page: Callable[..., Page]) -> None:
    seed = load_seed("flood-indonesia-missing.json")
    page = open_page(service, width=375, height=740)

    # From the top of the page to the article text by Tab alone, then submit with Enter.
    for _ in range(15):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "f-text":
            break
    else:
        raise AssertionError("the article text box is not reachable by Tab")
    page.keyboard.insert_text(seed["request"]["text"])
    for _ in range(10):  # the date box takes three stops: month, day, year
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "summarize":
            break
    else:
        raise AssertionError("the Summarize button is not reachable by Tab")
    page.keyboard.press("Enter")
    expected = seed["expected"]
    expect(page.locator("#card-headline")).to_have_text(expected["headline"], timeout=20_000)
    expect(page.locator("#card-headline")).to_be_focused()

    # Tab on to the killed figure: focus shows its quote, as hover does.
    tip = page.locator("[data-figure=killed] .tip")
    for _ in range(8):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('[data-figure=killed]') !== null"):
            break
    else:
        raise AssertionError("the killed figure is not reachable by Tab")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text(quote_of(expected, "casualties.killed"))
    page.keyboard.press("Enter")  # jumps to the quote in the article
    expect(page.locator("#article-text mark:focus")).to_have_count(1)

    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "phone-card")
    page.get_by_role("link", name="Stored summaries").click()
    expect(page.locator("#results li").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "phone-list")


def test_an_article_by_its_link(tmp_path: Path, open_page: Callable[..., Page]) -> None:
    """A link instead of text: the service fetches the page (a real server on loopback, named
    news.test), the card highlights the quotes in the text it extracted; a link to the
    machine itself shows the service's refusal."""
    from tests.page_server import page, page_server
    from tests.test_pages import LEAD, NEWS, bridge_turn

    settings = _settings(tmp_path, fetch_allow_hosts="news.test")
    llm = ScriptedLLM(bridge_turn())
    with (
        page_server({"/2024/05/18/bridge": page("news-bridge-collapse.html")}) as site,
        live_service(settings, llm, fetch_resolver=NEWS) as base,
    ):
        browser_page = open_page(base)
        browser_page.get_by_label("Article link").fill(
            site.url("/2024/05/18/bridge", host="news.test")
        )
        browser_page.get_by_role("button", name="Summarize").click()
        card = browser_page.locator("#card")
        expect(card.locator("#card-headline")).to_have_text(
            "7 killed, 23 injured as footbridge collapses in Marrowby", timeout=20_000
        )
        expect(card.locator("[data-figure=killed] .figure-value")).to_have_text("7")
        article = card.locator("#article-text")
        expect(article).to_contain_text("Police said there was no indication of foul play.")
        assert LEAD in card.locator("#article-text mark").all_text_contents()
        assert "cookies" not in article.inner_text()
        expect(card).to_contain_text("2024-05-18")  # the page's own date
        screenshot(browser_page, "card-from-link")

        error = browser_page.locator("#error")
        browser_page.get_by_label("Article link").fill(site.url("/2024/05/18/bridge"))
        browser_page.get_by_role("button", name="Summarize").click()
        expect(error).to_contain_text("url_not_allowed")
        expect(error).to_contain_text("HTTP 422")
        expect(error).to_contain_text("loopback")
    assert [path for path, _ in site.seen] == ["/2024/05/18/bridge"]


def test_batches_show_their_progress_and_failed_articles(
    tmp_path: Path, open_page: Callable[..., Page]
) -> None:
    """A batch of three articles, one the model cannot answer: the Batches view follows it
    to the end and lists the failed article with its error code."""
    from tests.chaos.harness import article
    from tests.scripted_openai import generic_answer

    def answer(body: dict[str, Any]) -> Any:
        return "not a record" if "exit 99" in article_of(body) else generic_answer(body)

    llm = ScriptedLLM(answer, delay=0.3)
    items = [{**article(n, tag="web"), "external_id": f"wire-{n}"} for n in (1, 2, 99)]
    with live_service(_settings(tmp_path, batch_concurrency=1), llm) as base:
        submitted = httpx.post(f"{base}/v1/batches", json={"items": items}, timeout=10).json()
        page = open_page(base, path="/#batches")
        row = page.locator(f'#batches li[data-id="{submitted["id"]}"]')
        expect(row).to_contain_text("batch " + submitted["id"][:8])
        expect(row).to_have_attribute("data-status", "done", timeout=20_000)
        expect(row.locator(".batch-counts")).to_contain_text("2 of 3 done")
        expect(row.locator(".batch-counts")).to_contain_text("1 failed")
        assert row.locator("progress").get_attribute("value") == "3"
        row.get_by_text("Failed articles").click()
        expect(row.locator(".failed-items li")).to_have_text(
            re.compile(r"^wire-99: model_invalid_output: ")
        )
        screenshot(page, "batches")
