"""Configuration: every environment variable the product reads, read here and only here.

Each variable is listed in VARIABLES with what it does and its default; the README documents
each of them (a test fails when one is missing there, or read anywhere else). `settings()`
reads the environment when called, so a changed variable takes effect in the next command.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

VARIABLES: dict[str, str] = {
    "JOURNEY_HOME": "data folder (default ./.journey); --home overrides it",
    "JOURNEY_MODEL_DIR": "where the exported embedding models live (default: inside the "
                         "virtual environment, share/journey-agent)",
    "JOURNEY_QUERY_TIMEOUT_S": "time limit of one analytic query, in seconds (default 120)",
    "JOURNEY_MAX_FILE_MB": "largest file one load accepts, in MB (default 4096)",
    "JOURNEY_MAX_ROWS": "most rows one load accepts (default 100,000,000)",
    "JOURNEY_MAX_UPLOAD": "largest upload the web app accepts (default 1gb)",
    "JOURNEY_AUDIT_KEY": "key of the hash the erasure log keeps instead of a customer id",
    "JOURNEY_EXPORT_KEY": "key of the hashes `journey export --anonymize` writes (default: a "
                          "random key kept in the data folder)",
    "OPENAI_BASE_URL": "an OpenAI-compatible endpoint (Ollama, vLLM, LM Studio, Azure, OpenAI)",
    "OPENAI_API_KEY": "its key (any value for local servers)",
    "JOURNEY_MODEL": "the model to ask there (default gpt-4o-mini)",
}

DEFAULT_QUERY_SECONDS = 120.0


@dataclass(frozen=True)
class Settings:
    home: str | None
    model_dir: str | None
    query_seconds: float
    max_file_mb: int
    max_rows: int
    max_upload: str
    audit_key: str
    export_key: str | None
    llm_base_url: str | None
    llm_api_key: str | None
    llm_model: str | None


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(env.get(name) or default)
    except ValueError:
        return default


def settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    return Settings(
        home=env.get("JOURNEY_HOME") or None,
        model_dir=env.get("JOURNEY_MODEL_DIR") or None,
        query_seconds=_number(env, "JOURNEY_QUERY_TIMEOUT_S", DEFAULT_QUERY_SECONDS),
        max_file_mb=int(_number(env, "JOURNEY_MAX_FILE_MB", 4096)),
        max_rows=int(_number(env, "JOURNEY_MAX_ROWS", 100_000_000)),
        max_upload=env.get("JOURNEY_MAX_UPLOAD") or "1gb",
        audit_key=env.get("JOURNEY_AUDIT_KEY") or "journey-agent-audit",
        export_key=env.get("JOURNEY_EXPORT_KEY") or None,
        llm_base_url=env.get("OPENAI_BASE_URL") or None,
        llm_api_key=env.get("OPENAI_API_KEY") or None,
        llm_model=env.get("JOURNEY_MODEL") or None,
    )
