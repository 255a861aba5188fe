"""What API fuzzing found, pinned down: the OpenAPI document tells the truth about the answers,
and inputs the schema forbids are refused."""

from __future__ import annotations

import pytest

from schemas.incident import IncidentDraft, RelevanceAnswer
from service.api import SummaryOut, SummaryPage
from service.language import detect_language
from service.prompts import load_prompts
from service.sentences import numbered, split_sentences
from tests.chaos.harness import article
from tests.conftest import running_app
from tests.fake_llm import ScriptedLLM, is_relevance_call
from tests.scripted_openai import article_of, generic_answer
from tests.test_errors_and_listing import error_of


async def test_served_resources_match_the_documented_schemas(make_settings):
    llm = ScriptedLLM(lambda body: generic_answer(body))
    async with running_app(make_settings(), llm) as client:
        made = (await client.post("/v1/summaries", json=article(3))).json()
        again = (await client.get(f"/v1/summaries/{made['id']}")).json()
        page = (await client.get("/v1/summaries")).json()
    SummaryOut.model_validate(made)
    SummaryOut.model_validate(again)
    assert SummaryPage.model_validate(page).items[0].id == made["id"]


async def test_every_documented_error_has_the_one_error_body(make_settings):
    async with running_app(make_settings(), ScriptedLLM()) as client:
        spec = (await client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    statuses = set()
    for operations in spec["paths"].values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                if status[0] in "45":
                    statuses.add(status)
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    assert {"400", "401", "404", "413", "415", "422", "429", "502", "503", "504"} <= statuses
    post = spec["paths"]["/v1/summaries"]["post"]
    assert set(post["responses"]) >= {"200", "400", "401", "413", "415", "422", "429", "503"}


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "/v1/summaries?q=fire&q=flood", None),
        ("GET", "/v1/summaries?limit=5&limit=100", None),
        ("GET", "/v1/summaries?since=0", None),
        ("GET", "/v1/summaries?until=1.5e-3", None),
        ("POST", "/v1/summaries", {"text": "A fire killed 2.", "published": "0"}),
        ("POST", "/v1/summaries", {"text": "A fire killed 2.", "published": 1_700_000_000}),
        ("POST", "/v1/summaries", {"text": "A fire killed 2.", "published": "20200312"}),
    ],
)
async def test_inputs_the_schema_forbids_are_refused(make_settings, method, url, body):
    llm = ScriptedLLM()
    async with running_app(make_settings(), llm) as client:
        response = await client.request(method, url, json=body)
    assert response.status_code == 422, response.text
    assert error_of(response)["code"] == "invalid_input"
    assert llm.record_calls == 0


async def test_a_wrong_method_names_every_method_the_path_serves(make_settings):
    async with running_app(make_settings(), ScriptedLLM()) as client:
        collection = await client.request("PUT", "/v1/summaries")
        item = await client.delete("/v1/summaries/abc")
    assert collection.status_code == 405
    assert error_of(collection)["code"] == "method_not_allowed"
    assert collection.headers["Allow"] == "GET, POST"
    assert item.headers["Allow"] == "GET"


@pytest.mark.parametrize(
    "text",
    [
        "Two people were killed in the blast. {{ 7 * 6 }} {{ final() }} {{ text }}",
        "A stray {# opened a comment; 3 people were injured.",
        "{% for i in range(99999) %}x{% endfor %} Four were killed.",
        "Five died. {% endraw %}{{ 'a' * 99 }}{%- raw -%} {{%",
    ],
)
async def test_template_syntax_in_an_article_reaches_the_model_as_written(make_settings, text):
    # The article is data, never a template: nothing in it is evaluated on the way.
    llm = ScriptedLLM(lambda body: generic_answer(body))
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json={"text": text})
    assert response.status_code == 200, response.text
    sent = [m["content"] for m in llm.requests[0]["messages"]]
    sentences = numbered(split_sentences(text, detect_language(text)))
    plain = load_prompts().messages(
        task="relevance", sentences=sentences, title=None, published=None
    )
    assert sent == [m["content"] for m in plain]
    shown = [" ".join(s.text.split()) for s in split_sentences(text, detect_language(text))]
    assert article_of(llm.requests[0]) == "\n".join(shown)
    assert "".join(shown).replace(" ", "") == text.replace(" ", "")


async def test_the_model_is_sent_exactly_the_drafts_schema(make_settings, seed):
    llm = ScriptedLLM(lambda body: generic_answer(body))
    async with running_app(make_settings(), llm) as client:
        for n in range(2):  # the schema is built once: the second request sends the same
            text = f"{seed['request']['text']} ({n})"
            assert (await client.post("/v1/summaries", json={"text": text})).status_code == 200
    expected = {
        "relevance": ("RelevanceAnswer", RelevanceAnswer.model_json_schema()),
        "record": ("IncidentDraft", IncidentDraft.model_json_schema()),
    }
    tasks = []
    for request in llm.requests:
        sent = request["response_format"]["json_schema"]
        task = "relevance" if is_relevance_call(request) else "record"
        tasks.append(task)
        assert (sent["name"], sent["schema"]) == expected[task]
    assert tasks == ["relevance", "record", "relevance", "record"]
