"""``ltrr feedback ingest`` and ``ltrr bandit status|ope|versions|rollback`` end to end."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ltrr_os.cli import cli
from ltrr_os.datasets import generate_music_catalog
from ltrr_os.engines.embedded import EmbeddedEngine
from ltrr_os.errors import ConfigError, DataError
from ltrr_os.feedback.log import SearchLog
from ltrr_os.feedback.offline import log_dir
from ltrr_os.indexing.pipeline import build_index
from ltrr_os.plan import load_plan
from ltrr_os.search import Searcher

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "query_plans" / "music-bandit.yaml"


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """40 searches of the bandit plan over a generated catalog, logged to the plan's log."""
    data = tmp_path_factory.mktemp("cli-fb")
    docs = generate_music_catalog(n_tracks=400, seed=5)
    engine = EmbeddedEngine(data)
    build_index(engine, "music", docs, data_dir=data)
    plan = load_plan(PLAN)
    plan = plan.model_copy(update={"engine": plan.engine.model_copy(update={"data_dir": data})})
    s = Searcher(plan, engine, data_dir=data, search_log=log_dir(plan, data) / "searches.jsonl")
    artists = sorted({d["artist"] for d in docs})[:20]
    results = [s.search(a, {"device": "mobile"}) for a in artists]
    results += [s.search(a.lower() + " song", {"device": "desktop"}) for a in artists]
    records = SearchLog(log_dir(plan, data) / "searches.jsonl").records()
    return data, plan, results, records


def events_file(path: Path, results, records, prefix: str, extra=()) -> Path:
    lines = [json.dumps({"event_id": f"{prefix}{i}", "search_id": r.search_id, "type": "click",
                         "item_id": r.hits[0].id, "rank": 1,
                         "ts": records[r.search_id]["ts"] + 1})
             for i, r in enumerate(results) if r.hits]  # fmt: skip
    path.write_text("\n".join([*lines, *extra]) + "\n")
    return path


def run(*args: str):
    res = CliRunner().invoke(cli, list(args))
    return res


def test_ingest_status_ope_versions_rollback(logged, tmp_path):
    data, plan, results, records = logged
    common = ["--plan", str(PLAN), "--data-dir", str(data)]
    p1 = events_file(tmp_path / "e1.jsonl", results[:20], records, "a", ["oops"])

    res = run("feedback", "ingest", str(p1), *common, "--dry-run")
    assert res.exit_code == 0, res.output
    assert "dry run" in res.output and "saved policy" not in res.output
    res = run("feedback", "ingest", str(p1), *common, "--dry-run", "--json")
    rep = json.loads(res.output)
    assert (rep["lines"], rep["used"], rep["malformed"], rep["saved"]) == (21, 20, 1, None)

    res = run("feedback", "ingest", str(p1), *common)
    assert res.exit_code == 0, res.output
    assert "malformed" in res.output and "line 21: invalid JSON" in res.output
    assert "saved policy v000001" in res.output
    # the same file again: every event is a duplicate, no new version
    res = run("feedback", "ingest", str(p1), *common)
    assert res.exit_code == 0 and "saved policy" not in res.output
    assert re.search(r"│ duplicate\s+│\s+20 │", res.output), res.output
    rep = json.loads(run("feedback", "ingest", str(p1), *common, "--dry-run", "--json").output)
    assert (rep["duplicate"], rep["used"]) == (20, 0)  # a dry run sees what was ingested
    p2 = events_file(tmp_path / "e2.jsonl", results[20:], records, "b")
    res = run("feedback", "ingest", str(p2), *common)
    assert "saved policy v000002" in res.output, res.output

    res = run("bandit", "status", *common)
    assert res.exit_code == 0, res.output
    assert "policy v000002" in res.output and "mean reward" in res.output
    assert "searches with engagement: 100.0%" in res.output
    for arm in plan.active_arms():
        assert arm in res.output

    res = run("bandit", "versions", *common)
    assert res.exit_code == 0 and "* v000002" in res.output and "  v000001" in res.output
    res = run("bandit", "rollback", *common, "v000001")
    assert res.exit_code == 0 and "current policy: v000001" in res.output
    assert "* v000001" in run("bandit", "versions", *common).output
    res = run("bandit", "rollback", *common, "v000009")
    assert isinstance(res.exception, ConfigError) and "no policy version" in str(res.exception)


def test_ope_with_policy_files(logged, tmp_path):
    data, plan, results, records = logged
    common = ["--plan", str(PLAN), "--data-dir", str(data)]
    p = events_file(tmp_path / "e.jsonl", results, records, "o")
    assert run("feedback", "ingest", str(p), *common).exit_code == 0
    fixed = tmp_path / "lexical.yaml"
    fixed.write_text("name: lexical only\npolicy: fixed\narms: [lexical]\n")
    greedy = tmp_path / "greedy.json"
    greedy.write_text(json.dumps({"policy": "bandit", "max_arms": 1, "exploration": 0.0}))
    other = tmp_path / "other.yaml"
    other.write_text("name: eps\npolicy: bandit\nconfig: {learner: epsilon_greedy}\n"
                     "train_share: 0.25\n")  # fmt: skip
    res = run("bandit", "ope", *common, "--policy", str(fixed), "--policy", str(greedy),
              "--policy", str(other), "--target", "fixed:lexical+fuzzy", "--bootstrap", "30",
              "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = {r["target"]: r for r in json.loads(res.output)}
    assert set(rows) == {"lexical only", "greedy", "fixed:lexical+fuzzy", "eps"}
    assert rows["eps"]["meta"]["searches"] == 30  # trained on 10, evaluated on the other 30
    assert rows["lexical only"]["meta"]["searches"] == 40
    for row in rows.values():
        for k in ("ips", "snips", "dr"):
            lo, hi = row[k]["ci95"]
            assert math.isfinite(row[k]["value"]) and lo <= hi
    # a superset of arms never has a lower IPS value (rewards are >= 0 here)
    assert rows["fixed:lexical+fuzzy"]["ips"]["value"] >= rows["lexical only"]["ips"]["value"]
    res = run("bandit", "ope", *common, "--policy", str(fixed), "--bootstrap", "10")
    assert res.exit_code == 0 and "lexical only" in res.output and "SNIPS" in res.output
    assert "never ran" not in res.output
    res = run("bandit", "ope", *common, "--target", "fixed:lexical+popular", "--bootstrap", "5")
    # 'popular' is never chosen for these searches: its reward cannot be estimated; say so
    logged = {a for r in records.values() for a in r["chosen"]}
    assert ("never ran ['popular']" in res.output) == ("popular" not in logged)

    bad = tmp_path / "bad.yaml"
    for text, why in [("policy: fixed\n", "needs arms"), ("policy: greedy\n", "policy"),
                      ("policy: fixed\narms: [nope]\n", "unknown arms"), ("[1, 2", "not valid"),
                      ("policy: bandit\nversion: v000099\n", "no policy version"),
                      ("policy: bandit\nconfig: {learner: magic}\n", "config.learner"),
                      ("policy: bandit\nconfig: {context: []}\n", "cannot change")]:  # fmt: skip
        bad.write_text(text)
        res = run("bandit", "ope", *common, "--policy", str(bad))
        assert isinstance(res.exception, ConfigError) and why in str(res.exception), text
    res = run("bandit", "ope", *common)
    assert isinstance(res.exception, ConfigError)
    res = run("bandit", "ope", *common, "--target", "fixed:lexical",
              "--logs", str(tmp_path / "none.jsonl"))  # fmt: skip
    assert isinstance(res.exception, DataError)


def test_user_mistakes_are_one_line_errors(logged, tmp_path):
    data, *_ = logged
    proc = subprocess.run(
        [sys.executable, "-m", "ltrr_os", "feedback", "ingest", str(tmp_path / "missing.jsonl"),
         "--plan", str(PLAN), "--data-dir", str(data)], capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error:") and "no such events file" in proc.stderr
    music = ROOT / "query_plans" / "music.yaml"  # no bandit in this plan
    res = run("bandit", "status", "--plan", str(music), "--data-dir", str(data))
    assert isinstance(res.exception, ConfigError) and "no bandit" in str(res.exception)
