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
import shlex
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

import yaml

from agent.entities import Entities, extract
from agent.frame import OVER_TIME, Frame, Vocabulary, label_of, read_frame
from agent.intents import shared_classifier
from agent.investigations import (
    INVESTIGATIONS,
    Investigation,
    investigation_for,
    suggested_calls,
)
from agent.leads import changes_in_period, lead
from agent.periods import period_words
from agent.spelling import correct, data_words, known_words
from tools.base import ToolContext, ToolResult
from tools.session import Session

FOLLOW_UP = re.compile(r"^\s*(and|what about|how about|same|now|only|for|on|in|during|vs\.?|versus|"
                       r"compared (to|with)|break (it|that|this) down|split (it|that|this)|by|"
                       r"just|except|excluding|without)\b", re.IGNORECASE)
# "why?" after an answer: the reason at the step that answer found.
WHY_FOLLOW_UP = re.compile(r"^\s*(and )?why( is that| so| that| not| did that happen)?\s*\??\s*$",
                           re.IGNORECASE)


# "who were they?", "which plan are those people on?": the people of the question before.
PRONOUN_FOLLOW_UP = re.compile(r"\b(they|them|(those|these|the same) (people|customers|users|"
                               r"accounts|ones|leads|subscribers|buyers|deals|shoppers)|that group|"
                               r"this group)\b", re.IGNORECASE)


# People a question names itself: a "they" after them is theirs ("what do people do before they
# subscribe?"), not the previous answer's.
OWN_PEOPLE = re.compile(r"\b(people|customers|users|visitors|shoppers|buyers|someone|anyone|"
                        r"everyone|folks|members|subscribers|accounts|leads|prospects)\b",
                        re.IGNORECASE)


def _leans_on_pronoun(question: str) -> bool:
    found = PRONOUN_FOLLOW_UP.search(question)
    return bool(found) and not OWN_PEOPLE.search(question[:found.start()])


# "can you show me what those people wrote?": the courtesy is not part of the question's length.
COURTESY = re.compile(r"^\s*(ok(ay)?,? |so,? |and )?((can|could|would) you (please )?|please )?"
                      r"((show|tell|give|get) (me|us) )?", re.IGNORECASE)


def is_follow_up(question: str) -> bool:
    """A short question that leans on the one before ("and on mobile?", "why?")."""
    plain = COURTESY.sub("", question, count=1)
    return _leans_on_before(question) or bool(plain) and _leans_on_before(plain)


def _leans_on_before(question: str) -> bool:
    return bool(WHY_FOLLOW_UP.match(question)) or (
        bool(FOLLOW_UP.match(question)) and len(question.split()) <= 8) or (
        _leans_on_pronoun(question) and len(question.split()) <= 9) or (
        bool(re.search(r"\b(it|that|this|there)\b\W*$", question, re.IGNORECASE))
        and len(question.split()) <= 6) or (  # "which app version was it?", "who leaves there?"
        bool(re.search(r"\b(was|is|did|does|were) (it|that|this|they)\b", question,
                       re.IGNORECASE)) and len(question.split()) <= 9)  # "was it one version?"


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
    frame: Frame | None = None

    def to_dict(self) -> dict:
        return {"question": self.question, "intent": self.intent, "mode": self.mode,
                "answer": self.text,
                "frame": self.frame.to_dict() if self.frame else None,
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
        self.last_frame: Frame | None = None
        self.last_step: str | None = None  # the step the last answer found people leaving

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
        stage_of = {e.event_name: e.stage for e in data.event_names}
        stage_steps: dict[str, str] = {}
        for step in data.key_steps:
            stage_steps.setdefault(stage_of.get(step, ""), step)
        stage_steps.pop("", None)
        stage_steps.pop("unmapped", None)
        return {"popularity": {e.event_name: e.people for e in data.event_names},
                "end": data.last_event.date() if data.last_event else None,
                "conversion": data.conversion_event, "churn": data.churn_event,
                "key_steps": data.key_steps, "stage_steps": stage_steps,
                "devices": list(data.devices), "channels": list(data.channels),
                "attribute_values": dict(data.attribute_values),
                "stage_rank": {e.event_name: data.stages.index(e.stage)
                               for e in data.event_names if e.stage in data.stages}}

    def vocabulary(self) -> Vocabulary:
        f = self.facts()
        return Vocabulary(events=list(f["popularity"]), popularity=f["popularity"],
                          end=f["end"], conversion=f["conversion"], churn=f["churn"],
                          key_steps=f["key_steps"], stage_steps=f["stage_steps"],
                          devices=f["devices"], channels=f["channels"],
                          attribute_values=f["attribute_values"],
                          stage_rank=f["stage_rank"])

    def read(self, question: str) -> Frame:
        """The question's frame; a short follow-up ("and on mobile?") keeps the previous
        question's frame and changes only what it names."""
        frame = read_frame(question, self.vocabulary())
        # "android vs ios?" right after "paywall to trial conversion?": two groups and nothing
        # else compare the previous question's steps.
        bare = (not frame.steps and len(question.split()) <= 4 and not frame.customer_ids
                and len(frame.compare) >= 2 and frame.asks in ("comparison", "answer")
                and not frame.population.get("did"))
        if self.last_frame and (is_follow_up(question) or (bare and self.last_frame.steps)):
            previous = self.last_frame
            merged = Frame(**{**previous.__dict__, "question": question,
                              "notes": list(frame.notes)})
            merged.population = {**previous.population, **frame.population}
            for key in ("period", "by", "steps", "customer_ids", "compare", "path_anchor",
                        "within_seconds", "per_session", "exclude", "hold"):
                if getattr(frame, key):
                    setattr(merged, key, getattr(frame, key))
            if frame.steps and set(frame.steps) < set(previous.steps):
                merged.steps = previous.steps  # "and for mobile signups?": the same steps
            if merged.by and not frame.by and (frame.population.get(merged.by) or (
                    frame.population.get("where") or {}).get(merged.by)):
                # "channel ranking" then "and Affiliate?": that one group, not a split of it.
                merged.by, merged.compare = None, []
            labels = [x for x in (previous.population_label, frame.population_label) if x]
            merged.population_label = ", ".join(dict.fromkeys(labels))
            merged.notes.append("a follow-up: the previous question's frame, changed by this one")
            if frame.asks != "answer":
                merged.asks = frame.asks  # "and how many in May?" asks its own thing
            elif frame.by and not frame.steps:
                # "which plan are those people mostly on?"; after why a step fell, "was it one
                # app version?": that move in that window, split by the attribute.
                merged.asks = "comparison"
            if WHY_FOLLOW_UP.match(question):
                merged.asks = "reason"
                if self.last_step and len(merged.steps) != 1:
                    merged.steps = [self.last_step]
            return merged
        return frame

    def warm_up(self, models: bool = True) -> None:
        """Load what answers would otherwise wait for: the embedding model, the catalog, the
        feedback themes and (with `models`) the segments, the churn model, the what-changed
        scan, the sessions and the at-risk customers' next actions."""
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
            for tool, arguments in (("segments", {}), ("churn", {}), ("anomalies", {}),
                                    ("sessions", {}),
                                    ("next_best_action", {"at_risk": True, "top": 10})):
                shared_call(self.ctx, tool, arguments)

    # -- planning ---------------------------------------------------------------------------

    def spelt(self, question: str) -> tuple[str, list[str]]:
        """The question with misspelt words put right against the data's words."""
        f = self.facts()
        names = f["devices"] + f["channels"] + list(f["attribute_values"]) + [
            x for values in f["attribute_values"].values() for x in values]
        known, data = self.ctx.cached(self.ctx.cache, "planner_known_words", lambda: (
            known_words(list(f["popularity"]), names), data_words(list(f["popularity"]), names)))
        return correct(question, known, data)

    def plan(self, question: str) -> tuple[str, Entities, list[PlannedCall]]:
        question, spelt = self.spelt(question)
        frame = self.read(question)
        frame.notes += spelt
        self.frame = frame
        facts = self.facts()
        entities = extract(question, self.ctx.catalog(), facts["popularity"], facts["end"])
        # The frame's reading wins: loose words, periods and populations it resolved.
        entities.events = list(frame.steps)
        pasted = _metrics_text(question)
        if pasted and _readable(pasted) >= 3:
            # A deck's stage metrics: diagnosed or planned, whatever words they use (a line
            # called "Sessions" is a stage, not a question about sessions).
            intent = "plan" if frame.asks == "plan" or re.search(
                r"\b(plan|quick[- ]wins?|roadmap|initiatives?|next quarter)\b",
                question.lower()) else "diagnose"
            frame.topic = intent
            return intent, entities, self._calls(intent, entities, facts, question)
        investigation = investigation_for(frame)
        if investigation:
            frame.topic = investigation
            return investigation, entities, [PlannedCall(FIRST_TOOL[investigation], {})]
        match = shared_classifier().classify(_generic(question, entities.events))
        intent = match.intent
        said_data = frame.steps or frame.period or frame.by or any(
            frame.population.get(k) for k in ("did", "device", "channel", "segment"))
        if ACTION_REQUEST.search(question) or OUTSIDE_THE_DATA.search(question):
            intent = "out_of_scope"  # "book a meeting with the Android team": not analysis
        elif intent == "out_of_scope" and said_data:
            # It names something in the data, so it is about the journey after all.
            intent = match.best_journey_intent()
        if self.last and is_follow_up(question) and self.last_frame and \
                frame.asks == self.last_frame.asks:
            intent = self.last[0]
        if self.last_frame and is_follow_up(question) and self.last_frame.topic in (
                "people", "churn_risk", "actions") and frame.asks in ("reason", "predictors"):
            # "why are they at risk?" after the call list: what the churn model relies on.
            frame.topic = "churn_risk"
            return "churn_risk", entities, self._calls("churn_risk", entities, facts, question)
        if self.last_frame and is_follow_up(question) and frame.asks == "feedback" and \
                frame.steps and intent in ("themes", "out_of_scope", "feedback_search"):
            # "what did those people write?" after why signups fell: what was said at that
            # step in that window, the leavers' themes or else anyone's words about it.
            intent = "friction"
        if intent == "attribution" and frame.by == "channel" and len(frame.compare) >= 2 and \
                not re.search(r"\b(credit\w*|attribut\w*|touch\w*|markov|assist\w*)\b",
                              question.lower()):
            # "email vs organic search: which brings better traffic?": how the people each
            # brought went on, side by side, not the credit every channel earns.
            intent = "breakdown"
        if frame.by and not frame.steps and frame.asks == "comparison" and \
                intent not in ("attribution", "retention", "churn_risk"):
            # "email versus organic search: which brings better customers?" names no step:
            # the groups are compared step by step along the main journey.
            intent = "breakdown"
        if frame.split_at and not frame.steps and re.search(r"\bjourneys?\b|\bmap\b",
                                                            question.lower()):
            # "the journey before and after 17 August": the map of each period, side by side.
            intent = "journey_map"
        intent = _intent_from_frame(intent, frame, facts["conversion"])
        if intent == "themes" and frame.population:
            # The themes of what these people said, not of everyone's feedback.
            frame.topic = "population_feedback"
            return frame.topic, entities, [PlannedCall(FIRST_TOOL[frame.topic], {})]
        if wants_counts(frame, facts, intent) and (frame.asks == "list" or intent not in (
                "plan", "diagnose")) or _population_conversion(intent, frame, facts):
            intent = "counts"
        frame.topic = intent
        calls = self._calls(intent, entities, facts, question)
        return intent, entities, calls

    def hints(self, question: str) -> tuple[Frame, list[PlannedCall]]:
        """The frame and the calls the offline planner would make: a language model's hint."""
        if self.facts()["end"] is None:
            return read_frame(question, self.vocabulary()), []  # no events: nothing to call
        intent, _, calls = self.plan(question)
        if intent in INVESTIGATIONS:
            calls = [PlannedCall(tool, args)
                     for tool, args in suggested_calls(intent, self.frame, self.facts())]
        return self.frame, calls

    def _session_property(self) -> str | None:
        """The export's own session id property, if the events carry one."""
        from tools.session_tools import session_property

        return session_property(self.ctx)

    def _calls(self, intent: str, e: Entities, facts: dict, question: str) -> list[PlannedCall]:
        frame = self.frame
        filters = frame.filters()
        if frame.by and intent in ("dropoff", "breakdown"):
            intent = "breakdown"
        e.by = frame.by or e.by
        steps = facts["key_steps"]
        conversion, churn = facts["conversion"], facts["churn"]
        if intent == "counts":
            return [PlannedCall("event_counts", _counts_arguments(frame, facts))]
        if intent == "actions":
            # "what should we offer them?": one action for each customer most at risk.
            return [PlannedCall("next_best_action", {"at_risk": True, "top": 10})]
        if intent == "dropoff":
            funnel_steps = e.events if len(e.events) >= 2 else steps
            one = e.events[0] if len(e.events) == 1 else None
            out_of = re.search(r"\b(cvr|conversion|convert\w*|completion|complet\w*|go on|"
                               r"continue|proceed|next)\b", question.lower())
            if one in steps[1:] and frame.asks == "rate" and not out_of:
                # "add to cart rate?": the share of the step before who reach it.
                at = steps.index(one)
                funnel_steps = steps[at - 1:at + 1]
            elif one in steps[:-1] and frame.asks == "rate":
                # "paywall CVR?": the move out of that step to the next one of the journey.
                at = steps.index(one)
                funnel_steps = steps[at:at + 2]
            elif one and one not in steps and conversion and one != conversion and \
                    AFTER_PURCHASE.search(one) and frame.asks in ("count", "rate"):
                # "return rate?": of the orders, not of everyone who browsed.
                funnel_steps = [conversion, one]
            elif one and steps and one != steps[0] and frame.asks in ("count", "rate"):
                # "what share of people pay?": from the journey's start to that step.
                funnel_steps = [steps[0], one]
            return [PlannedCall("funnel", {"steps": funnel_steps, "filters": filters,
                                           **_window(frame, funnel_steps, e.events),
                                           **_funnel_options(frame, self._session_property())})]
        if intent == "breakdown":
            funnel_steps = e.events if len(e.events) >= 2 else steps
            into = len(e.events) == 1 and e.events[0] in steps[1:] and re.search(
                r"\brates?\b", question.lower()) and not re.search(
                r"\b(cvr|conversion|convert\w*|completion|complet\w*|go on|continue|proceed|"
                r"next|leave\w*|drop\w*)\b", question.lower())
            if into:
                # "trial start rate by utm_source": the share of the step before who reach it
                # (as without a breakdown), not the move out of it.
                at = steps.index(e.events[0])
                funnel_steps = steps[at - 1:at + 1]
            elif len(e.events) == 1 and e.events[0] in steps[:-1]:
                # One step named: the move out of it to the next step of the main journey.
                at = steps.index(e.events[0])
                funnel_steps = steps[at:at + 2]
            elif len(e.events) == 1 and e.events[0] == steps[-1] and len(steps) >= 2:
                # "channel CVR to order": of everyone who starts; else the last move.
                overall = re.search(r"\b(cvr|conversion|convert\w*)\b", question.lower())
                funnel_steps = [steps[0], steps[-1]] if overall else [steps[-2], steps[-1]]
            return [PlannedCall("funnel", {"steps": funnel_steps, "by": e.by or "device",
                                           "filters": filters,
                                           **_window(frame, funnel_steps, e.events),
                                           **_funnel_options(frame, self._session_property())})]
        if intent == "around":
            # "how did trial starts look in March?": into the step and out of it.
            step = e.events[0]
            at = steps.index(step) if step in steps else -1
            around = steps[max(at - 1, 0):at + 2] if at >= 0 else [step, conversion or step]
            if len(around) < 2 or len(set(around)) < 2:
                around = [steps[0], step] if steps and steps[0] != step else steps[:2]
            return [PlannedCall("funnel", {"steps": around, "filters": filters})]
        if intent == "match" and len(frame.steps) == 2:
            # "who goes back to pricing after checkout?": the people who did one, then the other.
            return [PlannedCall("match", {"pattern": f"{frame.steps[0]} -> {frame.steps[1]}",
                                          "filters": filters})]
        if intent == "paths" and (frame.path_anchor or frame.per_session):
            return [PlannedCall("paths", {"filters": filters,
                                          **_path_anchor_args(frame, e, steps, conversion)})]
        if intent == "paths":
            args: dict[str, Any] = {"filters": filters}
            ending = e.events and re.search(
                r"\b(lead|leads|end|ends|ending|result|results|finish\w*) (in|to|with)|\bbefore\b|"
                r"\bconvert", question.lower())
            if ending:
                args["to_event"] = e.events[-1]
                if len(e.events) >= 2:
                    args["from_event"] = e.events[0]
            elif e.events:
                args["from_event"] = e.events[0]
            return [PlannedCall("paths", args)]
        if intent == "next_steps":
            did = frame.population.get("did") or []
            # "what do subscribers do after buying?": after the event that defines them.
            after = e.events[:2] or did[:1] or [steps[1] if len(steps) > 1 else steps[0]]
            return [PlannedCall("next_steps", {"after": after, "filters": filters})]
        if intent == "moments_conversion":
            return [PlannedCall("moments", {"outcome": conversion, "filters": filters})]
        if intent == "moments_churn":
            if churn is None:
                return [PlannedCall("churn", {"filters": filters})]
            return [PlannedCall("moments", {"outcome": churn, "among": conversion,
                                            "filters": filters})]
        if intent == "churn_risk":
            # Risk is scored now, from all the history: a period names when to act, not a scope.
            return [PlannedCall("churn", {"filters": frame.filters(with_period=False)})]
        if intent == "segments":
            return [PlannedCall("segments", {"filters": filters})]
        if intent == "friction":
            step = e.events[0] if e.events else _first_choice_step(steps)
            args = {"step": step, "filters": filters}
            if frame.asks == "leavers" and len(e.events) >= 2:
                args["next_step"] = e.events[-1]  # "opportunities that never close": to won
            return [PlannedCall("friction", args)]
        if intent == "feedback_search":
            query = e.topic or _strip_question(question)
            args = {"query": query}
            if self.frame.period:
                args["since"] = self.frame.period["since"]
                args["until"] = self.frame.period["until"]
            elif e.since:
                args["since"] = e.since.isoformat()
            mood = re.search(r"\b(happy|happiest|satisfied|delighted|love\w*|like|praise\w*|"
                             r"positive|promoters?|fans?)\b|\b(unhappy|angry|annoyed|frustrat\w*|"
                             r"negative|detractors?|hate\w*|complain\w*)\b", question.lower())
            if mood:
                args["sentiment"] = "positive" if mood.group(1) else "negative"
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
        if intent == "journey_map":
            args = {"filters": filters}
            if frame.split_at:
                # Before vs after a day: the map of each period side by side.
                args = {"filters": {k: v for k, v in filters.items()
                                    if k not in ("since", "until")},
                        "compare_at": frame.split_at}
            elif frame.by:
                args["compare_by"] = frame.by
                if len(frame.compare) >= 2:
                    args["compare_values"] = frame.compare[:3]
            return [PlannedCall("journey_map", args)]
        if intent in ("diagnose", "plan"):
            metrics = _metrics_text(question)
            if intent == "diagnose":
                return [PlannedCall("diagnose", {"metrics_text": metrics})] if metrics else []
            plan = PlannedCall("plan", {"metrics_text": metrics} if metrics else {})
            if metrics and re.search(r"\b(biggest|main|worst) (problem|issue|leak|drop|gap)|"
                                     r"\bwhat'?s wrong\b|\bdiagnos", question.lower()):
                # "what's the biggest problem and what should we do?": both, problem first.
                return [PlannedCall("diagnose", {"metrics_text": metrics}), plan]
            return [plan]
        return []

    # -- answering ---------------------------------------------------------------------------

    def ask(self, question: str) -> Answer:
        if self.facts()["end"] is None:
            return Answer(question, "no_data", NO_EVENTS_YET, frame=read_frame(
                question, self.vocabulary()))
        intent, entities, calls = self.plan(question)
        frame = self.frame
        if intent in INVESTIGATIONS:
            inv = Investigation(self.call)
            INVESTIGATIONS[intent](inv, frame, self.facts())
            # A follow-up leans on what was found (the move that fell, the window it fell in),
            # not on the whole month asked about.
            focused = replace(frame, **inv.focus) if inv.focus else frame
            self.last, self.last_frame = (intent, entities), focused
            return Answer(question, intent, _lead(frame, inv.text()),
                          [PlannedCall(r.tool, r.arguments) for r in inv.results], inv.results,
                          frame=frame)
        results = [self.call(c.tool, c.arguments) for c in calls]
        if results and not any(r.ok for r in results) and intent not in (
                "diagnose", "plan", "counts"):
            nearest = self._nearest_evidence(frame)
            if nearest is not None:
                results.append(nearest)
        if intent == "next_steps" and results and results[0].ok:
            first = results[0].result
            top = first.next_steps[0] if first.next_steps else None
            if top and top.probability >= 0.8 and len(first.after) < 3:
                # Nearly everyone just opens the app next: say what they do after that too.
                results.append(self.call("next_steps", {
                    "after": [*first.after, top.event],
                    "filters": calls[0].arguments.get("filters", {})}))
        if intent == "friction" and frame.asks == "feedback" and results and results[0].ok \
                and not results[0].result.themes:
            # "what did customers say about the signup form?" where too few leavers wrote:
            # what anyone said about it, in their words.
            topic = frame.topic_words or " ".join(frame.step_words.values()) or frame.steps[0]
            period = frame.period or {}
            said = self.call("feedback_search", {"query": topic, "k": 5, **{
                k: period[k] for k in ("since", "until") if period.get(k)}})
            if said.ok and said.result.snippets:
                results.append(said)
        # Drop-offs come with how devices differ and what customers said where they leave:
        # the largest drops first, the first one with feedback to quote.
        if intent == "dropoff" and results and results[0].ok:
            filters = calls[0].arguments.get("filters", {})
            if "device" not in filters:
                by_device = self.call("funnel", {
                    "steps": calls[0].arguments["steps"], "by": "device", "filters": filters})
                if by_device.ok and len(by_device.result.groups) > 1:
                    results.append(by_device)
            for step in _drop_steps(results[0].result)[:3]:
                friction = self.call("friction", {"step": step, "filters": filters})
                if friction.ok and friction.result.themes:
                    results.append(friction)
                    break
        if intent == "breakdown" and frame.by == "channel" and len(frame.compare) >= 2 and \
                results and results[0].ok:
            # Two channels compared: how their people went on, and the conversions each earns
            # per person it reached (a channel also touches people others brought).
            credit = self.call("attribution", {"model": "markov",
                                               "filters": calls[0].arguments.get("filters", {})})
            if credit.ok:
                results.append(credit)
        if intent == "diagnose" and not calls:
            text = self.templates["need_metrics"]
        elif intent == "out_of_scope":
            text = self.templates[intent]
        else:
            text = _lead(frame, self._write(intent, results))
            self.last, self.last_frame = (intent, entities), frame
            pair = calls[0].arguments.get("steps", []) if calls and calls[0].tool == "funnel" \
                else []
            if len(frame.steps) == 1 and len(pair) == 2 and frame.steps[0] in pair:
                # "checkout conversion?" was checkout -> order: "what about on Android?" is
                # that move on Android, not the move into checkout.
                self.last_frame = Frame(**{**frame.__dict__, "steps": list(pair)})
            # The step this answer talked about: where it quoted leavers, else the worst drop.
            funnels = [r for r in results if r.ok and r.tool == "funnel" and not r.result.groups]
            quoted = next((r.result.step for r in results if r.ok and r.tool == "friction"), None)
            self.last_step = quoted or (_worst_step(funnels[0].result) if funnels else (
                frame.steps[0] if frame.steps else None))
        return Answer(question, intent, text, calls, results, frame=frame)

    def _nearest_evidence(self, frame: Frame) -> ToolResult | None:
        """When the tool a question needs cannot run: the count of the event it is about, in
        its scope and period (the nearest figure that can be computed)."""
        facts = self.facts()
        event = counted_event(frame) or (frame.steps[-1] if frame.steps else None) \
            or facts["conversion"]
        if event is None:
            return None
        filters = frame.filters()
        did = [d for d in frame.population.get("did", []) if d != event]
        if did:
            filters["did"] = did
        else:
            filters.pop("did", None)
        result = self.call("event_counts", {"event": event, "filters": filters,
                                            "people_listed": 0})
        return result if result.ok else None

    def _write(self, intent: str, results: list[ToolResult]) -> str:
        parts = []
        if any(r.tool == "churn" and r.ok for r in results) and not self.facts()["churn"]:
            # "do we have a churn problem?" where nothing is cancelled: say what churn means here.
            parts.append("Your data have no cancel event (churn event: none), so churn here "
                         "means going quiet: no events for the churn horizon.")
        for r in results:
            if not r.ok:
                parts.append(said_problem(r))
                continue
            if r.tool == "anomalies" and self.frame and self.frame.period:
                parts.append(f"{changes_in_period(r.result, self.frame.period)} "
                             f"[{r.result_id}]")
                continue
            if r.tool == "attribution" and intent == "breakdown" and self.frame:
                named = {c.casefold() for c in self.frame.compare}
                cells = [c for c in r.result.channels if c.channel.casefold() in named]
                if cells:
                    parts.append(f"Conversions per 1,000 people each channel reached ("
                                 f"{r.result.model} credit): " + ", ".join(
                                     f"{c.channel} {c.conversions_per_1000_reached:,.1f}"
                                     for c in sorted(cells, key=lambda c:
                                                     -c.conversions_per_1000_reached))
                                 + f" [{r.result_id}].")
                continue
            if r.tool == "event_counts" and parts and intent != "counts":
                parts.append(f"The nearest figure I can compute: {r.result.summary} "
                             f"[{r.result_id}]")
                continue
            summary = getattr(r.result, "summary", "")
            direct = lead(r, self.frame)
            if direct and summary:
                joint = "" if direct.endswith("\n") else " "  # a list ends its own line
                rest = _without_repeats(direct, summary)
                summary = f"{direct}{joint}{rest}" if rest else direct.rstrip()
            if r.tool == "funnel" and r.result.groups:
                parts.append(_group_comparison(r, self.frame.compare if self.frame else [],
                                               self.frame.steps if self.frame else [],
                                               self.frame.question if self.frame else ""))
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
            # Nothing from the leavers' feedback: what to do next depends on why.
            friction = results[0].result if first and first.tool == "friction" else None
            if any(r.tool == "feedback_search" and r.ok for r in results):
                intent = "feedback_search"  # quoted what anyone said about it
            elif friction is not None and not friction.behaviour.dropped:
                intent = "friction_none"  # no one leaves there: nothing to fix at this step
            elif friction is not None and "No feedback is loaded" in friction.summary:
                intent = "friction_behaviour"  # load feedback to hear why
            else:
                intent = "friction_quiet"
        command = ""
        if first and first.tool == "paths" and (first.result.dropped_at
                                                or first.result.before_event):
            # Paths of a step's leavers, or leading to a step: the next step is about that step.
            r = first.result
            intent = "paths_leavers" if r.dropped_at else "paths_before"
            step = r.funnel_steps[r.dropped_at - 2] if r.dropped_at else r.before_event
            command = f"journey friction {_shell(step)}"
        nxt = self.templates["next_step"].get(intent, "")
        by = results[0].arguments.get("by") if results else None
        weakest = _weakest_group(results[0], self.frame.compare if self.frame else []) \
            if results and intent == "breakdown" else None
        if weakest:
            # The step and group the comparison found, as a command that runs as written.
            gap_step, group = weakest
            option = f"--{by} {_shell(group)}" if by in ("device", "channel") else \
                f"--where {_shell(f'{by}={group}')}"
            nxt = self.templates["next_step"]["breakdown_found"].format(
                step=gap_step, group=group, command=f"journey friction {_shell(gap_step)} "
                                                      f"{option}")
        if step is None and "{step}" in nxt and intent == "dropoff":
            # No one was lost anywhere: no step to look into, nothing to suggest there.
            nxt = ""
        parts.append(nxt.format(step=step or "that step", by=by or "device", command=command))
        return "\n\n".join(p for p in parts if p)


# Events that only happen to someone who already bought: their rate is of the buyers.
AFTER_PURCHASE = re.compile(r"return|refund|review|renew|repeat|reorder|re-order|upgrade|"
                            r"downgrade|invoice|ship|deliver|chargeback|rating", re.I)

# About the world outside the loaded data: no tool can answer it, whatever it names.
OUTSIDE_THE_DATA = re.compile(
    r"\b(competitors?|rivals?)'?s?\b.{0,40}\b(charg\w*|pric\w*|costs?|offer\w*|sell\w*|launch\w*|"
    r"doing|revenue|market share)|\b(weather|stock price|share price|exchange rate|horoscope|"
    r"lottery|recipe|stock levels?|inventory levels?|warehouse stock)\b", re.I)
# Errands, not questions about the data: answered with what the agent can do instead.
ACTION_REQUEST = re.compile(
    r"^\W*(?:(?:can|could|would|will) you (?:please )?|please )?(?:book|schedule|arrange|"
    r"phone|tweet|publish|hire|refund|remind me|set up (?:a |an )?(?:meeting|call)|send (?:an? )?"
    r"(?:email|invite|message|slack)|(?:write|draft|compose|come up with|brainstorm|suggest) "
    r"(?:us |me )?(?:a |an |some |the )?(?:\w+ ){0,2}(?:taglines?|slogans?|headlines?|"
    r"subject lines?|ad copy|copy|poems?|jokes?|blog posts?|tweets?|captions?|names?))\b", re.I)

# The tool an investigation starts with (for routing checks that look before it runs).
FIRST_TOOL = {"customer": "next_best_action", "people": "churn", "reason_change": "anomalies",
              "budget": "attribution", "duration": "time_to_value", "sessions": "sessions",
              "model": "journey_model", "p_alive": "p_alive", "population_feedback": "themes"}


def _window(frame: Frame, funnel_steps: list[str], named: list[str]) -> dict[str, int]:
    """The question's conversion window, where the funnel is the steps it named."""
    if frame.window_days and funnel_steps == named:
        return {"window_days": frame.window_days}
    return {}


def counted_event(frame: Frame) -> str | None:
    """The one event a count or list question is about: the step it names, else the event
    that defines its population ("who churned?" counts the churn event)."""
    if len(frame.steps) == 1:
        return frame.steps[0]
    did = frame.population.get("did") or []
    return did[0] if not frame.steps and did else None


def wants_counts(frame: Frame, facts: dict, intent: str = "") -> bool:
    """A count, a list of who did something, a share by group or a count over time of one
    event: the event counts answer it directly."""
    event = counted_event(frame)
    if event is None:
        return False
    if frame.asks in ("list", "count"):
        return True
    q = frame.question.lower()
    named = bool(frame.compare) or bool(re.search(
        r"\b(which|best|worst|top|highest|lowest|rank\w*|strongest|weakest)\b", q))
    if intent == "attribution" and not frame.compare:
        return False  # "which channels drive conversions?": credit, not a share by channel
    if frame.by and frame.asks in ("comparison", "answer", "rate") and (
            event == facts["churn"] or (event == facts["conversion"] and named)):
        # "which plan churns most?", "email vs organic: which converts better?" (conversion by
        # group without naming one stays a funnel by group: every step's rate)
        return True
    return bool(re.search(OVER_TIME, q)) and not re.search(r"\b(retention|retain|active)", q)


def _path_anchor_args(frame: Frame, e: Entities, steps: list[str],
                      conversion: str | None) -> dict[str, Any]:
    """The paths tool's anchor from the frame: leading to the step, after it (within the time
    said), or after the step the leavers last reached (a two-step funnel from the journey)."""
    args: dict[str, Any] = {}
    if frame.per_session:
        args["by_session"] = True
    step = (e.events or frame.steps or [None])[0]
    if frame.within_seconds:
        args["within"] = f"{frame.within_seconds}s"
    if not step:
        args.pop("within", None)
        return args
    if frame.path_anchor == "before":
        args["before_event"] = step
        args["max_steps"] = 4  # a few steps back: readable in a line
    elif frame.path_anchor == "after":
        args["from_event"] = step
    elif frame.path_anchor in ("dropped_at", "dropped_after"):
        args.pop("by_session", None)  # a leaver's path follows the person
        at = steps.index(step) if step in steps else -1
        if frame.path_anchor == "dropped_at" and at > 0:
            pair = [steps[at - 1], step]  # "never reached signup": did the step before, not it
        elif at >= 0 and at + 1 < len(steps):
            pair = [step, steps[at + 1]]  # "abandoned checkout": did it, never the next one
        else:
            pair = [step, conversion] if conversion and conversion != step else []
        if pair:
            args.update(funnel_steps=pair, dropped_at=2)
        else:
            args["from_event"] = step
    return args


def _intent_from_frame(intent: str, frame: Frame, conversion: str | None = None) -> str:
    """What the frame says the question asks overrides a nearest-example guess."""
    asks = frame.asks
    if asks == "journey_map":
        return "journey_map"
    if len(frame.steps) == 2 and re.search(
            r"\b(go(es)?|went|going|come|comes|came|coming|head(s|ed)?) back\b|\breturn\w*|"
            r"\brevisit\w*|\bback to\b", frame.question.lower()):
        return "match"
    if (frame.exclude or frame.hold) and len(frame.steps) >= 2:
        # "pricing to signup to paid, excluding people who hit an error": that funnel.
        return "breakdown" if frame.by else "dropoff"
    if frame.by and not frame.steps and asks in ("answer", "comparison", "rate") and (re.search(
            r"\b(best|worst|top|highest|lowest|strongest|weakest)\b", frame.question.lower())
            or (frame.compare and re.search(r"\b(cvr|conver\w*|rates?)\b",
                                            frame.question.lower()))):
        # "best utm_source?", "worst lead source", "Meta Ads vs Google Ads CVR?": conversion
        # by group, not credit: the share of each group's people who converted, wherever
        # they arrived (the event counts, once the conversion is the frame's step).
        if conversion:
            frame.steps = [conversion]
        return "breakdown"
    if asks == "answer" and len(frame.steps) == 1 and frame.period and not frame.by and len(
            frame.question.split()) <= 4:
        return "counts"  # "signups last month?": how many, in that period
    if asks == "dropoff":
        if len(frame.steps) == 1 and not frame.by:
            return "friction"  # "where do people get stuck after signup?"
        return "breakdown" if frame.by else "dropoff"
    if asks == "actions":
        return "actions"
    if asks == "leavers" and frame.steps:
        return "friction"  # what those who did the step and never the next one did and said
    if asks == "size" and len(frame.steps) == 1:
        return "counts"  # "restore_failed: is that a big deal?": how many, how often, when
    if asks in ("rate", "count") and len(frame.steps) == 1 and intent in ("next_steps", "paths"):
        intent = "dropoff"  # "checkout completion in May": a rate, not what follows
    if asks == "next" and (frame.steps or frame.population.get("did")):
        return "next_steps"
    if asks == "paths":
        return "paths"
    if frame.by == "channel" and set(frame.steps) <= {conversion} and re.search(
            r"\b(drives?|driving|bring\w*|generat\w*|deliver\w*|credit\w*)\b",
            frame.question.lower()) and not (len(frame.compare) >= 2 and re.search(
                r"\b(traffic|quality|visitors|people|users|leads)\b", frame.question.lower())):
        return "attribution"  # "which channels drive conversions?": credit by channel
    if asks == "predictors" and frame.by and frame.steps:
        return "breakdown"  # "does the payment method matter for finishing checkout?"
    if asks == "predictors" and intent != "segments":
        # The outcome is what the words say, whatever the nearest example guessed.
        q = frame.question.lower()
        churn = re.search(r"churn|cancel|leave|leaving|quit|stick|stay|retain|retention|lapse|"
                          r"still (around|here|active|with us|subscribed)|survive|"
                          r"come back|keep (using|paying)", q)
        if churn and intent == "churn_risk" and not re.search(
                r"\b(moments?|actions?|behaviou?rs?|things|signals?|do differently|what makes|"
                r"more likely|less likely)\b", q):
            return intent  # "what predicts churn?": the churn model and its drivers
        return "moments_churn" if churn else "moments_conversion"
    if len(frame.steps) >= 2 and intent == "next_steps" and asks != "next":
        intent = "dropoff"  # "trial to paid": the move between, not what follows the pair
    how_doing = re.search(
        r"\bhow('s| is| are| did| does| do| was| were| has| have)\b.*\b(doing|do|look\w*|"
        r"perform\w*|going|go|trend\w*|holding up|far\w*)\b", frame.question.lower())
    if len(frame.steps) == 1 and how_doing:
        return "breakdown" if frame.by else "around"
    if len(frame.steps) >= 2 and how_doing and asks in ("answer", "rate", "count"):
        return "breakdown" if frame.by else "dropoff"  # "how did trial to paid go in March?"
    if len(frame.steps) >= 2 and asks in ("rate", "count") and intent not in (
            "moments_churn", "moments_conversion"):
        # "what share of people who see pricing go on to sign up?": the conversion between.
        return "breakdown" if frame.by else "dropoff"
    if asks == "change":
        return "anomalies"
    if asks == "plan":
        return "plan"
    if asks == "reason" and frame.steps and intent not in ("moments_churn", "moments_conversion"):
        return "friction"
    if asks == "feedback" and re.search(r"\b(outage|incident|broke|broken|bug|crash\w*|errors?)\b",
                                        frame.question.lower()):
        return "feedback_search"  # "what did people say during the signup outage?": their words
    if asks == "feedback" and frame.topic_words and intent == "themes":
        return "feedback_search"  # "what do happy customers say about reports?"
    if asks == "feedback" and intent not in ("feedback_search", "themes", "friction"):
        return "friction" if frame.steps else "themes"
    if frame.by and intent in ("dropoff", "breakdown", "out_of_scope", "describe_data"):
        return "breakdown"
    measured = re.search(r"\b(cvr|conver\w*|rates?|share|%|completion|funnel)\b",
                         frame.question.lower())
    if frame.by and asks in ("reason", "comparison", "rate", "answer") and (intent not in (
            "moments_churn", "moments_conversion", "retention", "segments", "themes",
            "feedback_search") or (measured and intent in ("themes", "feedback_search"))) and (
            frame.steps or asks == "reason") and not (
            intent == "attribution" and not frame.compare
            and set(frame.steps) <= {conversion}):
        # (but "which channels drive conversions?" stays credit by channel: attribution)
        # "iOS vs Android checkout completion?", "which source is worst at the paywall?",
        # "why does mobile convert worse than desktop?": conversion by group.
        return "breakdown"
    if asks in ("count", "rate") and len(frame.steps) == 1 and intent not in (
            "moments_churn", "moments_conversion", "retention", "sessions", "breakdown"):
        return "dropoff"
    if len(frame.steps) >= 2 and asks in ("rate", "count", "comparison", "answer") and intent in (
            "attribution", "describe_data", "out_of_scope", "segments", "retention", "themes",
            "feedback_search", "anomalies", "paths", "moments_conversion"):
        # Two named steps and a rate: the conversion between them.
        return "breakdown" if frame.by else "dropoff"
    if intent == "breakdown" and not frame.by and len(frame.steps) >= 2:
        # A nearest-example guess of a breakdown, yet the question names no group: the funnel
        # it names ("MQL -> SQL -> opp funnel, excluding ..."), not one split by a default.
        return "dropoff"
    return intent


def _without_repeats(lead_text: str, summary: str) -> str:
    """The summary less the sentences whose every figure the lead already said (a sentence
    said twice reads as a fault)."""
    said = set(re.findall(NUMBER, lead_text))
    kept = [s for s in re.split(r"(?<=\.) (?=[A-Z])", summary)
            if not (re.findall(NUMBER, s) and set(re.findall(NUMBER, s)) <= said)]
    return " ".join(kept)


NUMBER = r"\d[\d,]*(?:\.\d+)?%?"

NO_EVENTS_YET = ("No events are loaded yet, so there is nothing to measure. Load your events "
                 "with `journey ingest events FILE` (CSV, JSON lines or Parquet), or try the "
                 "demo data with `journey demo-data`.")


def _population_conversion(intent: str, frame: Frame, facts: dict) -> bool:
    """"The conversion rate for people from affiliates?": the share of those people who
    converted, whatever page they arrived on. A funnel from the journey's first step would drop
    everyone who landed deeper in. (By group, a funnel shows every step's rate per group.)"""
    named = {k for k in frame.population if k != "did"}
    return (intent in ("dropoff", "breakdown") and frame.asks == "rate" and not frame.by
            and bool(named) and frame.steps == [facts["conversion"]])


def _counts_arguments(frame: Frame, facts: dict) -> dict[str, Any]:
    event = counted_event(frame)
    filters = frame.filters()
    did = [d for d in frame.population.get("did", []) if d != event]
    if frame.by and event == facts["churn"] and facts["conversion"]:
        did = did or [facts["conversion"]]  # churn by group: among those who became customers
    if did:
        filters["did"] = did
    else:
        filters.pop("did", None)
    # Who did it is listed when asked who; a count names no one.
    args: dict[str, Any] = {"event": event, "filters": filters,
                            "people_listed": 20 if frame.asks == "list" else 0}
    if frame.by:
        args["by"] = frame.by
    if re.search(r"\b(week|weekly|when)\b", frame.question.lower()) and not frame.period:
        args["interval"] = "week"
    return args


def _funnel_options(frame: Frame, session_property: str | None = None) -> dict[str, Any]:
    """What the question asked of the funnel beyond its steps: exclusions, a held property
    ("in the same session": the export's session id, when it has one)."""
    out: dict[str, Any] = {}
    if frame.exclude:
        out["exclude"] = list(frame.exclude)
    if frame.hold == "session":
        if session_property:
            out["hold"] = session_property
        elif "no session id" not in " ".join(frame.notes):
            frame.notes.append("no session id in the data: the steps are not held to one "
                               "session")
    elif frame.hold:
        out["hold"] = frame.hold
    return out


def _lead(frame: Frame, text: str) -> str:
    """The answer, opened with the population and period it is about when the question named
    them (so an answer about March says March)."""
    scope = []
    if frame.topic in ("people", "customer", "model", "diagnose", "plan", "churn_risk"):
        return text  # about people now, or the definitions: no period to state
    label = frame.population_label
    if frame.topic == "budget" and frame.population.get("channel"):
        # A budget question judges the channel it names against the others: not a scope.
        label = label_of(replace(frame, population={k: v for k, v in frame.population.items()
                                                  if k != "channel"}))
    if label:
        scope.append(label)
    if frame.period and not frame.split_at:  # two periods compared name themselves
        scope.append(period_words(frame.period))
    if not scope or not text:
        return text
    return f"For {', '.join(scope)}: {text}"


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


def _readable(text: str) -> int:
    from tools.plan_tools import readable_stages

    return readable_stages(text)


def _metrics_text(question: str) -> str | None:
    """Stage metrics pasted with the question (two or more readable stages), if any; stages
    written on one line between slashes ("Visitors 10,000 / Signups 1,200") one per line."""
    text = question
    if text.count(" / ") >= 2 or text.count(" | ") >= 2 or text.count(" -> ") >= 2:
        text = re.sub(r"\s+(?:/|\||->)\s+", "\n", text)
    return text if _readable(text) >= 2 else None


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


LEAVING = re.compile(r"\b(leaves?|leaving|left|drops?( off| out)?|dropping|loses?|losing|lost|"
                     r"abandons?|abandoning|bounces?|quits?|bails?)\b", re.IGNORECASE)


def _group_comparison(r: ToolResult, compare: list[str] | None = None,
                      frame_steps: list[str] | None = None, question: str = "") -> str:
    """Conversion at each step by group, as a sentence per step (numbers from the result);
    only the groups the question compares, when it named them."""
    groups = _gap_groups(r.result.groups) or r.result.groups
    wanted = {c.casefold() for c in compare or []}
    if wanted and sum(g.group.casefold() in wanted for g in groups) >= 2:
        groups = [g for g in groups if g.group.casefold() in wanted]
    by = r.arguments.get("by", "group")
    lines = []
    widest: tuple[float, str, Any, Any] | None = None
    for k in range(1, len(groups[0].steps)):
        rated = [(g.steps[k].conversion_from_previous, g) for g in groups
                 if g.steps[k].conversion_from_previous is not None and g.steps[k - 1].customers
                 >= 10]
        if len(rated) >= 2:
            low, high = min(rated, key=lambda x: x[0]), max(rated, key=lambda x: x[0])
            step = f"{groups[0].steps[k - 1].events[0]} -> {groups[0].steps[k].events[0]}"
            if widest is None or high[0] - low[0] > widest[0]:
                widest = (high[0] - low[0], step, low, high)
        cells = []
        for g in groups:
            rate = g.steps[k].conversion_from_previous
            cells.append(f"{g.group} {rate * 100:.1f}%" if rate is not None else f"{g.group} n/a")
        name = " -> ".join(["|".join(groups[0].steps[k - 1].events),
                            "|".join(groups[0].steps[k].events)])
        lines.append(f"{name}: " + ", ".join(cells))
    lead = ""
    named = [s for s in (frame_steps or []) if s in {g.events[0] for g in groups[0].steps[1:]}]
    if named:
        # "win rate by region?": the rate into the step the question named, first.
        k = next(i for i, st in enumerate(groups[0].steps) if st.events[0] == named[-1])
        cells = [f"{g.group} {g.steps[k].conversion_from_previous * 100:.1f}%" for g in groups
                 if g.steps[k].conversion_from_previous is not None]
        lead = (f"{groups[0].steps[k - 1].events[0]} -> {named[-1]} by {by}: "
                + ", ".join(cells) + ".\n")
    elif widest is not None and len(groups[0].steps) == 2 and LEAVING.search(question):
        # "which source leaves the most there?": the share who left, highest first.
        _, step, low, high = widest
        left_at, went_to = step.split(" -> ")
        lead = (f"{low[1].group} loses the most at {left_at}: {(1 - low[0]) * 100:.1f}% did not "
                f"go on to {went_to}, against {(1 - high[0]) * 100:.1f}% for {high[1].group}.\n")
    elif widest is not None and widest[3][0] - widest[2][0] < 0.0005:
        _, step, low, _ = widest
        lead = f"{step} is the same for every {by}: {low[0] * 100:.1f}%.\n"
    elif widest is not None:
        _, step, low, high = widest
        lead = (f"The widest gap by {by} is at {step}: {low[1].group} {low[0] * 100:.1f}% against "
                f"{high[1].group} {high[0] * 100:.1f}%.\n")
        if len(groups[0].steps) > 2:
            # "which channel brings better customers?": end to end first, best first.
            overall = sorted(((g.steps[-1].conversion_from_first, g) for g in groups
                              if g.steps[-1].conversion_from_first is not None and
                              g.steps[0].customers >= 10), key=lambda x: -x[0])
            if len(overall) >= 2:
                # Through every step in order: fewer than "from the first to the last" alone.
                lead = (f"Through every step from {groups[0].steps[0].events[0]} to "
                        f"{groups[0].steps[-1].events[0]} by {by}: " + ", ".join(
                            f"{g.group} {x * 100:.1f}% of {g.steps[0].customers:,}"
                            for x, g in overall) + ".\n" + lead)
    return lead + f"By {by} (conversion from the previous step) [{r.result_id}]:\n" + "\n".join(
        f"- {line}" for line in lines)


def _gap_groups(groups: list) -> list:
    """The groups a comparison ranks: "(none)" (no value recorded) is not a group anyone chose."""
    return [g for g in groups if g.group not in ("(none)", "None", "")]


def _weakest_group(r: ToolResult, compare: list[str] | None = None) -> tuple[str, str] | None:
    """The step with the widest gap between groups (the ones compared, where the question
    named them) and the group lowest there."""
    if r.tool != "funnel" or not r.ok or not getattr(r.result, "groups", None):
        return None
    groups = _gap_groups(r.result.groups)
    named = {c.casefold() for c in compare or []}
    if len(named) >= 2:
        groups = [g for g in groups if str(g.group).casefold() in named] or groups
    widest: tuple[float, str, str] | None = None
    for k in range(1, len(groups[0].steps) if groups else 0):
        rated = [(g.steps[k].conversion_from_previous, g.group) for g in groups
                 if g.steps[k].conversion_from_previous is not None and g.steps[k - 1].customers
                 >= 10]
        if len(rated) >= 2:
            low, high = min(rated), max(rated)
            if widest is None or high[0] - low[0] > widest[0]:
                widest = (high[0] - low[0], groups[0].steps[k - 1].events[0], low[1])
    return (widest[1], widest[2]) if widest else None


def _shell(text: str) -> str:
    return shlex.quote(text)


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
