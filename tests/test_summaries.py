"""The summary endpoint end to end, with the model scripted at the HTTP boundary."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import httpx
import pytest

from service import summarize
from tests.conftest import SEEDS, running_app
from tests.fake_llm import ScriptedLLM, completion, draft_from_record

# The same tests on SQLite and on PostgreSQL (tests.conftest's database_url).
pytestmark = pytest.mark.backends


def seed_request(seed: dict[str, Any]) -> dict[str, Any]:
    return seed["request"]


async def test_seed_article_gives_the_expected_record(make_settings, seed):
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200, response.text
    body = response.json()
    assert response.headers["X-Cache"] == "miss"
    assert body["cached"] is False
    assert body["incident"] == seed["expected"]
    assert body["model"] == "scripted-model"
    assert body["schema_version"] == "1"
    assert body["usage"]["attempts"] == 2  # the relevance answer and the record
    assert body["published"] == "2020-03-12"
    assert len(body["id"]) == 32 and len(body["content_sha256"]) == 64
    # What went upstream: the schema as response_format, the article fenced as data.
    sent = llm.requests[0]
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["model"] == "scripted-model"
    user = sent["messages"][-1]["content"]
    assert "<untrusted-article>" in user and "Camp Taji" in user


async def test_every_seed_sample_round_trips(make_settings):
    paths = sorted(SEEDS.glob("*.json"))
    assert len(paths) >= 5
    for path in paths:
        sample = json.loads(path.read_text())
        turn = draft_from_record(sample["expected"], sample.get("kind", "culture_or_other"))
        llm = ScriptedLLM(turn)
        async with running_app(make_settings(), llm) as client:
            response = await client.post("/v1/summaries", json=sample["request"])
        assert response.status_code == 200, (path.name, response.text)
        assert response.json()["incident"] == sample["expected"], path.name


async def test_second_post_is_a_cache_hit_without_a_model_call(make_settings, seed):
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        first = await client.post("/v1/summaries", json=seed_request(seed))
        # Whitespace differences do not make a different article.
        spaced = {
            **seed_request(seed),
            "text": "  " + seed_request(seed)["text"].replace(" ", "  "),
        }
        second = await client.post("/v1/summaries", json=spaced)
    assert llm.record_calls == 1
    assert second.status_code == 200
    assert second.headers["X-Cache"] == "hit"
    assert second.json()["cached"] is True
    assert {**second.json(), "cached": False} == first.json()


async def test_a_different_publication_date_is_a_different_key(make_settings, seed):
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        await client.post("/v1/summaries", json=seed_request(seed))
        other = await client.post(
            "/v1/summaries", json={**seed_request(seed), "published": "2020-03-13"}
        )
    assert llm.record_calls == 2
    assert other.headers["X-Cache"] == "miss"


async def test_concurrent_identical_posts_make_one_model_call(make_settings, seed):
    llm = ScriptedLLM(draft_from_record(seed["expected"]), delay=0.3)
    async with running_app(make_settings(), llm) as client:
        responses = await asyncio.gather(
            *(client.post("/v1/summaries", json=seed_request(seed)) for _ in range(20))
        )
    assert llm.record_calls == 1
    assert {r.status_code for r in responses} == {200}
    bodies = [r.json() for r in responses]
    assert all(b == bodies[0] for b in bodies)


async def test_a_disconnected_client_does_not_cancel_the_shared_call(make_settings, seed):
    llm = ScriptedLLM(draft_from_record(seed["expected"]), delay=0.3)
    async with running_app(make_settings(), llm) as client:
        first = asyncio.create_task(client.post("/v1/summaries", json=seed_request(seed)))
        await asyncio.sleep(0.05)
        second = asyncio.create_task(client.post("/v1/summaries", json=seed_request(seed)))
        await asyncio.sleep(0.05)
        first.cancel()
        response = await second
        assert response.status_code == 200
        assert llm.record_calls == 1
        # and the record was stored: the next request is a hit
        again = await client.post("/v1/summaries", json=seed_request(seed))
    assert again.headers["X-Cache"] == "hit"


async def test_an_answer_in_the_wrong_shape_is_reasked_with_the_validation_error(
    make_settings, seed
):
    llm = ScriptedLLM('{"category": "fire", "surprise": 1}', draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200, response.text
    assert llm.record_calls == 2
    assert response.json()["usage"]["attempts"] == 3  # relevance, record, re-asked record
    reask = json.dumps(llm.requests[-1]["messages"])
    assert "surprise" in reask


async def test_a_figure_no_sentence_states_is_withheld_without_a_reask(make_settings, seed):
    bad = draft_from_record(seed["expected"])
    assert bad.record is not None
    bad.record.update(killed=40, groups=[], headline="40 killed in rocket strike on Camp Taji")
    llm = ScriptedLLM(bad)
    async with running_app(make_settings(max_attempts=3), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200, response.text
    assert llm.record_calls == 1
    body = response.json()
    incident = body["incident"]
    assert incident["casualties"]["killed"] is None
    assert incident["casualties"]["injured"] == 12
    assert "40" not in incident["headline"]
    assert [e["field"] for e in incident["evidence"]] == ["casualties.injured", "perpetrators"]
    assert "killed figure 40 withheld: no sentence of the article states it" in body["warnings"]


async def test_a_figure_pointed_at_the_wrong_sentence_gets_the_one_that_states_it(
    make_settings, seed
):
    draft = draft_from_record(seed["expected"])
    assert draft.record is not None
    draft.record["quotes"]["killed_sentence"] = "A total of 18 rockets struck the base"
    llm = ScriptedLLM(draft)
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200
    text = seed_request(seed)["text"]
    killed = response.json()["incident"]["evidence"][0]
    assert killed["field"] == "casualties.killed"
    assert killed["quote"].startswith("Two US troops and a British service member perished")
    assert text[killed["start"] : killed["end"]] == killed["quote"]


async def test_a_headline_stating_figures_the_record_lacks_is_written_from_the_record(
    make_settings, seed
):
    draft = draft_from_record(seed["expected"])
    assert draft.record is not None
    draft.record["headline"] = "5 killed, 12 wounded in rocket strike on Camp Taji, Iraq"
    llm = ScriptedLLM(draft)
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200
    body = response.json()
    assert body["incident"]["headline"].startswith("3 killed, 12 injured")
    assert any(w.startswith("headline written from the record") for w in body["warnings"])


async def test_a_total_leaving_out_a_group_its_sentence_names_is_completed(make_settings, seed):
    draft = draft_from_record(seed["expected"])
    assert draft.record is not None
    draft.record["killed"] = 2  # "Two US troops and a British service member": groups 2 + 1
    llm = ScriptedLLM(draft)
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200
    assert response.json()["incident"]["casualties"]["killed"] == 3


async def test_victims_named_as_perpetrators_are_dropped(make_settings, seed):
    bad = draft_from_record(seed["expected"])
    assert bad.record is not None
    bad.record["perpetrators"] = [{"name": "US servicemen", "attribution": "confirmed"}]
    llm = ScriptedLLM(bad)
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200
    assert response.json()["incident"]["perpetrators"] == [
        {"name": "unknown", "attribution": "unknown"}
    ]


async def test_an_answer_still_in_the_wrong_shape_is_reduced_to_its_valid_part(make_settings, seed):
    llm = ScriptedLLM('{"killed": 3, "unexpected": 1, "headline": "3 killed\u0001"}')
    async with running_app(make_settings(max_attempts=3), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200, response.text
    assert llm.record_calls == 3
    body = response.json()
    assert (
        "the model's record answer broke the schema and was reduced to its valid part"
        in (body["warnings"])
    )


async def test_an_answer_that_is_never_json_ends_in_502_after_the_attempt_budget(
    make_settings, seed
):
    llm = ScriptedLLM("Sure! Here is the record you asked for.")
    async with running_app(make_settings(max_attempts=3), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "model_invalid_output"
    assert "3 attempts" in error["message"]
    assert error["request_id"] == response.headers["X-Request-ID"]
    assert llm.record_calls == 3


async def test_not_json_at_all_is_reasked(make_settings, seed):
    llm = ScriptedLLM(
        "Sure! Here is the record you asked for.", draft_from_record(seed["expected"])
    )
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200
    assert llm.record_calls == 2


async def test_rate_limit_then_success_is_retried(make_settings, seed):
    llm = ScriptedLLM(429, 503, draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200
    assert llm.record_calls == 3
    assert response.json()["usage"]["attempts"] == 2


async def test_always_rate_limited_ends_in_503_with_retry_after(make_settings, seed):
    llm = ScriptedLLM(httpx.Response(429, headers={"Retry-After": "0"}, json={}))
    async with running_app(make_settings(transient_retries=3), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "model_unavailable"
    assert int(response.headers["Retry-After"]) >= 1
    assert llm.record_calls == 4  # 1 + 3 retries, never more


async def test_retry_after_longer_than_the_deadline_gives_up_at_once(make_settings, seed):
    llm = ScriptedLLM(httpx.Response(429, headers={"Retry-After": "60"}, json={}))
    async with running_app(make_settings(request_deadline_s=5), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 503
    assert llm.record_calls == 1
    assert response.headers["Retry-After"] == "60"


async def test_server_errors_exhaust_into_503(make_settings, seed):
    llm = ScriptedLLM(500)
    async with running_app(make_settings(transient_retries=2), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 503
    assert llm.record_calls == 3


async def test_timeouts_are_retried_then_end_in_504(make_settings, seed):
    llm = ScriptedLLM(httpx.ReadTimeout("stalled"))
    async with running_app(make_settings(transient_retries=2), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "deadline_exceeded"
    assert llm.record_calls == 3


async def test_a_timeout_then_success_is_retried(make_settings, seed):
    llm = ScriptedLLM(httpx.ConnectError("refused"), draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200
    assert llm.record_calls == 2


async def test_a_slow_model_hits_the_request_deadline(make_settings, seed):
    llm = ScriptedLLM(draft_from_record(seed["expected"]), delay=5)
    async with running_app(make_settings(request_deadline_s=0.5), llm) as client:
        started = asyncio.get_running_loop().time()
        response = await client.post("/v1/summaries", json=seed_request(seed))
        elapsed = asyncio.get_running_loop().time() - started
    assert response.status_code == 504
    assert elapsed < 1.5


async def test_refresh_re_extracts_and_keeps_the_old_record(make_settings, seed):
    first_draft = draft_from_record(seed["expected"])
    second_draft = copy.deepcopy(first_draft)
    assert second_draft.record is not None
    second_draft.record["summary"] = "A refreshed summary of the rocket strike on Camp Taji."
    llm = ScriptedLLM(first_draft, second_draft)
    async with running_app(make_settings(), llm) as client:
        first = (await client.post("/v1/summaries", json=seed_request(seed))).json()
        refreshed = await client.post("/v1/summaries?refresh=true", json=seed_request(seed))
        again = await client.post("/v1/summaries", json=seed_request(seed))
        old = await client.get(f"/v1/summaries/{first['id']}")
    assert llm.record_calls == 2
    assert refreshed.headers["X-Cache"] == "miss"
    assert refreshed.json()["id"] != first["id"]
    assert refreshed.json()["incident"]["summary"].startswith("A refreshed")
    assert again.json()["id"] == refreshed.json()["id"]
    assert old.status_code == 200
    assert old.json()["incident"]["summary"] == first["incident"]["summary"]


async def test_get_by_id_returns_the_stored_resource(make_settings, seed):
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        created = (await client.post("/v1/summaries", json=seed_request(seed))).json()
        fetched = await client.get(f"/v1/summaries/{created['id']}")
        missing = await client.get("/v1/summaries/does-not-exist")
    assert fetched.status_code == 200
    assert fetched.json() == {**created, "cached": True}
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


async def test_records_survive_a_restart(make_settings, seed):
    settings = make_settings()
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    async with running_app(settings, llm) as client:
        created = (await client.post("/v1/summaries", json=seed_request(seed))).json()
    async with running_app(settings, llm) as client:
        again = await client.post("/v1/summaries", json=seed_request(seed))
    assert again.headers["X-Cache"] == "hit"
    assert again.json()["id"] == created["id"]
    assert llm.record_calls == 1


async def test_records_made_under_older_rules_are_extracted_again(make_settings, seed, monkeypatch):
    settings = make_settings()
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    async with running_app(settings, llm) as client:
        old = (await client.post("/v1/summaries", json=seed_request(seed))).json()
    monkeypatch.setattr(summarize, "RULES_VERSION", summarize.RULES_VERSION + "-next")
    async with running_app(settings, llm) as client:
        new = await client.post("/v1/summaries", json=seed_request(seed))
        kept = await client.get(f"/v1/summaries/{old['id']}")
    assert new.headers["X-Cache"] == "miss"
    assert new.json()["id"] != old["id"]
    assert kept.status_code == 200  # the old record stays retrievable by its id
    assert llm.record_calls == 2


async def test_a_zero_toll_needs_a_sentence_saying_nobody_else_the_articles_own_count_stands(
    make_settings, seed
):
    unsupported = draft_from_record(seed["expected"])
    assert unsupported.record is not None
    unsupported.record["injured"] = 0
    unsupported.record["quotes"]["injured_sentence"] = "The dead and wounded have not been"
    unsupported.record["headline"] = "3 killed in rocket strike on Camp Taji, Iraq"
    llm = ScriptedLLM(unsupported)
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    body = response.json()
    # The 0 is withheld; the article counts the injured with one number, which stands instead.
    assert "injured figure 0 withheld: no sentence of the article states it" in body["warnings"]
    assert body["incident"]["casualties"]["injured"] == 12
    assert any(
        w.startswith("injured figure 12 read from sentence") and "the only count" in w
        for w in body["warnings"]
    )


async def test_an_answer_cut_off_at_the_token_limit_keeps_what_it_completed(make_settings, seed):
    cut = (
        '{"category": "air_or_missile_strike", "killed_sentence": null, "killed": null, '
        '"injured_sentence": 2, "injured": 12, "missing": null, "qualifier": null, "grou'
    )
    llm = ScriptedLLM(httpx.Response(200, json=completion(cut, finish_reason="length")))
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["incident"]["casualties"]["injured"] == 12
    assert body["incident"]["headline"].startswith("12 injured")
    assert any("was cut off at 1024 tokens" in w for w in body["warnings"])


async def test_a_record_another_process_stores_after_the_first_read_is_served(
    make_settings, seed, tmp_path
):
    """Two processes sharing the store and the claims: the article is not stored yet when one
    of them looks, and the other stores it just after. The first then claims the article,
    finds the record and serves it, without a model call of its own."""
    from service.backend import build_summarizer, open_store, prepare_schema
    from service.coordination import Coordination
    from service.store import Store
    from service.summarize import Article

    settings = make_settings()
    request = seed_request(seed)
    other_llm = ScriptedLLM(draft_from_record(seed["expected"]))
    own_llm = ScriptedLLM(draft_from_record(seed["expected"]))
    other_store = open_store(settings)
    prepare_schema(other_store, settings)
    other = await build_summarizer(
        settings,
        other_store,
        transport=other_llm.transport(),
        coordination=Coordination(tmp_path / "claims.sqlite3", pid=1),
    )

    class LateStore(Store):
        """The store as this process sees it: the other process stores the record right
        after this process's first read."""

        reads = 0

        async def current_async(self, cache_key: str) -> bytes | None:
            stored = await super().current_async(cache_key)
            LateStore.reads += 1
            if LateStore.reads == 1:
                await other.summarize_json(Article(**request))
            return stored

    own_store = LateStore(open_store(settings).engine)
    own = await build_summarizer(
        settings,
        own_store,
        transport=own_llm.transport(),
        coordination=Coordination(tmp_path / "claims.sqlite3", pid=2),
    )
    try:
        body, hit = await own.summarize_json(Article(**request))
    finally:
        await own.aclose()
        await other.aclose()
        own_store.close()
        other_store.close()
    assert (other_llm.calls, own_llm.calls) == (2, 0)
    assert hit is True
    assert json.loads(body)["cached"] is True
