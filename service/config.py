"""All settings, read once from ``SUMMARIZER_*`` environment variables (and an optional .env)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BUNDLED_MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SUMMARIZER_", env_file=".env", extra="ignore", frozen=True
    )

    # --- model backend -------------------------------------------------------------------
    llm_base_url: str | None = Field(
        default=None, description="OpenAI-compatible base URL; unset = the bundled local model."
    )
    llm_api_key: SecretStr | None = None
    llm_model: str | None = Field(
        default=None, description="Model name sent upstream (default: the bundled model's name)."
    )
    llm_mode: Literal["auto", "json_schema", "json_object", "json", "tools"] = Field(
        default="auto",
        description="How the schema is sent upstream: response_format json_schema (vLLM, "
        "llama.cpp's llama-server, Ollama, OpenAI), json_object with a schema "
        "(llama-cpp-python's server), plain JSON mode (schema in the prompt), tool calling, or "
        "auto: json_schema, then json_object with a schema if the server refuses json_schema.",
    )
    llm_temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=1024, ge=64, le=16384, description="Completion cap per call.")
    max_attempts: int | None = Field(
        default=None,
        ge=1,
        le=10,
        description="Model answers per request (1 + re-asks). Default: 1 on the bundled model, "
        "where an answer costs 20-40 s of CPU and the service repairs evidence itself; 3 on a "
        "model server.",
    )
    relevance_lead_chars: int = Field(
        default=1200,
        ge=200,
        le=20_000,
        description="Characters of the article's first sentences the relevance call reads "
        "(at least two sentences): news reports its incident in the lead.",
    )
    min_incident_probability: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="The relevance call must name an incident's kind with at least this "
        "probability (its incident kinds' share of the alternatives at the kind's first "
        "token, from the server's log-probabilities) to be taken on its word. An answer in "
        "doubt, a share from 1 minus this up to it, whichever kind it named, gets the record "
        "call and its record decides; below that band the article is ordinary news and the "
        "record call is not made. 0 asks for no log-probabilities (a server without them is "
        "judged on its answer alone either way).",
    )
    stale_event_days: int | None = Field(
        default=60,
        ge=0,
        description="An event that ended more than this many days before publication is "
        "background (a trial, an anniversary), not an incident; empty disables the rule.",
    )
    transient_retries: int = Field(
        default=4,
        ge=0,
        le=20,
        description="Transient retries (429/5xx/timeouts) per summary, shared by its calls.",
    )
    retry_max_wait_s: float = Field(default=8.0, gt=0, description="Longest back-off wait.")
    llm_call_timeout_s: float = Field(
        default=120.0, gt=0, description="Timeout of one upstream HTTP call."
    )
    request_deadline_s: float = Field(
        default=300.0, gt=0, description="Overall time budget of one summary request."
    )
    max_concurrency: int | None = Field(
        default=None,
        ge=1,
        description="Model calls in flight at once (default: 1 for the bundled model, 256 "
        "for a server, as many sequences as vLLM batches by default).",
    )
    queue_depth: int = Field(
        default=32, ge=0, description="Requests allowed to wait for a model slot; beyond: 503."
    )

    # --- bundled model ---------------------------------------------------------------------
    local_n_ctx: int = Field(default=8192, ge=1024, le=32768)
    local_n_threads: int | None = Field(
        default=None, ge=1, description="Threads generating tokens (default: the cores available)."
    )
    local_n_threads_batch: int | None = Field(
        default=None,
        ge=1,
        description="Threads evaluating the prompt (default: the cores available).",
    )
    local_draft_tokens: int = Field(
        default=8,
        ge=0,
        le=32,
        description="Tokens of the text the schema fixes (JSON keys, punctuation) proposed at "
        "a time, evaluated in one batch with the token before them and kept while they are "
        "the model's own picks; 0 = off (every token one step at a time).",
    )
    local_cpu_variant: str | None = Field(
        default=None,
        description="llama.cpp CPU backend variant to load (haswell, skylakex, zen4, ...); "
        "default: the best this CPU runs.",
    )
    local_model_path: Path | None = Field(
        default=None, description="Use this GGUF file instead of the bundled one."
    )
    local_warmup: bool = Field(
        default=True, description="Evaluate the fixed prompt prefix at start-up."
    )
    local_prefix_state: bool = Field(
        default=True,
        description="Save the evaluated prompt prefix under the data directory and load it at "
        "later starts instead of evaluating it again.",
    )

    # --- storage ---
    data_dir: Path = Field(default_factory=lambda: Path(user_data_dir("incident-summarizer")))
    database_url: str | None = None
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        default="NORMAL",
        description="NORMAL survives a process kill; FULL also survives a power loss.",
    )
    database_migrate: bool = Field(
        default=True,
        description="Upgrade the schema at start-up (under a lock, so replicas starting "
        "together migrate once); false: refuse to start on an older schema and leave the "
        "upgrade to `incident-summarizer db upgrade`.",
    )
    database_pool_size: int = Field(
        default=10, ge=1, le=1000, description="PostgreSQL: connections each process keeps."
    )
    database_pool_overflow: int = Field(
        default=10, ge=0, le=1000, description="PostgreSQL: extra connections under a burst."
    )
    database_pool_timeout_s: float = Field(
        default=30.0, gt=0, description="PostgreSQL: longest wait for a pooled connection."
    )
    database_connect_timeout_s: int = Field(
        default=10, ge=1, le=600, description="PostgreSQL: longest wait to open a connection."
    )

    # --- limits ---
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_article_chars: int = Field(
        default=1_000_000,
        ge=100,
        description="Longest article text in characters (413 beyond): a bound on the CPU spent "
        "splitting and scoring it, not on what the model reads.",
    )
    max_article_tokens: int | None = Field(
        default=None,
        ge=64,
        description="Most model tokens of the article the record call reads; a longer article "
        "is read as its lead and the passages most likely to report the incident (a warning "
        "says how much). Default: what the context window holds on the bundled model, "
        "unlimited on a model server (where it is set, tokens are estimated from characters).",
    )

    # --- articles given as a page (html) or a link (url) ---
    fetch_allow_hosts: str | None = Field(
        default=None,
        description="Comma-separated host names (or IP addresses) a URL may name even when "
        "they resolve to a loopback, private or link-local address (an intranet CMS).",
    )
    fetch_timeout_s: float = Field(
        default=15.0, gt=0, le=120, description="Total time to fetch one URL, redirects included."
    )
    fetch_max_bytes: int = Field(
        default=5_000_000, ge=1024, description="Largest page fetched from a URL, in bytes."
    )
    fetch_max_redirects: int = Field(default=5, ge=0, le=5, description="Redirects followed.")
    fetch_user_agent: str = Field(
        default="incident-summarizer/0.1 (+newsroom article fetcher)",
        description="User-Agent sent with every fetch.",
    )
    min_article_chars: int = Field(
        default=80,
        ge=1,
        description="Fewest characters of text a page must yield to count as an article.",
    )

    # --- access ---
    api_keys: str | None = Field(default=None, description="Comma-separated API keys.")
    rate_limit_per_minute: int = Field(
        default=600, ge=0, description="Requests per minute per API key; 0 = no limit."
    )
    rate_limit_burst: int = Field(
        default=60, ge=1, description="Requests one API key may make at once, above its rate."
    )
    opentelemetry: bool = Field(
        default=False,
        description="FastAPI's own OpenTelemetry spans and metrics, for a process where an "
        "OpenTelemetry SDK is set up. Off, FastAPI no longer looks up the global providers on "
        "every request (4% of a cache hit's CPU); /metrics does not depend on it.",
    )
    metrics_open: bool = Field(
        default=False,
        description="Serve GET /metrics without an API key (for a Prometheus that scrapes "
        "over a private network). Off: /metrics needs a key like the API, when keys exist.",
    )

    # --- processes ---
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Worker processes of `serve` (model server only). They share single flight "
        "and the rate limits through the data directory; concurrency and queue depth are "
        "each worker's own.",
    )

    # --- batches (POST /v1/batches, `incident-summarizer worker`, `ingest`) ---
    batch_max_items: int = Field(
        default=10_000, ge=1, le=1_000_000, description="Most articles one batch may hold."
    )
    batch_max_body_bytes: int = Field(
        default=104_857_600,
        ge=1024,
        description="Largest POST /v1/batches body (the other routes keep max_body_bytes).",
    )
    batch_concurrency: int | None = Field(
        default=None,
        ge=1,
        description="SQLite: articles of batches the API process works on at once (default: "
        "its model slots, max_concurrency).",
    )
    batch_item_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Tries of one batch article while the model is unavailable, the queue "
        "full or the deadline passed (503/504); after them the item fails with that error.",
    )
    batch_retry_wait_s: float = Field(
        default=5.0, ge=0, description="Wait before the next try of such an article."
    )
    worker_concurrency: int | None = Field(
        default=None,
        ge=1,
        le=1024,
        description="Articles one `incident-summarizer worker` has in their model calls at "
        "once: its model calls in flight (default: its model slots, at most 32).",
    )
    worker_prefetch: int | None = Field(
        default=None,
        ge=0,
        le=1024,
        description="Articles a worker holds beyond worker_concurrency, reading and storing "
        "them while the others are in their model calls, so that the model server never waits "
        "on the worker's own work (default: a quarter of worker_concurrency, at least 1; 0: "
        "none).",
    )
    worker_heartbeat_s: float = Field(
        default=10.0, gt=0, description="How often a worker says it is alive."
    )
    worker_stalled_s: float = Field(
        default=30.0,
        gt=0,
        description="A worker silent this long is dead: its articles go to the other workers.",
    )
    batch_sweep_s: float = Field(
        default=30.0,
        gt=0,
        description="How often workers look for articles and webhooks left without a job.",
    )

    # --- webhooks (a batch's webhook_url) ---
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="Key of the HMAC-SHA256 signature of every webhook body; without it, "
        "batches with a webhook_url are refused.",
    )
    webhook_allow_hosts: str | None = Field(
        default=None,
        description="Comma-separated host names (or addresses) a webhook_url may name even "
        "though they resolve to a loopback, private or link-local address.",
    )
    webhook_max_attempts: int = Field(
        default=8, ge=1, le=50, description="Deliveries tried before the webhook fails."
    )
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="Time one delivery may take."
    )
    webhook_backoff_s: float = Field(
        default=2.0, ge=0, description="Wait after the first failed delivery; doubled each time."
    )
    webhook_backoff_max_s: float = Field(
        default=300.0, ge=0, description="Longest wait between deliveries."
    )

    # --- logging ---
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        if self.llm_base_url and not self.llm_base_url.startswith(("http://", "https://")):
            raise ValueError("SUMMARIZER_LLM_BASE_URL must start with http:// or https://")
        if self.workers > 1 and self.uses_bundled_model:
            raise ValueError(
                "SUMMARIZER_WORKERS > 1 needs a model server (SUMMARIZER_LLM_BASE_URL): the "
                "bundled model runs in one process, and more would share the same CPU cores"
            )
        return self

    @cached_property
    def fetch_allow_host_set(self) -> frozenset[str]:
        hosts = (self.fetch_allow_hosts or "").split(",")
        return frozenset(h.strip().strip("[]").rstrip(".").lower() for h in hosts if h.strip())

    @cached_property
    def webhook_allow_host_set(self) -> frozenset[str]:
        hosts = (self.webhook_allow_hosts or "").split(",")
        return frozenset(h.strip().strip("[]").rstrip(".").lower() for h in hosts if h.strip())

    @property
    def batch_slots(self) -> int:
        return self.batch_concurrency or self.concurrency

    @property
    def worker_slots(self) -> int:
        """Model calls one worker keeps in flight."""
        return self.worker_concurrency or min(self.concurrency, 32)

    @property
    def worker_jobs(self) -> int:
        """Articles one worker holds at once: its model slots and the ones around them."""
        slots = self.worker_slots
        extra = self.worker_prefetch
        return slots + (max(1, slots // 4) if extra is None else extra)

    @property
    def uses_bundled_model(self) -> bool:
        return self.llm_base_url is None

    @property
    def prefix_state_dir(self) -> Path | None:
        """Where the evaluated prompt prefix is saved and loaded, or None when it is not."""
        return self.data_dir / "models" if self.local_prefix_state else None

    @property
    def model_name(self) -> str:
        return self.llm_model or BUNDLED_MODEL_NAME

    @property
    def attempts(self) -> int:
        if self.max_attempts is not None:
            return self.max_attempts
        return 1 if self.uses_bundled_model else 3

    @property
    def concurrency(self) -> int:
        """Model calls in flight at once in this process (each worker has its own)."""
        if self.max_concurrency is not None:
            return self.max_concurrency
        return 1 if self.uses_bundled_model else 256

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'summaries.sqlite3'}"

    @cached_property
    def api_key_list(self) -> tuple[str, ...]:
        if not self.api_keys:
            return ()
        return tuple(k.strip() for k in self.api_keys.split(",") if k.strip())
