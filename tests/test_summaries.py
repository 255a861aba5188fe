"""The summary endpoint end to end, with the model scripted at the HTTP boundary."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import httpx

from service import summarize
from tests.conftest import SEEDS, running_app
from tests.fake_llm import ScriptedLLM, draft_from_record


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
    assert body["usage"]["attempts"] == 1
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
        llm = ScriptedLLM(draft_from_record(sample["expected"]))
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
    assert llm.calls == 1
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
    assert llm.calls == 2
    assert other.headers["X-Cache"] == "miss"


async def test_concurrent_identical_posts_make_one_model_call(make_settings, seed):
    llm = ScriptedLLM(draft_from_record(seed["expected"]), delay=0.3)
    async with running_app(make_settings(), llm) as client:
        responses = await asyncio.gather(
            *(client.post("/v1/summaries", json=seed_request(seed)) for _ in range(20))
        )
    assert llm.calls == 1
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
        assert llm.calls == 1
        # and the record was stored: the next request is a hit
        again = await client.post("/v1/summaries", json=seed_request(seed))
    assert again.headers["X-Cache"] == "hit"


async def test_invalid_answer_is_reasked_with_the_validation_error(make_settings, seed):
    bad = draft_from_record(seed["expected"])
    bad["deaths_quote"] = "Forty soldiers were killed in a drone strike."
    bad["killed"] = 40  # no sentence of the article states it: only the model can fix this
    llm = ScriptedLLM(bad, draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200, response.text
    assert llm.calls == 2
    assert response.json()["usage"]["attempts"] == 2
    reask = json.dumps(llm.requests[1]["messages"])
    assert "is not in the article" in reask
    assert "Forty soldiers" in reask


async def test_an_invented_quote_for_a_right_figure_is_replaced_by_the_articles_sentence(
    make_settings, seed
):
    bad = draft_from_record(seed["expected"])
    bad["deaths_quote"] = "Three coalition soldiers lost their lives in the attack on the base."
    bad["injuries_quote"] = "A dozen people were hurt."
    llm = ScriptedLLM(bad)
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200, response.text
    assert llm.calls == 1  # found in the article, not re-asked
    record = response.json()
    text = seed["request"]["text"]
    quotes = {e["field"]: e for e in record["incident"]["evidence"]}
    for field in ("casualties.killed", "casualties.injured"):
        e = quotes[field]
        assert text[e["start"] : e["end"]] == e["quote"]
    assert "Three coalition soldiers" not in quotes["casualties.killed"]["quote"]
    assert record["incident"]["casualties"]["killed"] == 3
    assert record["incident"]["casualties"]["injured"] == 12


async def test_headline_disagreeing_with_the_toll_is_reasked(make_settings, seed):
    bad = draft_from_record(seed["expected"])
    bad["headline"] = "5 killed, 12 wounded in rocket strike on Camp Taji, Iraq"
    llm = ScriptedLLM(bad, draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200
    assert "the headline says 5 killed" in json.dumps(llm.requests[1]["messages"])


async def test_a_quote_that_does_not_state_the_figure_is_reasked(make_settings, seed):
    bad = draft_from_record(seed["expected"])
    bad["killed"] = 18
    bad["groups"] = []
    bad["headline"] = "Rocket strike on Camp Taji, Iraq"
    bad["deaths_quote"] = "A total of 18 rockets struck the base on Wednesday"
    llm = ScriptedLLM(bad, draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200
    assert "deaths_quote does not state 18 killed" in json.dumps(llm.requests[1]["messages"])
    assert response.json()["incident"]["casualties"]["killed"] == 3


async def test_a_total_leaving_out_a_group_its_quote_names_is_completed(make_settings, seed):
    draft = draft_from_record(seed["expected"])
    draft["killed"] = 2  # "Two US troops and a British service member": groups 2 + 1
    llm = ScriptedLLM(draft)
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200
    assert llm.calls == 1
    assert response.json()["incident"]["casualties"]["killed"] == 3


async def test_groups_adding_up_to_more_than_the_total_are_reasked(make_settings, seed):
    bad = draft_from_record(seed["expected"])
    bad["groups"] = copy.deepcopy(bad["groups"])
    bad["groups"][0]["killed"] = 5
    llm = ScriptedLLM(bad, draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200
    assert "add up to 6" in json.dumps(llm.requests[1]["messages"])


async def test_victims_named_as_perpetrators_are_reasked(make_settings, seed):
    bad = draft_from_record(seed["expected"])
    bad["perpetrators"] = [{"name": "US servicemen", "attribution": "confirmed"}]
    llm = ScriptedLLM(bad, draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200
    assert "are victims, not perpetrators" in json.dumps(llm.requests[1]["messages"])
    assert response.json()["incident"]["perpetrators"] == seed["expected"]["perpetrators"]


async def test_always_invalid_answer_ends_in_502_after_the_attempt_budget(make_settings, seed):
    llm = ScriptedLLM('{"is_incident": true, "unexpected": 1}')
    async with running_app(make_settings(max_attempts=3), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "model_invalid_output"
    assert "3 attempts" in error["message"]
    assert error["request_id"] == response.headers["X-Request-ID"]
    assert llm.calls == 3


async def test_not_json_at_all_is_reasked(make_settings, seed):
    llm = ScriptedLLM(
        "Sure! Here is the record you asked for.", draft_from_record(seed["expected"])
    )
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200
    assert llm.calls == 2


async def test_rate_limit_then_success_is_retried(make_settings, seed):
    llm = ScriptedLLM(429, 503, draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200
    assert llm.calls == 3
    assert response.json()["usage"]["attempts"] == 1


async def test_always_rate_limited_ends_in_503_with_retry_after(make_settings, seed):
    llm = ScriptedLLM(httpx.Response(429, headers={"Retry-After": "0"}, json={}))
    async with running_app(make_settings(transient_retries=3), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "model_unavailable"
    assert int(response.headers["Retry-After"]) >= 1
    assert llm.calls == 4  # 1 + 3 retries, never more


async def test_retry_after_longer_than_the_deadline_gives_up_at_once(make_settings, seed):
    llm = ScriptedLLM(httpx.Response(429, headers={"Retry-After": "60"}, json={}))
    async with running_app(make_settings(request_deadline_s=5), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 503
    assert llm.calls == 1
    assert response.headers["Retry-After"] == "60"


async def test_server_errors_exhaust_into_503(make_settings, seed):
    llm = ScriptedLLM(500)
    async with running_app(make_settings(transient_retries=2), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 503
    assert llm.calls == 3


async def test_timeouts_are_retried_then_end_in_504(make_settings, seed):
    llm = ScriptedLLM(httpx.ReadTimeout("stalled"))
    async with running_app(make_settings(transient_retries=2), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "deadline_exceeded"
    assert llm.calls == 3


async def test_a_timeout_then_success_is_retried(make_settings, seed):
    llm = ScriptedLLM(httpx.ConnectError("refused"), draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200
    assert llm.calls == 2


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
    second_draft["summary"] = "A refreshed summary of the rocket strike on Camp Taji."
    llm = ScriptedLLM(first_draft, second_draft)
    async with running_app(make_settings(), llm) as client:
        first = (await client.post("/v1/summaries", json=seed_request(seed))).json()
        refreshed = await client.post("/v1/summaries?refresh=true", json=seed_request(seed))
        again = await client.post("/v1/summaries", json=seed_request(seed))
        old = await client.get(f"/v1/summaries/{first['id']}")
    assert llm.calls == 2
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
    assert llm.calls == 1


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
    assert llm.calls == 2


async def test_last_attempt_withholds_what_the_article_does_not_support(make_settings, seed):
    bad = draft_from_record(seed["expected"])
    bad["deaths_quote"] = "Forty soldiers were killed in a drone strike."
    bad["killed"] = 40
    bad["groups"] = []
    bad["headline"] = "40 killed, 12 wounded in rocket strike on Camp Taji, Iraq"
    llm = ScriptedLLM(bad)
    async with running_app(make_settings(max_attempts=2), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200, response.text
    assert llm.calls == 2
    body = response.json()
    incident = body["incident"]
    assert incident["casualties"]["killed"] is None
    assert incident["casualties"]["injured"] == 12
    assert "40" not in incident["headline"]
    assert [e["field"] for e in incident["evidence"]] == ["casualties.injured", "perpetrators"]
    assert any("killed figure 40 withheld" in w for w in body["warnings"])
    assert any("deaths quote withheld" in w for w in body["warnings"])


async def test_a_near_copy_quote_is_stored_as_the_articles_own_words(make_settings, seed):
    draft = draft_from_record(seed["expected"])
    draft["deaths_quote"] = (
        "Two US troops and a British service member died in a rocket attack on Camp Taji"
    )
    llm = ScriptedLLM(draft)
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200
    assert llm.calls == 1
    text = seed_request(seed)["text"]
    killed = next(
        e for e in response.json()["incident"]["evidence"] if e["field"] == "casualties.killed"
    )
    assert "perished" in killed["quote"]
    assert text[killed["start"] : killed["end"]] == killed["quote"]


async def test_a_zero_toll_without_a_sentence_saying_so_is_unknown(make_settings, seed):
    draft = draft_from_record(seed["expected"])
    draft["injured"] = 0
    draft["injuries_quote"] = None
    draft["headline"] = "3 killed in rocket strike on Camp Taji, Iraq"
    llm = ScriptedLLM(draft)
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.status_code == 200
    assert response.json()["incident"]["casualties"]["injured"] is None


async def test_a_zero_toll_needs_a_sentence_saying_nobody(make_settings, seed):
    unsupported = draft_from_record(seed["expected"])
    unsupported["injured"] = 0
    unsupported["injuries_quote"] = "The dead and wounded have not been officially identified"
    unsupported["headline"] = "3 killed in rocket strike on Camp Taji, Iraq"
    llm = ScriptedLLM(unsupported)
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed_request(seed))
    assert response.json()["incident"]["casualties"]["injured"] is None
