"""The quarter's timeline: initiatives on the same step run one after the other (two tests on
one step at once would contaminate each other), and an owner builds one thing at a time.

Each initiative is built (1, 2 or 4 weeks by effort), runs its test, and is read in the week
after. Taken in rank order, each starts as soon as its owner is free, and its run starts when
no earlier test on the same step is still running. Weeks are 1-12; what ends after week 12 is
said to run past the quarter.
"""

from __future__ import annotations

from dataclasses import dataclass

BUILD_WEEKS = {1: 1, 2: 2, 3: 4}
QUARTER_WEEKS = 12


@dataclass
class Slot:
    build_start: int  # first week of the build (1-based)
    build_end: int  # last week of the build
    run_start: int  # after the build, and after any earlier test on the same step
    run_end: int  # last week of the run
    readout: int  # the week the result is read (after the quarter for an open-ended run)
    open_ended: bool = False  # a test that cannot be read this quarter runs on after it

    @property
    def past_quarter(self) -> bool:
        return self.open_ended or self.readout > QUARTER_WEEKS


def build_weeks(effort: int) -> int:
    return BUILD_WEEKS.get(effort, 2)


def schedule(items: list[tuple[str, str, int, int]]) -> list[Slot]:
    """Slots for (owner, step, effort, run weeks) in rank order; run weeks 0: a test that
    cannot be read this quarter, started as soon as it can and left running past week 12."""
    owner_free: dict[str, int] = {}
    step_free: dict[str, int] = {}
    slots = []
    for owner, step, effort, run_weeks in items:
        start = owner_free.get(owner, 1)
        built = start + build_weeks(effort)  # the first week the change could run
        run_start = max(built, step_free.get(step, 1))
        open_ended = run_weeks <= 0
        run_end = QUARTER_WEEKS if open_ended else run_start + run_weeks - 1
        slots.append(Slot(start, built - 1, run_start, max(run_end, run_start),
                          QUARTER_WEEKS + 1 if open_ended else run_end + 1, open_ended))
        owner_free[owner] = built  # the owner builds the next while this one runs
        step_free[step] = run_end + 2  # the readout week, then the next test on that step
    return slots


def gantt_rows(labels: list[str], slots: list[Slot]) -> list[tuple[str, list[str]]]:
    """Each initiative's weeks as cells: 'build', 'run', 'read' or ''."""
    last = max([QUARTER_WEEKS] + [s.readout for s in slots if not s.open_ended])
    more = any(s.open_ended for s in slots)
    rows = []
    for label, s in zip(labels, slots):
        cells = []
        for week in range(1, last + 1):
            cells.append("build" if s.build_start <= week <= s.build_end else
                         "run" if s.run_start <= week <= s.run_end else
                         "read" if week == s.readout and not s.open_ended else "")
        if more:
            cells.append("more" if s.open_ended else "")  # runs on after the quarter
        rows.append((label, cells))
    return rows
