"""What a load did, file by file: rows read, loaded, skipped and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

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
    preset: str | None = None  # the vendor export the file was read as (mixpanel, segment, ...)
    identity_calls: int = 0  # identify/alias calls: read to link people, not loaded as events
    identities_linked: int = 0  # anonymous ids newly linked to a customer by this file
    people_joined: int = 0  # CRM records / feedback joined to the product's people by e-mail or id
    notes: list[str] = field(default_factory=list)  # choices the load made that the user should see

    @property
    def rows_skipped(self) -> int:
        return self.rows_already_loaded + self.rows_duplicate_in_file + self.rows_rejected


@dataclass
class IngestReport:
    kind: Kind
    files: list[FileLoadReport]
    new_event_names: list[str] = field(default_factory=list)
    journey_model: str = ""  # the journey model after the load, in a sentence (events loads)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_skipped(self) -> int:
        return sum(f.rows_skipped for f in self.files)

    @property
    def summary(self) -> str:
        return (f"Loaded {self.rows_loaded:,} {self.kind} rows from {len(self.files)} file(s); "
                f"{self.rows_skipped:,} skipped.")

    def to_dict(self) -> dict:
        """The load summary as JSON-ready data (what `journey ingest --json` prints)."""
        return {"kind": self.kind, "rows_loaded": self.rows_loaded,
                "rows_skipped": self.rows_skipped, "new_event_names": self.new_event_names,
                "journey_model": self.journey_model,
                "files": [dict(asdict(f), rows_skipped=f.rows_skipped) for f in self.files]}
