"""``ltrr plan explain``: what a query turns into, exactly as it would be sent."""

from __future__ import annotations

import json

import click

from .common import data_dir_option, load_plan_for_cli, parse_context


@click.command()
@click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False))
@click.argument("query")
@click.option(
    "--context", "-c", "context", multiple=True, help="Context as key=value (repeatable)."
)
@click.option(
    "--ndjson", is_flag=True, help="Print the _msearch payload (NDJSON) and nothing else."
)
@data_dir_option
def explain(
    plan_path: str, query: str, context: tuple[str, ...], ndjson: bool, data_dir: str | None
) -> None:
    """Show the understanding of QUERY and each arm's DSL body, without searching.

    \b
      ltrr plan explain query_plans/music.yaml "tayler swift love story"
      ltrr plan explain query_plans/music.yaml "80s rock" --ndjson > msearch.ndjson
    The NDJSON form can be sent as is: curl -XPOST $OPENSEARCH_URL/_msearch \\
      -H 'Content-Type: application/x-ndjson' --data-binary @msearch.ndjson
    """
    from ..search import Searcher

    plan = load_plan_for_cli(plan_path, data_dir)
    searcher = Searcher(plan)
    ctx = parse_context(context)
    understanding, arms = searcher.compile(query, ctx)
    if ndjson:
        for arm in arms:
            if arm.body is not None:
                click.echo(json.dumps({"index": plan.index.alias}))
                click.echo(json.dumps(arm.body, ensure_ascii=False))
        return
    out = {
        "query": query,
        "understanding": understanding.to_dict(),
        "arms": [
            {
                "name": a.name,
                "type": a.type,
                "status": a.status,
                "reason": a.reason or None,
                "body": a.body,
            }
            for a in arms
        ],
    }
    if searcher.policy is not None:
        x = searcher.featurizer.transform(understanding, ctx)
        runnable = [a.name for a in arms if a.body is not None]
        out["policy"] = {
            "learner": searcher.policy.config.learner,
            "version": searcher.policy_version,
            "features": dict(zip(searcher.featurizer.names, x.tolist(), strict=True)),
            "expectations": searcher.policy.expectations(x, runnable),
        }
    click.echo(json.dumps(out, indent=2, ensure_ascii=False))
