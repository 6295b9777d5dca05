"""The feedback index: redacted snippets, their sentiment and embeddings in a local Chroma store.

Chroma runs embedded (PersistentClient) in the data folder's `chroma/`, telemetry off. Snippets
are keyed by feedback id, so indexing is an idempotent upsert, and a re-index embeds only what is
new or changed (a hash of the redacted text is kept with each snippet). The stage is
recomputed on every sync (cheap: no embedding) because new events can move it. The original
text never leaves DuckDB; Chroma holds only the redacted text.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable

import numpy as np

from analytics.errors import JourneyError
from analytics.feedback.embedder import MODEL_NAME, MiniLMEmbedder, shared_embedder
from analytics.feedback.redact import redact
from analytics.feedback.sentiment import SentimentScorer
from analytics.store import EventStore

COLLECTION = "feedback"
UPSERT_BATCH = 1000
Progress = Callable[[str, int, int], None]


def _no_progress(description: str, done: int, total: int) -> None:
    return None


def _register_embedding_function():
    """A Chroma embedding function backed by our ONNX model, registered so a persisted
    collection can be reopened with it."""
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
    from chromadb.utils.embedding_functions import (known_embedding_functions,
                                                    register_embedding_function)

    name = "journey-minilm-onnx"
    if name in known_embedding_functions:
        return known_embedding_functions[name]

    class JourneyMiniLM(EmbeddingFunction[Documents]):
        def __init__(self, embedder: MiniLMEmbedder | None = None) -> None:
            self._embedder = embedder or shared_embedder()

        def __call__(self, input: Documents) -> Embeddings:
            return [row for row in self._embedder.embed(list(input))]

        @staticmethod
        def name() -> str:
            return name

        def get_config(self) -> dict[str, Any]:
            return {"model": MODEL_NAME}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> "JourneyMiniLM":
            return JourneyMiniLM()

        def default_space(self):
            return "cosine"

    register_embedding_function(JourneyMiniLM)
    return JourneyMiniLM


@dataclass
class Snippet:
    feedback_id: str
    customer_id: str | None
    stage: str
    source: str
    date: str
    sentiment: str
    rating: float | None
    text: str  # redacted
    similarity: float | None = None
    same_text: int = 1  # how many matching snippets say exactly this (shown once)


@dataclass
class IndexReport:
    snippets: int
    embedded: int
    removed: int
    rebuilt: bool = False
    notes: list[str] = field(default_factory=list)


def feedback_rows(con) -> list[tuple]:
    """Feedback with the journey stage each person was in when they wrote it."""
    return con.execute("""
        WITH f AS (SELECT * FROM journey_feedback),
        staged AS (
            SELECT f.feedback_id AS feedback_id,
                   arg_max(e.stage, {'ts': e.ts, 'id': e.event_id}) AS stage
            FROM f JOIN journey_events AS e ON e.person_id = f.person_id AND e.ts <= f.ts
            GROUP BY f.feedback_id
        )
        SELECT f.feedback_id, f.customer_id, f.person_id, f.ts, f.source, f.rating, f.text,
               COALESCE(s.stage, 'unknown') AS stage
        FROM f LEFT JOIN staged AS s ON s.feedback_id = f.feedback_id
        ORDER BY f.feedback_id
    """).fetchall()


class FeedbackIndex:
    def __init__(self, store: EventStore, embedder: MiniLMEmbedder | None = None) -> None:
        self.store = store
        self.path = store.home / "chroma"
        self.embedder = embedder or shared_embedder()
        self._collection = None

    def _client(self):
        import chromadb
        from chromadb.config import Settings

        return chromadb.PersistentClient(
            path=str(self.path), settings=Settings(anonymized_telemetry=False,
                                                   allow_reset=True))

    def collection(self):
        if self._collection is None:
            ef_class = _register_embedding_function()
            client = self._client()
            self._collection = client.get_or_create_collection(
                COLLECTION, embedding_function=ef_class(self.embedder),
                metadata={"hnsw:space": "cosine"})
        return self._collection

    def _open_or_rebuild(self) -> bool:
        """Open the collection; a damaged Chroma folder is moved aside and rebuilt."""
        try:
            self.collection().count()
            return False
        except Exception:  # chromadb raises many types for a damaged folder
            from chromadb.api.shared_system_client import SharedSystemClient

            self._collection = None
            SharedSystemClient.clear_system_cache()
            broken = self.path.with_name(f"chroma.broken-{datetime.now():%Y%m%d%H%M%S}")
            if self.path.exists():
                shutil.move(str(self.path), str(broken))
            self.collection()
            return True

    def sync(self, progress: Progress | None = None) -> IndexReport:
        """Bring the index up to date with the store; embeds only new or changed snippets."""
        progress = progress or _no_progress
        rebuilt = self._open_or_rebuild()
        with self.store.reader() as con:
            rows = feedback_rows(con)
        collection = self.collection()
        existing = collection.get(include=["metadatas"])
        known = {i: (m or {}).get("text_hash") for i, m in zip(existing["ids"],
                                                               existing["metadatas"])}
        scorer = SentimentScorer()
        ids, docs, metas, to_embed = [], [], [], []
        for feedback_id, customer_id, person_id, ts, source, rating, text, stage in rows:
            clean = redact(text)
            text_hash = hashlib.sha1(clean.encode("utf-8")).hexdigest()[:16]
            sentiment = scorer.score(clean)
            meta = {"customer_id": customer_id or "", "person_id": person_id or "",
                    "stage": stage, "source": source, "day": int(ts.strftime("%Y%m%d")),
                    "date": ts.date().isoformat(), "sentiment": sentiment.label,
                    "compound": float(sentiment.compound), "text_hash": text_hash}
            if rating is not None:
                meta["rating"] = float(rating)
            ids.append(feedback_id)
            docs.append(clean)
            metas.append(meta)
            to_embed.append(known.get(feedback_id) != text_hash)
        new = [i for i, flag in enumerate(to_embed) if flag]
        same = [i for i, flag in enumerate(to_embed) if not flag]
        progress("Embedding feedback", 0, len(new))
        done = 0
        vectors_by_text: dict[str, np.ndarray] = {}
        for start in range(0, len(new), UPSERT_BATCH):
            chunk = new[start:start + UPSERT_BATCH]
            # Identical texts ("Great product!") are embedded once per sync.
            fresh = list(dict.fromkeys(docs[i] for i in chunk if docs[i] not in vectors_by_text))
            for text, vector in zip(fresh, self.embedder.embed(fresh)):
                vectors_by_text[text] = vector
            collection.upsert(ids=[ids[i] for i in chunk], documents=[docs[i] for i in chunk],
                              metadatas=[metas[i] for i in chunk],
                              embeddings=np.stack([vectors_by_text[docs[i]] for i in chunk]))
            done += len(chunk)
            progress("Embedding feedback", done, len(new))
        for start in range(0, len(same), UPSERT_BATCH):
            chunk = same[start:start + UPSERT_BATCH]
            collection.update(ids=[ids[i] for i in chunk], metadatas=[metas[i] for i in chunk])
        gone = sorted(set(known) - set(ids))
        for start in range(0, len(gone), UPSERT_BATCH):
            collection.delete(ids=gone[start:start + UPSERT_BATCH])
        notes = ["The feedback index was damaged and has been rebuilt from the store."] if rebuilt \
            else []
        return IndexReport(snippets=len(ids), embedded=len(new), removed=len(gone),
                           rebuilt=rebuilt, notes=notes)

    def ensure_current(self) -> None:
        """Sync when the index and the store disagree on what they hold (cheap check)."""
        with self.store.reader() as con:
            stored = con.execute("SELECT count(*) FROM feedback").fetchone()[0]
        try:
            indexed = self.collection().count()
        except Exception:
            indexed = -1
        if indexed != stored:
            self.sync()

    def search(self, query: str, *, k: int = 8, stage: str | None = None,
               source: str | None = None, sentiment: str | None = None,
               since: date | None = None, people: set[str] | None = None, distinct: bool = True) -> list[Snippet]:
        if not query or not query.strip():
            raise JourneyError("Give a search text, e.g. \"too expensive\"")
        if not 1 <= k <= 100:
            raise JourneyError("-k must be between 1 and 100")
        self.ensure_current()
        conditions: list[dict] = []
        for key, value in (("stage", stage), ("source", source), ("sentiment", sentiment)):
            if value:
                conditions.append({key: value})
        if since:
            conditions.append({"day": {"$gte": int(since.strftime("%Y%m%d"))}})
        where = None if not conditions else (conditions[0] if len(conditions) == 1
                                             else {"$and": conditions})
        collection = self.collection()
        total = collection.count()
        if total == 0:
            return []
        # A people filter cannot be pushed into Chroma cheaply, and identical quotes are shown
        # once: ask for more, then keep what qualifies.
        n = min(total, max(k * 20, 200) if people is not None else (k * 8 if distinct else k))
        vector = self.embedder.embed([query])
        while True:
            result = collection.query(query_embeddings=vector, n_results=n, where=where,
                                      include=["documents", "metadatas", "distances"])
            snippets = self._collect(result, k, people, distinct)
            # Many identical quotes (or a narrow people filter) can crowd the first results:
            # widen the net until there are k, or nothing more to find.
            if len(snippets) >= k or n >= total or n >= 400:
                break
            n = min(total, 400)
        return snippets

    @staticmethod
    def _collect(result, k: int, people: set[str] | None, distinct: bool) -> list[Snippet]:
        snippets: list[Snippet] = []
        by_text: dict[str, Snippet] = {}
        for fid, doc, meta, dist in zip(result["ids"][0], result["documents"][0],
                                        result["metadatas"][0], result["distances"][0]):
            if people is not None and meta.get("person_id") not in people:
                continue
            key = " ".join(doc.lower().split())
            if distinct and key in by_text:
                by_text[key].same_text += 1
                continue
            if len(snippets) < k:
                snippet = _snippet(fid, doc, meta, 1.0 - float(dist))
                snippets.append(snippet)
                by_text[key] = snippet
        return snippets

    def all_snippets(self) -> tuple[list[Snippet], np.ndarray]:
        """Every snippet with its embedding (for themes)."""
        self.ensure_current()
        got = self.collection().get(include=["documents", "metadatas", "embeddings"])
        snippets = [_snippet(i, d, m, None) for i, d, m in
                    zip(got["ids"], got["documents"], got["metadatas"])]
        vectors = np.asarray(got["embeddings"], dtype=np.float32) if len(got["ids"]) else \
            np.zeros((0, self.embedder.dimensions), dtype=np.float32)
        return snippets, vectors


def _snippet(fid: str, doc: str, meta: dict, similarity: float | None) -> Snippet:
    return Snippet(feedback_id=fid, customer_id=meta.get("customer_id") or None,
                   stage=meta.get("stage", "unknown"), source=meta.get("source", ""),
                   date=meta.get("date", ""), sentiment=meta.get("sentiment", ""),
                   rating=meta.get("rating"), text=doc, similarity=similarity)
