"""Shared fixtures: a fresh store per test, and one demo store per session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analytics.store import EventStore
from sample_data.demo import load_demo

DEMO_PEOPLE = 8000
DEMO_SEED = 11


LLM_VARIABLES = ("OPENAI_BASE_URL", "OPENAI_API_KEY", "JOURNEY_MODEL")


@pytest.fixture(autouse=True)
def no_real_llm(monkeypatch):
    """Tests never reach a real API: any endpoint a machine has configured is hidden."""
    for name in LLM_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def store(tmp_path: Path) -> EventStore:
    return EventStore(tmp_path / "home")


@pytest.fixture
def write(tmp_path: Path):
    """write('name.csv', text) -> path of a new file with that exact text."""

    def _write(name: str, text: str | bytes) -> Path:
        path = tmp_path / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    return _write


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory) -> EventStore:
    store = EventStore(tmp_path_factory.mktemp("demo") / "home")
    load_demo(store, people=DEMO_PEOPLE, seed=DEMO_SEED)
    return store


@pytest.fixture(scope="session")
def demo_manifest(demo_store: EventStore) -> dict:
    return json.loads((demo_store.home / "demo" / "manifest.json").read_text())
