"""Learning to retrieve on the real music catalog, measured in the user simulator.

    .venv/bin/python benchmarks/bench_bandit.py [--searches 20000] [--seeds 0 1 2]

For each seed, the same stream of simulated searches (``ltrr_os.eval.users``) is answered
by the bandit plan (``query_plans/music-bandit.yaml``, learning online from simulated
clicks through ``Searcher.feedback``), by every fixed single arm and by all arms. Policies
that do not learn are run on the evaluation window only (the last ``--window`` searches).

Off-policy evaluation: the bandit's own logs (exploring, exact propensities) estimate
the value of other target policies with IPS, SNIPS and DR; each target is then run in the
simulator on the same stream to get its true value. Both use the same estimand: the sum of
per-arm rewards (was an engaged item in the arm's candidates) over the arms the target
runs.

Writes ``benchmarks/results/bandit.json`` and plots under ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import real_music  # noqa: E402

from ltrr_os.datasets import load_spotify, shared_data  # noqa: E402
from ltrr_os.eval.simulator import run_policy, simulation_env  # noqa: E402
from ltrr_os.eval.users import UserModel  # noqa: E402
from ltrr_os.plan import load_plan  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def machine() -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "packages": {p: version(p) for p in ("numpy", "scipy", "mabwiser", "spacy")},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def rolling(x: np.ndarray, w: int = 500) -> np.ndarray:
    x = np.nan_to_num(x, nan=np.nan)
    c = np.convolve(np.nan_to_num(x), np.ones(w) / w, mode="valid")
    return c


def plot(curves: dict[str, dict[str, np.ndarray]], window: int, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for i, (name, c) in enumerate(curves.items()):
        r = c["rewards"]
        n = len(r)
        xs = np.arange(n)
        color = f"C{i % 10}"
        if np.isnan(r).any():  # evaluated on the window only: a flat line over it
            axes[0].hlines(np.nanmean(r), n - window, n, label=name, linestyles="dashed",
                           colors=color)  # fmt: skip
            axes[1].hlines(np.nanmean(c["candidates"]), n - window, n, linestyles="dashed",
                           colors=color)  # fmt: skip
        else:
            axes[0].plot(xs[499:], rolling(r), label=name, color=color)
            axes[1].plot(xs[499:], rolling(c["candidates"]), label=name, color=color)
    axes[0].set_title("reward (found what the user wanted), rolling mean of 500")
    axes[0].set_xlabel("search")
    axes[1].set_title("candidates fetched per search")
    axes[1].set_xlabel("search")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path = out / "bandit_learning_curve.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    files.append(str(path.relative_to(ROOT)))
    return files


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--searches", type=int, default=20_000)
    ap.add_argument("--window", type=int, default=5_000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--plan", default=str(ROOT / "query_plans" / "music-bandit.yaml"))
    ap.add_argument("--needs", type=int, default=4000)
    ap.add_argument("--out", default=str(RESULTS / "bandit.json"))
    args = ap.parse_args()

    built = real_music()
    src = shared_data("music", "spotify_songs.csv")
    if built is None or src is None:
        print("skip: the real music catalog (../shared/data/music) is absent")
        return 0
    engine, alias = built
    plan = load_plan(args.plan)
    docs, _ = load_spotify(src)
    data_dir = Path(engine.data_dir)
    env = simulation_env(engine, plan, data_dir)
    learner = plan.retrieval.learner  # type: ignore[union-attr]
    bandit_name = f"bandit:{learner}"
    arms = list(plan.strategies)
    start = args.searches - args.window

    per_seed: list[dict[str, Any]] = []
    curves_first: dict[str, dict[str, np.ndarray]] = {}
    t_all = time.perf_counter()
    for seed in args.seeds:
        users = UserModel(docs, n_needs=args.needs, seed=seed)
        runs: dict[str, Any] = {}
        t = time.perf_counter()
        runs[bandit_name] = run_policy(plan, bandit_name, env, users, searches=args.searches,
                                       seed=seed, keep_records=True)  # fmt: skip
        print(f"seed {seed}: {bandit_name} {time.perf_counter() - t:.0f}s", flush=True)
        for pol in ["all", *(f"arm:{a}" for a in arms)]:
            runs[pol] = run_policy(plan, pol, env, users, searches=args.searches, seed=seed,
                                   start=start, keep_records=True)  # fmt: skip
        w = args.window
        summ = {name: r.summary(w) for name, r in runs.items()}
        key = f"mean_reward_last_{w}"
        ckey = f"mean_candidates_last_{w}"
        singles = {a: summ[f"arm:{a}"][key] for a in arms}
        best_arm = max(singles, key=singles.get)
        b, al = summ[bandit_name], summ["all"]
        # the same window's searches by intent, to see where each policy wins
        by_intent: dict[str, dict[str, float]] = {}
        for name, r in runs.items():
            recs = r.records[-w:]
            for intent in sorted({x["intent"] for x in recs}):
                vals = [x["reward"] for x in recs if x["intent"] == intent]
                by_intent.setdefault(intent, {})[name] = round(float(np.mean(vals)), 4)
        ope = off_policy(runs, plan, env, users, args, seed)
        per_seed.append({
            "seed": seed,
            "policies": summ,
            "best_single_arm": best_arm,
            "reward_ratio_vs_all": b[key] / al[key],
            "candidate_ratio_vs_all": b[ckey] / al[ckey],
            "lift_vs_best_single_arm": b[key] / singles[best_arm] - 1,
            "reward_by_intent_last_window": by_intent,
            "chosen_sets_last_window": _set_counts(runs[bandit_name].chosen[-w:]),
            "ope": ope,
        })  # fmt: skip
        print(json.dumps({k: v for k, v in per_seed[-1].items() if k != "policies"}, indent=1,
                         default=float)[:2500], flush=True)  # fmt: skip
        if not curves_first:
            curves_first = {n: {"rewards": r.rewards, "candidates": r.candidates}
                            for n, r in runs.items()}  # fmt: skip

    def mean(key: str) -> float:
        return float(np.mean([s[key] for s in per_seed]))

    ope_err = {
        est: float(np.max([abs(t[f"{est}_rel_error"]) for s in per_seed for t in s["ope"]]))
        for est in ("snips", "dr", "ips")
    }
    summary = [
        {"metric": "bandit reward / all-arms reward (last window)", "value": mean("reward_ratio_vs_all"),
         "target": ">= 0.95", "unit": "ratio"},
        {"metric": "bandit candidates / all-arms candidates", "value": mean("candidate_ratio_vs_all"),
         "target": "<= 0.50", "unit": "ratio"},
        {"metric": "bandit lift over best single arm", "value": mean("lift_vs_best_single_arm"),
         "target": ">= 0.15", "unit": "relative"},
        {"metric": "OPE SNIPS worst relative error", "value": ope_err["snips"], "target": "<= 0.10",
         "unit": "relative"},
        {"metric": "OPE DR worst relative error", "value": ope_err["dr"], "target": "<= 0.10",
         "unit": "relative"},
    ]  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    plots = plot(curves_first, args.window, out.parent)
    result = {
        "benchmark": "bandit",
        "machine": machine(),
        "config": {
            "plan": str(Path(args.plan).relative_to(ROOT)),
            "searches": args.searches,
            "window": args.window,
            "seeds": args.seeds,
            "needs": args.needs,
            "catalog_docs": len(docs),
            "index": env["index"],
            "retrieval": plan.retrieval.model_dump(),
        },  # fmt: skip
        "summary": summary,
        "seeds": per_seed,
        "ope_max_relative_error": ope_err,
        "plots": plots,
        "seconds": round(time.perf_counter() - t_all, 1),
        "engine_cache": {"hits": env["engine"].hits, "misses": env["engine"].misses},
    }
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2, default=float))
    os.replace(tmp, out)
    for row in summary:
        print(f"{row['metric']:<50} {row['value']:.3f}  (target {row['target']})")
    return 0


def _set_counts(chosen: list[list[str]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in chosen:
        k = "+".join(sorted(c))
        out[k] = out.get(k, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def off_policy(runs: dict[str, Any], plan: Any, env: dict[str, Any], users: UserModel,
               args: argparse.Namespace, seed: int) -> list[dict[str, Any]]:  # fmt: skip
    """Estimate fixed two-arm target policies from the bandit's logs, then run them."""
    from ltrr_os.bandit.ope import estimate_all  # written with the feedback issue

    learner = plan.retrieval.learner
    logs = runs[f"bandit:{learner}"].records
    targets = [("lexical", "structured"), ("fuzzy", "popular"), ("structured", "semantic")]
    out = []
    for pair in targets:

        def target(rec: dict[str, Any], pair: tuple[str, ...] = pair) -> dict[str, float]:
            return {a: 1.0 for a in pair if a in rec.get("applicable", pair)}

        est = estimate_all(logs, target)
        name = "fixed:" + "+".join(pair)
        run = run_policy(plan, name, env, users, searches=args.searches, seed=seed,
                         keep_records=True)  # fmt: skip
        true = float(np.mean([sum(r["arm_rewards"].values()) for r in run.records]))
        row: dict[str, Any] = {"target": name, "true_value": true}
        for k in ("ips", "snips", "dr"):
            row[k] = est[k]["value"]
            row[f"{k}_ci95"] = est[k].get("ci95")
            row[f"{k}_rel_error"] = (est[k]["value"] - true) / true if true else float("nan")
        out.append(row)
    return out


if __name__ == "__main__":
    sys.exit(main())
