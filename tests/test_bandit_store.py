"""Policy persistence: versions, checksums, fallback from a corrupt file, schema checks."""

from __future__ import annotations

import json
import logging
import multiprocessing as mp

import numpy as np
import pytest

from ltrr_os.bandit.config import BanditRetrieval
from ltrr_os.bandit.policy import RetrievalPolicy
from ltrr_os.bandit.store import PolicyStore

FEATURES = ["bias", "x"]


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


def _save_many(directory: str, k: int) -> None:
    store = PolicyStore(directory, keep=100)
    for _ in range(5):
        store.save(trained(k), feature_names=FEATURES, plan_hash=str(k))


def test_processes_saving_concurrently_never_lose_or_tear_a_version(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_save_many, args=(str(tmp_path), k)) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = PolicyStore(tmp_path, keep=100)
    assert store.versions() == [f"v{n:06d}" for n in range(1, 16)]
    for v in store.versions():
        assert store._read(v, FEATURES).policy.n_updates == 100
