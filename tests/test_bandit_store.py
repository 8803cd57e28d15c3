"""Policy persistence: versions, checksums, fallback from a corrupt file, schema checks."""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import time
from pathlib import Path

import numpy as np
import pytest

from ltrr_os.bandit.config import BanditRetrieval
from ltrr_os.bandit.policy import RetrievalPolicy
from ltrr_os.bandit.store import PolicyStore, StaleVersionError

FEATURES = ["bias", "x"]
ROOT = Path(__file__).resolve().parents[1]


def trained(seed: int = 0) -> RetrievalPolicy:
    p = RetrievalPolicy(["a", "b"], BanditRetrieval(policy="bandit", seed=seed), 2)
    rng = np.random.default_rng(seed)
    X = np.c_[np.ones(100), rng.random(100)]
    arms = ["a", "b"] * 50
    p.update(arms, [float(a == "a") for a in arms], X)
    return p


def test_save_load_round_trip_keeps_predictions(tmp_path):
    store = PolicyStore(tmp_path, keep=2)
    p = trained()
    v1 = store.save(p, feature_names=FEATURES, plan_hash="h")
    loaded = store.load(FEATURES)
    assert loaded.version == v1 == "v000001"
    x = np.array([1.0, 0.3])
    assert loaded.policy.expectations(x) == pytest.approx(p.expectations(x))
    meta = json.loads((tmp_path / v1 / "meta.json").read_text())
    assert meta["arms"] == ["a", "b"] and meta["feature_names"] == FEATURES
    assert len(meta["sha256"]) == 64
    for _ in range(3):
        store.save(p, feature_names=FEATURES, plan_hash="h")
    assert store.versions() == ["v000003", "v000004"]  # keep=2


def test_corrupt_current_falls_back_to_the_last_good_version(tmp_path, caplog):
    store = PolicyStore(tmp_path)
    store.save(trained(), feature_names=FEATURES, plan_hash="h")
    v2 = store.save(trained(1), feature_names=FEATURES, plan_hash="h")
    blob = tmp_path / v2 / "policy.pkl"
    blob.write_bytes(blob.read_bytes()[:-10])  # torn write
    with caplog.at_level(logging.WARNING):
        loaded = store.load(FEATURES)
    assert loaded.version == "v000001"
    assert "unusable" in caplog.text and "checksum" in caplog.text


def test_a_changed_feature_schema_is_never_loaded(tmp_path):
    store = PolicyStore(tmp_path)
    store.save(trained(), feature_names=FEATURES, plan_hash="h")
    assert store.load(["bias", "x", "new"]) is None


def test_a_save_built_on_a_stale_version_is_refused(tmp_path):
    store = PolicyStore(tmp_path)
    v1 = store.save(trained(), feature_names=FEATURES, plan_hash="h", parent=None)
    with pytest.raises(StaleVersionError, match="reload"):
        store.save(trained(1), feature_names=FEATURES, plan_hash="h", parent=None)
    v2 = store.save(trained(1), feature_names=FEATURES, plan_hash="h", parent=v1)
    assert store.meta(v2)["parent"] == v1 and store.versions() == [v1, v2]


def test_rollback_moves_current_and_refuses_a_corrupt_version(tmp_path):
    from ltrr_os.errors import ConfigError

    store = PolicyStore(tmp_path)
    v1 = store.save(trained(), feature_names=FEATURES, plan_hash="h")
    v2 = store.save(trained(1), feature_names=FEATURES, plan_hash="h")
    before = store.current_mtime()
    store.rollback(v1)
    assert store.current() == v1 and store.current_mtime() != before
    (tmp_path / v2 / "meta.json").write_text("{")
    with pytest.raises(ConfigError, match="unusable"):
        store.rollback(v2)
    with pytest.raises(ConfigError, match="no policy version"):
        store.rollback("v000042")


ROUNDS, BATCH = 4, 10


def _learner(directory: str, k: int, start) -> None:
    """The documented learner loop: lock, load current, apply a batch, save on top of it.
    (Without the lock, the three learners overlap and two thirds of the batches are lost.)"""
    store = PolicyStore(directory, keep=100)
    rng = np.random.default_rng(k)
    start.wait()  # all learners race from the same moment
    for _ in range(ROUNDS):
        with store.learner():
            loaded = store.load(FEATURES)
            policy = loaded.policy if loaded else RetrievalPolicy(
                ["a", "b"], BanditRetrieval(policy="bandit"), 2)  # fmt: skip
            X = np.c_[np.ones(BATCH), rng.random(BATCH)]
            policy.update(["a", "b"] * (BATCH // 2), rng.random(BATCH).tolist(), X)
            time.sleep(0.03)  # the work between load and save, where updates could be lost
            store.save(policy, feature_names=FEATURES, plan_hash="h",
                       parent=loaded.version if loaded else None)  # fmt: skip


def _reader(directory: str, final: int) -> None:
    """A searcher process: reload whenever CURRENT moves; every load must be whole."""
    store = PolicyStore(directory, keep=100)
    seen, mtime = [], -1
    deadline = time.monotonic() + 60
    while (not seen or seen[-1][1] < final) and time.monotonic() < deadline:
        m = store.current_mtime()
        if m != mtime and m:
            loaded = store.load(FEATURES)
            assert loaded is not None, "a published version could not be read"
            assert loaded.version == loaded.meta["version"]
            assert loaded.policy.n_updates == loaded.meta["n_updates"]
            assert loaded.policy.n_updates % BATCH == 0  # never half a batch
            seen.append((loaded.version, loaded.policy.n_updates))
            mtime = m
        time.sleep(0.001)
    assert seen == sorted(seen), "a reader went back in time"
    assert len(seen) >= 2, "the reader never saw an update"


def test_several_learner_processes_lose_no_update_and_readers_never_tear(tmp_path):
    # fork: a spawned child re-imports mabwiser & co. (seconds each on a busy machine)
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    start = ctx.Barrier(3)
    procs = [ctx.Process(target=_reader, args=(str(tmp_path), 3 * ROUNDS * BATCH))]
    procs += [ctx.Process(target=_learner, args=(str(tmp_path), k, start)) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = PolicyStore(tmp_path, keep=100)
    assert store.versions() == [f"v{n:06d}" for n in range(1, 3 * ROUNDS + 1)]
    # every learner's every batch is in the final policy: nothing overwritten
    assert store.load(FEATURES).policy.n_updates == 3 * ROUNDS * BATCH
    parents = [store.meta(v)["parent"] for v in store.versions()]
    assert parents == [None, *store.versions()[:-1]]  # one linear history


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    from ltrr_os.datasets import generate_music_catalog
    from ltrr_os.engines.embedded import EmbeddedEngine
    from ltrr_os.indexing.pipeline import build_index
    from ltrr_os.plan import load_plan

    data = tmp_path_factory.mktemp("reload")
    engine = EmbeddedEngine(data)
    build_index(engine, "music", generate_music_catalog(n_tracks=200, seed=1), data_dir=data)
    plan = load_plan(ROOT / "query_plans" / "music-bandit.yaml")
    plan = plan.model_copy(update={"engine": plan.engine.model_copy(update={"data_dir": data})})
    return data, plan, engine


def test_a_running_searcher_hot_reloads_and_survives_a_corrupt_version(index, caplog):
    from ltrr_os.feedback.offline import PlanBandit
    from ltrr_os.search import Searcher

    data, plan, engine = index
    reader = Searcher(plan, engine, data_dir=data, online_learning=False)
    assert reader.policy_version is None
    learner = PlanBandit.open(plan, data)
    X = np.zeros((6, learner.featurizer.dim))
    X[:, 0] = 1.0
    arms = plan.active_arms()
    learner.policy.update([arms[0]] * 6, [1.0] * 6, X)
    v1 = learner.save()
    res = reader.search("love", {"device": "mobile"})
    assert reader.policy_version == v1 and res.trace.policy["version"] == v1
    assert reader.policy.n_updates == 6
    learner.policy.update([arms[1]] * 6, [1.0] * 6, X)
    v2 = learner.save()
    blob = learner.store.dir / v2 / "policy.pkl"
    blob.write_bytes(b"\x80garbage")  # a damaged file (disk, manual edit...)
    with caplog.at_level(logging.WARNING):
        res = reader.search("love", {"device": "mobile"})
    assert reader.policy_version == v1 and "unusable" in caplog.text  # last good one
    assert res.hits  # and it keeps serving
    learner.store.rollback(v1)
    reader.search("love")
    assert reader.policy_version == v1
