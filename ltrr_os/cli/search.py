"""``ltrr search``: run a plan for one query (a table or JSON) or a batch to a TREC run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..errors import DataError
from .common import data_dir_option, load_plan_for_cli, parse_context


def read_queries(path: Path) -> list[tuple[str, str]]:
    """(qid, text) from TSV ``qid<TAB>query``, JSONL (``qid``/``_id`` + ``query``/``text``)
    or plain text (one query per line; qid = line number)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"{path}: cannot read queries file ({exc.strerror})") from None
    out: list[tuple[str, str]] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                obj = json.loads(line)
                qid = str(obj.get("qid", obj.get("_id", obj.get("id", n))))
                text = obj.get("query", obj.get("text"))
            except (json.JSONDecodeError, AttributeError):
                raise DataError(f"{path}:{n}: invalid JSON line") from None
            if not isinstance(text, str):
                raise DataError(f"{path}:{n}: needs a 'query' or 'text' string")
            out.append((qid, text))
        elif "\t" in line:
            qid, _, text = line.partition("\t")
            out.append((qid.strip(), text))
        else:
            out.append((str(n), line))
    if not out:
        raise DataError(f"{path}: no queries")
    return out


def _hit_row(hit: Any, fields: list[str]) -> list[str]:
    src = hit.source or {}
    vals = []
    for f in fields:
        v = src.get(f, "")
        vals.append(", ".join(map(str, v)) if isinstance(v, list) else str(v))
    arms = " ".join(f"{a}#{h.rank}" for a, h in sorted(hit.arms.items(), key=lambda x: x[1].rank))
    return [*vals, arms, f"{hit.score:.4f}"]


def print_result(result: Any, fields: list[str], console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title=f"{result.query!r}  ({result.trace.timings_ms.get('total', 0):.1f} ms)")
    table.add_column("#", justify="right")
    table.add_column("id")
    for f in fields:
        table.add_column(f)
    table.add_column("arms (rank)")
    table.add_column("score", justify="right")
    for i, hit in enumerate(result.hits, start=1):
        table.add_row(str(i), hit.id, *_hit_row(hit, fields))
    console.print(table)
    arms = ", ".join(
        f"{a.name}: {a.status}" + (f" ({a.reason})" if a.reason else f" {a.hits} hits")
        for a in result.trace.arms
    )
    console.print(f"[dim]slots: {_slots(result)} | arms: {arms}[/dim]")
    if result.trace.note:
        console.print(f"[yellow]{result.trace.note}[/yellow]")


def _slots(result: Any) -> str:
    slots = result.trace.understanding.get("slots", [])
    return ", ".join(f"{s['slot']}={s['value']!r}" for s in slots) or "none"


@click.command()
@click.argument("plan", type=click.Path(dir_okay=False))
@click.argument("query", required=False)
@click.option(
    "--context", "-c", "context", multiple=True, help="Context as key=value (repeatable)."
)
@click.option("--size", "-n", type=click.IntRange(1, 1000), default=None, help="Hits to return.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the full result (hits + trace) as JSON."
)
@click.option(
    "--queries", type=click.Path(dir_okay=False, path_type=Path), help="Batch: a file of queries."
)
@click.option(
    "--run",
    "run_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Batch: write a TREC run file.",
)
@click.option(
    "--run-name", default=None, help="Run tag in the TREC file (default: plan file stem)."
)
@click.option("--log", "log_searches", is_flag=True,
              help="Append each search's decision to <data-dir>/logs/<plan>/searches.jsonl "
                   "(for ltrr feedback ingest).")  # fmt: skip
@data_dir_option
def search(
    plan: str, query: str | None, context: tuple[str, ...], size: int | None, as_json: bool,
    queries: Path | None, run_path: Path | None, run_name: str | None, log_searches: bool,
    data_dir: str | None,
) -> None:  # fmt: skip
    """Search with a query plan.

    \b
    One query, as a table:
      ltrr search query_plans/music.yaml "tayler swift love story"
      ltrr search query_plans/music.yaml "80s rock" --context device=mobile --json
    A batch to a TREC run file (TSV qid<TAB>query, JSONL, or one query per line):
      ltrr search query_plans/products.yaml --queries queries.tsv --run bm25.trec
    """
    from ..search import Searcher

    if (query is None) == (queries is None):
        raise click.UsageError("give either a QUERY or --queries FILE")
    if queries is not None and run_path is None:
        raise click.UsageError("--queries needs --run OUT.trec")
    p = load_plan_for_cli(plan, data_dir)
    search_log = None
    if log_searches:
        from ..feedback.offline import log_dir

        search_log = log_dir(p, Path(data_dir) if data_dir else None) / "searches.jsonl"
    searcher = Searcher(p, search_log=search_log)
    ctx = parse_context(context)
    if query is not None:
        result = searcher.search(query, ctx, size)
        if as_json:
            click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False, default=str))
        else:
            fields = [f for f in p.index.fields if f != p.index.id_field][:4]
            print_result(result, fields)
        return
    from rich.progress import Progress

    assert queries is not None and run_path is not None
    items = read_queries(queries)
    tag = run_name or Path(plan).stem
    tmp = run_path.with_name(f".{run_path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as out, Progress(transient=True) as bar:
        task = bar.add_task("searching", total=len(items))
        for qid, text in items:
            result = searcher.search(text, ctx, size or 100)
            for rank, hit in enumerate(result.hits, start=1):
                out.write(f"{qid} Q0 {hit.id} {rank} {hit.score:.6f} {tag}\n")
            bar.advance(task)
    tmp.replace(run_path)
    click.echo(f"wrote {run_path} ({len(items)} queries)", err=True)
