"""Generated events with the edge cases every engine must agree on (tests/test_engines.py,
tests/test_sql_portable.py), and the analytics calls that reach their code paths."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from analytics.store import EventStore, ingest_files

# Every read-only analytic, with options that reach their other code paths.
CALLS: list[tuple[str, dict]] = [
    ("funnel", {"steps": ["landing_view", "pricing_view", "signup", "purchase"]}),
    ("funnel", {"steps": ["landing_view", "signup"], "window_days": 7}),
    ("funnel", {"steps": ["landing_view", "pricing_view", "signup"], "by": "channel"}),
    ("funnel", {"steps": ["landing_view", "signup", "purchase"], "order": "any"}),
    ("funnel", {"steps": ["landing_view", "pricing_view", "signup"], "by": "device",
                "exclude": ["support_ticket"]}),
    ("funnel", {"steps": ["pricing_view", "signup"], "filters": {"channel": "email"}}),
    ("transitions", {}),
    ("transitions", {"collapse_repeats": True}),
    ("paths", {}),
    ("paths", {"top": 5, "from_event": "pricing_view"}),
    ("paths", {"conversion_event": "purchase"}),
    ("next_steps", {"after": ["landing_view", "pricing_view"]}),
    ("retention", {"period": "week"}),
    ("retention", {"period": "month", "cohort_event": "signup"}),
    ("event_counts", {"event": "purchase", "by": "channel"}),
    ("sessions", {"by": "device", "gap_minutes": 30}),
    ("time_to_value", {"to_event": "purchase", "within_days": 14}),
    ("match", {"pattern": "pricing_view ->[^support_ticket]*-> purchase",
               "conversion_event": "purchase"}),
    ("moments", {"outcome": "purchase"}),
    ("attribution", {}),
    ("journey_map", {}),
    ("anomalies", {}),
    ("segments", {}),
    ("churn", {"top": 5}),
]


def _edge_case_events(path: Path) -> None:
    """People with the edge cases the SQL must agree on across engines, and enough others
    (seeded) for every analytic to have something to say."""
    rows = ["event_id,anonymous_id,customer_id,timestamp,event,channel,device"]

    def add(eid: str, anon: str, cust: str, ts: datetime, event: str, channel: str = "",
            device: str = "desktop") -> None:
        rows.append(f"{eid},{anon},{cust},{ts.strftime('%Y-%m-%dT%H:%M:%S.%fZ')},{event},"
                    f"{channel},{device}")

    t0 = datetime(2026, 1, 30, 23, 0, tzinfo=UTC)
    # Ties: two events at the same instant (the event id breaks the tie, everywhere).
    add("t-1", "", "C-tie", t0, "landing_view", "email")
    add("t-3", "", "C-tie", t0 + timedelta(minutes=5), "signup", "email")
    add("t-2", "", "C-tie", t0 + timedelta(minutes=5), "pricing_view", "email")
    # Window boundaries: signup exactly 7 days after landing, and one second later.
    add("w-1", "", "C-win7", t0, "landing_view", "organic")
    add("w-2", "", "C-win7", t0 + timedelta(days=7), "signup", "organic")
    add("w-3", "", "C-win8", t0, "landing_view", "organic")
    add("w-4", "", "C-win8", t0 + timedelta(days=7, seconds=1), "signup", "organic")
    # Month ends: the last microsecond of January and the first of February.
    add("m-1", "", "C-month", datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=UTC),
        "landing_view", "paid")
    add("m-2", "", "C-month", datetime(2026, 2, 1, tzinfo=UTC), "pricing_view", "paid")
    add("m-3", "", "C-month", datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC), "signup", "paid")
    add("m-4", "", "C-month", datetime(2026, 3, 1, tzinfo=UTC), "purchase", "paid")
    # Single-event people, one with no channel at all.
    add("s-1", "", "C-single", t0, "landing_view", "email")
    add("s-2", "anon-lone", "", t0, "landing_view", "", "mobile")
    # Identity stitching: anonymous events, then the same anonymous id signs up as a customer.
    add("i-1", "anon-st", "", t0, "landing_view", "", "mobile")
    add("i-2", "anon-st", "", t0 + timedelta(minutes=2), "pricing_view", "", "mobile")
    add("i-3", "anon-st", "C-stitched", t0 + timedelta(minutes=4), "signup", "", "mobile")
    add("i-4", "", "C-stitched", t0 + timedelta(days=3), "purchase", "", "mobile")
    # Seeded others: journeys that drop, repeat, convert and come back, over four months.
    rng = random.Random(5)
    steps = ["landing_view", "pricing_view", "signup", "purchase"]
    for p in range(240):
        cust = f"C{p:04d}"
        start = datetime(2026, 1, 5, tzinfo=UTC) + timedelta(hours=rng.randrange(0, 24 * 90))
        channel = rng.choice(["email", "organic", "paid", ""])
        device = rng.choice(["desktop", "mobile"])
        ts, n = start, 0
        for step in steps[:rng.choice([1, 2, 2, 3, 3, 4])]:
            add(f"r{p}-{n}", "", cust, ts, step, channel, device)
            n += 1
            if rng.random() < 0.3:  # a repeat
                add(f"r{p}-{n}", "", cust, ts + timedelta(seconds=30), step, channel, device)
                n += 1
            if rng.random() < 0.1:
                add(f"r{p}-{n}", "", cust, ts + timedelta(minutes=1), "support_ticket",
                    channel, device)
                n += 1
            ts += timedelta(minutes=rng.choice([1, 20, 90, 60 * 30]))
        for week in range(rng.choice([0, 0, 1, 3, 6])):  # coming back
            add(f"r{p}-{n}", "", cust, ts + timedelta(days=7 * (week + 1), hours=3), "login",
                channel, device)
            n += 1
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def build_edge_store(folder: Path) -> EventStore:
    """The edge-case events and 240 customers with a signup date and a plan, loaded."""
    _edge_case_events(folder / "events.csv")
    (folder / "customers.csv").write_text(
        "customer_id,signup_at,plan\n" + "".join(
            f"C{p:04d},2026-0{1 + p % 3}-{1 + p % 28:02d}T08:00:00Z,{'pro' if p % 3 else 'free'}\n"
            for p in range(240)), encoding="utf-8")
    store = EventStore(folder / "home")
    ingest_files(store, "events", [folder / "events.csv"])
    ingest_files(store, "customers", [folder / "customers.csv"])
    return store
