"""The pretraining corpus: music21's core corpus planned, converted onto the base vocabulary into a token store,
with a per-file report, corpus.json, a held-out split by piece, duplicates left out and bad files reported."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from musegen.datasets.corpus import REPORT, SUMMARY, CorpusFile, build_corpus_store, convert_file, plan_files
from musegen.datasets.fixed_vocab import BASE_VOCAB_NAME, base_vocabulary
from musegen.errors import ConfigError
from musegen.sources.corpus import BUILTIN_NAME, load_builtin_corpus
from musegen.sources.music21_corpus import COLLECTIONS, NON_COMMERCIAL, RESTRICTED, corpus_root
from musegen.streams.store import TRAIN, VAL, open_store, split_of
from tests.cli_runner import run_musegen


def _file(rel: str) -> CorpusFile:
    return CorpusFile(rel, rel.split("/")[0], str(corpus_root() / rel))


def test_the_plan_is_fixed_and_filtered() -> None:
    plan = plan_files()
    assert plan[0].collection == BUILTIN_NAME and len(plan) > 3000
    assert [f.name for f in plan[1:]] == sorted(f.name for f in plan[1:])
    assert {f.collection for f in plan} <= {BUILTIN_NAME, *COLLECTIONS}
    folk = plan_files(["nottingham-dataset", "josquin"], limit=3)
    assert [f.collection for f in folk] == ["josquin"] * 3
    assert plan_files(["nottingham-dataset"]) == [f for f in plan if f.collection == "nottingham-dataset"]
    with pytest.raises(ConfigError, match="unknown collection"):
        plan_files(["beatles"])


def test_licences_are_honest() -> None:
    assert COLLECTIONS["palestrina"].status == RESTRICTED and "John Miller" in COLLECTIONS["palestrina"].licence
    assert COLLECTIONS["essenFolksong"].status == NON_COMMERCIAL
    assert "General Public License" in COLLECTIONS["josquin"].licence
    assert "CCARH" in COLLECTIONS["bach"].licence


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("corpus")
    broken = tmp / "broken.mxl"
    broken.write_bytes(b"<html>not a score</html>")
    files = [
        _file("nottingham-dataset/reelsa-c.abc"),  # an ABC opus: two tunes
        _file("ryansMammoth/42dHighlandRegimentStrathspey.abc"),
        _file("bach/choraleAnalyses/riemenschneider001.rntxt"),  # an analysis: skipped, with the reason
        CorpusFile("broken/broken.mxl", "broken", str(broken)),
        CorpusFile("copy/reelsa-c.abc", "copy", str(corpus_root() / "nottingham-dataset/reelsa-c.abc")),
    ]
    summary = build_corpus_store(tmp / "store", files=files, val_fraction=0.4)
    return tmp / "store", summary


def test_a_tiny_corpus_store(built) -> None:
    path, summary = built
    store = open_store(path)
    assert store.manifest["vocabulary"] == BASE_VOCAB_NAME
    assert store.vocab.tokens == base_vocabulary().tokens[:-4]  # the FIM sentinels come back in a run, last
    assert store.n_pieces == 3 == summary["store"]["pieces"]  # two tunes of the opus and one reel
    assert len(store.indices(TRAIN)) and len(store.indices(VAL))
    names = store.names(np.arange(store.n_pieces))
    assert names[0].startswith("nottingham-dataset/reelsa-c.abc#1")
    c = summary["collections"]
    assert c["nottingham-dataset"]["pieces"] == 2 and c["copy"]["duplicates"] == 2 and c["copy"]["pieces"] == 0
    assert c["broken"]["errors"] == 1 and summary["totals"]["errors"] == 1
    assert summary["totals"]["notes"] > 300 and summary["totals"]["tokens"] == store.manifest["tokens"]
    assert summary["vocabulary"]["name"] == BASE_VOCAB_NAME and "split_of" in summary["split"]["rule"]
    assert c["ryansMammoth"]["licence"] and c["ryansMammoth"]["source"]
    assert json.loads((path / SUMMARY).read_text()) == json.loads(json.dumps(summary))


def test_the_report_says_what_happened_to_every_file(built) -> None:
    path, _ = built
    rows = [json.loads(line) for line in (path / REPORT).read_text().splitlines()]
    by = {r["file"]: r for r in rows}
    assert "XMLSyntaxError" in by["broken/broken.mxl"]["error"] or by["broken/broken.mxl"]["error"]
    assert by["copy/reelsa-c.abc"]["duplicates"] == 2 and not by["copy/reelsa-c.abc"]["ok"]
    tunes = by["nottingham-dataset/reelsa-c.abc"]
    assert tunes["pieces"] == 2 and tunes["mapping"]["notes"] == tunes["notes"]
    assert tunes["mapping"]["velocities_moved"] == tunes["notes"]  # music21's 80 is not a level: 79 is
    rn = [r for r in rows if r["file"].endswith(".rntxt")]
    assert all("RomanText" in r["skipped"] for r in rn)


def test_pieces_are_held_out_by_a_hash_of_their_name(built) -> None:
    path, summary = built
    store = open_store(path)
    names = store.names(np.arange(store.n_pieces))
    assert store.split.tolist() == [split_of(n, 0.4, 0) for n in names]  # stable: the same in any plan
    assert summary["store"]["val_pieces"] == int(store.split.sum()) == summary["totals"]["val_pieces"]


def test_the_builtin_chorales_are_a_collection() -> None:
    result = convert_file(plan_files(limit=1)[0])
    assert not result.error and len(result.pieces) == len(load_builtin_corpus())
    assert result.pieces[0].name.startswith(f"{BUILTIN_NAME}/")


def test_the_command(tmp_path) -> None:
    listed = run_musegen("corpus", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)["collections"]}
    assert rows["ryansMammoth"]["files"] > 1000 and rows[BUILTIN_NAME]["files"] == 1
    out = run_musegen("corpus", "build", str(tmp_path / "c"), "--collections", "nottingham-dataset", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["store"]["pieces"] == 2 and "[1/1]" in out.stderr
    again = run_musegen("corpus", "build", str(tmp_path / "c"), "--collections", "nottingham-dataset")
    assert again.returncode == 2 and "--overwrite" in again.stderr
    bad = run_musegen("corpus", "build", str(tmp_path / "d"), "--collections", "nope")
    assert bad.returncode == 2 and "corpus list" in bad.stderr
