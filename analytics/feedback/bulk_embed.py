"""Bulk embedding in a child process, so the model keeps running while Chroma writes.

Chroma's writes hold Python's lock for their whole duration, so a model running on a thread of
the indexing process stalls whenever Chroma writes (measured: no overlap at all). For a bulk
load the model runs in a child process (`python -m analytics.feedback.bulk_embed`), fed
chunks of texts ahead of the writer; it writes each chunk's vectors to a file in a private
temporary folder and says so on stdout, so it never waits for the parent to read. The vectors
are derived from customers' words: the folder is made in the data folder's temporary folder
when the caller gives it, so an erasure clears whatever a crash left there.

A plain subprocess rather than multiprocessing: multiprocessing's spawn re-imports the caller's
main module, which runs any unguarded script a second time. If the child cannot start or dies,
the remaining chunks are embedded in-process; nothing is lost, it is only slower.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from analytics.feedback.embedder import MiniLMEmbedder


class BulkEmbedder:
    """submit(texts) -> a handle whose result() is the vectors, in submission order.

    Use as a context manager. Below PROCESS_FROM texts in all, or on one core, the child's
    start-up (~1 s) does not pay back and chunks are embedded in-process when asked for.
    """

    PROCESS_FROM = 2_000

    def __init__(self, embedder: MiniLMEmbedder, texts: int, in_child: bool | None = None,
                 temp_dir: Path | None = None) -> None:
        self.embedder = embedder
        self._temp_dir = temp_dir
        self._child: subprocess.Popen | None = None
        self._folder: Path | None = None
        self._sent = 0
        if in_child is None:
            in_child = texts >= self.PROCESS_FROM and (os.cpu_count() or 1) > 1
        if in_child:
            self._start()

    @property
    def child(self) -> subprocess.Popen | None:
        """The child process while it works (None: embedding in this process)."""
        return self._child

    def _start(self) -> None:
        if self._temp_dir is not None:
            self._temp_dir.mkdir(parents=True, exist_ok=True)
        self._folder = Path(tempfile.mkdtemp(prefix="journey-embed-", dir=self._temp_dir))
        try:
            self._child = subprocess.Popen(
                [sys.executable, "-m", "analytics.feedback.bulk_embed", self.embedder.precision,
                 str(self._folder)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except OSError:
            self._child = None

    def submit(self, texts: list[str]) -> _Chunk:
        number = self._sent
        self._sent += 1
        if self._child is not None:
            stdin = self._child.stdin
            assert stdin is not None  # the child is started with stdin=PIPE
            try:
                line = json.dumps({"chunk": number, "texts": texts}) + "\n"
                stdin.write(line.encode("utf-8"))
                stdin.flush()
                return _Chunk(self, number, texts, in_child=True)
            except (OSError, ValueError):
                self._stop_child()
        return _Chunk(self, number, texts, in_child=False)

    def _wait_for(self, number: int) -> np.ndarray | None:
        """The child's vectors for chunk `number`, or None if the child is gone or garbled."""
        child = self._child
        if child is None:
            return None
        # The child is started with stdout=PIPE, after its folder is made.
        assert child.stdout is not None and self._folder is not None
        try:
            while True:
                line = child.stdout.readline()
                if not line:
                    break  # the child ended
                if line.split() == [b"done", str(number).encode()]:
                    path = self._folder / f"{number}.npy"
                    vectors = np.load(path)
                    path.unlink()
                    return vectors
                # Anything else on stdout (a library's chatter) is not ours: skip it.
        except (OSError, ValueError):
            pass
        self._stop_child()
        return None

    def _stop_child(self) -> None:
        if self._child is not None:
            child, self._child = self._child, None
            assert child.stdin is not None  # the child is started with stdin=PIPE
            try:
                child.stdin.close()
            except OSError:
                pass
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def __enter__(self) -> BulkEmbedder:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop_child()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


class _Chunk:
    def __init__(self, owner: BulkEmbedder, number: int, texts: list[str], in_child: bool):
        self.owner, self.number, self.texts, self.in_child = owner, number, texts, in_child

    def result(self) -> np.ndarray:
        if self.in_child:
            vectors = self.owner._wait_for(self.number)
            if vectors is not None:
                return vectors
        return self.owner.embedder.embed(self.texts)


def _child_main(precision: str, folder: str) -> None:
    """Reads {"chunk": n, "texts": [...]} lines on stdin; writes n.npy, then prints 'done n'."""
    embedder = MiniLMEmbedder(precision)
    embedder.embed(["warm up"])
    requests: queue.Queue = queue.Queue()

    def read_requests() -> None:
        # Drain stdin continuously so the parent's writes never block on a full pipe.
        for line in sys.stdin.buffer:
            requests.put(json.loads(line))
        requests.put(None)

    threading.Thread(target=read_requests, daemon=True).start()
    while (request := requests.get()) is not None:
        vectors = embedder.embed(request["texts"])
        partial = Path(folder) / f"{request['chunk']}.partial.npy"
        np.save(partial, vectors)
        partial.replace(Path(folder) / f"{request['chunk']}.npy")
        sys.stdout.write(f"done {request['chunk']}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _child_main(sys.argv[1], sys.argv[2])
