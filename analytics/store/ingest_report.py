"""What a load did, file by file: rows read, loaded, skipped and why."""

from __future__ import annotations

from dataclasses import dataclass, field

from analytics.store.columns import Kind


@dataclass
class FileLoadReport:
    file: str
    kind: Kind
    format: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_already_loaded: int = 0  # same id and same content already in the store
    rows_duplicate_in_file: int = 0  # exact repeats inside this file
    rows_replaced: int = 0  # stored rows replaced because of --replace
    rows_rejected: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)
    rejects_file: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # store field -> the file's column
    extra_columns: list[str] = field(default_factory=list)

    @property
    def rows_skipped(self) -> int:
        return self.rows_already_loaded + self.rows_duplicate_in_file + self.rows_rejected


@dataclass
class IngestReport:
    kind: Kind
    files: list[FileLoadReport]
    new_event_names: list[str] = field(default_factory=list)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_skipped(self) -> int:
        return sum(f.rows_skipped for f in self.files)
