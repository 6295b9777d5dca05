"""What the three domain generators share: the calendar, an event collector, sessions, truth maths.

Every domain covers the same 20 weeks (Monday 2026-02-09 to Sunday 2026-06-28), so incident
windows can be Monday-aligned and weekly counts line up with ISO weeks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

DAY = 86_400.0
HOUR = 3_600.0
MINUTE = 60.0

START = datetime(2026, 2, 9, tzinfo=UTC).timestamp()
DATA_END = datetime(2026, 6, 28, 23, 59, 59, tzinfo=UTC).timestamp()


def stamp(day: str) -> float:
    """Midnight UTC of an ISO date, as epoch seconds."""
    return datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()


@dataclass
class DomainData:
    name: str
    files: dict[str, pd.DataFrame]
    truth: dict = field(default_factory=dict)


class EventLog:
    """Collects events per emit call (one event type at a time), then concatenates once."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []
        self.extra: set[str] = set()

    def emit(self, people: np.ndarray, name: str, ts: np.ndarray, **props: np.ndarray) -> None:
        people = np.asarray(people, dtype=np.int64)
        if people.size == 0:
            return
        part = {"person": people, "ts": np.broadcast_to(np.asarray(ts, float), people.shape),
                "event": np.full(people.size, name, dtype=object)}
        for key, value in props.items():
            part[key] = np.broadcast_to(np.asarray(value, dtype=object), people.shape)
            self.extra.add(key)
        self.parts.append(part)

    def collect(self, end: float = DATA_END) -> dict[str, np.ndarray]:
        """All events up to the export time, ordered by time, each person's strictly increasing."""
        cols: dict[str, list[np.ndarray]] = {k: [] for k in ("person", "ts", "event", *self.extra)}
        for part in self.parts:
            size = part["person"].size
            for key in cols:
                cols[key].append(part[key] if key in part else np.full(size, None, object))
        out = {k: np.concatenate(v) for k, v in cols.items()}
        # The export is taken at `end`: whatever would happen later has not happened yet.
        keep = (out["ts"] >= START) & (out["ts"] <= end)
        out = {k: v[keep] for k, v in out.items()}
        order = np.lexsort((out["ts"], out["person"]))
        out = {k: v[order] for k, v in out.items()}
        # A millisecond per earlier event of the same person: no two of a person's events share
        # a timestamp, so their order never rests on a tie-breaker.
        rank = rank_within(out["person"])
        out["ts"] = out["ts"] + rank * 0.001
        order = np.lexsort((out["person"], out["ts"]))
        return {k: v[order] for k, v in out.items()}


def rank_within(groups: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal values in a sorted array."""
    if groups.size == 0:
        return groups.astype(np.int64)
    starts = np.r_[0, np.flatnonzero(groups[1:] != groups[:-1]) + 1]
    sizes = np.diff(np.r_[starts, groups.size])
    return np.arange(groups.size) - np.repeat(starts, sizes)


def iso(ts: np.ndarray) -> np.ndarray:
    """ISO-8601 UTC with a Z, to the millisecond."""
    ms = np.floor(np.asarray(ts) * 1000).astype(np.int64).astype("datetime64[ms]")
    return np.char.add(np.datetime_as_string(ms, unit="ms"), "Z").astype(object)


def session_starts(rng: np.random.Generator, first: np.ndarray, count: np.ndarray,
                   min_gap: float, mean_gap: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Visit start times: `count[i]` visits for person i, the first at `first[i]`, then each
    `min_gap` plus an exponential wait later. Returns (person, index within person, start)."""
    count = np.asarray(count, dtype=np.int64)
    person = np.repeat(np.arange(count.size), count)
    k = rank_within(person)
    gaps = min_gap + rng.exponential(mean_gap, person.size)
    gaps[k == 0] = 0.0
    csum = np.cumsum(gaps)
    # Subtract the running total at each person's first visit: a cumulative sum per person.
    first_row = (np.cumsum(count) - count)[count > 0]
    base = np.repeat(csum[first_row], count[count > 0])
    return person, k, first[person] + (csum - base)


def sessions_by_inactivity(frame: pd.DataFrame, person: str, time: str,
                           gap_minutes: float = 30) -> float:
    """Mean sessions per person when a new session starts after `gap_minutes` of silence."""
    ts = pd.to_datetime(frame[time], utc=True)
    order = pd.DataFrame({"p": frame[person].to_numpy(), "t": ts.to_numpy()})
    order = order.sort_values(["p", "t"], kind="stable")
    gap = order.groupby("p")["t"].diff()
    new = gap.isna() | (gap > pd.Timedelta(minutes=gap_minutes))
    return float(new.sum() / order["p"].nunique())


def first_times(frame: pd.DataFrame, person: str, event_col: str, time: str,
                event: str) -> pd.Series:
    """Each person's first time of `event`."""
    rows = frame[frame[event_col] == event]
    return pd.to_datetime(rows[time], utc=True).groupby(rows[person]).min()


def pair_outcome(frame: pd.DataFrame, person: str, event_col: str, time: str,
                 step_from: str, step_to: str) -> pd.DataFrame:
    """Per person who did `step_from`: when first, and whether `step_to` followed it."""
    first = first_times(frame, person, event_col, time, step_from)
    later = first_times(frame, person, event_col, time, step_to).reindex(first.index)
    return pd.DataFrame({"at": first, "passed": later.notna() & (later > first)})


def median_days(frame: pd.DataFrame, person: str, event_col: str, time: str,
                start: str, end: str) -> float:
    a = first_times(frame, person, event_col, time, start)
    b = first_times(frame, person, event_col, time, end)
    both = pd.concat([a.rename("a"), b.rename("b")], axis=1, join="inner")
    return round(float(((both["b"] - both["a"]).dt.total_seconds() / DAY).median()), 3)


def in_window(at: pd.Series, start: str, end: str) -> pd.Series:
    """`end` is the inclusive last day."""
    lo = pd.Timestamp(start, tz="UTC")
    hi = pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)
    return (at >= lo) & (at < hi)


def weekly_rates(outcome: pd.DataFrame) -> pd.Series:
    """Share passing by the Monday of the week of the first step."""
    week = outcome["at"].dt.tz_localize(None).dt.to_period("W-SUN").dt.start_time
    return outcome.groupby(week)["passed"].mean()


def rounded(value: float, digits: int = 4) -> float:
    return round(float(value), digits)


def write_files(data: DomainData, out_dir: Path) -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for kind, frame in data.files.items():
        path = out_dir / f"{kind}.csv"
        frame.to_csv(path, index=False)
        paths[kind] = path
    truth_path = out_dir / "truth.json"
    truth_path.write_text(json.dumps(data.truth, indent=2), encoding="utf-8")
    paths["truth"] = truth_path
    return paths
