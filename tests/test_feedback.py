"""Feedback: event validation, durable idempotent logs and batch ingestion."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from ltrr_os.datasets import generate_music_catalog
from ltrr_os.engines.embedded import EmbeddedEngine
from ltrr_os.feedback.events import read_events
from ltrr_os.feedback.ingest import ingest
from ltrr_os.feedback.log import EventLog, JsonlLog, SearchLog
from ltrr_os.feedback.offline import PlanBandit, log_dir
from ltrr_os.indexing.pipeline import build_index
from ltrr_os.plan import load_plan
from ltrr_os.search import Searcher

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "query_plans" / "music-bandit.yaml"


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """A bandit plan over a small generated catalog, with 40 logged searches."""
    data = tmp_path_factory.mktemp("fb")
    docs = generate_music_catalog(n_tracks=400, seed=3)
    engine = EmbeddedEngine(data)
    build_index(engine, "music", docs, data_dir=data)
    plan = load_plan(PLAN)
    plan = plan.model_copy(update={"engine": plan.engine.model_copy(update={"data_dir": data})})
    slog = log_dir(plan, data) / "searches.jsonl"
    s = Searcher(plan, engine, data_dir=data, search_log=slog)
    artists = sorted({d["artist"] for d in docs})[:20]
    results = [s.search(a, {"device": "mobile"}) for a in artists]
    results += [s.search(a.lower() + " song", {"device": "desktop"}) for a in artists]
    return data, plan, results


def write(path: Path, lines: list) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def click(eid: str, sid: str, item: str, ts: float, kind: str = "click") -> dict:
    return {"event_id": eid, "search_id": sid, "type": kind, "item_id": item, "ts": ts}


def test_bad_lines_are_reported_with_their_line_number(tmp_path):
    p = write(tmp_path / "e.jsonl", [
        click("e1", "s", "t1", 1.0),
        "{not json",
        "[1, 2]",
        {"event_id": "e2", "search_id": "s", "type": "click", "ts": 1.0},
        {"event_id": "e3", "search_id": "s", "type": "skip", "item_id": "t", "ts": 1.0},
        {"event_id": "e4", "search_id": "s", "type": "click", "item_id": "t", "ts": "yesterday"},
        {"event_id": "e5", "search_id": "s", "type": "click", "item_id": "t", "ts": 1, "x": 1},
        "",
        {"event_id": "e6", "search_id": "s", "type": "impression", "ts": "2026-11-24T10:00:00Z"},
        {"event_id": "e7", "search_id": "s", "type": "play", "doc_id": 42, "dwell_s": 3, "ts": 2},
        {"event_id": "e8", "search_id": "s", "type": "play", "item_id": "t", "rank": 0, "ts": 2},
    ])  # fmt: skip
    out = list(read_events(p))
    bad = {n: why for n, why in out if isinstance(why, str)}
    assert set(bad) == {2, 3, 4, 5, 6, 7, 11}
    assert "invalid JSON" in bad[2] and "object" in bad[3]
    assert "needs an item_id" in bad[4] and "type" in bad[5]
    assert "ISO 8601" in bad[6] and "x" in bad[7]
    good = [e for _, e in out if not isinstance(e, str)]
    assert "rank" in bad[11]
    assert [e.event_id for e in good] == ["e1", "e6", "e7"]
    assert good[1].ts == pytest.approx(1795514400.0)
    assert good[2].item_id == "42" and good[2].model_dump()["item_id"] == "42"


def test_event_log_is_idempotent_and_survives_concurrent_writers(tmp_path):
    from ltrr_os.feedback.events import Event

    log = EventLog(tmp_path / "events.jsonl")
    evs = [Event(event_id=f"e{i}", search_id="s", type="click", item_id="t", ts=i)
           for i in range(50)]  # fmt: skip
    assert log.append_new(evs) == (50, 0)
    assert log.append_new(evs[:10]) == (0, 10)
    raw = JsonlLog(tmp_path / "many.jsonl")

    def writer(k: int) -> None:
        for i in range(200):
            raw.append_many([{"w": k, "i": i, "pad": "x" * 500}])

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = (tmp_path / "many.jsonl").read_text().splitlines()
    assert len(lines) == 800 and all(json.loads(x)["pad"] for x in lines)
    with open(tmp_path / "many.jsonl", "a") as f:  # a torn last line from a crash
        f.write('{"w": 9, "i"')
    assert len(list(raw)) == 800
    raw.append_many([{"w": 9, "i": 0}])  # the next append is not lost in the torn line
    assert len(list(raw)) == 801 and list(raw)[-1] == {"w": 9, "i": 0}


def test_ingest_counts_every_kind_of_bad_event_and_trains(logged, tmp_path):
    data, plan, results = logged
    records = SearchLog(log_dir(plan, data) / "searches.jsonl").records()
    assert len(records) == len(results)
    r0, r1, r2 = results[0], results[1], results[2]
    t0 = records[r0.search_id]["ts"]
    p = write(tmp_path / "events.jsonl", [
        click("a1", r0.search_id, r0.hits[0].id, t0 + 5),
        click("a2", r1.search_id, r1.hits[1].id, t0 + 9, "play"),
        click("a3", r2.search_id, r2.hits[0].id, t0 + 7),  # out of order, still used
        {"event_id": "a4", "search_id": r2.search_id, "type": "impression", "ts": t0 + 6},
        click("a1", r0.search_id, r0.hits[0].id, t0 + 5),  # duplicate id
        click("a5", "no-such-search", "t1", t0 + 5),  # unknown search
        click("a6", r0.search_id, r0.hits[0].id, t0 + 30 * 86400),  # late
        click("a7", r0.search_id, r0.hits[0].id, t0 - 3600),  # before the search
        "garbage",  # malformed
    ])  # fmt: skip
    bandit = PlanBandit.open(plan, data)
    before = bandit.policy.n_updates
    elog = EventLog(tmp_path / "ingested.jsonl")
    rep = ingest(p, records, reward=bandit.config.reward, event_log=elog, policy=bandit.policy)
    updates = rep.updates
    assert (rep.lines, rep.used, rep.impressions, rep.duplicate) == (9, 3, 1, 1)
    assert (rep.unknown_search, rep.late, rep.before_search, rep.malformed) == (1, 1, 1, 1)
    assert rep.out_of_order == 4  # a3, a4, a5 and a7 are older than an event before them
    assert rep.searches_rewarded == 3
    assert rep.arm_updates == len(updates) == bandit.policy.n_updates - before
    assert all(r == pytest.approx(1.0) for _, r, _ in updates if r > 0)
    # a second run of the same file changes nothing: every event is a duplicate
    rep2 = ingest(p, records, event_log=elog)
    updates2 = rep2.updates
    # only ingested events are logged: unknown, late and early ones are counted again
    assert (rep2.duplicate, rep2.unknown_search, rep2.late) == (5, 1, 1)
    assert rep2.used == 0 and updates2 == []


def test_ingest_from_a_searcher_and_from_a_log_path(logged, tmp_path):
    data, plan, results = logged
    slog = log_dir(plan, data) / "searches.jsonl"
    records = SearchLog(slog).records()
    r = results[3]
    t = records[r.search_id]["ts"]
    p = write(tmp_path / "ev.jsonl", [click("s1", r.search_id, r.hits[0].id, t + 2)])
    # a path to the search log: joined, but nothing to update
    rep = ingest(p, slog)
    assert rep.used == 1 and rep.arm_updates >= 1 and not rep.policy_updated
    # a running Searcher: its records and its policy (updated in one batch)
    s = Searcher(plan, EmbeddedEngine(data), data_dir=data, search_log=slog)
    fresh = s.search(r.query, {"device": "mobile"})
    p2 = write(tmp_path / "ev2.jsonl", [
        click("s2", fresh.search_id, fresh.hits[0].id, t + 3),  # only in memory: still joined
        click("s3", r.search_id, r.hits[0].id, t + 4),  # from the search log
    ])  # fmt: skip
    before = s.policy.n_updates
    rep = ingest(p2, s)
    assert rep.used == 2 and rep.unknown_search == 0 and rep.policy_updated
    assert s.policy.n_updates - before == rep.arm_updates >= 2
    with pytest.raises(TypeError, match="Searcher, a SearchLog"):
        ingest(p2, 42)


def test_damaged_search_records_are_counted_not_fatal(tmp_path):
    from ltrr_os.bandit.config import BanditRetrieval
    from ltrr_os.bandit.policy import RetrievalPolicy

    policy = RetrievalPolicy(["a", "b"], BanditRetrieval(policy="bandit"), 3)
    base = {"ts": 100.0, "chosen": ["a"], "budgets": {"a": 10}, "failed": [],
            "candidates": {"a": ["t1", "t2"]}}  # fmt: skip
    records = {
        "ok": {**base, "search_id": "ok", "features": [1.0, 0.0, 1.0]},
        "wide": {**base, "search_id": "wide", "features": [1.0, 0.0]},  # another schema
        "junk": {**base, "search_id": "junk", "features": ["x", "y", "z"]},
        "nocand": {**base, "search_id": "nocand", "candidates": 7, "features": [1, 1, 1]},
        "badts": {**base, "search_id": "badts", "ts": "soon", "features": [1, 1, 1]},
    }  # fmt: skip
    p = write(tmp_path / "e.jsonl", [click(f"e{i}", sid, "t1", 101.0)
                                     for i, sid in enumerate(records)])  # fmt: skip
    rep = ingest(p, records, policy=policy)
    assert rep.used == 5 and rep.bad_record == 3
    assert rep.searches_rewarded == 2 and policy.n_updates == 2  # "ok" and "badts"
    assert any("features" in w for w in rep.problem_lines())
    # every problem line is readable, and the report serialises
    assert json.dumps(rep.to_dict())


def test_an_empty_or_all_garbage_file_reports_and_trains_nothing(tmp_path):
    p = write(tmp_path / "e.jsonl", ["", "\x00\xff", "null", '"x"', "{}"])
    rep = ingest(p, {})
    assert (rep.lines, rep.malformed, rep.used, rep.arm_updates) == (4, 4, 0, 0)
    assert [n for n, _ in rep.problems] == [2, 3, 4, 5]


def _append_events(path: str, start: int, barrier) -> None:
    from ltrr_os.feedback.events import Event

    log = EventLog(path)
    barrier.wait()
    for i in range(start, start + 60, 3):  # overlapping ranges between processes
        evs = [Event(event_id=f"e{j}", search_id="s", type="click", item_id="t", ts=j)
               for j in range(i, i + 3)]  # fmt: skip
        log.append_new(evs)
        time.sleep(0.003)  # interleave the writers (a per-process id cache would duplicate)


def test_processes_appending_the_same_events_store_each_once(tmp_path):
    import multiprocessing as mp

    # fork: a spawned child would re-import this module (spaCy and all) for 5 s each
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    barrier = ctx.Barrier(3)
    path = str(tmp_path / "events.jsonl")
    procs = [ctx.Process(target=_append_events, args=(path, s, barrier)) for s in (0, 30, 45)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    ids = [o["event_id"] for o in JsonlLog(path)]
    assert sorted(ids) == sorted({f"e{j}" for j in range(105)})  # each once, none lost
    assert EventLog(path).append_new([]) == (0, 0)


def test_a_search_is_learned_from_once_across_batches(tmp_path):
    from ltrr_os.bandit.config import BanditRetrieval
    from ltrr_os.bandit.policy import RetrievalPolicy

    policy = RetrievalPolicy(["a", "b"], BanditRetrieval(policy="bandit"), 2)
    rec = {"ts": 100.0, "chosen": ["a", "b"], "budgets": {"a": 10, "b": 10}, "failed": [],
           "candidates": {"a": ["t1"], "b": ["t2"]}, "features": [1.0, 0.5]}  # fmt: skip
    records = {"s1": {**rec, "search_id": "s1"}, "s2": {**rec, "search_id": "s2"}}
    elog = EventLog(tmp_path / "log.jsonl")
    b1 = write(tmp_path / "b1.jsonl", [
        {"event_id": "i1", "search_id": "s1", "type": "impression", "ts": 101},
        click("c1", "s1", "t1", 102),
    ])  # fmt: skip
    rep = ingest(b1, records, event_log=elog, policy=policy)
    assert (rep.used, rep.arm_updates, policy.n_updates) == (1, 2, 2)
    b2 = write(tmp_path / "b2.jsonl", [
        click("p1", "s1", "t2", 103, "purchase"),  # s1 was rewarded in batch 1
        click("c2", "s2", "t2", 104),
    ])  # fmt: skip
    rep = ingest(b2, records, event_log=EventLog(tmp_path / "log.jsonl"), policy=policy)
    assert (rep.already_rewarded, rep.used, rep.arm_updates) == (1, 1, 2)
    assert policy.n_updates == 4
    stored = [o["event_id"] for o in JsonlLog(tmp_path / "log.jsonl")]
    assert stored == ["i1", "c1", "p1", "c2"]  # the late purchase is still kept (for LTR)
