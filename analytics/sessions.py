"""Sessions: how people use the product visit by visit.

A session is the export's own session id where an event has one (the first of the properties
`SESSION_PROPERTIES` that the store knows); an event without one belongs to an inactivity
session: among the person's events without an id, in time order (ties by event id), a new
session starts when more than `gap_minutes` passed since the previous one (exactly the gap does
not split). Everything is computed in one SQL query; the date range cuts sessions at its edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analytics.catalog import Catalog, load_catalog
from analytics.errors import ArgumentError
from analytics.event_filters import property_sql
from analytics.filters import ATTRIBUTE_RULE, Filters, check_filters, scope_sql
from analytics.results import AnalyticResult, duration, pct, rate
from analytics.store.connection import Connection

# Session ids as exports name them: Segment/custom, Amplitude, PostHog, GA4 (per user).
SESSION_PROPERTIES = ("session_id", "sessionId", "$session_id", "ga_session_id")
DEFAULT_GAP_MINUTES = 30.0


@dataclass
class EventShare:
    event: str
    sessions: int
    share: float | None  # of the group's sessions


@dataclass
class SessionPath:
    path: str
    steps: int
    sessions: int
    share: float | None


@dataclass
class SessionStats:
    group: str
    sessions: int = 0
    people: int = 0
    sessions_per_person_mean: float | None = None
    sessions_per_person_median: float | None = None
    events_per_session_mean: float | None = None
    events_per_session_median: float | None = None
    minutes_per_session_median: float | None = None
    minutes_per_session_p75: float | None = None
    single_event_sessions: int = 0  # sessions of one event (they last 0 minutes)
    entry_events: list[EventShare] = field(default_factory=list)
    exit_events: list[EventShare] = field(default_factory=list)
    paths: list[SessionPath] = field(default_factory=list)
    other_paths_sessions: int = 0  # sessions whose path is not in `paths`


@dataclass
class SessionsResult(AnalyticResult):
    session_definition: str = ""
    session_property: str | None = None
    gap_minutes: float = DEFAULT_GAP_MINUTES
    events: int = 0
    events_with_session_id: int = 0
    path_steps: int = 4
    overall: SessionStats = field(default_factory=lambda: SessionStats("all"))
    by: str | None = None
    groups: list[SessionStats] = field(default_factory=list)

    kind = "sessions"

    def figure(self):
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        if self.groups:
            names = [g.group for g in self.groups]
            fig = make_subplots(rows=1, cols=3, subplot_titles=(
                "Sessions per person (mean)", "Events per session (mean)",
                "Minutes per session (median)"))
            for col, values in enumerate((
                    [g.sessions_per_person_mean for g in self.groups],
                    [g.events_per_session_mean for g in self.groups],
                    [g.minutes_per_session_median for g in self.groups]), start=1):
                fig.add_trace(go.Bar(x=names, y=values, showlegend=False), row=1, col=col)
            fig.update_layout(title=f"Sessions by {self.by}")
            return fig
        o = self.overall
        fig = make_subplots(rows=1, cols=3, subplot_titles=(
            "Entry events", "Exit events", "Most common paths"), horizontal_spacing=0.12)
        for col, items in ((1, o.entry_events), (2, o.exit_events)):
            fig.add_trace(go.Bar(x=[e.share for e in items][::-1],
                                 y=[e.event for e in items][::-1], orientation="h",
                                 showlegend=False), row=1, col=col)
        fig.add_trace(go.Bar(x=[p.share for p in o.paths][::-1],
                             y=[p.path for p in o.paths][::-1], orientation="h",
                             showlegend=False), row=1, col=3)
        fig.update_xaxes(tickformat=".0%")
        fig.update_layout(title=f"{o.sessions:,} sessions ({self.session_definition}), share "
                                "of sessions")
        return fig


def sessions(con: Connection, *, gap_minutes: float = DEFAULT_GAP_MINUTES,
             by: str | None = None, path_steps: int = 4, top: int = 10,
             filters: Filters = Filters(), catalog: Catalog | None = None) -> SessionsResult:
    if gap_minutes <= 0:
        raise ArgumentError("gap_minutes", "must be more than 0 minutes")
    if path_steps < 1 or top < 1:
        raise ArgumentError("path_steps" if path_steps < 1 else "top", "must be at least 1")
    catalog = catalog or load_catalog(con)
    check_filters(filters, catalog)
    if by is not None:
        catalog.check_attribute(by)
    known = [p for p in SESSION_PROPERTIES if p in catalog.event_properties]
    scope = scope_sql(filters, group_by=by, light=True)
    rows = con.execute(_sql(scope.ctes, known, by is not None, path_steps, top),
                       scope.params + [gap_minutes * 60_000.0]).fetchall()
    stats: dict[tuple[bool, str], SessionStats] = {}
    events = with_id = 0
    for kind, overall, group, label, n, a, b, c, d, e in rows:
        key = (overall, "all" if overall else group)
        s = stats.setdefault(key, SessionStats(key[1]))
        if kind == "sessions":
            s.sessions, s.events_per_session_mean, s.events_per_session_median = n, a, b
            s.minutes_per_session_median, s.minutes_per_session_p75 = c, d
            s.single_event_sessions = int(e or 0)
        elif kind == "people":
            s.people, s.sessions_per_person_mean, s.sessions_per_person_median = n, a, b
        elif kind == "events":
            events, with_id = n, int(a or 0)
        elif kind in ("entry", "exit"):
            (s.entry_events if kind == "entry" else s.exit_events).append(
                EventShare(label, n, None))
        elif kind == "path":
            s.paths.append(SessionPath(label, int(a), n, None))
    for s in stats.values():
        for item in s.entry_events + s.exit_events + s.paths:  # type: ignore[operator]
            item.share = rate(item.sessions, s.sessions)
        s.other_paths_sessions = s.sessions - sum(p.sessions for p in s.paths)
    overall_stats = stats.get((True, "all"), SessionStats("all"))
    groups = sorted((s for (is_all, _), s in stats.items() if not is_all),
                    key=lambda s: (-s.sessions, s.group))
    definition = _definition(known, events, with_id, gap_minutes)
    result = SessionsResult(
        session_definition=definition, session_property=known[0] if known and with_id else None,
        gap_minutes=gap_minutes, events=events, events_with_session_id=with_id,
        path_steps=path_steps, overall=overall_stats, by=by, groups=groups,
        filters=filters.describe(),
        definitions=_definitions(definition, known, gap_minutes, path_steps, by))
    result.summary = _summary(result)
    return result


def _gap_label(gap_minutes: float) -> str:
    return f"{gap_minutes:g}-minute inactivity"


def _definition(known: list[str], events: int, with_id: int, gap_minutes: float) -> str:
    if not with_id:
        return _gap_label(gap_minutes)
    if with_id == events:
        return f"{known[0]} property"
    return f"{known[0]} property, else {_gap_label(gap_minutes)}"


def session_keys_sql(known: list[str], grp: str = "''") -> str:
    """CTEs after `ev`: `keyed` (event_id, person_id, ts, event_name, grp, session_key), each
    event's session within its person. One ? parameter: the inactivity gap in milliseconds."""
    ids = [f"NULLIF({property_sql(p)}, '')" for p in known]
    sid = (ids[0] if len(ids) == 1 else f"COALESCE({', '.join(ids)})") if ids \
        else "NULL::VARCHAR"
    return f"""tagged AS (
    SELECT event_id, person_id, ts, event_name, {grp} AS grp, {sid} AS sid FROM ev
),
gaps AS (
    SELECT event_id, person_id, ts, event_name, grp, sid,
           CASE WHEN sid IS NOT NULL THEN 0
                WHEN lag(ts) OVER w IS NULL THEN 1
                WHEN epoch_ms(ts) - epoch_ms(lag(ts) OVER w) > ? THEN 1
                ELSE 0 END AS new_session
    FROM tagged
    WINDOW w AS (PARTITION BY person_id, sid IS NULL ORDER BY ts, event_id)
),
keyed AS (
    SELECT event_id, person_id, ts, event_name, grp,
           CASE WHEN sid IS NOT NULL THEN 'id:' || sid
                ELSE 'gap:' || CAST(sum(new_session) OVER (
                    PARTITION BY person_id, sid IS NULL ORDER BY ts, event_id
                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS VARCHAR)
           END AS session_key
    FROM gaps
)"""


def _sql(scope_ctes: str, known: list[str], grouped: bool, path_steps: int, top: int) -> str:
    grp = "grp" if grouped else "''"
    # Every statistic once for everyone (overall) and, with a breakdown, once per group.
    labelled = ("SELECT TRUE AS overall, '' AS g, s.* FROM sessions AS s" +
                ("\n    UNION ALL SELECT FALSE AS overall, s.grp AS g, s.* FROM sessions AS s"
                 if grouped else ""))
    steps = ", ".join(f"max(event_name) FILTER (WHERE step = {k})"
                      for k in range(1, path_steps + 1))
    session = "PARTITION BY person_id, session_key"
    return f"""
{scope_ctes},
{session_keys_sql(known, grp)},
ordered AS (
    SELECT person_id, session_key, grp, ts, event_name,
           row_number() OVER ({session} ORDER BY ts, event_id) AS pos,
           row_number() OVER ({session} ORDER BY ts DESC, event_id DESC) AS pos_back,
           lag(event_name) OVER ({session} ORDER BY ts, event_id) AS prev_event
    FROM keyed
),
collapsed AS (
    SELECT person_id, session_key, event_name,
           row_number() OVER ({session} ORDER BY pos) AS step
    FROM ordered WHERE prev_event IS NULL OR prev_event <> event_name
),
session_paths AS (
    SELECT person_id, session_key,
           concat_ws(' > ', {steps}) || CASE WHEN max(step) > {int(path_steps)} THEN ' > ...'
                                             ELSE '' END AS path,
           least(max(step), {int(path_steps)}) AS steps
    FROM collapsed GROUP BY person_id, session_key
),
session_rows AS (
    SELECT person_id, session_key, any_value(grp) AS grp, count(*) AS events,
           (epoch_ms(max(ts)) - epoch_ms(min(ts))) / 60000.0 AS minutes,
           max(CASE WHEN pos = 1 THEN event_name END) AS entry_event,
           max(CASE WHEN pos_back = 1 THEN event_name END) AS exit_event
    FROM ordered GROUP BY person_id, session_key
),
sessions AS (
    SELECT r.person_id AS person_id, r.session_key AS session_key, r.grp AS grp,
           r.events AS events, r.minutes AS minutes, r.entry_event AS entry_event,
           r.exit_event AS exit_event, p.path AS path, p.steps AS steps
    FROM session_rows AS r JOIN session_paths AS p
      ON p.person_id = r.person_id AND p.session_key = r.session_key
),
labelled AS (
    {labelled}
),
per_person AS (
    SELECT overall, g, person_id, count(*) AS sessions_n FROM labelled
    GROUP BY overall, g, person_id
),
entries AS (
    SELECT overall, g, entry_event AS label, count(*) AS n,
           row_number() OVER (PARTITION BY overall, g ORDER BY count(*) DESC, entry_event)
               AS rank_in_group
    FROM labelled GROUP BY overall, g, entry_event
),
exits AS (
    SELECT overall, g, exit_event AS label, count(*) AS n,
           row_number() OVER (PARTITION BY overall, g ORDER BY count(*) DESC, exit_event)
               AS rank_in_group
    FROM labelled GROUP BY overall, g, exit_event
),
paths AS (
    SELECT overall, g, path AS label, count(*) AS n, any_value(steps) AS steps,
           row_number() OVER (PARTITION BY overall, g ORDER BY count(*) DESC, path)
               AS rank_in_group
    FROM labelled GROUP BY overall, g, path
)
{_union(top)}
ORDER BY kind, overall DESC, g, n DESC, label
"""


def _select(kind: str, values: list[str], source: str, *, label: str = "NULL::VARCHAR",
            n: str = "count(*)", keys: str = "overall AS overall, g AS g") -> str:
    """One part of the union: every part has the same columns (kind, overall, g, label, n and
    five numbers a..e, NULL where a part has fewer)."""
    numbers = [f"({v})::DOUBLE AS {c}" for v, c in zip(values, "abcde")]
    numbers += [f"NULL::DOUBLE AS {c}" for c in "abcde"[len(values):]]
    return (f"SELECT '{kind}' AS kind, {keys}, {label} AS label, {n} AS n,\n       "
            + ", ".join(numbers) + f"\nFROM {source}")


def _union(top: int) -> str:
    ranked = f"WHERE rank_in_group <= {int(top)}"
    parts = [
        _select("sessions", ["avg(events)", "quantile_cont(events, 0.5)",
                             "quantile_cont(minutes, 0.5)", "quantile_cont(minutes, 0.75)",
                             "sum(CASE WHEN events = 1 THEN 1 ELSE 0 END)"],
                "labelled GROUP BY overall, g"),
        # Not `n`: the part's own count(*) AS n would shadow it where aliases reach the whole
        # SELECT (ClickHouse).
        _select("people", ["avg(sessions_n)", "quantile_cont(sessions_n, 0.5)"],
                "per_person GROUP BY overall, g"),
        _select("events", ["count(sid)"], "tagged", keys="TRUE AS overall, '' AS g"),
        _select("entry", ["rank_in_group"], f"entries {ranked}", label="label", n="n"),
        _select("exit", ["rank_in_group"], f"exits {ranked}", label="label", n="n"),
        _select("path", ["steps", "rank_in_group"], f"paths {ranked}", label="label", n="n"),
    ]
    return "\nUNION ALL\n".join(parts)


def _definitions(definition: str, known: list[str], gap_minutes: float, path_steps: int,
                 by: str | None) -> dict[str, str]:
    gap = (f"among a person's events without a session id, in time order (ties by event id), a "
           f"new session starts after more than {gap_minutes:g} minutes without an event "
           f"(exactly {gap_minutes:g} minutes does not split)")
    out = {
        "session": (f"this data: {definition}. An event's session is its own session id "
                    f"({' or '.join(known)}, per person) where it has one; " + gap
                    if known else f"this data: {definition} (no session id property): " + gap),
        "people": "distinct people (a customer id, or an anonymous id not linked to one) with "
                  "at least one session in scope",
        "sessions per person": "sessions / people, and the median person's session count",
        "events per session": "events in the session, repeats included",
        "minutes per session": "from the session's first event to its last (a one-event "
                               "session lasts 0 minutes); median and 75th percentile",
        "entry / exit event": "a session's first / last event; share = sessions / all "
                              "sessions",
        "path": f"a session's events in time order, consecutive repeats counted once, the "
                f"first {path_steps} shown ('...' when longer); share = sessions / all "
                "sessions; the rest are counted in other_paths_sessions",
        "date range": "only events inside the date range count, so a session across its edge "
                      "is cut there",
    }
    if by:
        out["attribute"] = ATTRIBUTE_RULE
        out["by"] = f"each person's {by}; a group's figures count only its people's sessions"
    return out


def _summary(result: SessionsResult) -> str:
    o = result.overall
    if not o.sessions:
        return "No sessions in this scope."
    text = (f"{o.sessions:,} sessions by {o.people:,} people ({result.session_definition}): "
            f"{o.sessions_per_person_mean:.1f} per person on average (median "
            f"{o.sessions_per_person_median:g}), {o.events_per_session_mean:.1f} events per "
            f"session (median {o.events_per_session_median:g}).")
    single = rate(o.single_event_sessions, o.sessions) or 0
    if single >= 0.5:
        text += (f" {pct(single)} of sessions are a single event, so the median session lasts "
                 f"0 minutes (75th percentile {duration((o.minutes_per_session_p75 or 0) * 60)}).")
    else:
        text += (f" A session lasts a median {duration((o.minutes_per_session_median or 0) * 60)}"
                 f" (75th percentile {duration((o.minutes_per_session_p75 or 0) * 60)}).")
    if o.entry_events and o.exit_events:
        text += (f" Most sessions start with {o.entry_events[0].event} "
                 f"({pct(o.entry_events[0].share)}) and end with {o.exit_events[0].event} "
                 f"({pct(o.exit_events[0].share)}).")
    if o.paths:
        alone = " alone" if o.paths[0].steps == 1 else ""
        text += (f" The most common path within a session is {o.paths[0].path}{alone} "
                 f"({pct(o.paths[0].share)} of sessions).")
    if result.groups:
        most = max(result.groups, key=lambda g: g.sessions_per_person_mean or 0)
        text += (f" By {result.by}, {most.group} has the most sessions per person "
                 f"({most.sessions_per_person_mean:.1f}).")
    return text
