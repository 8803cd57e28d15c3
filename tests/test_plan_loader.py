"""Loading query plans: positions, extends, ${ENV}, one-line errors, field checks, CLI.

Every file in ``tests/fixtures/plans/broken/`` holds one mistake and names what the error
must say on its first line::

    # expect: [FILE:]LINE KEY; phrase; phrase...         load_plan must fail like this
    # expect-fields: LINE KEY; phrase; phrase...         loads, but the field check fails

The message must contain ``FILE:LINE:`` (FILE defaults to the fixture itself), the key
and every phrase.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ltrr_os.cli import cli, main
from ltrr_os.errors import ConfigError
from ltrr_os.plan import Plan, PlanError, load_plan, load_plan_with_positions, plan_source
from ltrr_os.plan.checks import check_fields, check_template
from ltrr_os.plan.loader import MAX_PROBLEMS

FIXTURES = Path(__file__).parent / "fixtures" / "plans"
BROKEN = FIXTURES / "broken"
REPO = Path(__file__).resolve().parents[1]

# the flat field map of the bundled music template (used when ltrr_os.templates is absent)
MUSIC_FIELDS = {
    "track_id": "keyword", "title": "text", "title.keyword": "keyword", "artist": "text",
    "artist.keyword": "keyword", "album": "text", "album.keyword": "keyword",
    "album_id": "keyword", "release_date": "date", "year": "integer", "decade": "integer",
    "genre": "keyword", "subgenre": "keyword", "popularity": "float", "danceability": "float",
    "embedding": "knn_vector", "memory": "rank_features",
}  # fmt: skip

try:
    from ltrr_os import templates as _templates
except ModuleNotFoundError:  # pragma: no cover - until ltrr_os.templates exists
    _templates = None


def field_problems(plan: Plan) -> list[str]:
    if _templates is not None:
        return check_template(plan)
    return check_fields(plan, MUSIC_FIELDS)  # pragma: no cover


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path | str, env: dict[str, str] | None = None) -> PlanError:
    with pytest.raises(PlanError) as info:
        load_plan(path, env=env if env is not None else {})
    return info.value


MINIMAL = """\
index:
  alias: music
  template: music
  id_field: track_id
strategies:
  lexical:
    type: lexical
    fields: {title: 3, artist: 2}
"""


# -- the broken-fixture table ----------------------------------------------------------
def _expectations() -> list[tuple[str, bool, str, int, str, list[str]]]:
    out = []
    for f in sorted(BROKEN.glob("*.yaml")):
        first = f.read_text(encoding="utf-8").splitlines()[0]
        m = re.match(r"# (expect|expect-fields): (?:([\w.]+):)?(\d+) (.*)$", first)
        assert m, f"{f.name}: first line must be '# expect: LINE KEY; phrase...'"
        key, *phrases = [p.strip() for p in m.group(4).split(";")]
        out.append(
            (f.name, m.group(1) == "expect-fields", m.group(2) or f.name, int(m.group(3)), key,
             phrases)
        )  # fmt: skip
    return out


EXPECTATIONS = _expectations()


def test_there_are_enough_broken_fixtures():
    assert len(EXPECTATIONS) >= 18


@pytest.mark.parametrize(
    "name, fields_check, file, line, key, phrases", EXPECTATIONS, ids=[e[0] for e in EXPECTATIONS]
)
def test_broken_fixture(name, fields_check, file, line, key, phrases, monkeypatch):
    monkeypatch.delenv("LTRR_FIXTURE_UNSET_ALIAS", raising=False)
    path = BROKEN / name
    if fields_check:
        plan = load_plan(path)  # the schema is fine ...
        problems = field_problems(plan)  # ... the index does not have what it names
        assert len(problems) == 1, problems
        message = problems[0]
    else:
        err = load_error(path, env=dict(os.environ))
        assert len(err.problems) == 1, str(err)  # one mistake, one problem
        assert isinstance(err, ConfigError)
        message = str(err)
        assert "\n" not in message
    where = str(path.parent / file)
    assert f"{where}:{line}:" in message, message
    assert key in message
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in {message!r}"


# -- valid plans -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        FIXTURES / "base.yaml",
        FIXTURES / "overlay.yaml",
        *sorted((REPO / "query_plans").glob("*.yaml")),
    ],
    ids=lambda p: p.name,
)
def test_valid_plans_load_and_match_their_template(path):
    plan = load_plan(path, env={})
    assert isinstance(plan, Plan)
    assert field_problems(plan) == []


def test_positions_of_keys_and_values(tmp_path):
    path = write(tmp_path / "p.yaml", MINIMAL)
    plan, src = load_plan_with_positions(path)
    assert plan_source(plan) is src
    f = str(path)
    loc = src.loc(("strategies", "lexical", "fields", "artist"))
    assert (loc.key.file, loc.key.line, loc.key.col) == (f, 8, 24)
    assert (loc.value.line, loc.value.col) == (8, 32)
    assert src.where(("index", "id_field")) == f"{f}:4:3: index.id_field"
    # a path the file does not spell (a default) falls back to its nearest ancestor
    assert src.pos(("strategies", "lexical", "tie_breaker")).line == 6
    # positions survive model_copy (the CLI copies plans to apply --data-dir)
    assert plan_source(plan.model_copy(update={"name": "x"})) is src
    assert plan == Plan.model_validate(plan.model_dump())  # == ignores the positions


# -- extends ---------------------------------------------------------------------------
def test_overlay_merges_mappings_and_replaces_lists_and_scalars():
    base = load_plan(FIXTURES / "base.yaml", env={})
    plan, src = load_plan_with_positions(FIXTURES / "overlay.yaml", env={})
    assert plan.name == "music-prod"  # scalar replaced
    assert plan.index.fields == ["track_id", "title"]  # list replaced, not appended
    assert plan.index.id_field == base.index.id_field == "track_id"  # kept from base
    lexical = plan.strategies["lexical"]
    assert lexical.fields == {"title": 5.0, "artist": 2.0}  # mapping merged key by key
    assert lexical.tie_breaker == 0.3 and lexical.fuzziness == "AUTO"
    assert plan.engine.kind == "opensearch"
    assert plan.engine.opensearch.hosts == ["http://localhost:9200"]
    assert plan.retrieval.policy == "fixed"
    assert plan.active_arms() == ["lexical", "structured"]
    # each position comes from the file that supplied the value
    assert src.files == [str(FIXTURES / "overlay.yaml"), str(FIXTURES / "base.yaml")]
    assert src.pos(("strategies", "lexical", "fields", "artist")).file.endswith("base.yaml")
    assert src.pos(("strategies", "lexical", "fields", "title")).file.endswith("overlay.yaml")
    assert src.pos(("index", "fields", 1)).file.endswith("overlay.yaml")
    assert src.pos(("index", "template")).file.endswith("base.yaml")


def test_extends_chain_and_null_and_type_change(tmp_path):
    write(tmp_path / "a.yaml", MINIMAL + "    popularity: {field: popularity}\nname: a\n")
    write(tmp_path / "sub" / "b.yaml", "extends: ../a.yaml\nname: b\noutput: {size: 20}\n")
    c = write(
        tmp_path / "sub" / "c.yaml",
        "extends: b.yaml\nstrategies:\n  lexical:\n    popularity: null\n",
    )
    plan = load_plan(c, env={})
    assert plan.name == "b" and plan.output.size == 20
    assert plan.strategies["lexical"].popularity is None  # null replaces a mapping


def test_error_in_parent_names_the_parent_file(tmp_path):
    write(tmp_path / "base.yaml", MINIMAL.replace("title: 3", "title: 0"))
    child = write(tmp_path / "child.yaml", "extends: base.yaml\nname: child\n")
    err = load_error(child)
    assert str(err).startswith(f"{tmp_path / 'base.yaml'}:8:14: strategies.lexical.fields.title")


def test_overlay_fixes_what_the_parent_got_wrong(tmp_path):
    write(tmp_path / "base.yaml", MINIMAL.replace("title: 3", "title: 0"))
    child = write(
        tmp_path / "child.yaml",
        "extends: base.yaml\nstrategies:\n  lexical:\n    fields: {title: 1}\n",
    )
    assert load_plan(child, env={}).strategies["lexical"].fields["title"] == 1.0


def test_self_extends_is_a_cycle(tmp_path):
    p = write(tmp_path / "self.yaml", "name: x\nextends: self.yaml\n")
    assert str(load_error(p)) == f"{p}:2:1: extends: cycle: self.yaml -> self.yaml"


def test_extends_must_be_a_file_name(tmp_path):
    p = write(tmp_path / "p.yaml", "extends: [a.yaml]\n")
    assert str(load_error(p)).startswith(f"{p}:1:1: extends: extends must name a plan file")


# -- ${ENV} interpolation --------------------------------------------------------------
ENV_PLAN = MINIMAL.replace("alias: music", 'alias: "${ALIAS}"') + (
    "output:\n  size: ${SIZE:-7}\n"
    "name: pre-${ALIAS}-post $${NOT_A_VAR} $$ plain $\n"
    "understanding:\n  slots:\n    genre:\n      field: genre\n"
    "      synonyms: {'${KEY}': rap}\n"
)


def test_env_set_default_escape_and_keys_untouched(tmp_path):
    p = write(tmp_path / "p.yaml", ENV_PLAN)
    plan, src = load_plan_with_positions(p, env={"ALIAS": "songs", "KEY": "nope"})
    assert plan.index.alias == "songs"
    assert plan.output.size == 7  # default, then coerced to int by the schema
    assert plan.name == "pre-songs-post ${NOT_A_VAR} $$ plain $"  # $${ is a literal ${
    assert plan.understanding.slots["genre"].synonyms == {"${KEY}": "rap"}  # keys untouched
    assert src.raw[("index", "alias")] == "${ALIAS}"


def test_env_default_applies_to_empty_and_value_wins(tmp_path):
    p = write(tmp_path / "p.yaml", ENV_PLAN)
    assert load_plan(p, env={"ALIAS": "a", "SIZE": ""}).output.size == 7
    assert load_plan(p, env={"ALIAS": "a", "SIZE": "12"}).output.size == 12


def test_env_unset_is_an_error_at_its_line(tmp_path):
    p = write(tmp_path / "p.yaml", ENV_PLAN)
    err = load_error(p, env={})
    # both references to the unset ALIAS are reported, in file order
    assert err.lines[0].startswith(f"{p}:2:10: index.alias: environment variable ALIAS is not set")
    assert err.lines[1].startswith(f"{p}:11:7: name: environment variable ALIAS is not set")


@pytest.mark.parametrize(
    "value, message",
    [("${1X}", "malformed reference '${1X}'"), ("${X", "unclosed '${'"), ("${}", "malformed")],
)
def test_env_malformed_references(tmp_path, value, message):
    p = write(tmp_path / "p.yaml", MINIMAL + f"name: '{value}'\n")
    assert message in str(load_error(p, env={"X": "1"}))


SECRET = "Hunter2-Sup3rSecret"


def test_secret_is_never_echoed(tmp_path):
    # a pattern error on an interpolated value shows the ${VAR} form
    p = write(tmp_path / "p.yaml", MINIMAL.replace("alias: music", "alias: ${SECRET}"))
    msg = str(load_error(p, env={"SECRET": SECRET}))
    assert SECRET not in msg
    assert msg == f"{p}:2:3: index.alias: " + (
        "must be lowercase (OpenSearch names are): a-z, 0-9, '_' or '-', "
        "starting with a letter or digit (got '${SECRET}')"
    )
    # a model validator quoting the value is redacted too
    q = write(
        tmp_path / "q.yaml",
        MINIMAL + "retrieval:\n  policy: fixed\n  arms: [lexical, 'x-${SECRET}']\n",
    )
    msg = str(load_error(q, env={"SECRET": SECRET}))
    assert SECRET not in msg and "'x-${SECRET}'" in msg
    assert msg.startswith(f"{q}:11:19: retrieval.arms[1]: unknown arm")
    # a wrong discriminator, too
    r = write(tmp_path / "r.yaml", MINIMAL.replace("type: lexical", "type: ${SECRET}"))
    msg = str(load_error(r, env={"SECRET": SECRET}))
    assert SECRET not in msg and "unknown type '${SECRET}'" in msg


# -- YAML-level errors ---------------------------------------------------------------
def test_zero_byte_file_is_empty(tmp_path):
    p = write(tmp_path / "empty.yaml", "")
    assert str(load_error(p)) == f"{p}:1:1: the plan is empty (expected index:, strategies:, ...)"


def test_unreadable_files(tmp_path):
    missing = tmp_path / "nope.yaml"
    assert str(load_error(missing)) == f"{missing}: cannot read plan: No such file or directory"
    assert str(load_error(tmp_path)) == f"{tmp_path}: cannot read plan: is a directory"
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: caf\xe9\n")
    assert "not UTF-8 text" in str(load_error(latin))


def test_scalar_top_level(tmp_path):
    p = write(tmp_path / "p.yaml", "just a string\n")
    assert str(load_error(p)).endswith("not a string")


def test_duplicate_key_in_flow_mapping(tmp_path):
    p = write(tmp_path / "p.yaml", MINIMAL.replace("artist: 2", "title: 2"))
    assert str(load_error(p)) == (
        f"{p}:8:24: strategies.lexical.fields.title: duplicate key 'title' (first defined at line 8)"
    )


def test_keys_are_strings_and_anchors_merge(tmp_path):
    p = write(
        tmp_path / "p.yaml",
        MINIMAL
        + "    popularity: &pop {field: popularity, factor: 2}\n"
        + "  fuzzy:\n    <<: *lex\n    fuzziness: 1\n    minimum_should_match: 2\n"
        + "understanding:\n  slots:\n    genre:\n      field: genre\n"
        + "      synonyms: {on: air, 1980: eighties}\n",
    )
    text = p.read_text().replace("  lexical:\n", "  lexical: &lex\n")
    p.write_text(text)
    plan, src = load_plan_with_positions(p, env={})
    fuzzy = plan.strategies["fuzzy"]
    assert fuzzy.fields == plan.strategies["lexical"].fields
    assert fuzzy.popularity.factor == 2.0
    # YAML ints for string options are accepted (fuzziness: 1, minimum_should_match: 2)
    assert (fuzzy.fuzziness, fuzzy.minimum_should_match) == ("1", "2")
    # YAML 1.1 would make `on` a boolean and 1980 an int; keys stay as written
    assert plan.understanding.slots["genre"].synonyms == {"on": "air", "1980": "eighties"}
    # merged keys point at the anchor's definition
    assert src.pos(("strategies", "fuzzy", "fields")).line == 8


def test_recursive_alias_is_an_error(tmp_path):
    p = write(tmp_path / "p.yaml", "a: &x [1, *x]\n")
    assert "an alias refers to a node that contains it" in str(load_error(p))


# -- pydantic errors -> lines ----------------------------------------------------------
def test_problems_are_sorted_by_position_and_capped(tmp_path):
    bad = MINIMAL.replace("title: 3, artist: 2", "title: -1, artist: 0") + (
        "output:\n  size: 0\n  max_query_chars: 0\n  bogus: 1\n  other: 2\n  more: 3\n"
    )
    p = write(tmp_path / "p.yaml", bad.replace("id_field: track_id", "id_field: 7"))
    err = load_error(p)
    assert len(err.problems) == 8
    lines = err.lines
    assert len(lines) == MAX_PROBLEMS + 1 and lines[-1] == "(3 more problems not shown)"
    assert lines[0] == f"{p}:4:3: index.id_field: must be a string (got a number 7); quote it"
    assert lines[1].startswith(f"{p}:8:14: strategies.lexical.fields.title: boost must be > 0")
    numbers = [tuple(map(int, re.match(r".*?:(\d+):(\d+):", x).groups())) for x in lines[:-1]]
    assert numbers == sorted(numbers)


def test_unknown_key_without_close_match_lists_allowed_keys(tmp_path):
    p = write(tmp_path / "p.yaml", MINIMAL.replace("  id_field", "  zzz: 1\n  id_field"))
    assert str(load_error(p)) == (
        f"{p}:4:3: index.zzz: unknown key 'zzz'; allowed: alias, template, id_field, fields, "
        "popularity_field"
    )


def test_strategy_that_is_not_a_mapping(tmp_path):
    p = write(tmp_path / "p.yaml", MINIMAL + "  other: 3\n")
    assert str(load_error(p)) == (
        f"{p}:9:3: strategies.other: must be a mapping of key: value entries (got a number)"
    )


def test_missing_top_level_section(tmp_path):
    p = write(tmp_path / "p.yaml", "# comment\nname: x\nstrategies:\n  a: {type: knn}\n")
    assert str(load_error(p)) == f"{p}:2:1: missing required key 'index'"


def test_unknown_slot_in_structured_arm_points_at_the_slot(tmp_path):
    p = write(
        tmp_path / "p.yaml",
        MINIMAL + "  s:\n    type: structured\n    slots:\n      mood: {field: genre}\n",
    )
    assert str(load_error(p)).startswith(
        f"{p}:12:7: strategies.s.slots.mood: slot 'mood' is not declared in understanding.slots"
    )


def test_bandit_budget_error_points_at_retrieval(tmp_path):
    p = write(
        tmp_path / "p.yaml",
        MINIMAL + "retrieval:\n  policy: bandit\n  budget: 10\n  min_candidates: 10\n",
    )
    assert str(load_error(p)).startswith(f"{p}:9:1: retrieval: budget 10 cannot give 2 arms")


# -- check_fields ----------------------------------------------------------------------
def test_check_fields_accepts_a_matching_mapping():
    plan = load_plan(FIXTURES / "base.yaml", env={})
    assert check_fields(plan, MUSIC_FIELDS) == []


def test_check_fields_reports_every_kind_of_problem():
    plan = load_plan(FIXTURES / "base.yaml", env={})
    fields = dict(MUSIC_FIELDS, popularity="keyword", embedding="float", year="text")
    del fields["artist.keyword"]
    problems = check_fields(plan, fields, mapping_name="index 'music_v3'")
    base = str(FIXTURES / "base.yaml")
    assert problems == [
        f"{base}:10:3: index.popularity_field: 'popularity' is a keyword field; "
        "this needs a numeric field (long, integer, float, ...)",
        f"{base}:14:14: understanding.slots.artist.field: unknown field 'artist.keyword' in "
        "index 'music_v3'; did you mean 'title.keyword'?",
        f"{base}:15:24: understanding.slots.year.field: 'year' is a text field; "
        "slots and filters match exact values (terms): use keyword or numeric",
        f"{base}:22:18: strategies.lexical.popularity.field: 'popularity' is a keyword field; "
        "this needs a numeric field (long, integer, float, ...)",
        f"{base}:26:16: strategies.structured.slots.artist.field: unknown field "
        "'artist.keyword' in index 'music_v3'; did you mean 'title.keyword'?",
        f"{base}:27:14: strategies.structured.slots.year.field: 'year' is a text field; "
        "slots and filters match exact values (terms): use keyword or numeric",
        f"{base}:31:5: strategies.semantic.field: 'embedding' is a float field; "
        "k-NN needs a knn_vector field",
    ]


def test_check_fields_without_positions_uses_dotted_paths():
    plan = Plan.model_validate(
        {
            "index": {"alias": "m", "template": "music", "id_field": "title"},
            "strategies": {"k": {"type": "knn", "field": "vec"}},
        }
    )
    assert check_fields(plan, MUSIC_FIELDS) == [
        "index.id_field: 'title' is a text field; an id field must be keyword or numeric; "
        "use 'title.keyword'",
        "strategies.k.field: unknown field 'vec' in the index mapping",
    ]


@pytest.mark.skipif(_templates is None, reason="ltrr_os.templates not available")
def test_unknown_template_lists_the_bundled_ones(tmp_path):
    p = write(tmp_path / "p.yaml", MINIMAL.replace("template: music", "template: musik"))
    assert check_template(load_plan(p)) == [
        f"{p}:3:3: index.template: unknown template 'musik'; bundled templates: music, "
        "products (or give a path to a JSON file); did you mean 'music'?"
    ]


@pytest.mark.skipif(_templates is None, reason="ltrr_os.templates not available")
def test_template_path_is_relative_to_the_plan(tmp_path, monkeypatch):
    shutil.copy(REPO / "ltrr_os" / "index_templates" / "music.json", tmp_path / "mine.json")
    p = write(
        tmp_path / "plans" / "p.yaml", MINIMAL.replace("template: music", "template: ../mine.json")
    )
    monkeypatch.chdir(REPO)  # not the plan's directory
    assert check_template(load_plan(p)) == []
    broken = write(tmp_path / "bad.json", "{\n  nope\n}\n")
    q = write(tmp_path / "q.yaml", MINIMAL.replace("template: music", f"template: {broken}"))
    (problem,) = check_template(load_plan(q))
    assert problem.startswith(f"{q}:3:3: index.template: cannot load template: ")
    assert "invalid JSON" in problem


# -- CLI -------------------------------------------------------------------------------
def test_cli_validate_ok():
    result = CliRunner().invoke(
        cli, ["plan", "validate", str(FIXTURES / "base.yaml"), str(FIXTURES / "overlay.yaml")]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"ok: {FIXTURES / 'base.yaml'} (3 arms, 2 slots, policy all)",
        f"ok: {FIXTURES / 'overlay.yaml'} (3 arms, 2 slots, policy fixed)",
    ]


@pytest.mark.parametrize("name", ["misspelled_nested_key.yaml", "unknown_index_field.yaml"])
def test_cli_validate_one_mistake_one_line(name):
    path = BROKEN / name
    result = CliRunner().invoke(cli, ["plan", "validate", str(path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}:")
    assert result.stdout == ""  # errors go to stderr


def test_cli_validate_reports_every_plan(tmp_path):
    missing = tmp_path / "missing.yaml"
    args = [
        "plan",
        "validate",
        str(BROKEN / "empty.yaml"),
        str(FIXTURES / "base.yaml"),
        str(missing),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{BROKEN / 'empty.yaml'}:1:1: the plan is empty (expected index:, strategies:, ...)",
        f"{missing}: cannot read plan: No such file or directory",
    ]
    assert result.stdout.startswith("ok: ")


def test_cli_no_fields_skips_the_template_check():
    path = str(BROKEN / "knn_field_wrong_type.yaml")
    assert CliRunner().invoke(cli, ["plan", "validate", "--no-fields", path]).exit_code == 0


def test_console_entry_point_exits_2_without_traceback(capsys):
    with pytest.raises(SystemExit) as info:
        main(["plan", "validate", str(BROKEN / "boost_negative.yaml")])
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert err.splitlines() == [
        f"{BROKEN / 'boost_negative.yaml'}:5:14: strategies.lexical.fields.title: "
        "boost must be > 0 (got -1)"
    ]


def test_cli_help_teaches_by_example():
    result = CliRunner().invoke(cli, ["plan", "validate", "--help"])
    assert result.exit_code == 0
    assert "ltrr plan validate query_plans/music.yaml" in result.output


# -- docs ------------------------------------------------------------------------------
def test_docs_mention_every_plan_key():
    from pydantic import BaseModel

    from ltrr_os.engines import settings
    from ltrr_os.plan import models

    doc = (REPO / "docs" / "query-plans.md").read_text(encoding="utf-8")
    missing = []
    for module in (models, settings):
        for obj in vars(module).values():
            if (
                isinstance(obj, type)
                and issubclass(obj, BaseModel)
                and obj.__module__ == module.__name__
            ):
                missing += [f"{obj.__name__}.{f}" for f in obj.model_fields if f"`{f}`" not in doc]
    assert missing == []


# -- later additions -------------------------------------------------------------------
def test_env_default_cannot_nest(tmp_path):
    p = write(tmp_path / "p.yaml", MINIMAL + "name: ${A:-${B}}\n")
    assert str(load_error(p)) == (
        f"{p}:9:7: name: a default cannot contain another ${{...}} reference"
    )


def test_overlay_completes_an_incomplete_base(tmp_path):
    write(tmp_path / "base.yaml", MINIMAL.replace("  alias: music\n", ""))
    child = write(tmp_path / "child.yaml", "extends: base.yaml\nindex: {alias: songs}\n")
    assert load_plan(child, env={}).index.alias == "songs"
    assert "missing required key 'alias'" in str(load_error(tmp_path / "base.yaml"))


DSL_ARM = """\
  custom:
    type: dsl
    template: |
      {"query": {"match": {"title": "{{q}}"}}}
    params: {q: query}
"""


def test_validate_checks_dsl_templates(tmp_path):
    good = write(tmp_path / "good.yaml", MINIMAL + DSL_ARM)
    bad = write(tmp_path / "bad.yaml", MINIMAL + DSL_ARM.replace("{q: query}", "{q: query, x: ql}"))
    result = CliRunner().invoke(cli, ["plan", "validate", str(good), str(bad)])
    assert result.exit_code == 2
    assert result.stdout == f"ok: {good} (2 arms, 0 slots, policy all)\n"
    assert result.stderr == (
        f"{bad}:13:24: strategies.custom.params.x: source 'ql' must be query, free_text, "
        "slot:NAME or ctx:KEY\n"
    )


def test_plan_group_skips_lazy_commands_not_written_yet(monkeypatch):
    from ltrr_os.cli import plan as plan_cli

    monkeypatch.setitem(plan_cli.LAZY_COMMANDS, "later", "ltrr_os.cli.not_written_yet:later")
    result = CliRunner().invoke(cli, ["plan", "--help"])
    assert result.exit_code == 0
    assert "validate" in result.output and "later" not in result.output
    assert CliRunner().invoke(cli, ["plan", "later"]).exit_code == 2  # "No such command"
