"""Three demo domains in their own vocabularies, each with planted truths for the analytics.

    from sample_data.domains import DOMAINS, generate_domain, write_domain
    data = generate_domain("shop", seed=11, people=4000)   # DomainData: .files, .truth
    paths = write_domain("shop", "out/shop")                # events.csv (...) + truth.json

The generators never looked at the analytics: each plants its effects from its own story (see
each module's docstring) and measures the truth figures on the frames it returns.
"""

from __future__ import annotations

from pathlib import Path

from sample_data.domains import b2b_pipeline, shop, subscription_app
from sample_data.domains._common import DomainData, write_files

DOMAINS = ("shop", "subscription_app", "b2b_pipeline")
_MODULES = {"shop": shop, "subscription_app": subscription_app, "b2b_pipeline": b2b_pipeline}
DEFAULT_SEED = 11

__all__ = ["DOMAINS", "DomainData", "generate_domain", "write_domain"]


def generate_domain(name: str, seed: int = DEFAULT_SEED, people: int | None = None) -> DomainData:
    """Generate one domain's files and truth; the same seed gives the same data."""
    if name not in _MODULES:
        raise ValueError(f"Unknown domain {name!r}: choose one of {', '.join(DOMAINS)}")
    module = _MODULES[name]
    data = module.generate(seed=seed, people=module.PEOPLE if people is None else people)
    data.truth["seed"] = seed
    return data


def write_domain(name: str, out_dir: str | Path, seed: int = DEFAULT_SEED,
                 people: int | None = None) -> dict[str, Path]:
    """Write the domain's CSV files and truth.json into `out_dir`; returns kind -> path."""
    return write_files(generate_domain(name, seed=seed, people=people), Path(out_dir))
