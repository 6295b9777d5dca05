"""Diagnosis of pasted metrics and the quarterly plan, as tools."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, Field

from analytics.diagnosis.diagnose import diagnose
from analytics.diagnosis.plan import build_plan
from tools.base import ToolContext, ToolResult, analytic_result, table

Model = Literal["b2b-saas", "ecommerce", "b2c-subscription", "marketplace"]


class DiagnoseArgs(BaseModel):
    metrics_text: str = Field(..., min_length=1, description="The stage metrics exactly as the "
                                                             "user pasted them.")
    business_model: Model = "b2b-saas"


def diagnose_tool(ctx: ToolContext, args: DiagnoseArgs) -> ToolResult:
    result = diagnose(args.metrics_text, args.business_model)
    rows = [{"rank": t.rank, "step": f"{t.from_stage} -> {t.to_stage}",
             "conversion": t.conversion, "lost_per_month": t.lost, "verdict": t.verdict,
             "gain_at_median": t.gain_at_median} for t in result.transitions]
    issues = "\n".join(f"Check: {i.message}" for i in result.issues)
    unread = "\n".join(f"Not read: {line}" for line in result.unread)
    return analytic_result("diagnose", args, result, table(rows, list(rows[0])), issues, unread)


class PlanArgs(BaseModel):
    metrics_text: Optional[str] = Field(None, description="Pasted stage metrics; leave empty "
                                                          "to plan from the loaded data.")
    quarter: Optional[str] = Field(None, pattern=r"^\d{4}-Q[1-4]$")
    business_model: Model = "b2b-saas"


def plan_tool(ctx: ToolContext, args: PlanArgs) -> ToolResult:
    evidence = {}
    if args.metrics_text:
        diagnosis = diagnose(args.metrics_text, args.business_model)
    else:
        from analytics.diagnosis.from_store import store_diagnosis

        index = ctx.feedback_index()
        index.ensure_current()
        with ctx.store.reader() as con:
            diagnosis, evidence = store_diagnosis(con, args.business_model, index)
    result = build_plan(diagnosis, quarter=args.quarter, evidence=evidence)
    rows = [{"rank": i.rank, "initiative": i.title, "kpi": i.kpi, "baseline": i.baseline,
             "expected_low": i.expected_low, "expected_high": i.expected_high,
             "owner": i.owner, "score": i.score} for i in result.initiatives]
    return analytic_result("plan", args, result, table(rows, list(rows[0])),
                           artifact_extra={"markdown": result.markdown()})
