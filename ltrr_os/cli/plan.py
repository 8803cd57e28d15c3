"""``ltrr plan``: check query plans before they reach a search backend."""

from __future__ import annotations

import importlib
import sys

import click

from ..errors import LtrrError

#: sub-commands that live in their own modules, imported on first use
LAZY_COMMANDS: dict[str, str] = {
    "explain": "ltrr_os.cli.explain:explain",
}


class _PlanGroup(click.Group):
    """Commands defined here plus :data:`LAZY_COMMANDS` (skipped while not written)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        cmd = super().get_command(ctx, name)
        if cmd is not None or name not in LAZY_COMMANDS:
            return cmd
        module, attr = LAZY_COMMANDS[name].split(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                return None
            raise


@click.group("plan", cls=_PlanGroup)
def plan() -> None:
    """Work with YAML query plans (see docs/query-plans.md).

    \b
    A plan says which index to search, how queries are understood (slots, intents),
    which retrieval strategies ("arms") exist, how the policy picks among them and how
    the union of candidates is ranked. A minimal plan:

    \b
      index:   {alias: music, template: music, id_field: track_id}
      strategies:
        lexical: {type: lexical, fields: {title: 3, artist: 2}}

    \b
    `extends: base.yaml` layers a plan on another; `${VAR}` / `${VAR:-default}` read
    environment variables. Mistakes are reported as FILE:LINE:COL: path: message.
    """


@plan.command("validate", short_help="Check plans: YAML, schema, references, fields.")
@click.argument("plans", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--no-fields",
    is_flag=True,
    help="Skip checking field names and types against the plan's index template.",
)
def validate(plans: tuple[str, ...], no_fields: bool) -> None:
    """Check PLAN files: YAML syntax, schema, references and index fields.

    \b
    Every plan is loaded as a search would load it (extends merged, ${ENV} resolved)
    and its fields are checked against its index template. Prints one line per plan:

    \b
      $ ltrr plan validate query_plans/music.yaml query_plans/broken.yaml
      ok: query_plans/music.yaml (5 arms, 5 slots, policy all)
      query_plans/broken.yaml:14:7: strategies.lexical.fields.title: boost must be > 0 (got -1)

    Exits 0 when every plan is valid, 2 when any is not (handy in CI and pre-commit).
    """
    from ..plan import load_plan
    from ..plan.checks import check_plan

    failed = False
    for path in plans:
        try:
            p = load_plan(path)
            problems = check_plan(p, fields=not no_fields)
        except LtrrError as exc:
            problems = str(exc).splitlines()
        if problems:
            failed = True
            for line in problems:
                click.echo(line, err=True)
            continue
        policy = getattr(p.retrieval, "policy", "?")
        click.echo(
            f"ok: {path} ({_count(len(p.strategies), 'arm')}, "
            f"{_count(len(p.understanding.slots), 'slot')}, policy {policy})"
        )
    if failed:
        sys.exit(2)


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
