"""Configuration: every environment variable the product reads, read here and only here.

Each variable is listed in VARIABLES with what it does and its default; the README documents
each of them (a test fails when one is missing there, or read anywhere else). `settings()`
reads the environment when called, so a changed variable takes effect in the next command.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

VARIABLES: dict[str, str] = {
    "JOURNEY_HOME": "data folder (default ./.journey); --home overrides it",
    "JOURNEY_MODEL_DIR": "where the exported embedding models live (default: inside the "
                         "virtual environment, share/journey-agent)",
    "JOURNEY_QUERY_TIMEOUT_S": "time limit of one analytic query, in seconds (default 120)",
    "JOURNEY_ENGINE": "where read-only analytics run: duckdb (default, the store), spark or "
                      "clickhouse; --engine overrides it, engine.toml in the data folder sets "
                      "it too",
    "JOURNEY_WRITE_WAIT_S": "how long a write waits for another process that has the store "
                            "open (e.g. the web app reading), in seconds (default 30)",
    "JOURNEY_MAX_FILE_MB": "largest file one load accepts, in MB (default 4096)",
    "JOURNEY_MAX_ROWS": "most rows one load accepts (default 100,000,000)",
    "JOURNEY_EARLIEST_DATE": "timestamps before this date (YYYY-MM-DD) are rejected on load "
                             "(default 1990-01-01)",
    "JOURNEY_MAX_FUTURE_DAYS": "timestamps more than this many days after now are rejected on "
                               "load (default 1)",
    "JOURNEY_MAX_UPLOAD": "largest upload the web app accepts (default 1gb)",
    "JOURNEY_AUDIT_KEY": "key of the hash the erasure log keeps instead of a customer id",
    "JOURNEY_EXPORT_KEY": "key of the hashes `journey export --anonymize` writes (default: a "
                          "random key kept in the data folder)",
    "JOURNEY_PUBLIC_NAME": "the name(s) people use to reach the web app when it serves beyond "
                           "this machine (comma-separated, e.g. journey.example.com): requests "
                           "addressed to any other name are refused",
    "OPENAI_BASE_URL": "an OpenAI-compatible endpoint (Ollama, vLLM, LM Studio, Azure, OpenAI)",
    "OPENAI_API_KEY": "its key (any value for local servers)",
    "JOURNEY_MODEL": "the model to ask there (default gpt-4o-mini)",
}

DEFAULT_QUERY_SECONDS = 120.0
DEFAULT_EARLIEST_DATE = date(1990, 1, 1)
DEFAULT_MAX_FUTURE_DAYS = 1.0


@dataclass(frozen=True)
class Settings:
    home: str | None
    model_dir: str | None
    query_seconds: float
    engine: str | None
    write_wait_seconds: float
    max_file_mb: int
    max_rows: int
    max_upload: str
    audit_key: str
    export_key: str | None
    public_names: tuple[str, ...]
    llm_base_url: str | None
    llm_api_key: str | None
    llm_model: str | None
    # Plausible range of a loaded timestamp: earlier or later ones are rejected rows.
    earliest_date: date = DEFAULT_EARLIEST_DATE
    max_future_days: float = DEFAULT_MAX_FUTURE_DAYS


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(env.get(name) or default)
    except ValueError:
        return default


def _date(env: Mapping[str, str], name: str, default: date) -> date:
    try:
        return date.fromisoformat((env.get(name) or "").strip()[:10])
    except ValueError:
        return default


def settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    return Settings(
        home=env.get("JOURNEY_HOME") or None,
        model_dir=env.get("JOURNEY_MODEL_DIR") or None,
        query_seconds=_number(env, "JOURNEY_QUERY_TIMEOUT_S", DEFAULT_QUERY_SECONDS),
        engine=(env.get("JOURNEY_ENGINE") or "").strip().lower() or None,
        write_wait_seconds=_number(env, "JOURNEY_WRITE_WAIT_S", 30.0),
        max_file_mb=int(_number(env, "JOURNEY_MAX_FILE_MB", 4096)),
        max_rows=int(_number(env, "JOURNEY_MAX_ROWS", 100_000_000)),
        max_upload=env.get("JOURNEY_MAX_UPLOAD") or "1gb",
        audit_key=env.get("JOURNEY_AUDIT_KEY") or "journey-agent-audit",
        export_key=env.get("JOURNEY_EXPORT_KEY") or None,
        public_names=tuple(n.strip().lower() for n in (env.get("JOURNEY_PUBLIC_NAME") or "")
                           .split(",") if n.strip()),
        llm_base_url=env.get("OPENAI_BASE_URL") or None,
        llm_api_key=env.get("OPENAI_API_KEY") or None,
        llm_model=env.get("JOURNEY_MODEL") or None,
        earliest_date=_date(env, "JOURNEY_EARLIEST_DATE", DEFAULT_EARLIEST_DATE),
        max_future_days=max(0.0, _number(env, "JOURNEY_MAX_FUTURE_DAYS",
                                         DEFAULT_MAX_FUTURE_DAYS)),
    )
