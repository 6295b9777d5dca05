"""What every analytic returns: numbers, a short factual summary, definitions, and a chart.

Results are dataclasses; `to_dict()` is the JSON the CLI prints and the agent reads, and
`figure()` builds a plotly chart from the result's own numbers (never from anything else).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from datetime import date, datetime
from typing import Any, ClassVar


def clean(value: Any) -> Any:
    """JSON-safe values: dates as ISO text, NaN/inf as None, numpy scalars as Python ones."""
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


@dataclass
class AnalyticResult:
    summary: str = ""
    definitions: dict[str, str] = field(default_factory=dict)
    filters: dict[str, Any] = field(default_factory=dict)

    kind = "analytic"
    # Per-person fields the interfaces use in-process but never print or send to a model.
    internal: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict:
        public = {f.name: getattr(self, f.name) for f in fields(self)
                  if f.name not in self.internal}
        return clean({"kind": self.kind, **public})

    def figure(self):  # pragma: no cover - each analytic overrides
        raise NotImplementedError


def rate(numerator: float, denominator: float) -> float | None:
    return None if not denominator else numerator / denominator


def pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def parse_window(text: str | None) -> int | None:
    """'14d', '2h', '30m', '1w', '90s' -> seconds; None means no window."""
    from analytics.errors import JourneyError

    if text is None or text == "":
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    body, unit = text[:-1], text[-1:].lower()
    if unit not in units or not body.replace(".", "", 1).isdigit() or float(body) <= 0:
        raise JourneyError(f"Window '{text}' must be a number and a unit, e.g. 14d, 12h, 2w")
    return int(float(body) * units[unit])


# What can turn text into markup mid-line: emphasis, code, links and images ([...]), raw HTML
# and autolinks (<...>), table cells. Intraword underscores (pricing_view) are not emphasis.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]<>|])")
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|"
                      r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def markdown_literal(text: str) -> str:
    """Data (event names, pasted stage names, what customers wrote) inside Markdown, so it reads
    exactly as written: never a heading, a link, an image or raw HTML for a viewer to fetch."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", printable(text))


def printable(text: str) -> str:
    """Without terminal escapes (ANSI colours, OSC-8 links) and other control characters:
    data must not be able to drive the terminal or the page it is shown in."""
    return _CONTROL.sub("", str(text))
