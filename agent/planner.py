"""The offline planner: answers without any LLM, from the same tools and their numbers.

A question is routed to an intent (nearest example questions, embedded locally), names are read
out of it against the catalog, the intent's tools run with those arguments, and the answer is
written from the tools' own summaries (every figure in them comes from DuckDB or scikit-learn)
plus quotes and a next step from templates in `prompts/`. Follow-ups keep context: "and on
mobile?" reruns the previous question's tools with the new filter.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from agent.entities import Entities, extract
from agent.intents import shared_classifier
from tools.base import ToolContext, ToolResult
from tools.session import Session

FOLLOW_UP = re.compile(r"^\s*(and|what about|how about|same|now|only|for|on)\b", re.IGNORECASE)


@functools.lru_cache(maxsize=1)
def _templates() -> dict:
    """The answer templates, read once per process (every conversation starts a planner)."""
    text = resources.files("prompts").joinpath("answers.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@dataclass
class PlannedCall:
    tool: str
    arguments: dict[str, Any]


@dataclass
class Answer:
    question: str
    intent: str
    text: str
    calls: list[PlannedCall] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)
    mode: str = "offline"

    def to_dict(self) -> dict:
        return {"question": self.question, "intent": self.intent, "mode": self.mode,
                "answer": self.text,
                "tools": [{"tool": r.tool, "arguments": r.arguments, "result_id": r.result_id,
                           "ok": r.ok} for r in self.results],
                "results": {r.result_id: r.data() for r in self.results if r.result_id}}


class OfflinePlanner:
    def __init__(self, context: ToolContext | Session) -> None:
        # One conversation: its own session (result ids), over a context shared with others.
        self.session = context if isinstance(context, Session) else Session(context)
        self.ctx = self.session.ctx
        self.templates = _templates()
        self.last: tuple[str, Entities] | None = None

    def call(self, tool: str, arguments: dict) -> ToolResult:
        return self.session.call(tool, arguments)

    def facts(self) -> dict[str, Any]:
        """What the planner needs to know about the data (from the describe_data tool: event
        popularity, the end of the data, the journey's defaults), read once per context."""
        # Shared by the context's conversations and forgotten with the data (a conversation
        # that outlives a load asks again); one of them reads it while the others wait.
        return self.ctx.cached(self.ctx.cache, "planner_facts", self._read_facts)

    def _read_facts(self) -> dict[str, Any]:
        from tools.registry import call_tool

        data = call_tool(self.ctx, "describe_data").result
        return {"popularity": {e.event_name: e.people for e in data.event_names},
                "end": data.last_event.date() if data.last_event else None,
                "conversion": data.conversion_event, "churn": data.churn_event,
                "key_steps": data.key_steps}

    def warm_up(self, models: bool = True) -> None:
        """Load what answers would otherwise wait for: the embedding model, the catalog, the
        feedback themes and (with `models`) the segments and the churn model."""
        shared_classifier()
        self.facts()
        try:
            self.ctx.themes()
        except Exception:  # no feedback yet: nothing to warm
            pass
        if models:
            from tools.session import shared_call

            # Through the sessions' shared results: a question asked while the warm-up trains
            # a model waits for that model instead of training a second one.
            for tool in ("segments", "churn"):
                shared_call(self.ctx, tool, {})

    # -- planning ---------------------------------------------------------------------------

    def plan(self, question: str) -> tuple[str, Entities, list[PlannedCall]]:
        facts = self.facts()
        entities = extract(question, self.ctx.catalog(), facts["popularity"], facts["end"])
        match = shared_classifier().classify(_generic(question, entities.events))
        intent = match.intent
        if intent == "out_of_scope" and (entities.events or entities.device or entities.channel):
            # It names something in the data, so it is about the journey after all.
            intent = match.best_journey_intent()
        if self.last and FOLLOW_UP.match(question) and len(question.split()) <= 8:
            previous_intent, previous = self.last
            intent = previous_intent
            entities = _merge(previous, entities)
        calls = self._calls(intent, entities, facts, question)
        return intent, entities, calls

    def _calls(self, intent: str, e: Entities, facts: dict, question: str) -> list[PlannedCall]:
        filters = {k: v for k, v in {
            "since": e.since.isoformat() if e.since else None,
            "until": e.until.isoformat() if e.until else None,
            "device": e.device, "channel": e.channel, "segment": e.segment}.items() if v}
        steps = facts["key_steps"]
        conversion, churn = facts["conversion"], facts["churn"]
        if intent == "dropoff":
            funnel_steps = e.events if len(e.events) >= 2 else steps
            return [PlannedCall("funnel", {"steps": funnel_steps, "filters": filters})]
        if intent == "breakdown":
            funnel_steps = e.events if len(e.events) >= 2 else steps
            return [PlannedCall("funnel", {"steps": funnel_steps, "by": e.by or "device",
                                           "filters": filters})]
        if intent == "paths":
            args: dict[str, Any] = {"filters": filters}
            if e.events:
                args["from_event"] = e.events[0]
            return [PlannedCall("paths", args)]
        if intent == "next_steps":
            after = e.events[:2] or [steps[1] if len(steps) > 1 else steps[0]]
            return [PlannedCall("next_steps", {"after": after, "filters": filters})]
        if intent == "moments_conversion":
            return [PlannedCall("moments", {"outcome": conversion, "filters": filters})]
        if intent == "moments_churn":
            if churn is None:
                return [PlannedCall("churn", {"filters": filters})]
            return [PlannedCall("moments", {"outcome": churn, "among": conversion,
                                            "filters": filters})]
        if intent == "churn_risk":
            return [PlannedCall("churn", {"filters": filters})]
        if intent == "segments":
            return [PlannedCall("segments", {"filters": filters})]
        if intent == "friction":
            step = e.events[0] if e.events else _first_choice_step(steps)
            return [PlannedCall("friction", {"step": step, "filters": filters})]
        if intent == "feedback_search":
            query = e.topic or _strip_question(question)
            args = {"query": query}
            if e.since:
                args["since"] = e.since.isoformat()
            return [PlannedCall("feedback_search", args)]
        if intent == "themes":
            return [PlannedCall("themes", {})]
        if intent == "attribution":
            return [PlannedCall("attribution", {"model": "markov", "filters": filters})]
        if intent == "anomalies":
            return [PlannedCall("anomalies", {"filters": {k: v for k, v in filters.items()
                                                          if k not in ("since", "until")}})]
        if intent == "retention":
            period = "week" if "week" in question.lower() else "month"
            return [PlannedCall("retention", {"period": period, "filters": filters})]
        if intent == "describe_data":
            return [PlannedCall("describe_data", {})]
        if intent in ("diagnose", "plan"):
            metrics = _metrics_text(question)
            if intent == "diagnose":
                return [PlannedCall("diagnose", {"metrics_text": metrics})] if metrics else []
            return [PlannedCall("plan", {"metrics_text": metrics} if metrics else {})]
        return []

    # -- answering ---------------------------------------------------------------------------

    def ask(self, question: str) -> Answer:
        intent, entities, calls = self.plan(question)
        results = [self.call(c.tool, c.arguments) for c in calls]
        # Drop-offs come with how devices differ and what customers said where they leave:
        # the largest drops first, the first one with feedback to quote.
        if intent == "dropoff" and results and results[0].ok:
            filters = calls[0].arguments.get("filters", {})
            if "device" not in filters:
                by_device = self.call("funnel", {
                    "steps": calls[0].arguments["steps"], "by": "device", "filters": filters})
                if by_device.ok:
                    results.append(by_device)
            for step in _drop_steps(results[0].result)[:3]:
                friction = self.call("friction", {"step": step, "filters": filters})
                if friction.ok and friction.result.themes:
                    results.append(friction)
                    break
        if intent == "diagnose" and not calls:
            text = self.templates["need_metrics"]
        elif intent == "out_of_scope":
            text = self.templates[intent]
        else:
            text = self._write(intent, results)
            self.last = (intent, entities)
        return Answer(question, intent, text, calls, results)

    def _write(self, intent: str, results: list[ToolResult]) -> str:
        parts = []
        for r in results:
            if not r.ok:
                parts.append(said_problem(r))
                continue
            summary = getattr(r.result, "summary", "")
            if r.tool == "funnel" and r.result.groups:
                parts.append(_group_comparison(r))
            elif r.tool == "feedback_search":
                parts.append(_quotes(r.result.snippets, r.result_id))
            elif r.tool == "describe_data":
                parts.append(r.content)
            elif summary:
                parts.append(f"{summary} [{r.result_id}]")
        quotes = _evidence(results)
        if quotes:
            parts.append(quotes)
        quoted = next((r.result.step for r in results if r.tool == "friction" and r.ok), None)
        first = results[0] if results and results[0].ok else None
        step = quoted or (_worst_step(first.result) if first and first.tool == "funnel" else None)
        said = any(r.tool == "friction" and r.ok and r.result.themes for r in results)
        if intent == "friction" and not said:
            intent = "friction_behaviour"  # nothing from feedback: the next step is behaviour's
        nxt = self.templates["next_step"].get(intent, "")
        by = results[0].arguments.get("by") if results else None
        parts.append(nxt.format(step=step or "that step", by=by or "device"))
        return "\n\n".join(p for p in parts if p)


# How the chat names the arguments a question can get wrong.
FIELD_WORDS = {"filters.since": "the start date", "filters.until": "the end date",
               "filters.device": "the device", "filters.channel": "the channel",
               "filters.segment": "the segment", "window_days": "the conversion window",
               "within_days": "the time window", "steps": "the steps"}


def said_problem(result: ToolResult) -> str:
    """A tool's complaint in the chat's words (no flags, no argument names)."""
    from analytics.errors import ArgumentError, UnknownNameError

    error = result.error
    what = result.tool.replace("_", " ")
    if isinstance(error, UnknownNameError):
        close = ", ".join(error.suggestions)
        return (f"Your data has no {error.kind} called '{error.name}'"
                + (f"; did you mean {close}?" if close else "."))
    if isinstance(error, ArgumentError):
        words = FIELD_WORDS.get(error.field, "the " + error.field.split(".")[-1].replace("_", " "))
        return f"I could not run the {what}: {words}: {error.problem}."
    return f"I could not run the {what}: {error or result.content}"


def _generic(question: str, events: list[str]) -> str:
    """The question with raw event names replaced by plain words, for routing by meaning: an
    unfamiliar token like `landing_view` should not pull a question away from its intent."""
    text = question
    for event in events:
        if "_" in event:
            text = re.sub(re.escape(event), event.replace("_", " "), text, flags=re.IGNORECASE)
    return text


def _metrics_text(question: str) -> str | None:
    """Stage metrics pasted with the question (two or more readable stages), if any."""
    from tools.plan_tools import readable_stages

    return question if readable_stages(question) >= 2 else None


def _merge(previous: Entities, new: Entities) -> Entities:
    merged = Entities(**previous.__dict__)
    for key, value in new.__dict__.items():
        if value:
            setattr(merged, key, value)
    return merged


def _strip_question(question: str) -> str:
    text = re.sub(r"^(what|how|show|find|tell)\b.*?\b(say|saying|said|about|complain)\b",
                  "", question.lower()).strip(" ?.")
    return text or question


def _worst_step(funnel: Any) -> str | None:
    biggest = funnel.biggest_dropoff_step
    if not biggest or biggest < 2:
        return None
    return funnel.steps[biggest - 2].events[0]


def _drop_steps(funnel: Any) -> list[str]:
    """The steps people leave from, largest loss first."""
    steps = funnel.steps
    pairs = [(steps[i].dropped, steps[i - 1].events[0]) for i in range(1, len(steps))]
    return [name for dropped, name in sorted(pairs, key=lambda p: -p[0]) if dropped > 0]


def _first_choice_step(steps: list[str]) -> str:
    """With no step named, ask about the second key step (the first one people can leave)."""
    return steps[1] if len(steps) > 1 else steps[0]


def _group_comparison(r: ToolResult) -> str:
    """Conversion at each step by group, as a sentence per step (numbers from the result)."""
    groups = r.result.groups
    by = r.arguments.get("by", "group")
    lines = []
    for k in range(1, len(groups[0].steps)):
        cells = []
        for g in groups:
            rate = g.steps[k].conversion_from_previous
            cells.append(f"{g.group} {rate * 100:.1f}%" if rate is not None else f"{g.group} n/a")
        name = " -> ".join(["|".join(groups[0].steps[k - 1].events),
                            "|".join(groups[0].steps[k].events)])
        lines.append(f"{name}: " + ", ".join(cells))
    return f"By {by} (conversion from the previous step) [{r.result_id}]:\n" + "\n".join(
        f"- {line}" for line in lines)


def _evidence(results: list[ToolResult]) -> str:
    for r in results:
        if r.tool == "friction" and r.ok:
            quotes = [q for t in r.result.themes[:2] for q in t.quotes[:1]]
            if quotes:
                return "What they said: " + " ".join(
                    f"\u201c{q['text']}\u201d ({q['source']}, {q['date']})" for q in quotes)
    return ""


def _quotes(snippets: list, result_id: str | None) -> str:
    if not snippets:
        return "No feedback matches that."
    lines = [f"\u201c{s.text}\u201d ({s.source}, {s.stage}, {s.date})" for s in snippets[:5]]
    return f"What customers said [{result_id}]:\n" + "\n".join(f"- {line}" for line in lines)
