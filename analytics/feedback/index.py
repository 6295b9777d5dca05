"""The feedback index: redacted snippets, their sentiment and embeddings in a local Chroma store.

Chroma runs embedded (PersistentClient) in the data folder's `chroma/`, telemetry off. Snippets
are keyed by feedback id, so indexing is an idempotent upsert, and a re-index embeds only what is
new or changed (the stored redacted text is compared with the store's). The stage is
recomputed on every sync (cheap: no embedding) because new events can move it; only snippets
whose metadata changed are written. The collection records which model made its vectors; a
different model re-embeds everything rather than mixing vectors. The original text never leaves
DuckDB; Chroma holds only the redacted text.

Chroma keeps an open folder's state in memory per process, so a process that changes the folder
(a sync, an erasure, a rebuild) replaces `chroma.generation` next to it; every other process
sees the file change on its next use and reopens (see `_process_epoch`). An erasure does not
only delete: Chroma's write-ahead queue, its full-text index, freed SQLite pages and the vector
files keep a deleted snippet, so the collection is written afresh into a new folder from what
remains (no re-embedding) and swapped in (`erase`).
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from analytics.errors import ArgumentError
from analytics.feedback.bulk_embed import BulkEmbedder
from analytics.feedback.embedder import MiniLMEmbedder, shared_embedder
from analytics.feedback.redact import redact
from analytics.feedback.sentiment import SENTIMENT_MODEL, SentimentScorer
from analytics.store import EventStore

COLLECTION = "feedback"
UPSERT_BATCH = 1000
GENERATION_FILE = "chroma.generation"
Progress = Callable[[str, int, int], None]

# Per index folder: the generation file's stamp this process's Chroma state reflects, and how
# many times this process reopened it (an index opened at an older epoch reopens).
_EPOCHS: dict[str, tuple[tuple | None, int]] = {}
_EPOCHS_LOCK = threading.Lock()


def _stamp(path: Path) -> tuple | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return (info.st_mtime_ns, info.st_size, info.st_ino)


def _drop_chroma_system(folder: Path) -> None:
    """Forget the Chroma state this process holds for `folder`; the next client reads the
    folder afresh (Chroma shares one state per path in a process and never rereads it)."""
    from chromadb.api.shared_system_client import SharedSystemClient

    system = SharedSystemClient._identifier_to_system.pop(str(folder), None)
    SharedSystemClient._identifier_to_refcount.pop(str(folder), None)
    if system is not None:
        try:
            system.stop()
        except Exception:  # already stopped, or its folder is gone: nothing to release
            pass


def _close(client: Any) -> None:
    """Release a client's Chroma state (`close` is on the client, not on its typed API)."""
    client.close()


SWAP_GIVEN_UP_S = 3600  # a swap takes seconds: a half this old belongs to no running one


def _swap_abandoned(folder: Path, pid: str) -> bool:
    import time

    try:
        if time.time() - folder.stat().st_mtime > SWAP_GIVEN_UP_S:
            return True
    except OSError:
        return False
    if os.name == "nt" or not pid.isdigit():
        return False  # (os.kill would end the process on Windows, not probe it)
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it exists, owned by someone else
    return False


def remove_leftover_folders(home: Path) -> None:
    """Backups of a damaged index and the halves of an interrupted swap hold snippets: they do
    not outlive the rebuild that made them (a swap still running in a live process is left)."""
    for folder in home.glob("chroma.*"):
        if not folder.is_dir():
            continue
        kind, _, rest = folder.name.partition(".")[2].partition("-")
        if kind == "broken" or (kind in ("fresh", "old")
                                and _swap_abandoned(folder, rest.split("-")[0])):
            shutil.rmtree(folder, ignore_errors=True)


def _no_progress(description: str, done: int, total: int) -> None:
    return None


def _register_embedding_function():
    """A Chroma embedding function backed by our ONNX model, registered so a persisted
    collection can be reopened with it."""
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
    from chromadb.utils.embedding_functions import (
        known_embedding_functions,
        register_embedding_function,
    )

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
            return {"model": self._embedder.model_id}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> JourneyMiniLM:
            return JourneyMiniLM()

        def default_space(self):
            return "cosine"

    register_embedding_function(JourneyMiniLM)
    return JourneyMiniLM


class _EmbedAhead:
    """Embeds new snippets chunk by chunk in the background, two chunks ahead of the writer,
    and yields (chunk, vectors) in order.

    Identical texts ("Great product!") are embedded once per sync: each chunk embeds only the
    texts no earlier chunk has.
    """

    AHEAD = 2

    def __init__(self, bulk: BulkEmbedder, docs: list[str], new: list[int]) -> None:
        self.bulk, self.docs = bulk, docs
        self.chunks = [new[start:start + UPSERT_BATCH] for start in range(0, len(new),
                                                                           UPSERT_BATCH)]
        self.plan, planned = [], set()
        for chunk in self.chunks:
            fresh = [t for t in dict.fromkeys(docs[i] for i in chunk) if t not in planned]
            planned.update(fresh)
            self.plan.append(fresh)
        self.pending = {n: self._submit(n) for n in range(min(self.AHEAD, len(self.chunks)))}

    def _submit(self, number: int):
        return self.bulk.submit(self.plan[number])

    def __iter__(self):
        vectors_by_text: dict[str, np.ndarray] = {}
        for number, chunk in enumerate(self.chunks):
            vectors_by_text.update(zip(self.plan[number], self.pending.pop(number).result()))
            if number + self.AHEAD < len(self.chunks):
                self.pending[number + self.AHEAD] = self._submit(number + self.AHEAD)
            yield chunk, np.stack([vectors_by_text[self.docs[i]] for i in chunk])


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
    updated: int = 0  # snippets whose stage or other metadata changed (not re-embedded)
    rebuilt: bool = False
    notes: list[str] = field(default_factory=list)


def feedback_rows(con) -> list[tuple]:
    """Feedback with the journey stage each person was in when they wrote it."""
    return con.execute("""
        WITH f AS (SELECT * FROM journey_feedback WHERE text <> ''),  -- a bare score has no text
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
        self._epoch = -1  # the process epoch the open collection belongs to
        self._checked_stamp: tuple | None = None
        self._texts: tuple[tuple | None, dict[str, list[tuple[str, str, dict]]]] | None = None
        # Web sessions share an index: one sync at a time, and the others then find it current.
        self._sync_lock = threading.RLock()

    def _client(self):
        import chromadb
        from chromadb.config import Settings

        return chromadb.PersistentClient(
            path=str(self.path), settings=Settings(anonymized_telemetry=False,
                                                   allow_reset=True))

    def collection(self):
        epoch = self._process_epoch()
        if self._collection is None or self._epoch != epoch:
            ef_class = _register_embedding_function()
            self._collection = self._client().get_or_create_collection(
                COLLECTION, embedding_function=ef_class(self.embedder),
                metadata={"hnsw:space": "cosine", **self._identity()})
            self._epoch = epoch
            self._texts = None
        return self._collection

    @property
    def _generation_path(self) -> Path:
        return self.path.with_name(GENERATION_FILE)

    def _process_epoch(self) -> int:
        """This process's epoch for the folder, moved on (and Chroma's state dropped) when
        another process changed the folder since this one last looked (one stat call)."""
        stamp = _stamp(self._generation_path)
        with _EPOCHS_LOCK:
            seen, epoch = _EPOCHS.get(str(self.path), (None, -1))
            if epoch < 0 or seen != stamp:
                if epoch >= 0:
                    _drop_chroma_system(self.path)
                epoch += 1
                _EPOCHS[str(self.path)] = (stamp, epoch)
            return epoch

    def _changed_here(self, replaced: bool = False) -> None:
        """Tell other processes this one changed the folder (their open state is stale).
        `replaced`: the folder itself was swapped, so this process's state goes too."""
        target = self._generation_path
        partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
        partial.write_text(uuid.uuid4().hex)
        with _EPOCHS_LOCK:  # so no other thread here takes this process's own change for news
            partial.replace(target)
            if replaced:
                _drop_chroma_system(self.path)
                self._collection = None
            _, epoch = _EPOCHS.get(str(self.path), (None, 0))
            _EPOCHS[str(self.path)] = (_stamp(target), max(epoch, 0) + int(replaced))

    def _reopen(self) -> None:
        """After Chroma failed on a folder changed behind its back: read it afresh."""
        with _EPOCHS_LOCK:
            seen, epoch = _EPOCHS.get(str(self.path), (None, 0))
            _drop_chroma_system(self.path)
            _EPOCHS[str(self.path)] = (seen, max(epoch, 0) + 1)
        self._collection = None

    def _identity(self) -> dict[str, str]:
        """What made the stored vectors and labels (kept in the collection's metadata)."""
        return {"embedding_model": self.embedder.model_id, "sentiment_model": SENTIMENT_MODEL}

    def made_by_this_model(self) -> bool:
        return (self.collection().metadata or {}).get("embedding_model") == \
            self.embedder.model_id

    def _start_again_if_other_model(self) -> bool:
        """An index made by another model (or an older version) holds vectors that are not
        comparable with this model's queries: drop it; the sync re-embeds from DuckDB."""
        if self.made_by_this_model():
            return False
        self._client().delete_collection(COLLECTION)
        self._collection = None
        self._changed_here(replaced=True)  # other handles in this process name the old one
        self.collection()
        return True

    def _open_or_rebuild(self) -> bool:
        """Open the collection; a damaged Chroma folder is moved aside, removed and rebuilt
        (the store holds everything it was made from)."""
        remove_leftover_folders(self.store.home)
        try:
            self.collection().count()
            return False
        except Exception:  # chromadb raises many types for a damaged folder
            broken = self.path.with_name(f"chroma.broken-{datetime.now():%Y%m%d%H%M%S}")
            self._changed_here(replaced=True)
            if self.path.exists():
                shutil.move(str(self.path), str(broken))
                shutil.rmtree(broken, ignore_errors=True)
            self.collection()
            self._changed_here()  # others that reopened in between look again
            return True

    def sync(self, progress: Progress | None = None) -> IndexReport:
        """Bring the index up to date with the store; embeds only new or changed snippets."""
        with self._sync_lock:
            return self._sync(progress or _no_progress)

    def _sync(self, progress: Progress) -> IndexReport:
        stamp = self.store.change_stamp()  # before reading: a write during the sync is seen next
        rebuilt = self._open_or_rebuild()
        model_changed = self._start_again_if_other_model()
        with self.store.reader(local=True) as con:
            rows = feedback_rows(con)
        collection = self.collection()
        # Labels stored by the same sentiment scoring can be kept for unchanged texts.
        same_scoring = (collection.metadata or {}).get("sentiment_model") == SENTIMENT_MODEL
        existing = collection.get(include=["metadatas", "documents"])
        known = {i: (d, m or {}) for i, d, m in zip(existing["ids"], existing["documents"],
                                                    existing["metadatas"])}
        ids = [row[0] for row in rows]
        docs = [redact(row[6]) for row in rows]
        new = [i for i, (feedback_id, clean) in enumerate(zip(ids, docs))
               if known.get(feedback_id, (None,))[0] != clean]
        progress("Embedding feedback", 0, len(new))
        # The child's scratch files go where an erasure clears them (not the system's /tmp).
        with BulkEmbedder(self.embedder, len(new), temp_dir=self.store.home / "tmp") as ahead:
            # The model starts on the first chunks now and runs while sentiment is scored below.
            embedding = _EmbedAhead(ahead, docs, new)
            scorer = SentimentScorer()
            metas, moved = [], []
            for i, (feedback_id, customer_id, person_id, ts, source, rating, _, stage) in \
                    enumerate(rows):
                stored_text, stored_meta = known.get(feedback_id, (None, {}))
                # Sentiment depends on the text only: reuse it when the text is unchanged.
                label = stored_meta.get("sentiment") if same_scoring and \
                    stored_text == docs[i] else None
                meta = {"customer_id": customer_id or "", "person_id": person_id or "",
                        "stage": stage, "source": source, "day": int(ts.strftime("%Y%m%d")),
                        "sentiment": label or scorer.score(docs[i]).label}
                if rating is not None:
                    meta["rating"] = float(rating)
                if stored_text == docs[i] and stored_meta != meta:
                    moved.append(i)
                metas.append(meta)
            done = 0
            for chunk, vectors in embedding:
                collection.upsert(ids=[ids[i] for i in chunk], documents=[docs[i] for i in chunk],
                                  metadatas=[metas[i] for i in chunk], embeddings=vectors)
                done += len(chunk)
                progress("Embedding feedback", done, len(new))
        for start in range(0, len(moved), UPSERT_BATCH):
            chunk = moved[start:start + UPSERT_BATCH]
            collection.update(ids=[ids[i] for i in chunk], metadatas=[metas[i] for i in chunk])
        if not same_scoring:
            collection.modify(metadata=self._identity())  # (the distance cannot be re-set)
        gone = sorted(set(known) - set(ids))
        for start in range(0, len(gone), UPSERT_BATCH):
            collection.delete(ids=gone[start:start + UPSERT_BATCH])
        if new or moved or gone or not same_scoring:
            self._changed_here()
        notes = ["The feedback index was damaged and has been rebuilt from the store."] if rebuilt \
            else []
        if model_changed:
            notes.append(f"The feedback index was made by another embedding model; every "
                          f"snippet was embedded again with {self.embedder.model_id}.")
        self._checked_stamp = stamp
        self._texts = None  # the collection changed: identical texts are grouped again
        return IndexReport(snippets=len(ids), embedded=len(new), removed=len(gone),
                           updated=len(moved), rebuilt=rebuilt, notes=notes)

    def ensure_current(self) -> None:
        """Sync when the store has been written since the last check (new feedback, or events
        that move a snippet's stage). The check is two stat calls: opening the store costs
        ~20 ms, which would be most of a search; a sync with nothing new costs ~0.6 s per 10,000
        snippets and only follows a write."""
        with self._sync_lock:
            if self.store.change_stamp() != self._checked_stamp or self._collection is None:
                self.sync()

    def erase(self, feedback_ids: list[str]) -> None:
        """Remove snippets so that nothing of them stays on disk. Deleting is not enough: the
        write-ahead queue keeps each write (text, metadata, vector), and SQLite's freed pages,
        the full-text index and the vector files keep deleted entries. So after the delete the
        collection is written afresh from what remains (the vectors are copied, not embedded
        again) into a new folder, which replaces the old one."""
        with self._sync_lock:
            if self.path.exists() and feedback_ids:
                collection = self.collection()
                for start in range(0, len(feedback_ids), UPSERT_BATCH):
                    collection.delete(ids=feedback_ids[start:start + UPSERT_BATCH])
                self._changed_here()
                self._write_afresh()
            remove_leftover_folders(self.store.home)

    def _write_afresh(self) -> None:
        import chromadb
        from chromadb.config import Settings

        old = self.collection()
        tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"  # the pid: a leftover of a dead one goes
        fresh = self.path.with_name(f"chroma.fresh-{tag}")
        aside = self.path.with_name(f"chroma.old-{tag}")
        client = chromadb.PersistentClient(path=str(fresh), settings=Settings(
            anonymized_telemetry=False, allow_reset=True))
        try:
            copy = client.create_collection(
                COLLECTION, embedding_function=_register_embedding_function()(self.embedder),
                metadata={"hnsw:space": "cosine", **(old.metadata or {})})
            total = old.count()
            for offset in range(0, total, UPSERT_BATCH):
                got = old.get(limit=UPSERT_BATCH, offset=offset,
                              include=["documents", "metadatas", "embeddings"])
                if got["ids"]:
                    copy.add(ids=got["ids"], documents=got["documents"],
                             metadatas=got["metadatas"], embeddings=got["embeddings"])
            if copy.count() != total:
                raise RuntimeError(f"the rewritten feedback index holds {copy.count()} of "
                                   f"{total} snippets")
        except BaseException:
            _close(client)
            shutil.rmtree(fresh, ignore_errors=True)
            raise
        _close(client)
        # Chroma's state for the old folder is dropped before the swap, and every other
        # process reopens when it sees the generation change.
        self._changed_here(replaced=True)
        try:
            os.replace(self.path, aside)
            try:
                os.replace(fresh, self.path)
            except BaseException:
                os.replace(aside, self.path)  # the old folder back: the delete above holds
                raise
        except BaseException:
            shutil.rmtree(fresh, ignore_errors=True)
            raise
        finally:
            self._changed_here(replaced=True)
        shutil.rmtree(aside, ignore_errors=True)

    def search(self, query: str, *, k: int = 8, stage: str | None = None,
               source: str | None = None, sentiment: str | None = None,
               since: date | None = None, people: set[str] | None = None,
               distinct: bool = True, until: date | None = None) -> list[Snippet]:
        if not query or not query.strip():
            raise ArgumentError("query", "give a search text, e.g. \"too expensive\"")
        if not 1 <= k <= 100:
            raise ArgumentError("k", "must be between 1 and 100")
        from chromadb.errors import ChromaError

        try:
            return self._search(query, k, stage, source, sentiment, since, people, distinct,
                                until)
        except ChromaError:  # the folder changed under us in a way no generation file told
            self._reopen()
            return self._search(query, k, stage, source, sentiment, since, people, distinct,
                                until)

    def _search(self, query: str, k: int, stage: str | None, source: str | None,
                sentiment: str | None, since: date | None, people: set[str] | None,
                distinct: bool, until: date | None = None) -> list[Snippet]:
        self.ensure_current()
        conditions: list[dict] = []
        for key, value in (("stage", stage), ("source", source), ("sentiment", sentiment)):
            if value:
                conditions.append({key: value})
        if since:
            conditions.append({"day": {"$gte": int(since.strftime("%Y%m%d"))}})
        if until:
            conditions.append({"day": {"$lte": int(until.strftime("%Y%m%d"))}})
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
            snippets = self._collect(result, k, people, distinct, {
                "stage": stage, "source": source, "sentiment": sentiment,
                "day": int(since.strftime("%Y%m%d")) if since else None})
            # Many identical quotes (or a narrow people filter) can crowd the first results:
            # widen the net until there are k, or nothing more to find.
            if len(snippets) >= k or n >= total or n >= 400:
                break
            n = min(total, 400)
        return snippets

    def _identical_texts(self) -> dict[str, list[tuple[str, str, dict]]]:
        """Normalised text -> every snippet with that text, in id order; read once per state
        of the index, so identical quotes are counted in full and shown by the same snippet."""
        if self._texts is None or self._texts[0] != self._checked_stamp:
            got = self.collection().get(include=["documents", "metadatas"])
            groups: dict[str, list[tuple[str, str, dict]]] = {}
            for fid, doc, meta in sorted(zip(got["ids"], got["documents"], got["metadatas"])):
                groups.setdefault(_normal(doc), []).append((fid, doc, meta))
            self._texts = (self._checked_stamp, groups)
        return self._texts[1]

    def _collect(self, result, k: int, people: set[str] | None, distinct: bool,
                 wanted: dict) -> list[Snippet]:
        def qualifies(meta: dict) -> bool:
            if people is not None and meta.get("person_id") not in people:
                return False
            if wanted["day"] is not None and (meta.get("day") or 0) < wanted["day"]:
                return False
            return all(meta.get(key) == wanted[key] for key in ("stage", "source", "sentiment")
                       if wanted[key])

        hits = zip(result["ids"][0], result["documents"][0], result["metadatas"][0],
                   result["distances"][0])
        # Ties in distance (identical texts) are ordered by id: the index's own order among
        # them is arbitrary, and the same search must show the same quotes every time.
        ordered = sorted(hits, key=lambda h: (round(float(h[3]), 6), h[0]))
        snippets: list[Snippet] = []
        seen: set[str] = set()
        groups = self._identical_texts() if distinct else {}
        for fid, doc, meta, dist in ordered:
            if len(snippets) == k:
                break
            if not qualifies(meta):
                continue
            key = _normal(doc)
            if distinct and key in seen:
                continue
            seen.add(key)
            same = [g for g in groups.get(key, []) if qualifies(g[2])] if distinct else []
            if same:  # shown by the first of them; counted in full, not just among the hits
                fid, doc, meta = same[0]
            snippet = _snippet(fid, doc, meta, round(1.0 - float(dist), 4))
            snippet.same_text = max(len(same), 1)
            snippets.append(snippet)
        return snippets

    def all_snippets(self) -> tuple[list[Snippet], np.ndarray]:
        """Every snippet with its embedding (for themes)."""
        from chromadb.errors import ChromaError

        self.ensure_current()
        try:
            got = self.collection().get(include=["documents", "metadatas", "embeddings"])
        except ChromaError:  # changed under us: read it afresh
            self._reopen()
            got = self.collection().get(include=["documents", "metadatas", "embeddings"])
        snippets = [_snippet(i, d, m, None) for i, d, m in
                    zip(got["ids"], got["documents"], got["metadatas"])]
        vectors = np.asarray(got["embeddings"], dtype=np.float32) if len(got["ids"]) else \
            np.zeros((0, self.embedder.dimensions), dtype=np.float32)
        return snippets, vectors


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def _snippet(fid: str, doc: str, meta: dict, similarity: float | None) -> Snippet:
    return Snippet(feedback_id=fid, customer_id=meta.get("customer_id") or None,
                   stage=meta.get("stage", "unknown"), source=meta.get("source", ""),
                   date=_iso_day(meta.get("day")), sentiment=meta.get("sentiment", ""),
                   rating=meta.get("rating"), text=doc, similarity=similarity)


def _iso_day(day: int | None) -> str:
    """20260314 -> '2026-03-14' (the day is stored as an integer so that it can be filtered)."""
    if not day:
        return ""
    text = f"{int(day):08d}"
    return f"{text[:4]}-{text[4:6]}-{text[6:]}"
