"""The web app (Gradio): chat, journey map, diagnose, plan and data, on the same tools.

Nothing leaves the machine: analytics are off, no share link, system fonts only (no font CDN),
plotly's script is served by Gradio itself.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from agent.llm import make_agent  # noqa: E402
from analytics.constants import BUSINESS_MODELS  # noqa: E402
from analytics.errors import ArgumentError, JourneyError  # noqa: E402
from analytics.results import markdown_literal as md  # noqa: E402
from analytics.store import EventStore  # noqa: E402
from analytics.store.accounts import LOCAL, Accounts, Actor  # noqa: E402
from tools.base import ToolContext, ToolResult  # noqa: E402
from tools.registry import call_tool  # noqa: E402
from tools.session import Session  # noqa: E402
from ui.web_analyses import LABELS as ANALYSIS_LABELS  # noqa: E402
from ui.web_analyses import Analyses, build_tab  # noqa: E402

SUGGESTED = ["Where do we lose people?", "Why do people leave at pricing?",
             "Which channels drive conversions?", "What predicts churn?",
             "What changed last week?", "What should we fix first this quarter?"]
SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "sans-serif"]
# A browser session's conversation (its agent, results and ids) is dropped this long after its
# last use, so a long-running server does not keep every conversation it ever had.
SESSION_SECONDS = 6 * 3600
MAX_FAILED_SIGN_INS = 5
SIGN_IN_WINDOW_S = 300
# How the web app names the arguments a user can get wrong (the form's own labels).
FIELD_LABELS = {"filters.since": "From", "filters.until": "To", "filters.device": "Device",
                "filters.channel": "Channel", "filters.segment": "Segment",
                "mapping": "Column mapping", "customer_id": "Customer id",
                "quarter": "Quarter", "metrics_text": "Stage metrics", "on_error": "Bad rows",
                "compare_by": "Side by side by", "compare_at": "Or before/after a date",
                **ANALYSIS_LABELS}


UNKNOWN_ACTOR = ("Users were added after this app started, so it does not know who you are. "
                 "Restart `journey ui` and sign in.")


def shown(text: str) -> str:
    """Text for the chat, which shows it as written (no Markdown, no HTML): answers quote what
    customers wrote, and a quote must never become an image, a script or a link to fetch."""
    import html

    return html.escape(text, quote=False)


def map_frame(page: str) -> str:
    """The map's own page inside the app, sandboxed: its styles stay its own, no scripts run."""
    import html as html_module

    return (f"<iframe title='journey map' sandbox srcdoc='{html_module.escape(page, quote=True)}'"
            " style='width:100%;height:900px;border:1px solid #ddd'></iframe>")


def problem(result: ToolResult) -> str:
    """A tool's complaint as the page says it: fields by their labels on the form."""
    error = result.error
    if isinstance(error, ArgumentError):
        label = FIELD_LABELS.get(error.field, error.field.split(".")[-1].replace("_", " "))
        return f"{label}: {error.problem}"
    suggest = getattr(error, "suggest", None)
    if suggest and suggest[0] in FIELD_LABELS:
        return f"{error} (choose '{suggest[1]}' under {FIELD_LABELS[suggest[0]]})"
    return str(error) if error is not None else result.content


def _events(agent, question: str) -> Iterator[tuple[str, Any]]:
    """(kind, data) steps of an answer, whichever agent is answering."""
    if hasattr(agent, "stream"):
        for event in agent.stream(question):
            yield event.kind, event.data
        return
    answer = agent.ask(question)
    if answer.frame is not None:
        yield "frame", answer.frame
    for result in answer.results:
        yield "tool_end", result
    yield "answer", answer


def _frame_text(frame) -> str:
    lines = [frame.said()]
    lines += [f"- {note}" for note in frame.notes]
    return "\n".join(lines)


class JourneyApp:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.accounts = Accounts(store.home)
        # Whether the server was started with sign-in (users existed then): see `actor`.
        self.signing_in = self.accounts.has_users()
        self._failed: dict[str, list[float]] = {}  # name -> times of recent wrong passwords
        # Sessions share the loaded catalog, facts and feedback themes; each keeps its own
        # conversation (the agent object in the session state).
        self.shared = ToolContext(store)

    def actor(self, request: gr.Request | None) -> Actor | None:
        """Who sent this request: the signed-in user with their role as it is now (a role
        changed or a user removed takes effect at once), the person at the machine when the
        app serves loopback without users, or None: users were added after the app started
        without sign-in, so nobody here is known (restart the app to sign in)."""
        if not self.signing_in:
            return None if self.accounts.has_users() else LOCAL
        username = getattr(request, "username", None) if request is not None else None
        return self.accounts.role_of(username)

    def sign_in(self, username: str, password: str) -> bool:
        """Gradio's login check. After MAX_FAILED_SIGN_INS wrong passwords for a name within
        SIGN_IN_WINDOW_S, that name is refused until the window passes (guessing is slow)."""
        import time

        now = time.monotonic()
        recent = [t for t in self._failed.get(username, []) if now - t < SIGN_IN_WINDOW_S]
        if len(recent) >= MAX_FAILED_SIGN_INS:
            self._failed[username] = recent
            return False
        if self.accounts.sign_in(username, password) is not None:
            self._failed.pop(username, None)
            return True
        self._failed[username] = recent + [now]
        return False

    def warm_up(self) -> None:
        from agent.planner import OfflinePlanner

        try:
            OfflinePlanner(self.shared).warm_up()
        except JourneyError:
            pass  # an empty store: nothing to warm

    # -- chat -----------------------------------------------------------------------------------

    def respond(self, message: str, history: list, agent, request: gr.Request = None):
        """Streams (history, agent, cleared box): the question, each tool step (collapsed under
        its title), the answer, then the chart of the last result that has one, inline."""
        if not message or not message.strip():
            yield history, agent, ""
            return
        actor = self.actor(request)
        if actor is None:
            history = list(history) + [{"role": "user", "content": message},
                                       {"role": "assistant", "content": shown(UNKNOWN_ACTOR)}]
            yield history, agent, ""
            return
        agent = agent or make_agent(Session(self.shared, actor=actor))
        history = list(history) + [{"role": "user", "content": message}]
        yield history, agent, ""
        figure = None
        try:
            for kind, data in _events(agent, message):
                if kind == "tool_end":
                    history.append({"role": "assistant", "content": shown(data.content[:2000]),
                                    "metadata": {"title": f"Tool: {data.tool} "
                                                          f"{data.result_id or ''}".strip(),
                                                 "status": "done"}})
                    if data.ok and data.figure is not None:
                        figure = data.figure()
                    yield history, agent, ""
                elif kind == "frame":
                    # How the question was read, so that a wrong reading is visible.
                    history.append({"role": "assistant", "content": shown(_frame_text(data)),
                                    "metadata": {"title": "How I read the question",
                                                 "status": "done"}})
                elif kind == "notice":
                    history.append({"role": "assistant", "content": shown(str(data))})
                elif kind == "answer":
                    history.append({"role": "assistant", "content": shown(data.text)})
        except JourneyError as exc:
            history.append({"role": "assistant",
                            "content": shown(f"I could not answer that: {exc}")})
            figure = None
        if figure is not None:
            history.append({"role": "assistant",
                            "content": gr.Plot(value=figure, show_label=False)})
        yield history, agent, ""

    # -- journey map ----------------------------------------------------------------------------

    def _journey_map(self, since: str, until: str, device: str, channel: str, segment: str,
                     compare: str, compare_at: str = ""):
        filters = {k: v for k, v in {"since": since or None, "until": until or None,
                                     "device": device or None, "channel": channel or None,
                                     "segment": segment or None}.items() if v}
        args: dict[str, Any] = {"filters": filters}
        if compare and compare.strip():
            args["compare_by"] = compare.strip()
        if compare_at and compare_at.strip():
            args["compare_at"] = compare_at.strip()
        # The same arguments give the shared result again: the exports do not draw it twice.
        return call_tool(self.shared, "journey_map", args), filters

    def journey_map(self, since: str, until: str, device: str, channel: str,
                    segment: str = "", compare: str = "", compare_at: str = ""):
        journey, filters = self._journey_map(since, until, device, channel, segment, compare,
                                             compare_at)
        if not journey.ok:
            return problem(journey), "", None, None
        paths = call_tool(self.shared, "paths", {"top": 8, "filters": filters})
        # The map as drawn (stages as columns; segments side by side), then the funnel and the
        # flows; the summary says where people drop and what leavers said.
        return (md(journey.result.summary), map_frame(journey.result.html()),
                journey.figure(), paths.figure() if paths.figure is not None else None)

    def export_map(self, since: str, until: str, device: str, channel: str, segment: str,
                   compare: str, compare_at: str, kind: str) -> str:
        journey, _ = self._journey_map(since, until, device, channel, segment, compare,
                                       compare_at)
        if not journey.ok:
            raise gr.Error(problem(journey))
        path = self._export_folder() / f"journey-map.{kind}"
        write = {"png": journey.result.write_png, "pdf": journey.result.write_pdf,
                 "html": journey.result.write_html}[kind]
        write(str(path))
        return str(path)

    # -- diagnose and plan --------------------------------------------------------------------

    def diagnose(self, text: str, model: str):
        if not text or not text.strip():
            return ("Nothing to read yet: paste one stage per line, e.g. "
                    "'Awareness: 12,000 visitors/month, 40% bounce'."), None
        result = call_tool(self.shared, "diagnose",
                           {"metrics_text": text or "", "business_model": model})
        if not result.ok:
            return problem(result), None
        diagnosis = result.result
        lines = [md(diagnosis.summary)]
        lines += [f"- Check: {md(i.message)}" for i in diagnosis.issues]
        lines += [f"- Not read: {md(line)}" for line in diagnosis.unread]
        return "\n".join(lines), result.figure() if result.figure else None

    def _plan_result(self, text: str, quarter: str, model: str):
        args: dict[str, Any] = {"business_model": model}
        if text and text.strip():
            args["metrics_text"] = text
        if quarter:
            args["quarter"] = quarter
        # The same arguments give the shared result again: the exports do not plan twice.
        return call_tool(self.shared, "plan", args)

    def plan(self, text: str, quarter: str, model: str):
        result = self._plan_result(text, quarter, model)
        if not result.ok:
            return problem(result), None
        return result.result.markdown(), result.figure() if result.figure else None

    def _export_folder(self) -> Path:
        # Under the data folder, never the system's /tmp: an erasure clears it (analytics/
        # __init__.py), and nothing about customers is left where no one looks.
        return Path(tempfile.mkdtemp(prefix="plan-", dir=self.store.temp_folder()))

    def download(self, markdown: str) -> str:
        path = self._export_folder() / "quick-win-plan.md"
        path.write_text(markdown or "", encoding="utf-8")
        return str(path)

    def export(self, text: str, quarter: str, model: str, kind: str) -> str | None:
        """The plan as a standalone HTML page or a PDF, for the slide deck."""
        result = self._plan_result(text, quarter, model)
        if not result.ok:
            raise gr.Error(problem(result))
        path = self._export_folder() / f"quick-win-plan.{kind}"
        (result.result.write_pdf if kind == "pdf" else result.result.write_html)(str(path))
        return str(path)

    # -- data -----------------------------------------------------------------------------------

    def upload(self, file, kind: str, mapping: str, on_error: str, vendor: str = "auto",
               timezone: str = "", request: gr.Request = None):
        actor = self.actor(request)
        if actor is None:
            return f"**Not loaded.** {md(UNKNOWN_ACTOR)}", self.status()
        if file is None:
            return "Choose a file first.", self.status()
        path = file if isinstance(file, str) else file.name
        result = call_tool(self.shared, "ingest", {
            "kind": kind, "paths": [path], "mapping": mapping or None, "on_error": on_error,
            "format": vendor or "auto", "timezone": (timezone or "").strip() or None}, actor)
        if not result.ok:
            # The upload's temporary path means nothing to the user: name the file they chose.
            message = problem(result).replace(str(path), Path(path).name)
            return f"**Not loaded.** {md(message)}", self.status()
        f = result.result.files[0]
        lines = [f"Loaded **{f.rows_loaded:,}** of {f.rows_read:,} rows "
                 f"({f.rows_already_loaded:,} already loaded, {f.rows_rejected:,} rejected)."]
        # The command line's notes: preset, identity calls, joins, source, skipped rows.
        from tools.store_tools import load_notes

        upload_path = str(path)
        lines += [f"- {md(note.replace(upload_path, Path(path).name))}"
                  for note in load_notes(kind, f)]
        return "\n".join(lines), self.status()

    def forget(self, customer_id: str, confirm: bool, request: gr.Request = None):
        actor = self.actor(request)
        if actor is None:
            return f"**Not erased.** {md(UNKNOWN_ACTOR)}", self.status()
        if not confirm:
            return "Tick the box to confirm the erasure.", self.status()
        result = call_tool(self.shared, "forget", {"customer_id": (customer_id or "").strip()},
                           actor)
        if not result.ok:
            return f"**Not erased.** {md(problem(result))}", self.status()
        r = result.result
        return (f"Erased {r.events:,} events, {r.feedback:,} feedback items, {r.customers:,} "
                f"profile and {r.identities:,} identity links. The audit log keeps only a hash.",
                self.status())

    @staticmethod
    def preview(file, kind: str, mapping: str, vendor: str = "auto") -> str:
        """Which of the file's columns will feed which field, before anything is loaded."""
        if file is None:
            return ""
        from tools.store_tools import preview_columns

        path = file if isinstance(file, str) else file.name
        try:
            plan = preview_columns(path, kind, mapping, vendor or "auto")
        except JourneyError as exc:
            return f"**This file cannot be loaded as {kind} yet.** {md(str(exc))}"
        except Exception as exc:  # a reader error: the load itself reports it precisely
            return f"Could not preview this file ({type(exc).__name__}); try loading it."
        rows = "\n".join(f"| {md(source)} | {field} |" for field, source in plan.fields.items())
        extra = md(", ".join(plan.extras)) or "none"
        kept = "customer attributes" if kind == "customers" else f"{kind.rstrip('s')} properties"
        read_as = f"Read as a **{md(plan.preset)}**.\n\n" if plan.preset else ""
        return (f"{read_as}| your column | becomes |\n|---|---|\n{rows}\n\n"
                f"Kept as {kept}: {extra}")

    def status(self) -> dict:
        return call_tool(self.shared, "describe_data").data()

    def journey_model(self) -> str:
        """The inferred journey (or the user's own), as the Data tab shows it."""
        result = call_tool(self.shared, "journey_model")
        if not result.ok:
            return md(problem(result))
        from tools.registry import BY_NAME

        view = BY_NAME["journey_model"].view(None, result.result)
        rows = "\n".join("| " + " | ".join(md(str(c)) for c in row) + " |" for row in view.rows)
        head = "| " + " | ".join(view.columns) + " |\n|" + "---|" * len(view.columns)
        notes = "\n".join(f"- {md(n)}" for n in view.notes[:-1])
        return f"{md(result.result.summary)}\n\n{head}\n{rows}\n\n{notes}"

    def set_journey_model(self, part: str, events: str, reset: bool,
                          request: gr.Request = None) -> str:
        actor = self.actor(request)
        if actor is None:
            return f"**Not changed.** {md(UNKNOWN_ACTOR)}"
        names = [e.strip() for e in (events or "").replace(">", "\n").split("\n")
                 if e.strip()]
        result = call_tool(self.shared, "set_journey_model",
                           {"part": part, "events": names, "reset": bool(reset)}, actor)
        if not result.ok:
            return f"**Not changed.** {md(problem(result))}\n\n{self.journey_model()}"
        return self.journey_model()


def build(store: EventStore, app: JourneyApp | None = None) -> gr.Blocks:
    app = app or JourneyApp(store)
    # Gradio's copies of uploads and downloads are deleted an hour after they were made.
    with gr.Blocks(title="Journey Agent", analytics_enabled=False,
                   delete_cache=(1800, 3600)) as demo:
        gr.Markdown("# Journey Agent\nAsk about your customers' journey. Every number comes "
                    "from your data.")
        with gr.Tab("Chat"):
            agent_state = gr.State(None, time_to_live=SESSION_SECONDS)
            chat = gr.Chatbot(label="Conversation", height=640, render_markdown=False)
            box = gr.Textbox(placeholder="Where do we lose people?", show_label=False)
            gr.Examples(SUGGESTED, inputs=box, label="Try")
            # Questions only read: sessions are answered side by side (see serve's queue).
            box.submit(app.respond, [box, chat, agent_state], [chat, agent_state, box],
                       concurrency_limit="default")
        with gr.Tab("Journey map"):
            with gr.Row():
                since = gr.Textbox(label="From (YYYY-MM-DD)")
                until = gr.Textbox(label="To (YYYY-MM-DD)")
                device = gr.Textbox(label="Device")
                channel = gr.Textbox(label="Channel")
                segment = gr.Textbox(label="Segment (number or name)")
                compare = gr.Textbox(label="Side by side by (device, channel, plan...)")
                compare_at = gr.Textbox(label="Or before/after a date (YYYY-MM-DD)")
            show = gr.Button("Show the journey")
            map_text = gr.Markdown()
            map_page = gr.HTML()
            with gr.Row():
                map_html = gr.Button("Download the map as HTML")
                map_png = gr.Button("Download the map as PNG")
                map_pdf = gr.Button("Download the map as PDF")
            map_file = gr.File(label="Download")
            with gr.Row():
                funnel_plot = gr.Plot(label="Funnel")
                flow_plot = gr.Plot(label="Flows")
            inputs = [since, until, device, channel, segment, compare, compare_at]
            show.click(app.journey_map, inputs, [map_text, map_page, funnel_plot, flow_plot])
            # One named parameter per input: Gradio passes inputs by the function's signature.
            map_html.click(lambda s, u, d, c, g, k, a: app.export_map(s, u, d, c, g, k, a,
                                                                      "html"), inputs, map_file)
            map_png.click(lambda s, u, d, c, g, k, a: app.export_map(s, u, d, c, g, k, a, "png"),
                          inputs, map_file)
            map_pdf.click(lambda s, u, d, c, g, k, a: app.export_map(s, u, d, c, g, k, a, "pdf"),
                          inputs, map_file)
        build_tab(Analyses(app.shared, problem, app._export_folder))
        with gr.Tab("Diagnose"):
            metrics = gr.Textbox(lines=8, label="Paste your stage metrics",
                                 placeholder="Awareness: 12,000 visitors/month, 40% bounce\n...")
            model = gr.Dropdown(list(BUSINESS_MODELS),
                                value="b2b-saas", label="Business model")
            run_diag = gr.Button("Diagnose")
            diag_text = gr.Markdown()
            diag_plot = gr.Plot()
            run_diag.click(app.diagnose, [metrics, model], [diag_text, diag_plot])
        with gr.Tab("Plan"):
            quarter = gr.Textbox(label="Quarter (e.g. 2027-Q1)")
            make_plan = gr.Button("Generate the quick-win plan")
            plan_md = gr.Textbox(lines=24, label="Plan (Markdown, editable)")
            plan_gantt = gr.Plot(label="The quarter, week by week")
            with gr.Row():
                save = gr.Button("Download as Markdown")
                save_html = gr.Button("Download as HTML")
                save_pdf = gr.Button("Download as PDF")
            plan_file = gr.File(label="Download")
            make_plan.click(app.plan, [metrics, quarter, model], [plan_md, plan_gantt])
            save.click(app.download, plan_md, plan_file)
            save_html.click(lambda t, q, m: app.export(t, q, m, "html"), [metrics, quarter, model],
                            plan_file)
            save_pdf.click(lambda t, q, m: app.export(t, q, m, "pdf"), [metrics, quarter, model],
                           plan_file)
        with gr.Tab("Data"):
            upload = gr.File(label="CSV, Parquet or JSON Lines (also .gz), as your tool exports it")
            kind = gr.Dropdown(["events", "customers", "feedback", "deals"], value="events",
                               label="What the file holds")
            with gr.Row():
                vendor = gr.Dropdown(["auto", "mixpanel", "amplitude", "segment", "ga4",
                                      "posthog", "plain"], value="auto",
                                     label="Export from (auto: recognised from the file)")
                timezone = gr.Textbox(label="Time zone of times without one (optional)",
                                      placeholder="Europe/Berlin")
            mapping = gr.Textbox(label="Column mapping (optional)",
                                 placeholder="user_id=customer_id,event_time=timestamp")
            on_error = gr.Radio(["fail", "skip"], value="fail", label="Bad rows")
            preview = gr.Markdown()
            for trigger in (upload.change, kind.change, mapping.change, vendor.change):
                trigger(app.preview, [upload, kind, mapping, vendor], preview)
            load = gr.Button("Load")
            load_text = gr.Markdown()
            status = gr.JSON(label="Store status", value=app.status)
            # Writes: one at a time, and not offered to API clients (the page's own buttons
            # only); each still checks the signed-in user's role (JourneyApp.actor).
            load.click(app.upload, [upload, kind, mapping, on_error, vendor, timezone],
                       [load_text, status],
                       concurrency_limit=1, concurrency_id="writes", api_visibility="private")
            gr.Markdown("### Journey model (what every default uses)")
            model_text = gr.Markdown(value=app.journey_model)
            with gr.Row():
                model_part = gr.Dropdown(["conversion", "funnel", "churn"], value="conversion",
                                         label="Change")
                model_events = gr.Textbox(label="Event, or steps in order (A > B > C)",
                                          placeholder="Order Completed")
                model_reset = gr.Checkbox(label="Back to what the data say")
            set_model = gr.Button("Save the journey model")
            set_model.click(app.set_journey_model, [model_part, model_events, model_reset],
                            model_text, concurrency_limit=1, concurrency_id="writes",
                            api_visibility="private")
            load_text.change(app.journey_model, None, model_text)
            gr.Markdown("### Erase a customer (data protection request)")
            with gr.Row():
                erase_id = gr.Textbox(label="Customer id")
                erase_ok = gr.Checkbox(label="I confirm: erase every trace of this customer")
            erase = gr.Button("Erase", variant="stop")
            erase_text = gr.Markdown()
            erase.click(app.forget, [erase_id, erase_ok], [erase_text, status],
                        concurrency_limit=1, concurrency_id="writes", api_visibility="private")
    return demo


def serve(store: EventStore, host: str = "127.0.0.1", port: int = 7860,
          block: bool = True) -> gr.Blocks:
    from analytics.config import settings

    app = JourneyApp(store)
    from ui.web_guard import LOOPBACK

    if host not in LOOPBACK and not app.signing_in:
        from analytics.store.accounts import AccessError

        raise AccessError(
            f"Refusing to serve {host} without sign-in: anyone who could reach the port could "
            "load and erase data. Add a user first (`journey users add NAME --role admin`), "
            "or serve this machine only with --host 127.0.0.1.")
    # Warm the models and caches while the server starts, so the first answer is quick.
    import threading

    threading.Thread(target=app.warm_up, daemon=True).start()
    demo = build(store, app)
    theme = gr.themes.Soft(font=SYSTEM_FONTS, font_mono=["ui-monospace", "monospace"])
    from starlette.middleware import Middleware

    from ui.web_guard import HostGuard, allowed_names

    guard = Middleware(HostGuard, allowed=allowed_names(host, settings().public_names))  # type: ignore[arg-type]
    # Reads (chat, journey map, diagnose, plan) run side by side, up to this many at once
    # (more only adds thread switching on a small machine); the writes above share one
    # queue of their own, one at a time.
    demo.queue(default_concurrency_limit=8)
    demo.launch(server_name=host, server_port=port, share=False, theme=theme,
                app_kwargs={"middleware": [guard]},
                auth=app.sign_in if app.signing_in else None,
                auth_message="Sign in with the name and password an admin gave you "
                             "(`journey users add`).",
                max_file_size=settings().max_upload,
                prevent_thread_lock=not block, show_error=True, quiet=not block)
    return demo
