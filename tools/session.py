"""One conversation's state: the results it produced, by id, and nothing that grows unbounded.

A session gives each result an id (R1, R2, ...) that a model cites and a follow-up refers to.
It keeps the last `max_results` of them; older ones are forgotten (a reference to one then
fails like any unknown reference). Shared, heavy state (catalog, themes, trained models) lives
in the ToolContext, which many sessions share.
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
        from tools.registry import call_tool

        result = call_tool(self.ctx, name, arguments, actor or self.actor)
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
