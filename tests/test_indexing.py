"""Indexing: versioned builds, reindex safety, readers' row-level errors, the index CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ltrr_os.cli import cli
from ltrr_os.datasets import generate_music_catalog, write_csv
from ltrr_os.engines.embedded import EmbeddedEngine
from ltrr_os.errors import ConfigError, DataError
from ltrr_os.indexing.pipeline import build_index, encoder_dir, versions_of
from ltrr_os.indexing.readers import ReadReport, read_documents
from ltrr_os.templates import load_template

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = load_template("music")
LEXICAL = {"query": {"match": {"title": "love"}}, "size": 3}


@pytest.fixture(scope="module")
def docs():
    return generate_music_catalog(n_tracks=300, seed=5)


class FailingEngine(EmbeddedEngine):
    """Fails the second bulk batch of a load, like a node dying mid-reindex."""

    fail = False

    def bulk(self, index, docs, *, chunk_size=1000, progress=None, max_errors=100):
        if not self.fail:
            return super().bulk(index, docs, chunk_size=chunk_size, progress=progress,
                                max_errors=max_errors)  # fmt: skip

        def boom():
            for n, d in enumerate(docs):
                if n == chunk_size + 5:
                    raise OSError("injected: connection lost during batch 2")
                yield d

        return super().bulk(index, boom(), chunk_size=chunk_size, progress=progress,
                            max_errors=max_errors)  # fmt: skip


def test_build_swaps_the_alias_and_saves_the_encoder(tmp_path, docs):
    engine = EmbeddedEngine(tmp_path)
    rep = build_index(engine, "music", docs, data_dir=tmp_path, smoke_query=LEXICAL)
    assert engine.get_alias("music") == [rep.index]
    assert engine.count("music") == rep.loaded == 300
    assert (encoder_dir(tmp_path, rep.index) / "encoder.json").is_file()
    assert rep.encoder["type"] == "tfidf_svd"
    hit = engine.search("music", {"query": {"ids": {"values": [docs[0]["track_id"]]}}})
    assert len(hit["hits"]["hits"][0]["_source"]["embedding"]) == 64


def test_reindex_keeps_n_versions_and_prunes_their_encoders(tmp_path, docs):
    engine = EmbeddedEngine(tmp_path)
    built = [build_index(engine, "music", docs[:100], data_dir=tmp_path, keep=2).index
             for _ in range(3)]  # fmt: skip
    assert versions_of(engine, "music") == built[1:]
    assert engine.get_alias("music") == [built[2]]
    assert not encoder_dir(tmp_path, built[0]).exists()
    assert built == sorted(built)


def test_failure_mid_load_leaves_the_old_version_live_and_nothing_half_built(tmp_path, docs):
    engine = FailingEngine(tmp_path)
    old = build_index(engine, "music", docs, data_dir=tmp_path).index
    before = {i.name for i in engine.list_indices()}
    engine.fail = True
    with pytest.raises(OSError, match="injected"):
        build_index(engine, "music", docs, data_dir=tmp_path, batch_size=100)
    assert engine.get_alias("music") == [old]
    assert {i.name for i in engine.list_indices()} == before  # the new version is gone
    assert sorted(p.name for p in (tmp_path / "encoders").iterdir()) == [old]
    assert engine.search("music", LEXICAL)["hits"]["hits"]  # still searchable
    # and a fresh engine on the same directory sees the same thing (nothing on disk)
    again = EmbeddedEngine(tmp_path)
    assert again.get_alias("music") == [old] and again.count("music") == 300


def test_rejected_ids_abort_before_anything_is_created(tmp_path, docs):
    engine = EmbeddedEngine(tmp_path)
    bad = [dict(d) for d in docs[:20]]
    bad[3]["track_id"] = ""
    bad[7]["track_id"] = bad[6]["track_id"]
    with pytest.raises(DataError, match="2 document.*missing id.*duplicate id"):
        build_index(engine, "music", bad, data_dir=tmp_path)
    assert engine.list_indices() == [] and engine.get_alias("music") == []
    with pytest.raises(DataError, match="smoke query found nothing"):
        build_index(engine, "music", docs[:20], data_dir=tmp_path,
                    smoke_query={"query": {"term": {"track_id": "nope"}}})  # fmt: skip
    assert engine.list_indices() == []


def test_wrong_types_are_rejected_by_the_engine_with_the_document(tmp_path, docs):
    engine = EmbeddedEngine(tmp_path)
    bad = [dict(d) for d in docs[:20]]
    bad[4]["year"] = "nineteen"
    with pytest.raises(DataError, match="year"):
        build_index(engine, "music", bad, data_dir=tmp_path, encoder="none")
    assert engine.get_alias("music") == []
    rep = build_index(engine, "music", bad, data_dir=tmp_path, encoder="none", allow_errors=True)
    assert rep.loaded == 19 and rep.n_rejected == 1


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_reader_reports_file_line_and_field(tmp_path):
    p = write(tmp_path / "t.csv", "track_id,title,year,popularity\n"
              "a,Song,1999,50\n"
              "b,Other,abc,50\n"
              "c,\"broken,2000,1\n")  # fmt: skip
    rep = ReadReport()
    out = list(read_documents(p, template=TEMPLATE, report=rep))
    assert [d["track_id"] for d in out] == ["a"] and out[0]["year"] == 1999
    assert out[0]["popularity"] == 50.0 and out[0]["_line"] == "t.csv:2"
    assert rep.rows == 3 and rep.n_rejected == 2
    assert rep.rejected[0] == ("t.csv:3", "year", "'abc' is not a number")
    assert rep.rejected[1][0] == "t.csv:4"


def test_unknown_fields_suggest_a_name_and_can_be_mapped(tmp_path):
    p = write(tmp_path / "t.csv", "track_id,titel,junk\na,Song,x\n")
    rep = ReadReport()
    assert list(read_documents(p, template=TEMPLATE, report=rep)) == []
    assert "did you mean 'title'" in rep.rejected[0][2]
    docs = list(read_documents(p, template=TEMPLATE, mapping={"titel": "title", "junk": None}))
    assert docs[0]["title"] == "Song" and "junk" not in docs[0]


def test_jsonl_reader_and_file_errors(tmp_path):
    p = write(tmp_path / "t.jsonl", '{"track_id": "a", "year": 2001}\n{oops\n[1]\n'
              '{"track_id": "b", "release_date": "someday"}\n')  # fmt: skip
    rep = ReadReport()
    out = list(read_documents(p, template=TEMPLATE, report=rep))
    assert [d["track_id"] for d in out] == ["a"]
    assert [r[0] for r in rep.rejected] == ["t.jsonl:2", "t.jsonl:3", "t.jsonl:4"]
    assert "not a date" in rep.rejected[2][2]
    with pytest.raises(DataError, match="no such file"):
        list(read_documents(tmp_path / "missing.csv", template=TEMPLATE))
    with pytest.raises(DataError, match="duplicate column"):
        list(read_documents(write(tmp_path / "d.csv", "a,a\n1,2\n"), template=TEMPLATE))
    with pytest.raises(ConfigError, match="--format"):
        list(read_documents(write(tmp_path / "x.txt", "a"), template=TEMPLATE))


def test_index_cli_load_list_reindex_drop(tmp_path, docs):
    csv_path = tmp_path / "tracks.csv"
    write_csv(docs, csv_path)
    runner = CliRunner()
    dd = ["--data-dir", str(tmp_path / "d")]
    res = runner.invoke(cli, ["index", "load", "music", str(csv_path), *dd,
                              "--list-field", "genre", "--list-field", "subgenre"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "music -> music-v" in res.output and "300 docs" in res.output
    res = runner.invoke(cli, ["index", "reindex", "--alias", "music", str(csv_path), *dd,
                              "--smoke", docs[0]["title"], "--keep", "1"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "pruned" in res.output
    res = runner.invoke(cli, ["index", "list", *dd])
    assert res.exit_code == 0 and res.output.count("music-v") == 1 and "* music-v" in res.output
    engine = EmbeddedEngine(tmp_path / "d")
    live = engine.get_alias("music")
    # a file with a bad row: nothing changes, exit code 3 with the row named
    bad = write(tmp_path / "bad.csv", "track_id,title,year\na,x,1999\nb,y,later\n")
    res = runner.invoke(cli, ["index", "load", "music", str(bad), *dd])
    assert isinstance(res.exception, DataError) and res.exception.exit_code == 3
    assert "bad.csv:3" in res.output and "1 of 2 rows rejected" in str(res.exception)
    assert EmbeddedEngine(tmp_path / "d").get_alias("music") == live
    res = runner.invoke(cli, ["index", "drop", "music", "--yes", *dd])
    assert res.exit_code == 0, res.output
    assert EmbeddedEngine(tmp_path / "d").list_indices() == []


def test_cli_user_errors_are_one_line_without_traceback(tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "ltrr_os", *args], capture_output=True,
                              text=True, cwd=ROOT)  # fmt: skip

    dd = ["--data-dir", str(tmp_path)]
    for args, why in [
        (["index", "load", "music", str(tmp_path / "nope.csv"), *dd], "no such file"),
        (["index", "drop", "nothing", "--yes", *dd], "no alias or index"),
    ]:
        proc = run(*args)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        assert proc.stderr.startswith("error:") and why in proc.stderr
    bad = write(tmp_path / "b.jsonl", json.dumps({"track_id": "a", "year": "x"}) + "\n")
    proc = run("index", "load", "music", str(bad), *dd)
    assert proc.returncode == 3 and "b.jsonl:1 field 'year'" in proc.stderr
