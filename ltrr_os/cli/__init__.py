"""The ``ltrr`` command line: one click group per noun.

Sub-groups are imported lazily so ``ltrr index list`` does not pay for spaCy or xgboost.
User mistakes (:class:`~ltrr_os.errors.LtrrError`) print one line and exit non-zero.
"""

from __future__ import annotations

import importlib
import sys

import click

from ..errors import LtrrError

#: command name -> "module:attribute" (a click command or group)
COMMANDS: dict[str, str] = {
    "index": "ltrr_os.cli.index:index",
    "plan": "ltrr_os.cli.plan:plan",
    "search": "ltrr_os.cli.search:search",
    "demo": "ltrr_os.cli.demo:demo",
    "eval": "ltrr_os.cli.eval:eval_",
    "feedback": "ltrr_os.cli.feedback:feedback",
    "bandit": "ltrr_os.cli.bandit:bandit",
    "simulate": "ltrr_os.cli.simulate:simulate",
    "doctor": "ltrr_os.cli.doctor:doctor",
    "ltr": "ltrr_os.cli.ltr:ltr",
    "memory": "ltrr_os.cli.memory:memory",
}


class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:  # a sub-command whose module is not built yet
            if exc.name == module:
                return None
            raise


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ltrr-os")
def cli() -> None:
    """ltrr: learning to rank and retrieve on OpenSearch.

    \b
    Typical session:
      ltrr index create music --template music       # an empty versioned index + alias
      ltrr index load music tracks.csv --id-field track_id
      ltrr plan validate query_plans/music.yaml
      ltrr search query_plans/music.yaml "tayler swift love story"

    Every command works on the embedded engine (default, data in $LTRR_DATA_DIR or
    ~/.ltrr) or on OpenSearch (--engine opensearch, $OPENSEARCH_URL).
    """


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors become one line on stderr and an exit code."""
    try:
        cli.main(args=argv, prog_name="ltrr", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except LtrrError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
