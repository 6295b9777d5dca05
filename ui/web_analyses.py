"""The web app's "Funnels & paths" tab: the funnel, paths and match tools with every option.

Each form is a call of one tool (the same arguments the CLI and the chat pass); the page shows
the tool's own summary, its table and its chart, and the people behind a funnel step as a CSV.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported

import gradio as gr  # noqa: E402

from analytics.results import markdown_literal as md  # noqa: E402
from tools.base import ToolContext, ToolResult  # noqa: E402
from tools.registry import BY_NAME, call_tool  # noqa: E402

# Labels of this tab's fields, for the messages that name one (see ui.web.problem).
LABELS = {"steps": "Steps", "order": "Order", "window_days": "Window",
          "step_windows": "Window per move", "exclude": "Exclusion steps",
          "hold": "Same value throughout", "ignore": "Noise events", "by": "Break down by",
          "people": "People at step", "people_who": "Who", "from_event": "Start at",
          "to_event": "End at", "before_event": "Leading to", "within": "Within",
          "funnel_steps": "Funnel of those who dropped", "dropped_at": "Dropped at step",
          "by_session": "One session at a time", "pattern": "Pattern", "max_steps": "Steps shown"}
ORDERS = ["strict", "consecutive", "any"]


def listed(text: str | None) -> list[str]:
    """'a, b, c' as typed: commas inside brackets (`event[plan=a,b]`) do not split."""
    return [p.strip() for p in re.split(r",(?![^\[]*\])", text or "") if p.strip()]


def table_markdown(result: ToolResult) -> str:
    """The tool's own table (what the CLI prints), as Markdown whose cells read as data."""
    spec = BY_NAME[result.tool]
    view = spec.view(spec.args.model_validate(result.arguments), result.result)
    if not view.rows:
        return ""
    head = "| " + " | ".join(md(str(c)) for c in view.columns) + " |"
    rule = "|" + "---|" * len(view.columns)
    rows = ["| " + " | ".join(md(str(v)) for v in row) + " |" for row in view.rows]
    return "\n".join([f"**{md(view.title)}**", "", head, rule, *rows])


def _dates(since: str, until: str) -> dict[str, str]:
    return {k: v.strip() for k, v in (("since", since), ("until", until)) if v and v.strip()}


class Analyses:
    """The tab's forms: `problem` says a tool's complaint in the page's words; `folder` gives a
    fresh folder under the data folder for an export."""

    def __init__(self, shared: ToolContext, problem: Callable[[ToolResult], str],
                 folder: Callable[[], Path]) -> None:
        self.shared = shared
        self.problem = problem
        self.folder = folder

    def _shown(self, result: ToolResult) -> tuple[str, Any]:
        if not result.ok:
            return f"**Not run.** {md(self.problem(result))}", None
        text = md(result.result.summary) + "\n\n" + table_markdown(result)
        return text, result.figure() if result.figure is not None else None

    def funnel_arguments(self, steps: str, order: str, window: str, step_windows: str,
                         exclude: str, hold: str, ignore: str, by: str, since: str,
                         until: str) -> dict[str, Any]:
        args: dict[str, Any] = {"order": order or "strict", "filters": _dates(since, until)}
        for name, value in (("steps", listed(steps)), ("step_windows", listed(step_windows)),
                            ("exclude", listed(exclude)), ("ignore", listed(ignore))):
            if value:
                args[name] = value
        for name, value in (("window_days", window), ("hold", hold), ("by", by)):
            if value and value.strip():
                args[name] = value.strip()
        return args

    def funnel(self, *form: str) -> tuple[str, Any]:
        return self._shown(call_tool(self.shared, "funnel", self.funnel_arguments(*form)))

    def funnel_people(self, people_at: float | None, people_who: str, *form: str) -> str:
        """The ids behind a step, as a CSV to download."""
        if not people_at:
            raise gr.Error("People at step: choose the step whose people to export (1, 2, ...)")
        args = self.funnel_arguments(*form)
        args.update(people=int(people_at), people_who=people_who or "reached")
        result = call_tool(self.shared, "funnel", args)
        if not result.ok:
            raise gr.Error(self.problem(result))
        path = self.folder() / f"funnel-step-{int(people_at)}-{args['people_who']}.csv"
        result.result.write_csv(str(path))
        return str(path)

    def paths(self, from_event: str, to_event: str, before_event: str, within: str,
              funnel_steps: str, dropped_at: float | None, by_session: bool, max_steps: float,
              since: str, until: str) -> tuple[str, Any]:
        args: dict[str, Any] = {"filters": _dates(since, until), "by_session": bool(by_session),
                                "max_steps": int(max_steps or 6)}
        for name, value in (("from_event", from_event), ("to_event", to_event),
                            ("before_event", before_event), ("within", within)):
            if value and value.strip():
                args[name] = value.strip()
        if listed(funnel_steps):
            args["funnel_steps"] = listed(funnel_steps)
        if dropped_at:
            args["dropped_at"] = int(dropped_at)
        return self._shown(call_tool(self.shared, "paths", args))

    def match(self, pattern: str, since: str, until: str) -> str:
        if not pattern or not pattern.strip():
            return "Type a pattern first, e.g. `checkout_started ->[^payment_error]*-> " \
                   "subscription_started`."
        return self._shown(call_tool(self.shared, "match", {
            "pattern": pattern.strip(), "filters": _dates(since, until)}))[0]


def build_tab(analyses: Analyses) -> None:
    """Inside the app's Blocks: the tab and its wiring."""
    with gr.Tab("Funnels & paths"):
        with gr.Row():
            since = gr.Textbox(label="From (YYYY-MM-DD)")
            until = gr.Textbox(label="To (YYYY-MM-DD)")
        gr.Markdown("### Funnel")
        with gr.Row():
            steps = gr.Textbox(label=LABELS["steps"], placeholder="(the main journey) or "
                               "pricing_view, signup, subscription_started")
            order = gr.Dropdown(ORDERS, value="strict", label=LABELS["order"])
            window = gr.Textbox(label=LABELS["window_days"], placeholder="e.g. 14d")
            step_windows = gr.Textbox(label=LABELS["step_windows"], placeholder="e.g. 1d, 7d")
        with gr.Row():
            exclude = gr.Textbox(label=LABELS["exclude"],
                                 placeholder="e.g. payment_error@2-3, help_view[plan=trial]")
            hold = gr.Textbox(label=LABELS["hold"], placeholder="device, channel, a property")
            ignore = gr.Textbox(label=LABELS["ignore"], placeholder="with the consecutive order")
            by = gr.Textbox(label=LABELS["by"], placeholder="device, channel, plan...")
        run_funnel = gr.Button("Run the funnel")
        funnel_text = gr.Markdown()
        funnel_plot = gr.Plot(label="Funnel")
        with gr.Row():
            people_at = gr.Number(label=LABELS["people"], precision=0, minimum=1)
            people_who = gr.Dropdown(["reached", "dropped"], value="reached",
                                     label=LABELS["people_who"])
            people_csv = gr.Button("Download those people (CSV)")
        people_file = gr.File(label="Download")
        form = [steps, order, window, step_windows, exclude, hold, ignore, by, since, until]
        run_funnel.click(analyses.funnel, form, [funnel_text, funnel_plot])
        people_csv.click(analyses.funnel_people, [people_at, people_who, *form], people_file)

        gr.Markdown("### Paths")
        with gr.Row():
            from_event = gr.Textbox(label=LABELS["from_event"])
            to_event = gr.Textbox(label=LABELS["to_event"])
            before_event = gr.Textbox(label=LABELS["before_event"])
            within = gr.Textbox(label=LABELS["within"], placeholder="e.g. 30m, 1d")
        with gr.Row():
            funnel_steps = gr.Textbox(label=LABELS["funnel_steps"],
                                      placeholder="e.g. plan_selected, checkout_started")
            dropped_at = gr.Number(label=LABELS["dropped_at"], precision=0, minimum=2)
            max_steps = gr.Number(label=LABELS["max_steps"], value=6, precision=0, minimum=2,
                                  maximum=12)
            by_session = gr.Checkbox(label=LABELS["by_session"])
        run_paths = gr.Button("Show the paths")
        paths_text = gr.Markdown()
        paths_plot = gr.Plot(label="Flows")
        run_paths.click(analyses.paths, [from_event, to_event, before_event, within,
                                         funnel_steps, dropped_at, by_session, max_steps,
                                         since, until], [paths_text, paths_plot])

        gr.Markdown("### Who did a pattern")
        pattern = gr.Textbox(label=LABELS["pattern"],
                             placeholder="checkout_started ->[^payment_error]*-> "
                                         "subscription_started")
        run_match = gr.Button("Count the pattern")
        match_text = gr.Markdown()
        run_match.click(analyses.match, [pattern, since, until], match_text)
