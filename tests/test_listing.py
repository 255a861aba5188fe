"""The listing: each article once (its newest record), every record with ``versions=all``, and
full-text search over headline, summary, place and perpetrators, best match first."""

from __future__ import annotations

import base64
import copy
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import update
from sqlmodel import col

from service import backend as backend_module
from service.app import open_store
from service.errors import InvalidInput
from service.prompts import load_prompts
from service.store import MAX_SEARCH_TERMS, ListQuery, Store, SummaryRow
from tests.conftest import load_seed, running_app
from tests.fake_llm import ScriptedLLM, Turn, draft_from_record

pytestmark = pytest.mark.backends


def _turn(seed: dict[str, Any], *, summary: str, place: str | None = None) -> Turn:
    turn = draft_from_record(copy.deepcopy(seed["expected"]))
    assert turn.record is not None
    turn.record["summary"] = summary
    if place is not None:
        turn.record["location"]["place"] = place
    return turn


async def test_an_article_is_listed_once_after_a_refresh_and_a_prompt_change(
    make_settings, monkeypatch
):
    seed = load_seed("seed-camp-taji.json")
    other = {**seed["request"], "text": seed["request"]["text"] + " A second article."}
    settings = make_settings()
    llm = ScriptedLLM(
        _turn(seed, summary="First record of the strike."),
        _turn(seed, summary="Another article's record."),
        _turn(seed, summary="Refreshed record of the strike."),
        _turn(seed, summary="Record under the new prompt."),
        repeat_last=False,
    )
    async with running_app(settings, llm) as client:
        first = (await client.post("/v1/summaries", json=seed["request"])).json()
        second = (await client.post("/v1/summaries", json=other)).json()
        refreshed = await client.post("/v1/summaries?refresh=true", json=seed["request"])
        assert refreshed.status_code == 200
    # A new prompt: another cache key for the same article, so a new record of it.
    edited = dataclasses.replace(load_prompts(), version="edited-prompt")
    monkeypatch.setattr(backend_module, "load_prompts", lambda: edited)
    async with running_app(settings, llm) as client:
        newest = await client.post("/v1/summaries", json=seed["request"])
        assert newest.headers["X-Cache"] == "miss"
        listing = (await client.get("/v1/summaries")).json()
        every = (await client.get("/v1/summaries", params={"versions": "all"})).json()
        old = await client.get(f"/v1/summaries/{first['id']}")
        bad = await client.get("/v1/summaries", params={"versions": "some"})
    assert llm.record_calls == 4
    ids = [first["id"], second["id"], refreshed.json()["id"], newest.json()["id"]]
    assert len(set(ids)) == 4
    # Each article once, its newest record first; the older records are still listed on demand
    # and still served by id.
    assert [i["id"] for i in listing["items"]] == [ids[3], ids[1]]
    assert listing["items"][0]["incident"]["summary"] == "Record under the new prompt."
    assert [i["id"] for i in every["items"]] == ids[::-1]
    assert old.status_code == 200
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_input"


@pytest.fixture
def store(make_settings) -> Iterator[Store]:
    store = open_store(make_settings())
    store.migrate()
    try:
        yield store
    finally:
        store.close()


def _row(n: int, *, headline: str, summary: str, place: str | None, perpetrators: str | None):
    created = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(minutes=n)
    resource = {"id": f"r{n}", "incident": {"headline": headline}}
    return SummaryRow(
        id=f"r{n}",
        cache_key=f"key{n}",
        content_sha256=f"{n:064x}",
        created_at=created,
        model="m",
        prompt_version="p",
        schema_version="1",
        is_incident=True,
        country_code="IQ",
        headline=headline,
        summary=summary,
        place=place,
        perpetrators=perpetrators,
        body=orjson.dumps(resource),
    )


def _ids(store: Store, q: str, **filters: Any) -> list[str]:
    bodies, _ = store.list(ListQuery(q=q, limit=100, **filters))
    return [orjson.loads(b)["id"] for b in bodies]


def test_search_covers_place_and_perpetrators_and_ranks_the_headline_first(store: Store):
    rows = [
        _row(
            1,
            headline="Rockets hit a base",
            summary="At night.",
            place="Camp Taji",
            perpetrators=None,
        ),
        _row(
            2,
            headline="Convoy ambushed",
            summary="Near the river.",
            place="Samarra",
            perpetrators="Saraya Example",
        ),
        _row(
            3,
            headline="Mortar fire on a market",
            summary="Samarra officials counted the dead.",
            place="Tikrit",
            perpetrators=None,
        ),
        _row(
            4,
            headline="Samarra bridge bombed",
            summary="Traffic stopped.",
            place=None,
            perpetrators=None,
        ),
        _row(
            5,
            headline="Market fire",
            summary="No one was hurt in 2020.",
            place=None,
            perpetrators=None,
        ),
    ]
    for row in rows:
        store.put(row)
    # Headline outweighs place, place outweighs the summary.
    assert _ids(store, "samarra") == ["r4", "r2", "r3"]
    assert _ids(store, "SAMAR") == ["r4", "r2", "r3"]  # the start of a word, any case
    assert _ids(store, "samarra convoy") == ["r2"]  # every word must occur
    assert _ids(store, "saraya") == ["r2"]  # perpetrators
    assert _ids(store, "taji") == ["r1"]  # place
    assert _ids(store, '"officials counted"') == ["r3"]
    assert _ids(store, '"counted officials"') == []  # a phrase keeps its order
    assert _ids(store, "202") == []  # a number matches whole
    assert _ids(store, "2020") == ["r5"]
    assert _ids(store, "%_") == []  # nothing searchable
    assert _ids(store, "samarra", country_code="FR") == []  # filters still apply
    with pytest.raises(InvalidInput):
        _ids(store, " ".join(["w"] * (MAX_SEARCH_TERMS + 1)))
    # Paging through ranked results: each once, in rank order.
    pages, cursor = [], None
    while True:
        bodies, cursor = store.list(ListQuery(q="samarra", limit=2, cursor=cursor))
        pages.append([orjson.loads(b)["id"] for b in bodies])
        if cursor is None:
            break
    assert pages == [["r4", "r2"], ["r3"]]
    # A search's cursor does not page a plain listing.
    _, ranked_cursor = store.list(ListQuery(q="samarra", limit=1))
    with pytest.raises(InvalidInput):
        store.list(ListQuery(cursor=ranked_cursor))


def test_a_record_replaced_by_id_stays_searchable_once(store: Store):
    """Two processes storing the same record id: the second replaces the first's row, and the
    search index follows (one hit, with the new words)."""
    store.put(_row(1, headline="Old words", summary="x", place=None, perpetrators=None))
    store.put(_row(1, headline="New words", summary="x", place=None, perpetrators=None))
    assert _ids(store, "words") == ["r1"]
    assert _ids(store, "old") == []
    assert _ids(store, "new") == ["r1"]


def test_a_record_replaced_by_id_serves_the_new_body_and_article_text(store: Store):
    """The second of two processes storing one record id wins whole: its body is served and
    its article text kept, one row of each."""
    first = _row(1, headline="Old words", summary="x", place=None, perpetrators=None)
    second = _row(1, headline="New words", summary="y", place="Taji", perpetrators=None)
    store.put(first, "The old text.")
    store.put(second, "The new text.")
    assert store.get("r1") == second.body
    assert store.current("key1") == second.body
    assert store.article_text("r1") == "The new text."
    bodies, _ = store.list(ListQuery(versions="all"))
    assert bodies == [second.body]


async def test_a_nul_character_is_stored_served_and_refused_where_it_is_no_key(make_settings):
    """PostgreSQL's text holds no NUL: a title with one is still stored and served as sent,
    and an id or cursor with one is simply unknown, on both backends."""
    seed = load_seed("seed-camp-taji.json")
    request = {**seed["request"], "title": "Rockets\u0000 hit Camp Taji"}
    async with running_app(make_settings(), ScriptedLLM(_turn(seed, summary="S."))) as client:
        made = await client.post("/v1/summaries", json=request)
        listed = await client.get("/v1/summaries")
        missing = await client.get("/v1/summaries/abc%00def")
        cursor = base64.urlsafe_b64encode(b'["2026-01-01T00:00:00+00:00","a\\u0000b"]')
        bad_cursor = await client.get("/v1/summaries", params={"cursor": cursor.decode()})
    assert made.status_code == 200, made.text
    assert made.json()["title"] == "Rockets\u0000 hit Camp Taji"
    assert [i["id"] for i in listed.json()["items"]] == [made.json()["id"]]
    assert missing.status_code == 404
    assert bad_cursor.status_code == 422


def _every_page(store: Store, q: str, limit: int, **filters: Any) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        bodies, cursor = store.list(ListQuery(q=q, limit=limit, cursor=cursor, **filters))
        pages.append([orjson.loads(b)["id"] for b in bodies])
        if cursor is None:
            return pages


def _convoys(store: Store, n: int) -> None:
    """``n`` records with "convoy": their texts differ in length (scores differ) and repeat
    every 7 records (ties in score, broken by the newest first). Every 10th is in France,
    among the lowest scores; every 4th is an older record of the next one's article."""
    for i in range(n):
        row = _row(
            i,
            headline="Convoy hit" + " near the road" * (i % 7),
            summary="Convoy moved." + " It was quiet." * (i % 3),
            place=None,
            perpetrators=None,
        )
        row.country_code = "FR" if i % 10 == 0 else "IQ"
        if i % 4 == 0:
            row.content_sha256 = f"{i + 1:064x}"
        store.put(row)


def test_a_common_word_pages_as_the_unbounded_query_ranks(store: Store):
    """Only the best few matches are joined to their records at first; the pages, their
    order and their cursors are those of ranking every match, ties included."""
    _convoys(store, 120)
    # Pages of 100 rank all 120 matches (more candidates than matches): the reference.
    everything = [i for p in _every_page(store, "convoy", 100, versions="all") for i in p]
    assert len(everything) == 120
    current = [i for i in everything if int(i[1:]) % 4 != 0]
    assert [i for p in _every_page(store, "convoy", 100) for i in p] == current
    # Ties: records of the same text score the same; the newest comes first.
    same_text = [i for i in everything if int(i[1:]) % 21 == 0]
    assert same_text == sorted(same_text, key=lambda i: -int(i[1:]))
    for limit in (1, 2, 3, 7):
        pages = _every_page(store, "convoy", limit, versions="all")
        assert [i for p in pages for i in p] == everything
        assert all(len(p) == limit for p in pages[:-1])
        assert [i for p in _every_page(store, "convoy", limit) for i in p] == current
    # France holds 12 matches, mostly ranked low: the first candidates hold too few of them,
    # so the candidates widen until the page is full.
    france = _ids(store, "convoy", versions="all", country_code="FR")
    assert len(france) == 12
    for limit in (1, 2, 5):
        pages = _every_page(store, "convoy", limit, versions="all", country_code="FR")
        assert [i for p in pages for i in p] == france
        assert all(len(p) == limit for p in pages[:-1])
    # Each article's newest record only, a filter on the record rather than on the index.
    newest = _ids(store, "convoy", country_code="FR")
    assert newest == [i for i in france if int(i[1:]) % 4 != 0]
    assert [i for p in _every_page(store, "convoy", 2, country_code="FR") for i in p] == newest


def test_ties_across_the_candidates_come_newest_first(store: Store):
    """40 records of one text score the same: the first candidates (fewer than 40) are not
    taken in whatever order the index holds them, the newest come first."""
    for i in range(40):
        store.put(_row(i, headline="Convoy hit", summary="Quiet.", place=None, perpetrators=None))
    newest_first = [f"r{i}" for i in reversed(range(40))]
    for limit in (1, 2, 3):
        assert [i for p in _every_page(store, "convoy", limit) for i in p] == newest_first


def test_ties_within_one_second_come_newest_first_whatever_order_they_were_stored_in(
    store: Store,
):
    """The index orders ties by their records' second only: 40 records of one text in one
    second, stored oldest last, some at the same instant (then the higher id first), page as
    ranking every match does, as do the seconds either side."""
    second = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
    rows = []
    for i in range(44):
        row = _row(i, headline="Convoy hit", summary="Quiet.", place=None, perpetrators=None)
        row.created_at = second + timedelta(microseconds=1000 * (i // 2))
        if i >= 40:  # one second before, and one after
            row.created_at = second + timedelta(seconds=-1 if i % 2 else 1, microseconds=i)
        rows.append(row)
    for row in reversed(rows):
        store.put(row)
    newest_first = [r.id for r in sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)]
    assert newest_first[0] in ("r40", "r42") and newest_first[-1] in ("r41", "r43")
    for limit in (1, 2, 3, 20):
        assert [i for p in _every_page(store, "convoy", limit) for i in p] == newest_first


def test_a_record_given_a_new_time_moves_among_its_ties(store: Store):
    """The index follows a record's ``created_at``: when a second process replaces its row, and
    when the time alone is updated."""
    for i in range(40):
        store.put(_row(i, headline="Convoy hit", summary="Quiet.", place=None, perpetrators=None))
    again = _row(0, headline="Convoy hit", summary="Quiet.", place=None, perpetrators=None)
    again.created_at = datetime(2026, 12, 2, tzinfo=UTC)  # after every other record
    store.put(again)
    with store.engine.begin() as conn:
        conn.execute(
            update(SummaryRow)
            .where(col(SummaryRow.id) == "r1")
            .values(created_at=datetime(2026, 12, 3, tzinfo=UTC))
        )
    newest_first = ["r1", "r0", *(f"r{i}" for i in reversed(range(2, 40)))]
    for limit in (1, 2):
        assert [i for p in _every_page(store, "convoy", limit) for i in p] == newest_first


def test_a_search_filters_on_the_records_as_they_are_now(store: Store):
    """What a search filters on follows the records when they change in place (on PostgreSQL
    a copy beside the search vector, kept in step)."""
    for i in range(3):
        store.put(_row(i, headline="Convoy hit", summary="Quiet.", place=None, perpetrators=None))
    with store.engine.begin() as conn:
        conn.execute(update(SummaryRow).where(col(SummaryRow.id) == "r1").values(country_code="FR"))
        conn.execute(update(SummaryRow).where(col(SummaryRow.id) == "r2").values(latest=False))
    assert _ids(store, "convoy") == ["r1", "r0"]
    assert _ids(store, "convoy", versions="all") == ["r2", "r1", "r0"]
    assert _ids(store, "convoy", country_code="FR") == ["r1"]
    assert _ids(store, "convoy", country_code="IQ") == ["r0"]  # the same query, another value
    assert _ids(store, "convoy", versions="all", country_code="IQ") == ["r2", "r0"]


def test_a_filter_no_candidate_passes_still_finds_the_records_below(store: Store):
    _convoys(store, 60)
    # The lowest score of all (a long summary, the word in it only) and the oldest.
    old = _row(
        1000, headline="Report", summary="Convoy " + "moved " * 30, place=None, perpetrators=None
    )
    old.created_at = datetime(2020, 1, 1, tzinfo=UTC)
    old.country_code = "DE"
    store.put(old)
    assert _ids(store, "convoy", versions="all")[-1] == "r1000"
    assert _ids(store, "convoy", country_code="DE") == ["r1000"]
    assert store.list(ListQuery(q="convoy", limit=1, country_code="DE")) == ([old.body], None)
