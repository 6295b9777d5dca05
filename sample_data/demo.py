"""Generate the demo data and load it through the same ingest path as a user's files."""

from __future__ import annotations

import json
from pathlib import Path

from analytics.errors import JourneyError
from analytics.store import EventStore, ingest_files
from analytics.store.ingest import Progress
from sample_data.generator import generate, write_demo_files

MANIFEST_NAME = "manifest.json"


def demo_folder(store: EventStore) -> Path:
    return store.home / "demo"


def load_demo(store: EventStore, people: int = 20_000, seed: int = 7,
              progress: Progress | None = None) -> dict:
    """Write the demo exports under the data folder and ingest them; returns a summary."""
    folder = demo_folder(store)
    manifest_path = folder / MANIFEST_NAME
    if store.exists() and manifest_path.exists():
        previous = json.loads(manifest_path.read_text())
        if (previous.get("people"), previous.get("seed")) != (people, seed):
            raise JourneyError(
                f"{store.home} already holds demo data for {previous.get('people')} people "
                f"(seed {previous.get('seed')}). Add --force to replace it, or choose another "
                "folder with --home.")
    elif store.exists():
        from analytics.store.status import store_status

        if store_status(store).events:
            raise JourneyError(
                f"{store.home} already holds your own data; the demo would mix with it. "
                "Use another folder with --home (or --force to delete the store first).")
    if progress:
        progress(f"Generating the demo journey for {people:,} people", 0, 0)
    data = generate(people=people, seed=seed)
    paths = write_demo_files(data, folder, fmt="parquet")
    loaded = {}
    for kind in ("events", "customers", "feedback"):
        report = ingest_files(store, kind, [paths[kind]], progress=progress)
        loaded[kind] = report.rows_loaded
    return {
        "home": str(store.home),
        "people": people,
        "seed": seed,
        "events_loaded": loaded["events"],
        "customers_loaded": loaded["customers"],
        "feedback_loaded": loaded["feedback"],
        "manifest": str(paths["manifest"]),
    }
