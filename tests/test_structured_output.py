"""How the schema reaches a model server, and what a server that refuses the request costs.

The model is scripted at the HTTP boundary as llama-cpp-python's server behaves: it takes the
schema as ``response_format: {"type": "json_object", "schema": ...}`` and answers
``{"type": "json_schema", ...}`` with the validation error of its request model, as HTTP 500.
The app, instructor, the OpenAI client, the retry transport and SQLite are real.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from schemas.incident import IncidentDraft
from tests.conftest import running_app
from tests.fake_llm import ScriptedLLM, Turn, draft_from_record, is_relevance_call

# What llama-cpp-python 0.3.36's server answers to response_format json_schema (its body, as
# seen from tests/integration/test_model_server.py, traceback shortened).
REFUSAL = {
    "error": {
        "message": "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', "
        "'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\", "
        "'input': 'json_schema', 'ctx': {'expected': \"'text' or 'json_object'\"}}\n\n  File "
        '"llama_cpp/server/app.py", line 376, in create_chat_completion\n    POST '
        "/v1/chat/completions",
        "type": "internal_server_error",
        "param": None,
        "code": None,
    }
}


def llama_cpp_python_server(turn: Turn) -> Any:
    def answer(body: dict[str, Any]) -> Any:
        fmt = body.get("response_format") or {}
        if fmt.get("type") not in (None, "text", "json_object"):
            return httpx.Response(500, json=REFUSAL)
        return turn

    return answer


def formats(llm: ScriptedLLM) -> list[str]:
    return [str((r.get("response_format") or {}).get("type")) for r in llm.requests]


async def test_auto_mode_switches_to_json_object_with_the_schema(make_settings, seed):
    llm = ScriptedLLM(llama_cpp_python_server(draft_from_record(seed["expected"])))
    async with running_app(make_settings(), llm) as client:
        first = await client.post("/v1/summaries", json=seed["request"])
        other = {**seed["request"], "text": seed["request"]["text"] + " More soon."}
        second = await client.post("/v1/summaries", json=other)
    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text
    incident = first.json()["incident"]
    assert (incident["casualties"]["killed"], incident["casualties"]["injured"]) == (3, 12)
    assert first.json()["usage"]["attempts"] == 2  # one answer per call, no re-ask
    # Refused once, sent again as json_object; every later call goes as json_object at once.
    assert formats(llm) == ["json_schema"] + ["json_object"] * 4
    record_call = next(r for r in llm.requests if not is_relevance_call(r))
    schema = record_call["response_format"]["schema"]
    assert schema["title"] == "IncidentDraft"
    assert set(schema["properties"]) == set(IncidentDraft.model_json_schema()["properties"])


async def test_json_object_mode_sends_the_schema_from_the_first_call(make_settings, seed):
    llm = ScriptedLLM(llama_cpp_python_server(draft_from_record(seed["expected"])))
    async with running_app(make_settings(llm_mode="json_object"), llm) as client:
        response = await client.post("/v1/summaries", json=seed["request"])
    assert response.status_code == 200, response.text
    assert formats(llm) == ["json_object", "json_object"]
    assert all(r["response_format"]["schema"]["type"] == "object" for r in llm.requests)
    # That server's default repeat penalty (1.1) is turned off: the service decodes greedily.
    assert all(r["repeat_penalty"] == 1.0 for r in llm.requests)


async def test_a_refused_request_is_a_clear_error_and_is_not_retried(make_settings, seed):
    llm = ScriptedLLM(llama_cpp_python_server(draft_from_record(seed["expected"])))
    settings = make_settings(llm_mode="json_schema", transient_retries=4, max_attempts=3)
    async with running_app(settings, llm) as client:
        response = await client.post("/v1/summaries", json=seed["request"])
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == "model_request_rejected"
    assert "Input should be 'text' or 'json_object'" in error["message"]
    assert "SUMMARIZER_LLM_MODE" in error["message"]
    assert "Retry-After" not in response.headers
    assert llm.calls == 1  # neither retried as a 500 nor re-asked


@pytest.mark.parametrize("status", [400, 422])
async def test_a_client_error_upstream_is_refused_not_unavailable(make_settings, seed, status):
    refusal = httpx.Response(status, json={"error": {"message": "unknown field: seed"}})
    llm = ScriptedLLM(lambda body: refusal)
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", json=seed["request"])
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "model_request_rejected"
    assert "unknown field: seed" in response.json()["error"]["message"]
    # auto mode does not mistake it for a dialect problem: it does not mention response_format
    assert formats(llm) == ["json_schema"]


async def test_a_server_error_is_still_retried(make_settings, seed):
    llm = ScriptedLLM(500, 500, draft_from_record(seed["expected"]))
    async with running_app(make_settings(transient_retries=4), llm) as client:
        response = await client.post("/v1/summaries", json=seed["request"])
    assert response.status_code == 200, response.text
    assert llm.calls == 4  # two 500s retried, then the relevance and record answers
