"""Feedback: event validation, durable idempotent logs, batch ingestion and the CLIs."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from ltrr_os.cli import cli
from ltrr_os.datasets import generate_music_catalog
from ltrr_os.engines.embedded import EmbeddedEngine
from ltrr_os.errors import LtrrError
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
    ])  # fmt: skip
    out = list(read_events(p))
    bad = {n: why for n, why in out if isinstance(why, str)}
    assert set(bad) == {2, 3, 4, 5, 6, 7}
    assert "invalid JSON" in bad[2] and "object" in bad[3]
    assert "needs an item_id" in bad[4] and "type" in bad[5]
    assert "ISO 8601" in bad[6] and "x" in bad[7]
    good = [e for _, e in out if not isinstance(e, str)]
    assert [e.event_id for e in good] == ["e1", "e6"]
    assert good[1].ts == pytest.approx(1795514400.0)


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
    rep, updates = ingest(p, records, reward=bandit.config.reward, event_log=elog,
                          policy=bandit.policy)  # fmt: skip
    assert (rep.lines, rep.used, rep.impressions, rep.duplicate) == (9, 3, 1, 1)
    assert (rep.unknown_search, rep.late, rep.before_search, rep.malformed) == (1, 1, 1, 1)
    assert rep.out_of_order == 4  # a3, a4, a5 and a7 are older than an event before them
    assert rep.searches_rewarded == 3
    assert rep.arm_updates == len(updates) == bandit.policy.n_updates - before
    assert all(r == pytest.approx(1.0) for _, r, _ in updates if r > 0)
    # a second run of the same file changes nothing: every event is a duplicate
    rep2, updates2 = ingest(p, records, event_log=elog)
    # only ingested events are logged: unknown, late and early ones are counted again
    assert (rep2.duplicate, rep2.unknown_search, rep2.late) == (5, 1, 1)
    assert rep2.used == 0 and updates2 == []


def test_feedback_and_bandit_cli(logged, tmp_path):
    data, plan, results = logged
    records = SearchLog(log_dir(plan, data) / "searches.jsonl").records()
    events = [click(f"c{i}", r.search_id, r.hits[0].id, records[r.search_id]["ts"] + 1)
              for i, r in enumerate(results) if r.hits]  # fmt: skip
    p = write(tmp_path / "events.jsonl", [*events, "oops"])
    runner = CliRunner()
    args = ["--plan", str(PLAN), "--data-dir", str(data)]
    res = runner.invoke(cli, ["feedback", "ingest", str(p), *args])
    assert res.exit_code == 0, res.output
    assert "malformed" in res.output and "line" in res.output and "saved policy v" in res.output
    res = runner.invoke(cli, ["bandit", "status", *args])
    assert res.exit_code == 0, res.output
    assert "searches with engagement: 100.0%" in res.output
    res = runner.invoke(cli, ["bandit", "ope", *args, "--target", "fixed:lexical+fuzzy",
                              "--bootstrap", "20"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "fixed:lexical+fuzzy" in res.output
    res = runner.invoke(cli, ["bandit", "ope", *args, "--target", "fixed:nope"])
    assert isinstance(res.exception, LtrrError) and "unknown arms" in str(res.exception)
    # through the real entry point: one line on stderr, no traceback
    proc = subprocess.run(
        [sys.executable, "-m", "ltrr_os", "feedback", "ingest", str(tmp_path / "missing.jsonl"),
         *args], capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error:") and "no such events file" in proc.stderr
    res = runner.invoke(cli, ["bandit", "versions", *args])
    assert res.exit_code == 0 and "* v000001" in res.output
