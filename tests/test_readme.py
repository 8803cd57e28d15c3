"""The README stays true: every available command is documented, quick start is two commands."""

from __future__ import annotations

import re
from pathlib import Path

import click

from ltrr_os.cli import cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_available_command_is_in_the_readme_cli_table():
    ctx = click.Context(cli)
    available = [n for n in cli.list_commands(ctx) if cli.get_command(ctx, n) is not None]
    assert {"demo", "index", "plan", "search"} <= set(available)
    missing = [n for n in available if f"`ltrr {n}" not in README]
    assert not missing, f"README's CLI table lacks: {missing}"


def test_quick_start_is_exactly_make_demo_and_make_test():
    block = README.split("## Quick start", 1)[1].split("```", 2)[1]
    commands = [ln.split("#")[0].strip() for ln in block.splitlines()[1:] if ln.strip()]
    assert commands == ["make demo", "make test"]


def test_benchmark_markers_are_present_once():
    assert len(re.findall("<!-- bench:start -->", README)) == 1
    assert len(re.findall("<!-- bench:end -->", README)) == 1
