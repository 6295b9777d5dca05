"""Structure that must not erode: dependencies point one way (ui -> agent -> tools ->
analytics), configuration is read in one module and every variable is documented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("analytics", "tools", "agent", "ui", "prompts", "sample_data")


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function (lazy imports count)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def files_of(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def _offenders(package: str, allowed: callable) -> list[str]:
    return [f"{path.relative_to(REPO)} imports {name}"
            for path in files_of(package) for name in sorted(imports_of(path))
            if name.split(".")[0] in PACKAGES and not allowed(name)]


def test_analytics_imports_no_other_layer():
    assert _offenders("analytics", lambda n: n.startswith("analytics")) == []


def test_tools_import_only_the_analytics():
    assert _offenders("tools", lambda n: n.startswith(("analytics", "tools"))) == []


def test_agent_calls_tools_not_analytics():
    # The agent may use the analytics' vocabulary (errors, configuration, constants, types)
    # and the embedding model that routes questions, never an analytic itself.
    infrastructure = ("analytics.errors", "analytics.config", "analytics.constants",
                      "analytics.catalog", "analytics.feedback.embedder")
    assert _offenders("agent", lambda n: n.startswith(("tools", "agent", "prompts",
                                                       *infrastructure))
                      or n == "analytics") == []


def test_ui_reaches_the_analytics_only_through_tools():
    # The admin commands that look after the product (demo data, stage map, export, index,
    # health check) use the store directly; nothing in ui runs an analytic itself.
    analytic_modules = {p.stem for p in (REPO / "analytics").glob("*.py")} - {
        "__init__", "errors", "config", "constants", "results", "erasers"}
    bad = [f"{path.relative_to(REPO)} imports {name}" for path in files_of("ui")
           for name in imports_of(path)
           if name.startswith("analytics.") and name.split(".")[1] in analytic_modules]
    assert bad == []


def test_nothing_imports_the_ui():
    for package in ("analytics", "tools", "agent", "prompts", "sample_data"):
        assert _offenders(package, lambda n: not n.startswith("ui")) == []


def test_the_store_does_not_know_the_feedback_index():
    # Redaction is a pure text function the export shares; the index, themes and the rest of
    # the feedback layer are derived from the store and must not be imported by it.
    bad = [f"{p.relative_to(REPO)} imports {n}" for p in files_of("analytics/store")
           for n in imports_of(p)
           if n.startswith("analytics.feedback") and not n.startswith("analytics.feedback.redact")]
    assert bad == []


def test_erasure_reaches_the_feedback_index_through_its_registered_eraser():
    import analytics.store.forget  # noqa: F401  (importing the store is enough)
    from analytics.erasers import registered_erasers

    names = [e.__name__ for e in registered_erasers()]
    assert "_erase_from_feedback_index" in names


ENV_READ = re.compile(r"os\.environ(?:\.get)?\s*[\[(]\s*[\"']([A-Z0-9_]+)|getenv\(\s*[\"']"
                      r"([A-Z0-9_]+)")


def test_environment_is_read_in_one_module_and_documented():
    from analytics.config import VARIABLES

    readers = {}
    for package in PACKAGES:
        for path in files_of(package):
            text = path.read_text(encoding="utf-8")
            for match in ENV_READ.finditer(text):
                readers.setdefault(match.group(1) or match.group(2), set()).add(
                    str(path.relative_to(REPO)))
    readers.pop("GRADIO_ANALYTICS_ENABLED", None)  # set (never read) to keep Gradio offline
    assert all(files == {"analytics/config.py"} for files in readers.values()), readers
    config_text = (REPO / "analytics" / "config.py").read_text(encoding="utf-8")
    used = set(re.findall(r'env(?:\.get\(|, )"([A-Z0-9_]+)"', config_text))
    assert used == set(VARIABLES), "every variable read is listed in VARIABLES, and only those"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [name for name in VARIABLES if f"`{name}`" not in readme]
    assert missing == [], f"README.md does not document {missing}"


@pytest.mark.parametrize("name, value", [("JOURNEY_QUERY_TIMEOUT_S", "abc"),
                                         ("JOURNEY_MAX_ROWS", "")])
def test_bad_settings_fall_back_to_the_defaults(name, value):
    from analytics.config import settings

    found = settings({name: value})
    assert found.query_seconds == 120.0 and found.max_rows == 100_000_000


def test_constants_are_defined_once():
    # The feedback sources and business models are spelled out in analytics/constants.py
    # only; everything else imports them.
    literal = re.compile(r'"review",\s*"nps"|"b2b-saas",\s*"ecommerce"')
    bad = [str(p.relative_to(REPO)) for package in PACKAGES for p in files_of(package)
           if literal.search(p.read_text(encoding="utf-8"))
           and p != REPO / "analytics" / "constants.py"]
    assert bad == []
