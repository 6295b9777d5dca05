"""One conversation's state: the results it produced, by id, and nothing that grows unbounded.

A session gives each result an id (R1, R2, ...) that a model cites and a follow-up refers to.
It keeps the last `max_results` of them; older ones are forgotten (a reference to one then
fails like any unknown reference). Shared, heavy state (catalog, themes, trained models) lives
in the ToolContext, which many sessions share, and so do read tools' results (`shared_call`):
twenty people asking where customers drop off get one funnel, computed once while the data
stay the same.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

from analytics.store.accounts import LOCAL, Actor
from tools.base import ToolContext, ToolResult

MAX_RESULTS = 64


class Session:
    def __init__(self, context: ToolContext, max_results: int = MAX_RESULTS,
                 actor: Actor = LOCAL) -> None:
        self.ctx = context
        self.actor = actor  # who is asking: tools check its role, writes record its name
        self.max_results = max_results
        self.results: OrderedDict[str, ToolResult] = OrderedDict()
        self._next = 1

    def call(self, name: str, arguments: dict, actor: Actor | None = None) -> ToolResult:
        """Run a tool for the session's actor, or for `actor` when a server that many clients
        share says who sent this call."""
        result = shared_call(self.ctx, name, arguments, actor or self.actor)
        if not result.ok:
            return result
        result_id = f"R{self._next}"
        result = replace(result, result_id=result_id, content=f"[{result_id}] {result.content}")
        self._next += 1
        self.results[result_id] = result
        while len(self.results) > self.max_results:
            self.results.popitem(last=False)
        return result

    def get(self, result_id: str) -> ToolResult | None:
        return self.results.get(result_id)


def shared_call(ctx: ToolContext, name: str, arguments: dict | None = None,
                actor: Actor = LOCAL) -> ToolResult:
    """`call_tool`, with a read tool's result shared by every session on the context: kept by
    the tool's validated arguments (and the day: a plan's default quarter depends on it) while
    the store is unchanged, and computed once when several sessions ask for it at the same
    time. Writes, refusals and invalid arguments go straight to `call_tool`; only answers that
    ran are kept."""
    from datetime import date

    from pydantic import ValidationError

    from tools.registry import BY_NAME, call_tool

    spec = BY_NAME.get(name)
    if spec is None or spec.writes or not actor.may(spec.role):
        return call_tool(ctx, name, arguments, actor)
    try:
        key = (name, spec.args.model_validate(dict(arguments or {})).model_dump_json(),
               date.today().isoformat())
    except ValidationError:
        return call_tool(ctx, name, arguments, actor)
    return ctx.cached(ctx.results, key, lambda: call_tool(ctx, name, arguments, actor),
                      keep=lambda result: result.ok)
