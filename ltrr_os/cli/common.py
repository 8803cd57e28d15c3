"""Shared CLI helpers: loading a plan with overrides, parsing ``k=v`` context, tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError
from ..plan.models import Plan


def load_plan_for_cli(path: str, data_dir: str | None = None) -> Plan:
    """Load a plan; ``--data-dir`` overrides ``engine.data_dir``."""
    from ..plan import load_plan

    plan = load_plan(path)
    if data_dir:
        engine = plan.engine.model_copy(update={"data_dir": Path(data_dir)})
        plan = plan.model_copy(update={"engine": engine})
    return plan


def parse_context(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``device=mobile hour=21`` -> {"device": "mobile", "hour": 21} (JSON values allowed)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--context expects key=value, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Embedded engine data dir (overrides the plan; default $LTRR_DATA_DIR or ~/.ltrr).",
)
