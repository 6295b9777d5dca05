"""`journey doctor`: is everything in place, and if not, what to do."""

from __future__ import annotations


def checks(home: str | None) -> list[dict]:
    from analytics.feedback.embedder import onnx_path
    from analytics.store import EventStore
    from analytics.store.status import store_status

    found: list[dict] = []

    def add(name: str, ok: bool, detail: str, fix: str = "") -> None:
        found.append({"check": name, "ok": ok, "detail": detail, "fix": fix})

    store = EventStore(home)
    try:
        status = store_status(store)
        if not status.exists or not status.events:
            add("store", False, f"no events in {store.home}",
                "run `journey demo-data` or `journey ingest events FILE`")
        else:
            add("store", True, f"{status.events:,} events, {status.customers:,} customers, "
                               f"{status.feedback:,} feedback items in {store.home}")
    except Exception as exc:
        add("store", False, str(exc), "move the damaged store away and load your data again")
    model = onnx_path()
    add("embedding model", model.exists(), str(model),
        "" if model.exists() else "run `python -m analytics.feedback.embedder --build`")
    try:
        from analytics.feedback.index import FeedbackIndex

        index = FeedbackIndex(store)
        indexed = index.collection().count() if index.path.exists() else 0
        stored = status.feedback if store.exists() else 0
        same_model = not index.path.exists() or index.made_by_this_model()
        detail = f"{indexed:,} of {stored:,} snippets indexed" + (
            "" if same_model else f", by another embedding model than {index.embedder.model_id}")
        add("feedback index", indexed == stored and same_model, detail,
            "" if indexed == stored and same_model else "run `journey feedback index`")
    except Exception as exc:
        add("feedback index", False, str(exc), "run `journey feedback index` (it rebuilds)")
    from agent.llm import llm_config

    config = llm_config()
    if config is None:
        add("language model", True, "offline mode (no OPENAI_BASE_URL or OPENAI_API_KEY set)")
    else:
        import urllib.error
        import urllib.request

        url = (config.base_url or "https://api.openai.com/v1").rstrip("/") + "/models"
        try:
            request = urllib.request.Request(url, headers={
                "Authorization": f"Bearer {config.api_key}"})
            urllib.request.urlopen(request, timeout=5)
            add("language model", True, f"{config.model} at {url}")
        except urllib.error.HTTPError as exc:
            add("language model", exc.code != 401, f"{url} answered {exc.code}",
                "check OPENAI_API_KEY" if exc.code == 401 else "")
        except Exception as exc:
            add("language model", False, f"{url} unreachable ({type(exc).__name__})",
                "check OPENAI_BASE_URL; until then answers come from the offline planner")
    return found

