"""LLM mode: a tool-calling loop over any OpenAI-compatible chat endpoint, kept honest.

The model picks tools and writes the prose; the numbers are not its own. It cites figures as
references to tool results ([[R3.path|pct]]), the agent fills them in from the results, and a
grounding check rejects an answer stating any figure no tool returned: the model gets one retry,
then the offline planner answers instead. An unreachable endpoint also falls back to the offline
answer, with a notice. Configured by OPENAI_BASE_URL, OPENAI_API_KEY and JOURNEY_MODEL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

from agent.grounding import ungrounded_numbers
from agent.planner import Answer, OfflinePlanner, PlannedCall
from agent.references import resolve
from tools.base import ToolContext, ToolResult
from tools.registry import langchain_tools
from tools.session import Session

MAX_TOOL_ROUNDS = 6
HISTORY_MESSAGES = 24


@dataclass(frozen=True)
class LLMConfig:
    model: str
    base_url: str | None
    api_key: str


def llm_config(env: dict[str, str] | None = None) -> LLMConfig | None:
    """The configured endpoint, or None (offline mode) when nothing is configured."""
    from analytics.config import settings

    found = settings(env)
    if not found.llm_base_url and not found.llm_api_key:
        return None
    # Local servers (Ollama, vLLM, LM Studio) accept any key.
    return LLMConfig(model=found.llm_model or "gpt-4o-mini", base_url=found.llm_base_url,
                     api_key=found.llm_api_key or "not-needed")


def chat_model(config: LLMConfig):
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model=config.model, base_url=config.base_url, api_key=config.api_key,
                      temperature=0, timeout=60, max_retries=1, streaming=True)


def system_prompt() -> str:
    return resources.files("prompts").joinpath("system.md").read_text(encoding="utf-8")


@dataclass
class AgentEvent:
    kind: str  # "frame", "tool_start", "tool_end", "token", "notice", "answer"
    data: Any


class LLMAgent:
    def __init__(self, context: ToolContext | Session, model,
                 offline: OfflinePlanner | None = None) -> None:
        # One conversation, one session: the model and the offline fallback share its ids.
        self.session = context if isinstance(context, Session) else Session(context)
        self.ctx = self.session.ctx
        self.tools = {t.name: t for t in langchain_tools(self.session)}
        self.model = model.bind_tools(list(self.tools.values()))
        self.offline = offline or OfflinePlanner(self.session)
        self.history: list = []

    def ask(self, question: str) -> Answer:
        answer = None
        for event in self.stream(question):
            if event.kind == "answer":
                answer = event.data
        return answer

    def stream(self, question: str) -> Iterator[AgentEvent]:
        from langchain_core.messages import HumanMessage, SystemMessage

        messages = [SystemMessage(system_prompt()), *self.history[-HISTORY_MESSAGES:]]
        hint = self._hint(question)
        if hint is not None:
            frame, text = hint
            yield AgentEvent("frame", frame)
            messages.append(SystemMessage(text))
        messages.append(HumanMessage(question))
        results: list[ToolResult] = []
        calls: list[PlannedCall] = []
        try:
            for attempt in range(2):
                text = yield from self._run(messages, results, calls)
                final, problems = self._ground(text, results)
                if not problems:
                    self.history += [HumanMessage(question), _ai(final)]
                    yield AgentEvent("answer", Answer(question, "llm", final, calls, results,
                                                      mode="llm",
                                                      frame=hint[0] if hint else None))
                    return
                if attempt == 0:
                    yield AgentEvent("notice", f"Rejected figures not found in any tool result: "
                                               f"{', '.join(problems)}; asking the model again.")
                    messages.append(HumanMessage(
                        "Your answer states figures that no tool returned: "
                        f"{', '.join(problems)}. Rewrite it, citing every figure as a "
                        "[[R#.path|format]] reference to a tool result or copying it exactly "
                        "from one."))
            notice = ("The language model's answer could not be verified against the data, so "
                      "this is the offline answer.")
        except Exception as exc:  # network, auth, rate limit, malformed reply
            notice = (f"The language model endpoint could not be used ({type(exc).__name__}); "
                      "this is the offline answer.")
        yield AgentEvent("notice", notice)
        answer = self.offline.ask(question)
        answer.text = f"({notice})\n\n{answer.text}"
        yield AgentEvent("answer", answer)

    def _hint(self, question: str):
        """How the offline planner reads the question (its frame) and the tools it would
        call, given to the model as a hint it may override. None when the data cannot be read
        (an empty store): the model then works from the question alone."""
        import json

        from analytics.errors import JourneyError

        try:
            frame, planned = self.offline.hints(question)
        except (JourneyError, KeyError, TypeError, ValueError):
            return None
        suggested = [{"tool": c.tool, "arguments": c.arguments} for c in planned]
        return frame, (
            "How the question reads (a hint from the offline planner: correct it if the "
            "question means otherwise): " + json.dumps(frame.to_dict(), default=str)
            + "\nTools it would call, in order (call each that the question needs; an "
            "investigation often needs several): " + json.dumps(suggested, default=str))

    def _run(self, messages: list, results: list[ToolResult], calls: list[PlannedCall]):
        """One model turn and its tool calls, until the model answers in prose."""
        for _ in range(MAX_TOOL_ROUNDS):
            reply = None
            for chunk in self.model.stream(messages):
                reply = chunk if reply is None else reply + chunk
                if chunk.content:
                    yield AgentEvent("token", chunk.content)
            messages.append(reply)
            if not reply.tool_calls:
                return reply.content if isinstance(reply.content, str) else str(reply.content)
            for call in reply.tool_calls:
                yield AgentEvent("tool_start", {"tool": call["name"], "arguments": call["args"]})
                tool = self.tools.get(call["name"])
                if tool is None:
                    from langchain_core.messages import ToolMessage

                    messages.append(ToolMessage(f"No tool named {call['name']}.",
                                                tool_call_id=call["id"]))
                    continue
                message = tool.invoke({"type": "tool_call", "name": call["name"],
                                       "args": call["args"], "id": call["id"]})
                messages.append(message)
                # The artifact is the tool's own result, typed, with its chart.
                result = message.artifact
                if not isinstance(result, ToolResult):  # pragma: no cover - a foreign tool
                    result = ToolResult(call["name"], call["args"], content=str(message.content))
                results.append(result)
                calls.append(PlannedCall(call["name"], call["args"]))
                yield AgentEvent("tool_end", result)
        return ("I could not finish within the allowed number of tool calls; try a narrower "
                "question.")

    def _ground(self, text: str, results: list[ToolResult]) -> tuple[str, list[str]]:
        artifacts = {r.result_id: r.data() for r in results if r.result_id}
        resolved, failed = resolve(text, artifacts)
        known = [r.data() for r in results] + [{"content": r.content} for r in results]
        return resolved, failed + ungrounded_numbers(resolved, known)


def _ai(text: str):
    from langchain_core.messages import AIMessage

    return AIMessage(text)


def make_agent(context: ToolContext, env: dict[str, str] | None = None):
    """The LLM agent when an endpoint is configured, else the offline planner."""
    config = llm_config(env)
    if config is None:
        return OfflinePlanner(context)
    return LLMAgent(context, chat_model(config))
