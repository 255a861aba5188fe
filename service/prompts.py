"""Load and fill the prompt files; ``prompt_version`` is a hash of everything the model reads
and of the schemas its answers are decoded under.

The system prompt is fixed for every article and both tasks (instructions, a compact outline of
each answer's schema, a worked example), so a backend with a prefix cache evaluates it once.
The user message is the article as numbered sentences followed by the task's name: the
relevance call reads the lead, the record call the whole article, and as the lead is the start
of the whole article, the record call reuses what the relevance call evaluated.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template
from typing import Any, Literal

from schemas.incident import IncidentDraft, RelevanceAnswer

Task = Literal["relevance", "record"]


@dataclass(frozen=True)
class PromptSet:
    system: str
    user_template: Template
    version: str
    examples: str = ""  # the invented worked examples inside ``system``
    example_names: tuple[str, ...] = ()  # the invented names they use

    def messages(
        self, *, task: Task, sentences: str, title: str | None, published: str | None
    ) -> list[dict]:
        """``sentences``: the article as ``service.sentences.numbered`` renders it."""
        # substitute() raises KeyError on a missing variable: a prompt file is never half-filled.
        user = self.user_template.substitute(
            title=_defuse_fence(title) if title else "(none)",
            published=published or "(unknown)",
            sentences=_defuse_fence(sentences),
            task=task,
        )
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]


# The fence's name in any case, spacing or separator ("</ UNTRUSTED_article >").
_FENCE_NAME = re.compile(r"untrusted[\s_-]*article", re.IGNORECASE)


def _defuse_fence(text: str) -> str:
    # An article cannot close the fence early and speak outside it: only the template
    # writes the fence's name, so no spelling of a tag inside the text can pass for it.
    return _FENCE_NAME.sub("untrusted article", text)


def schema_outline(schema: dict[str, Any]) -> str:
    """Render a JSON schema as a compact commented JSON skeleton the model can read.

    Backends that decode with a grammar (llama.cpp, vLLM) never show the schema to the model,
    so its descriptions reach the model only through the prompt.
    """
    defs = schema.get("$defs", {})

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        return node

    def type_of(node: dict[str, Any]) -> str:
        node = resolve(node)
        if "anyOf" in node:
            return "|".join(type_of(n) for n in node["anyOf"])
        if "enum" in node:
            return "|".join(json.dumps(v) for v in node["enum"])
        if "const" in node:
            return json.dumps(node["const"])
        t = node.get("type")
        if t == "array":
            return f"[{type_of(node['items'])}, ...]"
        if t == "object":
            inner = ", ".join(f'"{k}": {type_of(v)}' for k, v in node["properties"].items())
            return "{" + inner + "}"
        names = {"integer": "int", "boolean": "bool"}
        return names.get(str(t), str(t or "any"))

    def render(node: dict[str, Any], indent: int) -> list[str]:
        pad = "  " * indent
        lines = []
        for key, prop in node["properties"].items():
            desc = prop.get("description") or resolve(prop).get("description", "")
            target = resolve(prop)
            if target.get("type") == "object" and "properties" in target:
                lines.append(f'{pad}"{key}": {{' + (f"  // {desc}" if desc else ""))
                lines.extend(render(target, indent + 1))
                lines.append(f"{pad}}},")
            else:
                comment = f"  // {desc}" if desc else ""
                lines.append(f'{pad}"{key}": {type_of(prop)},{comment}')
        return lines

    return "\n".join(["{", *render(schema, 1), "}"])


@cache
def load_prompts() -> PromptSet:
    package = resources.files("prompts")
    system_md = package.joinpath("system.md").read_text(encoding="utf-8")
    user_md = package.joinpath("user.md").read_text(encoding="utf-8")
    examples_md = package.joinpath("examples.md").read_text(encoding="utf-8")
    schemas = (RelevanceAnswer.model_json_schema(), IncidentDraft.model_json_schema())
    relevance, record = (schema_outline(schema) for schema in schemas)
    system = (
        f"{system_md.strip()}\n\nTASK relevance answers one JSON object of this shape:\n"
        f"{relevance}\n\nTASK record answers one JSON object of this shape:\n{record}\n\n"
        f"{examples_md.strip()}"
    )
    digest = hashlib.sha256()
    # The schemas whole, not only their outlines: a decoder's grammar is made from them, so a
    # bound or a pattern changed there changes answers as a changed instruction does.
    decoded = [json.dumps(schema, sort_keys=True) for schema in schemas]
    for part in (system_md, user_md, relevance, record, examples_md, *decoded):
        digest.update(part.encode())
        digest.update(b"\x00")
    return PromptSet(
        system=system,
        user_template=Template(user_md),
        version=digest.hexdigest()[:16],
        examples=examples_md,
        example_names=tuple(
            line.strip()
            for line in package.joinpath("example_names.txt").read_text("utf-8").splitlines()
            if line.strip()
        ),
    )
