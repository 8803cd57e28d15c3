"""``ltrr index``: create, load, reindex, list and drop versioned indices behind aliases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError, DataError

_engine_opts = [
    click.option("--plan", "plan_path", type=click.Path(dir_okay=False), default=None,
                 help="Take engine, alias and template from a query plan."),
    click.option("--engine", "engine_kind", type=click.Choice(["embedded", "opensearch"]),
                 default=None, help="Engine (default: the plan's, else embedded)."),
    click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                 help="Embedded data dir (default $LTRR_DATA_DIR or ~/.ltrr)."),
]  # fmt: skip


def engine_options(f: Any) -> Any:
    for opt in reversed(_engine_opts):
        f = opt(f)
    return f


def _open(plan_path: str | None, engine_kind: str | None, data_dir: str | None):
    """(engine, plan or None, data dir) from the options."""
    from ..engines.factory import open_engine
    from ..engines.settings import EngineSettings
    from .common import load_plan_for_cli

    plan = load_plan_for_cli(plan_path, data_dir) if plan_path else None
    settings = plan.engine if plan else EngineSettings()
    if engine_kind:
        settings = settings.model_copy(update={"kind": engine_kind})
    if data_dir:
        settings = settings.model_copy(update={"data_dir": Path(data_dir)})
    return open_engine(settings), plan, settings.resolved_data_dir()


def _alias_template(alias: str | None, template: str | None, plan: Any) -> tuple[str, str]:
    alias = alias or (plan.index.alias if plan else None)
    template = template or (plan.index.template if plan else None)
    if not alias:
        raise click.UsageError("give an ALIAS (or --plan)")
    return alias, template or alias


@click.group()
def index() -> None:
    """Versioned indices behind aliases, on the embedded engine or OpenSearch.

    Every load builds a new version (ALIAS-vTIMESTAMP), checks it (document count, a
    smoke query) and only then moves the alias, atomically. A failure leaves the alias
    on the previous version; nothing half-built is ever searched.

    \b
      ltrr index sample tracks.csv                    # write the built-in sample catalog
      ltrr index load music tracks.csv                # build + swap (creates the alias)
      ltrr index load music songs.csv --map track_name=title --map junk=
      ltrr index list
      ltrr index drop music --yes
    """


@index.command()
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tracks", default=3000, show_default=True)
@click.option("--seed", default=0, show_default=True)
def sample(out: Path, tracks: int, seed: int) -> None:
    """Write the generated sample music catalog to OUT (.csv or .jsonl)."""
    from ..datasets import generate_music_catalog, write_csv, write_jsonl

    docs = generate_music_catalog(n_tracks=tracks, seed=seed)
    if out.suffix.lower() == ".csv":
        write_csv(docs, out)
    elif out.suffix.lower() in (".jsonl", ".ndjson"):
        write_jsonl(docs, out)
    else:
        raise ConfigError(f"{out}: use a .csv or .jsonl file name")
    click.echo(f"wrote {len(docs)} tracks to {out}")


@index.command()
@click.argument("alias", required=False)
@click.option("--template", default=None, help="Bundled template name or JSON path.")
@engine_options
def create(alias: str | None, template: str | None, plan_path: str | None,
           engine_kind: str | None, data_dir: str | None) -> None:  # fmt: skip
    """Create an empty index version for ALIAS and point the alias at it."""
    from ..indexing.pipeline import version_name
    from ..templates import load_template

    engine, plan, _ = _open(plan_path, engine_kind, data_dir)
    alias, template = _alias_template(alias, template, plan)
    if engine.get_alias(alias):
        raise ConfigError(f"alias {alias!r} exists; use ltrr index load to build a new version")
    name = version_name(alias)
    engine.create_index(name, load_template(template))
    engine.refresh(name)
    engine.swap_alias(alias, name)
    click.echo(f"created {name}; {alias} -> {name}")


@index.command()
@click.argument("alias")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl", "spotify"]),
    default=None,
    help="File format (default: from the extension; the Spotify CSV is recognised).",
)
@click.option("--id-field", default=None, help="Field holding the document id.")
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="COLUMN=FIELD",
    help="Rename a column (COLUMN= drops it). Repeatable.",
)
@click.option(
    "--list-field",
    "list_fields",
    multiple=True,
    help="CSV column holding a '|'-separated list (e.g. genre). Repeatable.",
)
@click.option("--ignore-unknown", is_flag=True, help="Drop columns the template lacks.")
@click.option(
    "--allow-errors",
    is_flag=True,
    help="Swap even when rows were rejected (the exit code still says so).",
)
@click.option("--keep", default=2, show_default=True, help="Versions to keep.")
@click.option("--smoke", default=None, help="A query that must find something (default: any).")
@click.option("--template", default=None, help="Template (default: the plan's, else ALIAS).")
@click.option("--no-vectors", is_flag=True, help="Skip the encoder (no k-NN field).")
@engine_options
def load(alias: str, file: Path, fmt: str | None, id_field: str | None, maps: tuple[str, ...],
         list_fields: tuple[str, ...], ignore_unknown: bool, allow_errors: bool, keep: int,
         smoke: str | None, template: str | None, no_vectors: bool, plan_path: str | None,
         engine_kind: str | None, data_dir: str | None) -> None:  # fmt: skip
    """Build a new version of ALIAS from FILE (CSV or JSONL) and swap the alias onto it.

    Rows are checked against the template (types, unknown fields, ids); every rejected
    row is reported with FILE:LINE and field, and the exit code is 3. Without
    --allow-errors a single rejected row keeps the alias where it was.
    """
    _load(alias, file, fmt, id_field, maps, list_fields, ignore_unknown, allow_errors, keep,
          smoke, template, no_vectors, plan_path, engine_kind, data_dir)  # fmt: skip


@index.command()
@click.option("--alias", required=True)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "spotify"]), default=None)
@click.option("--id-field", default=None)
@click.option("--map", "maps", multiple=True, metavar="COLUMN=FIELD")
@click.option("--list-field", "list_fields", multiple=True)
@click.option("--ignore-unknown", is_flag=True)
@click.option("--allow-errors", is_flag=True)
@click.option("--keep", default=2, show_default=True)
@click.option("--smoke", default=None)
@click.option("--template", default=None)
@click.option("--no-vectors", is_flag=True)
@engine_options
def reindex(alias: str, file: Path, fmt: str | None, id_field: str | None,
            maps: tuple[str, ...], list_fields: tuple[str, ...], ignore_unknown: bool,
            allow_errors: bool, keep: int, smoke: str | None, template: str | None,
            no_vectors: bool, plan_path: str | None, engine_kind: str | None,
            data_dir: str | None) -> None:  # fmt: skip
    """Rebuild --alias from FILE as a new version (same checks as load), keep N."""
    if not file.is_file():
        raise DataError(f"{file}: no such file")
    _load(alias, file, fmt, id_field, maps, list_fields, ignore_unknown, allow_errors, keep,
          smoke, template, no_vectors, plan_path, engine_kind, data_dir)  # fmt: skip


def _load(alias: str, file: Path, fmt: str | None, id_field: str | None,
          maps: tuple[str, ...], list_fields: tuple[str, ...], ignore_unknown: bool,
          allow_errors: bool, keep: int, smoke: str | None, template: str | None,
          no_vectors: bool, plan_path: str | None, engine_kind: str | None,
          data_dir: str | None) -> None:  # fmt: skip
    from rich.console import Console

    from ..indexing.pipeline import build_index
    from ..indexing.readers import ReadReport, field_types, parse_mapping, read_documents
    from ..templates import load_template

    console = Console(stderr=True)
    engine, plan, ddir = _open(plan_path, engine_kind, data_dir)
    alias, template = _alias_template(alias, template, plan)
    tmpl = load_template(template)
    read = ReadReport()
    docs = list(read_documents(file, template=tmpl, fmt=fmt, mapping=parse_mapping(maps),
                               ignore_unknown=ignore_unknown, report=read,
                               list_fields=list_fields))  # fmt: skip
    _print_rejected(console, read.rejected, read.n_rejected, "rows")
    if read.n_rejected and not allow_errors:
        raise DataError(f"{read.n_rejected} of {read.rows} rows rejected; the alias {alias!r} "
                        "was not changed (fix the file, or --allow-errors)")  # fmt: skip
    text_fields = [f for f, kind in field_types(tmpl).items() if kind == "text"]
    query = (
        {"query": {"multi_match": {"query": smoke, "fields": text_fields}}, "size": 1}
        if smoke
        else {"query": {"match_all": {}}, "size": 1}
    )
    report = build_index(engine, alias, docs, template=tmpl, id_field=id_field, data_dir=ddir,
                         encoder="none" if no_vectors else "template", keep=keep,
                         smoke_query=query, progress=True, allow_errors=allow_errors)  # fmt: skip
    _print_rejected(console, report.rejected, report.n_rejected, "documents")
    click.echo(
        f"{alias} -> {report.index}: {report.loaded:,} docs in {report.seconds:.1f} s "
        f"({report.docs_per_s:,.0f} docs/s)"
        + (f"; previous {', '.join(report.previous)}" if report.previous else "")
        + (f"; pruned {', '.join(report.pruned)}" if report.pruned else "")
    )
    if read.n_rejected or report.n_rejected:
        raise DataError(f"{read.n_rejected + report.n_rejected} rows were rejected "
                        "(indexed without them because of --allow-errors)")  # fmt: skip


def _print_rejected(console: Any, rows: list, n: int, what: str) -> None:
    if not n:
        return
    console.print(f"[yellow]{n} {what} rejected[/yellow]" + (", first ones:" if n > 1 else ":"))
    for where, fld, why in rows[:20]:
        console.print(f"  {where}" + (f" field {fld!r}" if fld else "") + f": {why}")


@index.command(name="list")
@engine_options
def list_(plan_path: str | None, engine_kind: str | None, data_dir: str | None) -> None:
    """Indices with their document counts and aliases (* = live)."""
    from rich.console import Console
    from rich.table import Table

    engine, _, _ = _open(plan_path, engine_kind, data_dir)
    table = Table()
    for col in ("index", "docs", "aliases"):
        table.add_column(col, justify="right" if col == "docs" else "left")
    for info in sorted(engine.list_indices(), key=lambda i: i.name):
        live = "* " if info.aliases else "  "
        table.add_row(live + info.name, f"{info.docs:,}", ", ".join(info.aliases))
    Console().print(table)


@index.command()
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask.")
@engine_options
def drop(name: str, yes: bool, plan_path: str | None, engine_kind: str | None,
         data_dir: str | None) -> None:  # fmt: skip
    """Delete NAME: an alias (with every version of it) or one index version."""
    import shutil

    from ..indexing.pipeline import encoder_dir, versions_of

    engine, _, ddir = _open(plan_path, engine_kind, data_dir)
    targets = versions_of(engine, name) if engine.get_alias(name) else []
    if not targets:
        if not any(i.name == name for i in engine.list_indices()):
            raise ConfigError(f"no alias or index named {name!r} (see ltrr index list)")
        if any(name in engine.get_alias(a) for a in {a for i in engine.list_indices()
                                                     for a in i.aliases}):  # fmt: skip
            raise ConfigError(f"{name} is live behind an alias; drop the alias instead")
        targets = [name]
    if not yes:
        click.confirm(f"delete {', '.join(targets)}?", abort=True)
    for t in targets:
        engine.delete_index(t)
        shutil.rmtree(encoder_dir(ddir, t), ignore_errors=True)
    if hasattr(engine, "remove_alias"):
        engine.remove_alias(name)
    click.echo(f"deleted {', '.join(targets)}")
