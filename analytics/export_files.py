"""Documents written for the user (a plan's HTML or PDF, a journey map's page or PNG): whole
or not at all.

Each write goes to a partial file beside the target and is renamed into place, so a failed
export leaves no half file and an existing file stays as it was; a missing folder is said
plainly instead of as a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from analytics.errors import JourneyError


def write_whole(path: str, write: Callable[[str], None]) -> None:
    """`write(partial)` fills the partial file; it then replaces `path`."""
    target = os.path.abspath(path)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise JourneyError(f"Cannot write {path}: the folder {folder} does not exist")
    partial = f"{target}.{os.getpid()}.partial"
    try:
        write(partial)
        os.replace(partial, target)
    except OSError as exc:
        raise JourneyError(f"Cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def write_text_whole(path: str, text: str) -> None:
    def write(partial: str) -> None:
        with open(partial, "w", encoding="utf-8") as out:
            out.write(text)

    write_whole(path, write)
