"""The plan as a document: Markdown (the chat, `journey plan --md`), standalone HTML and PDF
(fpdf2, pure Python: no browser, no system libraries), each with the one-page summary first, the
initiatives, then a Gantt chart of the quarter. All from the plan's own fields.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from analytics.diagnosis.schedule import gantt_rows
from analytics.results import markdown_literal, pct

if TYPE_CHECKING:
    from analytics.diagnosis.plan import Initiative, PlanResult

# Okabe-Ito colours: told apart by colour-blind readers, and printed in grey they differ too.
CELL_COLOURS = {"build": "#E69F00", "run": "#0072B2", "read": "#009E73", "more": "#56B4E9"}
CELL_MARKS = {"build": "b", "run": "#", "read": "r", "more": ">", "": "."}
LEGEND = "b build · # test running · r read-out · > runs on after the quarter"


def people(x: float) -> str:
    """A monthly figure: one decimal below ten (0.4 a month is not 0), whole above."""
    return f"{x:,.1f}" if abs(x) < 10 else f"{x:,.0f}"


def impact_words(plan: PlanResult) -> str:
    parts = []
    for unit, low in plan.impact_low.items():
        high = plan.impact_high.get(unit, low)
        if unit == "revenue":
            parts.append(f"{low:,.0f}-{high:,.0f} in conversion value a month")
        else:
            parts.append(f"{people(low)}-{people(high)} {unit}")
    return "; ".join(parts)


def expected_words(i: Initiative) -> str:
    """The KPI's range in reading order: lower is better for a cancel rate."""
    if i.expected_high < i.expected_low:
        return (f"{pct(i.baseline)} today, expected down to {pct(i.expected_high)}-"
                f"{pct(i.expected_low)} (lower is better)")
    return f"{pct(i.baseline)} today, expected {pct(i.expected_low)} to {pct(i.expected_high)}"


def _initiative_impact(i: Initiative) -> str:
    low, high = i.expected_customers_per_month
    text = f"+{people(low)} to +{people(high)} {i.impact_unit}"
    if i.impact_unit.startswith("fewer"):
        text = f"{people(low)} to {people(high)} {i.impact_unit}"
    if i.revenue_low is not None:
        text += f" (about {i.revenue_low:,.0f}-{i.revenue_high or 0:,.0f} in value a month)"
    return text


def _test_line(i: Initiative) -> str:
    e = i.experiment
    verdict = "readable within the quarter" if e.readable_in_quarter else \
        "not readable within the quarter"
    return (f"{e.design}; holdout {e.holdout_share:.0%}; detects {e.detectable_lift}; "
            f"{verdict}. {e.note}").strip()


def plan_markdown(plan: PlanResult) -> str:
    lines = [f"# Quick-win plan, {plan.quarter}", "", markdown_literal(plan.summary), ""]
    lines += ["## On one page", "", f"Made from {markdown_literal(plan.basis)}." if plan.basis
              else "", "", "**Do first:**", *[f"- {markdown_literal(t)}" for t in
                                              plan.first_three], "",
              f"**Expected impact of the whole plan:** {impact_words(plan)} (each initiative's "
              "range added; overlaps make it smaller).", "", "**Needed from whom:**",
              *[f"- {owner}: " + "; ".join(markdown_literal(t) for t in titles)
                for owner, titles in plan.needs.items()], ""]
    for i in plan.initiatives:
        lines += [f"## {i.rank}. {markdown_literal(i.title)}", "",
                  f"- **Why it is here:** {markdown_literal(i.why)}" if i.why else "",
                  # Targets and evidence carry the data's own names and the customers' words.
                  f"- **Targets:** {markdown_literal(i.targets)}",
                  f"- **Change:** {markdown_literal(i.change)}",
                  "- **Evidence:** " + "; ".join(_evidence_md(i)),
                  f"- **KPI:** {markdown_literal(i.kpi)}: {expected_words(i)}",
                  f"- **Impact at the last stage:** {markdown_literal(_initiative_impact(i))}",
                  f"- **Owner:** {i.owner} · **Effort:** {i.effort}/3 · **Score:** "
                  f"{i.score:,.1f}",
                  f"- **Test:** {markdown_literal(_test_line(i))}",
                  f"- **Audience:** {markdown_literal(_audience_words(i))}" if i.audience else "",
                  "- **Timeline:**", *[f"  - {step}" for step in i.timeline], ""]
    lines += ["## Timeline", "", "```", *gantt_text(plan), "```",
              LEGEND, ""]
    if plan.left_out:
        lines += ["## Left out", *[f"- {markdown_literal(x)}" for x in plan.left_out], ""]
    lines += ["## Risks", *[f"- {r}" for r in plan.risks], "",
              "## Measure weekly", *[f"- {markdown_literal(m)}" for m in plan.weekly_metrics],
              "", "## Assumptions", *[f"- {a}" for a in plan.assumptions], ""]
    return "\n".join(line for n, line in enumerate(lines)
                     if line or n == 0 or lines[n - 1]) + "\n"


def _evidence_md(i: Initiative) -> list[str]:
    sources = i.sources + [""] * (len(i.evidence) - len(i.sources))
    return [markdown_literal(e) + (f" (`{s.replace('`', '')}`)" if s else "")
            for e, s in zip(i.evidence, sources)]


def _evidence_plain(i: Initiative) -> str:
    sources = i.sources + [""] * (len(i.evidence) - len(i.sources))
    return "; ".join(e + (f" [{s}]" if s else "") for e, s in zip(i.evidence, sources))


def _audience_words(i: Initiative) -> str:
    a = i.audience
    parts = [f"people who did {a['reached']}"] if a.get("reached") else []
    for key in ("device", "channel"):
        if a.get(key):
            parts.append(f"{key} {a[key]}")
    parts += [f"{k} {v}" for k, v in (a.get("where") or {}).items()]
    if a.get("not_did"):
        parts.append(f"who have not done {a['not_did']}")
    return ", ".join(parts) + f"; hold out {i.experiment.holdout_share:.0%}"


def gantt_text(plan: PlanResult) -> list[str]:
    rows = gantt_rows([f"{i.rank}. {i.title}" for i in plan.initiatives],
                      [i.slot for i in plan.initiatives if i.slot])
    if not rows:
        return []
    width = min(max(len(label) for label, _ in rows), 48)
    weeks = len(rows[0][1])
    names = [str(w) for w in range(1, weeks + 1)]
    if any(c == "more" for _, cells in rows for c in cells):
        names[-1] = "+"  # the column after the quarter
    head = " " * width + " " + "".join(f"{n:>3}" for n in names)
    out = [head]
    for label, cells in rows:
        short = label if len(label) <= width else label[: width - 1] + "…"
        out.append(f"{short:<{width}} " + "".join(f"{CELL_MARKS[c]:>3}" for c in cells))
    return out


def gantt_figure(plan: PlanResult):
    """The quarter as a Gantt chart (plotly), from the initiatives' slots."""
    import plotly.graph_objects as go

    fig = go.Figure()
    labels = [f"{i.rank}. {i.title}" for i in plan.initiatives]
    for phase, colour in CELL_COLOURS.items():
        starts, lengths, ys = [], [], []
        for label, i in zip(labels, plan.initiatives):
            s = i.slot
            if s is None or phase == "read" and s.open_ended or phase == "more" and not \
                    s.open_ended:
                continue
            first, last = {"build": (s.build_start, s.build_end), "run": (s.run_start,
                                                                         s.run_end),
                           "read": (s.readout, s.readout), "more": (13, 13)}[phase]
            starts.append(first - 0.5)
            lengths.append(last - first + 1)
            ys.append(label)
        fig.add_trace(go.Bar(x=lengths, y=ys, base=starts, orientation="h",
                             name="runs on after the quarter" if phase == "more" else phase,
                             marker={"color": colour}))
    fig.update_layout(title=f"Quick-win plan, {plan.quarter}: the quarter week by week",
                      barmode="overlay", xaxis={"title": "week", "dtick": 1, "range": [0.5,
                                                                                   13.5]},
                      yaxis={"autorange": "reversed"}, height=140 + 40 * len(labels))
    return fig


def plan_html(plan: PlanResult) -> str:
    """A standalone page (no scripts, no network): the summary, the initiatives, the Gantt."""
    e = html.escape
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Quick-win plan"
             f", {e(plan.quarter)}</title><style>{CSS}</style></head><body>",
             f"<h1>Quick-win plan, {e(plan.quarter)}</h1><p>{e(plan.summary)}</p>",
             "<section class='page'><h2>On one page</h2>",
             f"<p>Made from {e(plan.basis)}.</p>" if plan.basis else "",
             "<h3>Do first</h3><ul>" + "".join(f"<li>{e(t)}</li>" for t in plan.first_three)
             + "</ul>",
             f"<h3>Expected impact of the whole plan</h3><p>{e(impact_words(plan))} (each "
             "initiative's range added; overlaps make it smaller).</p>",
             "<h3>Needed from whom</h3><ul>" + "".join(
                 f"<li><b>{e(owner)}</b>: {e('; '.join(titles))}</li>"
                 for owner, titles in plan.needs.items()) + "</ul></section>"]
    for i in plan.initiatives:
        rows = [("Why it is here", i.why), ("Targets", i.targets), ("Change", i.change),
                ("Evidence", _evidence_plain(i)),
                ("KPI", f"{i.kpi}: {expected_words(i)}"),
                ("Impact at the last stage", _initiative_impact(i)),
                ("Owner", f"{i.owner} · effort {i.effort}/3 · score {i.score:,.1f}"),
                ("Test", _test_line(i)),
                ("Audience", _audience_words(i) if i.audience else ""),
                ("Timeline", " · ".join(i.timeline))]
        parts.append(f"<h2>{i.rank}. {e(i.title)}</h2><table class='item'>" + "".join(
            f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows if v) + "</table>")
    parts.append("<h2>Timeline</h2>" + gantt_html(plan))
    for title, items in (("Left out", plan.left_out), ("Risks", plan.risks),
                         ("Measure weekly", plan.weekly_metrics),
                         ("Assumptions", plan.assumptions)):
        if items:
            parts.append(f"<h2>{e(title)}</h2><ul>" + "".join(f"<li>{e(x)}</li>" for x in items)
                         + "</ul>")
    parts.append("</body></html>")
    return "".join(parts)


def gantt_html(plan: PlanResult) -> str:
    rows = gantt_rows([f"{i.rank}. {i.title}" for i in plan.initiatives],
                      [i.slot for i in plan.initiatives if i.slot])
    if not rows:
        return ""
    weeks = len(rows[0][1])
    names = [f"W{w}" for w in range(1, weeks + 1)]
    if any(c == "more" for _, cells in rows for c in cells):
        names[-1] = "after"
    head = "<tr><th></th>" + "".join(f"<th>{n}</th>" for n in names) + "</tr>"
    body = "".join(
        f"<tr><th class='label'>{html.escape(label)}</th>" + "".join(
            f"<td class='{c or 'idle'}' title='{c}'>{CELL_MARKS[c] if c else ''}</td>"
            for c in cells) + "</tr>" for label, cells in rows)
    legend = " ".join(f"<span class='{k}'>&nbsp;{CELL_MARKS[k]}&nbsp;</span> {k}"
                      for k in CELL_COLOURS)
    # Scrolls sideways inside the page when a long plan is wider than the screen.
    return f"<div class='scroll'><table class='gantt'>{head}{body}</table></div><p>{legend}</p>"


CSS = ("body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;line-height:1.4;"
       "color:#222}h1{font-size:1.6em}section.page{border:1px solid #ccc;padding:0 1em 1em;"
       "margin-bottom:2em}table.item th{text-align:left;vertical-align:top;width:11em;"
       "padding-right:1em}table.gantt{border-collapse:collapse;font-size:.85em}"
       "table.gantt td,table.gantt th{border:1px solid #ddd;padding:2px 4px;text-align:center}"
       "th.label{text-align:left;white-space:normal;min-width:14em}"
       ".scroll{overflow-x:auto}" + "".join(
           f".{k}{{background:{v};color:#fff}}" for k, v in CELL_COLOURS.items())
       + ".idle{background:#fff}")


def plan_pdf(plan: PlanResult, path: str) -> None:
    """The same document as a PDF (fpdf2's core fonts: text outside Latin-1 is replaced)."""
    from fpdf import FPDF

    def text(value: str) -> str:
        for a, b in (("\u201c", '"'), ("\u201d", '"'), ("\u2019", "'"), ("\u2018", "'"),
                     ("\u2013", "-"), ("\u2014", "-"), ("\u2026", "..."), ("\u00b7", "-"),
                     ("\u2192", "->")):
            value = value.replace(a, b)
        return value.encode("latin-1", "replace").decode("latin-1")

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(0, 8, text(f"Quick-win plan, {plan.quarter}"), new_x="LMARGIN",
                   new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)

    def para(value: str, bold: bool = False, size: int = 10) -> None:
        pdf.set_font("Helvetica", "B" if bold else "", size)
        pdf.multi_cell(0, 5, text(value), new_x="LMARGIN", new_y="NEXT")

    para(plan.summary)
    pdf.ln(2)
    para("On one page", bold=True, size=12)
    if plan.basis:
        para(f"Made from {plan.basis}.")
    para("Do first:", bold=True)
    for t in plan.first_three:
        para(f"  {t}")
    para("Expected impact of the whole plan:", bold=True)
    para(f"  {impact_words(plan)} (each initiative's range added; overlaps make it smaller).")
    para("Needed from whom:", bold=True)
    for owner, titles in plan.needs.items():
        para(f"  {owner}: " + "; ".join(titles))
    for i in plan.initiatives:
        pdf.ln(3)
        para(f"{i.rank}. {i.title}", bold=True, size=12)
        for label, value in (("Why it is here", i.why), ("Targets", i.targets),
                             ("Change", i.change), ("Evidence", _evidence_plain(i)),
                             ("KPI", f"{i.kpi}: {expected_words(i)}"),
                             ("Impact at the last stage", _initiative_impact(i)),
                             ("Owner", f"{i.owner}, effort {i.effort}/3, score {i.score:,.1f}"),
                             ("Test", _test_line(i)),
                             ("Audience", _audience_words(i) if i.audience else ""),
                             ("Timeline", "; ".join(i.timeline))):
            if value:
                para(f"{label}: {value}")
    pdf.add_page(orientation="L")
    para("Timeline", bold=True, size=12)
    _pdf_gantt(pdf, plan, text)
    for title, items in (("Left out", plan.left_out), ("Risks", plan.risks),
                         ("Assumptions", plan.assumptions)):
        if items:
            pdf.ln(2)
            para(title, bold=True, size=12)
            for x in items:
                para(f"- {x}")
    pdf.output(path)


def _pdf_gantt(pdf, plan: PlanResult, text) -> None:
    rows = gantt_rows([f"{i.rank}. {i.title}" for i in plan.initiatives],
                      [i.slot for i in plan.initiatives if i.slot])
    if not rows:
        return
    weeks = len(rows[0][1])
    label_w, h = 95.0, 7.0
    # The weeks share what the page leaves after the labels, whatever their number.
    cell_w = min(12.0, (pdf.w - pdf.l_margin - pdf.r_margin - label_w) / weeks)
    x0 = pdf.get_x()
    pdf.set_font("Helvetica", "B", 8)
    pdf.cell(label_w, h, "")
    more = any(c == "more" for _, cells in rows for c in cells)
    for w in range(1, weeks + 1):
        pdf.cell(cell_w, h, "+" if more and w == weeks else f"W{w}", border=1, align="C")
    pdf.ln(h)
    pdf.set_font("Helvetica", "", 8)
    for label, cells in rows:
        short = label if len(label) <= 58 else label[:57] + "..."
        pdf.set_x(x0)
        pdf.cell(label_w, h, text(short), border=1)
        for c in cells:
            if c:
                r, g, b = (int(CELL_COLOURS[c][k:k + 2], 16) for k in (1, 3, 5))
                pdf.set_fill_color(r, g, b)
                pdf.set_text_color(255, 255, 255)
                pdf.cell(cell_w, h, CELL_MARKS[c], border=1, align="C", fill=True)
                pdf.set_text_color(0, 0, 0)
            else:
                pdf.cell(cell_w, h, "", border=1)
        pdf.ln(h)
    pdf.ln(2)
    pdf.multi_cell(0, 5, text(LEGEND), new_x="LMARGIN", new_y="NEXT")
