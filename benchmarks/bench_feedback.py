"""Feedback and bandit overheads: ingestion rate, batch update time, selection cost.

    .venv/bin/python benchmarks/bench_feedback.py [--events 100000] [--quick]

- ingestion: events/s of `ingest` (parse + validate + dedupe + join + attribute + one
  batched policy update + durable append to the event log) over a synthetic JSONL file
  joined to synthetic logged searches of the music-bandit plan's shape, with ~1% malformed
  lines and ~1% duplicate event ids;
- update: seconds for one `RetrievalPolicy.update` over 10,000 (arm, reward, context)
  events (LinUCB, the plan's feature width);
- selection: per-search cost of featurising the context and choosing arms and budgets
  (`ContextFeaturizer.transform` + `RetrievalPolicy.choose`) on a trained policy.
Writes benchmarks/results/feedback.json (feedback-quick.json with --quick).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, percentiles, write_result  # noqa: E402

from ltrr_os.bandit.features import ContextFeaturizer  # noqa: E402
from ltrr_os.bandit.policy import RetrievalPolicy  # noqa: E402
from ltrr_os.feedback.ingest import ingest  # noqa: E402
from ltrr_os.feedback.log import EventLog  # noqa: E402
from ltrr_os.plan import load_plan  # noqa: E402
from ltrr_os.understanding.result import SlotMatch, Understanding  # noqa: E402


def synthetic(n_searches: int, n_events: int, arms: list[str], dim: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    records = {}
    for i in range(n_searches):
        chosen = list(rng.choice(arms, size=2, replace=False))
        records[f"s{i}"] = {
            "search_id": f"s{i}", "ts": 1_700_000_000.0 + i, "chosen": chosen,
            "budgets": {a: 100 for a in chosen}, "failed": [],
            "features": rng.random(dim).round(3).tolist(),
            "candidates": {a: [f"t{int(x)}" for x in rng.integers(0, 5000, 100)] for a in chosen},
            "propensities": {a: 1.0 for a in arms},
        }  # fmt: skip
    lines = []
    for j in range(n_events):
        sid = f"s{int(rng.integers(n_searches))}"
        rec = records[sid]
        item = rec["candidates"][rec["chosen"][0]][int(rng.integers(20))]
        kind = ("click", "play", "impression")[j % 3]
        ev = {"event_id": f"e{j}", "search_id": sid, "type": kind, "ts": rec["ts"] + 5}
        if kind != "impression":
            ev["item_id"] = item
            ev["rank"] = 1 + j % 10
        if j % 101 == 100:  # ~1% malformed lines and ~1% re-sent events: the bad-input path
            lines.append('{"event_id": "broken", "type": ')
            continue
        if j % 103 == 102:
            ev["event_id"] = f"e{j - 1}"
        lines.append(json.dumps(ev))
    return records, "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke check")
    args = ap.parse_args()
    n_events = 5_000 if args.quick else args.events
    plan = load_plan(ROOT / "query_plans" / "music-bandit.yaml")
    cfg = plan.retrieval
    arms = plan.active_arms()
    u = plan.understanding
    feat = ContextFeaturizer(cfg.context, list(u.slots), [i.name for i in u.intents])

    # 1. ingestion
    records, text = synthetic(20_000, n_events, arms, feat.dim)
    tmp = Path(tempfile.mkdtemp(prefix="ltrr-bench-fb-"))
    (tmp / "events.jsonl").write_text(text)
    policy = RetrievalPolicy(arms, cfg, feat.dim)
    runs = []
    for k in range(3):
        elog = EventLog(tmp / f"ingested-{k}.jsonl")
        t = time.perf_counter()
        rep = ingest(
            tmp / "events.jsonl", records, reward=cfg.reward, event_log=elog, policy=policy
        )
        runs.append(time.perf_counter() - t)
    rate = n_events / float(np.median(runs))

    # 2. one batched update over 10k events
    rng = np.random.default_rng(1)
    X = rng.random((10_000, feat.dim))
    arm_seq = list(rng.choice(arms, size=10_000))
    rewards = rng.random(10_000).round().tolist()
    upd = []
    for _ in range(5):
        p = RetrievalPolicy(arms, cfg, feat.dim)
        p.update(arm_seq[:100], rewards[:100], X[:100])  # fitted, as in production
        t = time.perf_counter()
        p.update(arm_seq, rewards, X)
        upd.append(time.perf_counter() - t)
    # the same with BLAS on one thread, as ingest() runs it (threadpoolctl)
    upd1 = []
    for _ in range(5):
        p = RetrievalPolicy(arms, cfg, feat.dim)
        p.update(arm_seq[:100], rewards[:100], X[:100])
        with threadpool_limits(1, user_api="blas"):
            t = time.perf_counter()
            p.update(arm_seq, rewards, X)
            upd1.append(time.perf_counter() - t)

    # 3. selection overhead per search
    und = Understanding(
        query="tayler swift love story", normalized="tayler swift love story",
        tokens=("tayler", "swift", "love", "story"),
        slots=(SlotMatch(slot="artist", value="Taylor Swift", surface="tayler swift",
                         start_char=0, end_char=12, score=0.9, fuzzy=True,
                         field="artist.keyword"),),
        intent=None, query_type="misspelled_entity", language="en", free_text="love story",
        without_intent="tayler swift love story",
    )  # fmt: skip
    ctx = {"device": "mobile", "hour": 21}
    prng = np.random.default_rng(2)
    lat = []
    for i in range(3000):
        t = time.perf_counter()
        x = feat.transform(und, ctx)
        p.choose(x, arms, prng)
        if i >= 300:  # warm
            lat.append((time.perf_counter() - t) * 1000)
    sel = percentiles(lat)

    summary = [
        {"metric": "feedback ingestion", "value": round(rate), "target": ">= 20000",
         "unit": "events/s"},
        {"metric": "bandit update over 10k events", "value": round(float(np.median(upd)), 4),
         "target": "<= 1.0", "unit": "s"},
        {"metric": "bandit update over 10k events, BLAS 1 thread (as ingest runs it)",
         "value": round(float(np.median(upd1)), 4), "target": "<= 1.0", "unit": "s"},
        {"metric": "selection overhead p50 (features + choose)", "value": sel["p50"],
         "target": "<= 0.3", "unit": "ms"},
    ]  # fmt: skip
    path = write_result("feedback-quick" if args.quick else "feedback", {
        "load_average_1m_5m_15m": [round(x, 2) for x in os.getloadavg()],
        "config": {"events": n_events, "searches": len(records), "arms": arms,
                   "features": feat.dim, "learner": cfg.learner, "quick": args.quick},
        "summary": summary,
        "ingest_report": rep.to_dict(), "ingest_runs_s": runs, "update_runs_s": upd,
        "update_runs_single_thread_blas_s": upd1,
        "selection_ms": sel,
    })  # fmt: skip
    for row in summary:
        print(f"{row['metric']:<45} {row['value']:>10} {row['unit']}  (target {row['target']})")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
