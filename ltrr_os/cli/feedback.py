"""``ltrr feedback``: engagement events in, bandit updates out."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import ConfigError, DataError
from .common import data_dir_option, load_plan_for_cli


@click.group()
def feedback() -> None:
    """Feed user engagement back to a plan's retrieval bandit.

    Searches are logged by a Searcher created with `search_log=...` (or `ltrr search
    --log`) to <data-dir>/logs/<plan>/searches.jsonl. Events are JSONL, one per line:

    \b
      {"event_id": "e1", "search_id": "...", "type": "click", "item_id": "t042",
       "rank": 3, "ts": "2026-11-24T10:15:00Z"}

    type: impression | click | play | purchase (docs/feedback.md).
    """


@feedback.command()
@click.argument("events", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--plan", "plan_path", required=True, type=click.Path(dir_okay=False),
              help="The plan whose bandit learns.")  # fmt: skip
@click.option("--searches", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Search log (default: <data-dir>/logs/<plan>/searches.jsonl).")  # fmt: skip
@click.option("--late-after", type=float, default=7 * 24, show_default=True,
              help="Hours after its search beyond which an event is ignored as late.")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Report only; do not update the policy.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@data_dir_option
def ingest(events: Path, plan_path: str, searches: Path | None, late_after: float,
           dry_run: bool, as_json: bool, data_dir: str | None) -> None:  # fmt: skip
    """Join EVENTS to logged searches, reward the arms, save a new policy version.

    Every line is accounted for: used, impression, malformed, unknown search, duplicate
    (event id already ingested), late, or before its search. Nothing in the file can
    stop training; the report says what was skipped and why.

    \b
    Example:
      ltrr feedback ingest events.jsonl --plan query_plans/music-bandit.yaml
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from ..feedback.ingest import OUTCOMES
    from ..feedback.ingest import ingest as run_ingest
    from ..feedback.log import EventLog, SearchLog
    from ..feedback.offline import PlanBandit, log_dir

    if not events.is_file():
        raise DataError(f"{events}: no such events file")
    if late_after <= 0:
        raise ConfigError("--late-after must be positive (hours)")
    plan = load_plan_for_cli(plan_path, data_dir)
    ddir = Path(data_dir) if data_dir else None
    bandit = PlanBandit.open(plan, ddir)
    logs = log_dir(plan, ddir)
    search_path = searches or logs / "searches.jsonl"
    if not search_path.is_file():
        raise DataError(f"{search_path}: no search log (log searches with ltrr search --log)")
    records = SearchLog(search_path).records()
    saved = None
    # one learner at a time: load the current version, learn, publish on top of it
    with bandit.store.learner():
        bandit.reload()
        report = run_ingest(events, records, reward=bandit.config.reward,
                            event_log=EventLog(logs / "events.jsonl"),
                            late_after_s=late_after * 3600, policy=bandit.policy,
                            dry_run=dry_run)  # fmt: skip
        if not dry_run and report.arm_updates:
            saved = bandit.save()
    if as_json:
        click.echo(json.dumps({**report.to_dict(), "saved": saved, "dry_run": dry_run}))
        return
    console = Console(highlight=False)
    console.print(f"{events}: {report.lines} lines in {report.seconds:.2f} s")
    table = Table()
    table.add_column("outcome")
    table.add_column("events", justify="right")
    for key in OUTCOMES:
        table.add_row(key.replace("_", " "), str(getattr(report, key)))
    console.print(table)
    for why in report.problem_lines()[:10]:
        console.print(f"[yellow]{escape(why)}[/yellow]", highlight=False)
    console.print(f"{report.searches_rewarded} searches rewarded, {report.arm_updates} arm "
                  f"updates, mean reward {report.mean_reward:.3f}")  # fmt: skip
    if saved:
        console.print(f"saved policy {saved} in {bandit.store.dir}")
    elif dry_run:
        console.print("dry run: policy not updated")
