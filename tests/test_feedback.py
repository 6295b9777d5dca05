"""Feedback evidence: redaction, sentiment, local embeddings, the Chroma index, themes, friction."""

from __future__ import annotations

import json
import os
import shutil
import signal

import numpy as np
import pytest

from analytics.errors import JourneyError
from analytics.feedback.embedder import shared_embedder
from analytics.feedback.friction import friction
from analytics.feedback.index import FeedbackIndex
from analytics.feedback.redact import redact
from analytics.feedback.sentiment import SentimentScorer
from analytics.feedback.themes import feedback_segments, keywords_by_theme, themes
from analytics.filters import Filters
from analytics.store import EventStore, ingest_files

PRICE_WORDS = ("pric", "expensive", "cost", "budget", "cheap", "seat")
BILLING_WORDS = ("bill", "charg", "invoice", "payment", "card", "refund", "paid")


@pytest.mark.parametrize("text, expected", [
    ("Reach me at jane.doe@example.com or +1 415 555 0123.", "Reach me at [EMAIL] or [PHONE]."),
    ("Call (415) 555-0199 today", "Call [PHONE] today"),
    ("Card 4242 4242 4242 4242 was charged", "Card [CARD] was charged"),
    ("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN [IBAN] please"),
    ("reset via https://app.example.com/reset?token=abc123 now", "reset via [URL] now"),
    ("see https://example.com/pricing", "see https://example.com/pricing"),
    ("We pay $1,200 a year since 2024-01-05 for 25 seats", "We pay $1,200 a year since "
                                                           "2024-01-05 for 25 seats"),
    ("order 12345 on 03/04/2024", "order 12345 on 03/04/2024"),
])
def test_redaction(text, expected):
    assert redact(text) == expected


def test_sentiment_knows_support_language():
    scorer = SentimentScorer()
    assert scorer.score("I was charged twice this month, please refund it.").label == "negative"
    assert scorer.score("Checkout kept throwing an error.").label == "negative"
    assert scorer.score("The weekly reports save me hours every week.").label == "positive"
    assert scorer.score("Invoice attached.").label == "neutral"


def test_embeddings_are_local_normalised_and_semantic():
    embedder = shared_embedder()
    v = embedder.embed(["too expensive", "pricing is steep for a small team",
                        "the onboarding checklist is confusing"])
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.1
    assert embedder.embed([]).shape == (0, 384)


def test_keywords_are_distinctive_by_hand():
    texts = ["refund my card", "card refund now", "team price", "price for team"]
    words = keywords_by_theme(texts, np.array([0, 0, 1, 1]), 2, top=2)
    assert set(words[0]) == {"refund", "card"} and set(words[1]) == {"team", "price"}


@pytest.fixture
def small_index(tmp_path):
    events = tmp_path / "e.csv"
    events.write_text("customer_id,timestamp,event\nc1,2024-01-01,pricing_view\n"
                      "c2,2024-01-01,pricing_view\nc2,2024-01-02,signup\n")
    feedback = tmp_path / "f.csv"
    feedback.write_text(
        "feedback_id,customer_id,timestamp,source,text\n"
        "f1,c1,2024-01-01T12:00:00Z,survey,Way too expensive for us. Mail jo@acme.io\n"
        "f2,c2,2024-01-03T12:00:00Z,ticket,The onboarding checklist is confusing\n"
        "f3,c2,2024-01-04T12:00:00Z,review,Reports save me hours every week\n")
    store = EventStore(tmp_path / "h")
    ingest_files(store, "events", [events])
    ingest_files(store, "feedback", [feedback])
    return store, FeedbackIndex(store), tmp_path


def test_index_is_idempotent_redacted_and_filtered(small_index):
    store, index, tmp_path = small_index
    first = index.sync()
    assert (first.snippets, first.embedded) == (3, 3)
    assert index.sync().embedded == 0  # nothing new, nothing embedded
    stored = index.collection().get(ids=["f1"], include=["documents", "metadatas"])
    assert stored["documents"][0] == "Way too expensive for us. Mail [EMAIL]"
    meta = stored["metadatas"][0]
    assert (meta["stage"], meta["source"], meta["sentiment"]) == (
        "consideration", "survey", "negative")
    hits = index.search("pricing costs too much", k=1)
    assert hits[0].feedback_id == "f1" and hits[0].similarity > 0.3
    assert [h.feedback_id for h in index.search("anything", k=3, source="review")] == ["f3"]
    assert {h.feedback_id for h in index.search("setup", k=3, stage="evaluation")} == {"f2", "f3"}
    from datetime import date
    assert {h.feedback_id for h in index.search("x", k=3, since=date(2024, 1, 4))} == {"f3"}
    # Both ends inclusive: the 3rd alone, then the 1st to the 3rd without the 4th.
    assert {h.feedback_id for h in index.search("x", k=3, since=date(2024, 1, 3),
                                                until=date(2024, 1, 3))} == {"f2"}
    assert {h.feedback_id for h in index.search("x", k=3, until=date(2024, 1, 3))} == {"f1", "f2"}
    assert index.search("x", k=3, sentiment="positive")[0].feedback_id == "f3"
    with pytest.raises(JourneyError, match="search text"):
        index.search("  ")
    more = tmp_path / "more.csv"
    more.write_text("feedback_id,customer_id,timestamp,source,text\n"
                    "f4,c1,2024-01-05T12:00:00Z,chat,Is there a discount for startups?\n")
    ingest_files(store, "feedback", [more])
    report = index.sync()
    assert (report.snippets, report.embedded) == (4, 1)  # only the new one is embedded


def test_damaged_index_is_rebuilt_from_the_store(small_index):
    store, index, _ = small_index
    index.sync()
    index._collection = None
    shutil.rmtree(index.path)
    index.path.mkdir()
    (index.path / "chroma.sqlite3").write_bytes(b"this is not a database")
    # As a new process would: Chroma caches open stores per path inside a process.
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    fresh = FeedbackIndex(store)
    report = fresh.sync()
    assert report.rebuilt and report.snippets == 3 and report.embedded == 3
    assert "rebuilt" in report.notes[0]
    assert fresh.search("expensive", k=1)[0].feedback_id == "f1"


@pytest.fixture(scope="module")
def demo_index(demo_store):
    index = FeedbackIndex(demo_store)
    index.sync()
    return index


def _about(label_words, words) -> bool:
    return any(w.startswith(p) or p in w for w in label_words for p in words)


def test_themes_recover_price_and_billing(demo_store, demo_index):
    with demo_store.reader() as con:
        by_segment = feedback_segments(con)
    result = themes(demo_index, segment_names=by_segment)
    assert 4 <= result.k <= 10
    assert sum(t.size for t in result.themes) == result.snippets
    price = [t for t in result.themes if _about(t.keywords[:4], PRICE_WORDS)]
    billing = [t for t in result.themes if _about(t.keywords[:4], BILLING_WORDS)]
    assert price and billing
    assert any(c.value == "consideration" and c.lift > 1.3 for t in price for c in t.stages)
    assert any("billing" in c.value and c.lift > 1.3 for t in billing for c in t.segments)
    assert all(len(t.quotes) >= 1 for t in result.themes)
    assert max(t.negative_share for t in billing) > 0.5


def test_friction_at_pricing_names_price_for_team_size(demo_store, demo_index):
    with demo_store.reader() as con:
        result = friction(con, demo_index, "pricing_view",
                          filters=Filters(device=("mobile",)))
    assert result.next_step == "signup"
    top = result.themes[0]
    assert _about(top.label.split(", "), PRICE_WORDS + ("team",))
    assert top.dropped_share >= 0.3 and top.dropped_share > 2 * top.passed_share
    assert top.quotes and "%" in result.summary
    # The first quote is typical of the theme: it is about price for the team, not browsing.
    assert _about(top.quotes[0]["text"].lower().replace(",", " ").split(),
                  PRICE_WORDS + ("team",)), top.quotes


def test_search_is_semantic_on_the_demo(demo_index):
    hits = demo_index.search("too expensive", k=8)
    assert any("expensive" not in h.text.lower() and _about(h.text.lower().split(), PRICE_WORDS)
               for h in hits)
    assert len({h.text for h in hits}) == len(hits)  # identical quotes shown once
    billing = demo_index.search("I was billed wrongly", k=5, source="ticket")
    assert all(h.source == "ticket" for h in billing)
    assert sum(_about(h.text.lower().split(), BILLING_WORDS) for h in billing) >= 4


def test_cli_feedback_commands(demo_store, demo_index):
    from tests.test_cli import journey

    home = demo_store.home
    result = journey("feedback", "search", "pricing is too high", "-k", "3", "--json", home=home)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert len(data["snippets"]) == 3 and "similarity" in data["snippets"][0]
    result = journey("friction", "pricing_view", "--json", home=home)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["kind"] == "friction"
    bad = journey("feedback", "search", "x", "--sentiment", "angry", home=home)
    assert bad.returncode == 2 and "'angry' is not one of" in bad.stderr


def test_bulk_embedding_in_a_child_process_gives_the_same_vectors(tmp_path):
    from analytics.feedback.bulk_embed import BulkEmbedder

    embedder = shared_embedder()
    chunks = [[f"pricing is steep for a team of {n}", f"charged twice in month {n}"]
              for n in range(4)]
    with BulkEmbedder(embedder, 8, in_child=True) as bulk:
        assert bulk.child is not None
        folder = bulk._folder
        handles = [bulk.submit(chunk) for chunk in chunks]
        got = [handle.result() for handle in handles]
    for chunk, vectors in zip(chunks, got):
        assert np.allclose(vectors, embedder.embed(chunk), atol=1e-6)
    assert not folder.exists()  # the child's files are gone with it


def test_bulk_embedding_survives_a_dead_child():
    from analytics.feedback.bulk_embed import BulkEmbedder

    embedder = shared_embedder()
    with BulkEmbedder(embedder, 8, in_child=True) as bulk:
        first = bulk.submit(["billing is a mess"])
        assert np.allclose(first.result(), embedder.embed(["billing is a mess"]), atol=1e-6)
        # Stopped first, so the child cannot answer before it dies (no race with the kill).
        os.kill(bulk.child.pid, signal.SIGSTOP)
        pending = bulk.submit(["the app crashed"])
        bulk.child.kill()
        bulk.child.wait()
        # Submitted to the child before it died, and after: both are embedded here instead.
        assert np.allclose(pending.result(), embedder.embed(["the app crashed"]), atol=1e-6)
        assert bulk.child is None
        later = bulk.submit(["great reports"])
        assert np.allclose(later.result(), embedder.embed(["great reports"]), atol=1e-6)


def test_small_loads_embed_in_process():
    from analytics.feedback.bulk_embed import BulkEmbedder

    with BulkEmbedder(shared_embedder(), 10) as bulk:
        assert bulk.child is None
        assert bulk.submit(["hello"]).result().shape == (1, 384)


def test_index_made_by_another_model_is_embedded_again(small_index):
    from analytics.feedback.embedder import MiniLMEmbedder

    store, _, _ = small_index
    older = FeedbackIndex(store, embedder=MiniLMEmbedder("fp32"))
    assert older.sync().embedded == 3
    assert older.collection().metadata["embedding_model"] == "all-MiniLM-L6-v2-fp32"
    current = FeedbackIndex(store)
    report = current.sync()
    assert report.embedded == 3 and "embedded again" in report.notes[0]
    assert current.collection().metadata["embedding_model"] == "all-MiniLM-L6-v2-int8"
    assert current.search("too expensive", k=1)[0].feedback_id == "f1"


def _late_signup(store, folder) -> None:
    """c1 signed up before writing f1 (an event that arrived late): f1's stage moves."""
    later = folder / "later.csv"
    later.write_text("customer_id,timestamp,event\nc1,2024-01-01T06:00:00Z,signup\n")
    ingest_files(store, "events", [later])


def test_moved_stage_updates_metadata_without_embedding(small_index, tmp_path):
    store, index, _ = small_index
    index.sync()
    assert index.search("expensive", k=1)[0].stage == "consideration"
    _late_signup(store, tmp_path)
    report = index.sync()
    assert (report.embedded, report.updated) == (0, 1)
    hit = index.search("expensive", k=1)[0]
    assert hit.feedback_id == "f1" and hit.stage != "consideration"
    assert hit.date == "2024-01-01"
    assert index.sync().updated == 0


def test_search_syncs_only_after_the_store_changes(small_index, tmp_path, monkeypatch):
    store, index, _ = small_index
    index.sync()
    syncs = []
    real_sync = index.sync
    monkeypatch.setattr(index, "sync", lambda *a, **k: syncs.append(1) or real_sync(*a, **k))
    for _ in range(3):
        index.search("expensive", k=1)
    assert syncs == []  # nothing written: no sync, not even a look inside the store
    _late_signup(store, tmp_path)
    index.search("expensive", k=1)
    index.search("expensive", k=1)
    assert syncs == [1]


def test_search_catches_up_after_the_store_changes(small_index, tmp_path):
    store, index, _ = small_index
    index.sync()
    assert index.search("expensive", k=1)[0].stage == "consideration"
    _late_signup(store, tmp_path)
    assert index.search("expensive", k=1)[0].stage != "consideration"  # no explicit sync


def test_new_sentiment_scoring_relabels_without_embedding(small_index, monkeypatch):
    import analytics.feedback.index as index_module
    from analytics.feedback.sentiment import Sentiment

    store, index, _ = small_index
    index.sync()
    assert index.search("expensive", k=1)[0].sentiment == "negative"
    monkeypatch.setattr(index_module, "SENTIMENT_MODEL", "scoring-next")
    monkeypatch.setattr(SentimentScorer, "score", lambda self, text: Sentiment("neutral", 0.0))
    report = index.sync()
    assert (report.embedded, report.updated) == (0, 3)
    assert {h.sentiment for h in index.search("anything", k=3)} == {"neutral"}
    assert index.collection().metadata["sentiment_model"] == "scoring-next"
    assert index.sync().updated == 0  # labels of the current scoring are kept from now on


def test_friction_quotes_the_most_typical_snippets_first(tmp_path):
    from analytics.feedback.index import Snippet
    from analytics.feedback.themes import Theme, ThemesResult

    events = tmp_path / "e.csv"
    events.write_text("customer_id,timestamp,event\nc1,2024-01-01,pricing_view\n"
                      "c2,2024-01-01,pricing_view\nc3,2024-01-01,pricing_view\n"
                      "c3,2024-01-02,signup\n")
    feedback = tmp_path / "f.csv"
    feedback.write_text("feedback_id,customer_id,timestamp,source,text\n"
                        "f1,c1,2024-01-01T12:00:00Z,survey,Just looking around\n"
                        "f2,c2,2024-01-01T12:00:00Z,survey,Too pricey for our team\n")
    store = EventStore(tmp_path / "h")
    ingest_files(store, "events", [events])
    ingest_files(store, "feedback", [feedback])
    snippets = [Snippet(fid, cid, "consideration", "survey", "2024-01-01", "neutral", None, text)
                for fid, cid, text in (("f1", "c1", "Just looking around"),
                                       ("f2", "c2", "Too pricey for our team"))]
    # f2 sits at the theme's centre, f1 at its edge: f2 is quoted first despite its id.
    themes_result = ThemesResult(
        snippets=2, k=1, themes=[Theme(0, "price, team", ["price", "team"], 2, 1.0, 0, 0, 0)],
        assignments={"f1": 0, "f2": 0}, typicality={"f1": 0.41, "f2": 0.93})
    with store.reader() as con:
        result = friction(con, FeedbackIndex(store), "pricing_view", next_step="signup",
                          min_people=1, themes_result=themes_result, snippets=snippets)
    assert (result.dropped, result.passed) == (2, 1)
    assert [q["feedback_id"] for q in result.themes[0].quotes] == ["f2", "f1"]
    assert result.themes[0].dropped_share == 1.0


def test_themes_of_repeated_texts_are_as_many_as_the_texts(tmp_path):
    """Survey reasons and ticket templates repeat word for word: three texts said four times
    each make at most three themes (k-means would otherwise leave a theme empty), and one text
    said twelve times is too little to group, with a message instead of a crash."""
    texts = ["Billing is confusing and I was charged twice", "Great onboarding, setup was quick",
             "Reports are slow to load"]
    rows = "".join(f"f{i},c{i},2024-01-{i + 1:02d}T10:00:00Z,survey,\"{texts[i % 3]}\"\n"
                   for i in range(12))
    feedback = tmp_path / "f.csv"
    feedback.write_text("feedback_id,customer_id,timestamp,source,text\n" + rows)
    store = EventStore(tmp_path / "h")
    ingest_files(store, "feedback", [feedback])
    index = FeedbackIndex(store)
    index.sync()
    found = themes(index)
    assert 2 <= found.k <= 3 and all(t.size > 0 for t in found.themes)
    assert sum(t.size for t in found.themes) == 12
    same = tmp_path / "same.csv"
    same.write_text("feedback_id,customer_id,timestamp,source,text\n" + "".join(
        f"s{i},c{i},2024-02-{i + 1:02d}T10:00:00Z,survey,Too expensive\n" for i in range(12)))
    store = EventStore(tmp_path / "h2")
    ingest_files(store, "feedback", [same])
    index = FeedbackIndex(store)
    index.sync()
    with pytest.raises(JourneyError, match="only 1 different thing"):
        themes(index)
