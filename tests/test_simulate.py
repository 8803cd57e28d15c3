"""The user simulator and `ltrr simulate` on the generated sample catalog."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from ltrr_os.cli import cli
from ltrr_os.datasets import generate_music_catalog
from ltrr_os.engines.embedded import EmbeddedEngine
from ltrr_os.errors import ConfigError
from ltrr_os.eval.simulator import run_policy, simulation_env
from ltrr_os.eval.users import UserModel, clicks
from ltrr_os.indexing.pipeline import build_index
from ltrr_os.plan import load_plan

PLAN = Path(__file__).resolve().parents[1] / "query_plans" / "music-bandit.yaml"


def test_clicks_follow_the_position_model():
    rng = np.random.default_rng(0)
    shown = [f"d{i}" for i in range(10)]
    first = sum("d0" in clicks(shown, frozenset({"d0"}), rng) for _ in range(4000)) / 4000
    fifth = sum("d4" in clicks(shown, frozenset({"d4"}), rng) for _ in range(4000)) / 4000
    assert first == pytest.approx(0.9, abs=0.03)  # examined always, attractive 0.9
    assert fifth == pytest.approx(0.48 * 0.9, abs=0.03)
    noise = sum(len(clicks(shown, frozenset(), rng)) for _ in range(2000)) / 2000
    assert 0.05 < noise < 0.15  # 2% per examined non-relevant result


def test_users_are_seeded_and_typos_come_from_phones():
    docs = generate_music_catalog(n_tracks=400, seed=1)
    a, b = UserModel(docs, n_needs=300, seed=7), UserModel(docs, n_needs=300, seed=7)
    assert [n.query for n in a.needs] == [n.query for n in b.needs]
    rng = np.random.default_rng(0)
    draws = [a.sample(rng) for _ in range(3000)]
    mobile = {True: [], False: []}
    for need, ctx in draws:
        mobile["typo" in need.intent].append(ctx["device"] == "mobile")
    assert np.mean(mobile[True]) > np.mean(mobile[False]) + 0.2


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    data = tmp_path_factory.mktemp("sim")
    docs = generate_music_catalog(n_tracks=500, seed=2)
    engine = EmbeddedEngine(data)
    build_index(engine, "music", docs, data_dir=data)
    plan = load_plan(PLAN)
    return plan, simulation_env(engine, plan, data), UserModel(docs, n_needs=200, seed=0)


def test_every_policy_sees_the_same_searches_and_the_bandit_learns(env):
    plan, e, users = env
    lex = run_policy(plan, "arm:lexical", e, users, searches=300, seed=3, keep_records=True)
    allp = run_policy(plan, "all", e, users, searches=300, seed=3, keep_records=True)
    assert [r["query"] for r in lex.records] == [r["query"] for r in allp.records]
    assert all(r["chosen"] == ["lexical"] for r in lex.records)
    assert np.nanmean(allp.candidates) > np.nanmean(lex.candidates)
    bandit = run_policy(plan, "bandit:linucb", e, users, searches=300, seed=3,
                        keep_records=True)  # fmt: skip
    assert bandit.searcher.policy.n_updates > 0
    assert all(len(r["chosen"]) <= plan.retrieval.max_arms for r in bandit.records)
    assert all(set(r["arm_rewards"]) <= set(r["chosen"]) for r in bandit.records)
    late = run_policy(plan, "arm:lexical", e, users, searches=300, seed=3, start=200)
    assert np.isnan(late.rewards[:200]).all() and not np.isnan(late.rewards[200:]).any()
    assert late.rewards[200:].tolist() == lex.rewards[200:].tolist()  # same clicks, same seed


def test_simulate_cli_writes_summary_and_plots(tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, [
        "simulate", str(PLAN), "--tracks", "400", "--searches", "200", "--window", "100",
        "--policy", "arm:lexical", "--policy", "all", "--policy", "bandit:linucb",
        "--needs", "150", "--out", str(out), "--data-dir", str(tmp_path / "d"),
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    pols = summary["seeds"]["0"]
    assert set(pols) == {"arm:lexical", "all", "bandit:linucb"}
    assert 0 <= pols["all"]["mean_reward_last_100"] <= 1
    assert "arm_share_last_window" in pols["bandit:linucb"]
    assert all(Path(p).is_file() for p in summary["plots"]) and summary["plots"]
    res = CliRunner().invoke(cli, ["simulate", str(PLAN), "--policy", "arm:nope",
                                   "--searches", "20"])  # fmt: skip
    assert isinstance(res.exception, ConfigError) and "no arm 'nope'" in str(res.exception)
