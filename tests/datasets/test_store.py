"""The token store: streamed ingest into memory-mapped ids, equal to the in-memory dataset, bounded memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from musegen.config import DataConfig, Limits, RunConfig
from musegen.datasets.build_store import ingest_to_store
from musegen.datasets.dataset import build_dataset
from musegen.errors import ConfigError, DatasetError
from musegen.representations.registry import for_vocab
from musegen.sources.ingest import ingest_paths
from musegen.sources.stream import DigestSet, walk_inputs
from musegen.streams.store import MANIFEST, TRAIN, VAL, open_store
from musegen.streams.store_windows import WindowReader, window_table
from musegen.streams.windows import sequence_windows
from tests.midi_factory import midi_bytes, piece_midi

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def folder(tmp_path_factory, chorales) -> Path:
    """12 real chorales as MIDI files in a folder and a subfolder, one file that is not MIDI, one copy."""
    root = tmp_path_factory.mktemp("midi")
    (root / "more").mkdir()
    for k, piece in enumerate(chorales):
        (root / ("more" if k % 2 else "") / f"{piece.name}.mid").write_bytes(piece_midi(piece))
    (root / "broken.mid").write_bytes(b"<html>not music</html>")
    (root / "more" / "copy.mid").write_bytes(piece_midi(chorales[0]))
    return root


@pytest.mark.parametrize("representation", ["timed", "classic"])
def test_the_store_holds_exactly_the_ids_of_the_in_memory_dataset(folder, tmp_path, representation):
    cfg = DataConfig(representation=representation, val_fraction=0.25)
    manifest = ingest_to_store([folder], tmp_path / "store", cfg)
    store = open_store(tmp_path / "store")
    assert manifest["pieces"] == store.n_pieces == 12  # the copy and the broken file are left out
    assert manifest["train_pieces"] and manifest["val_pieces"]
    names = [n.rsplit("/", 1)[-1] for n in store.names(np.arange(store.n_pieces))]
    pieces = {p.name: p for p in ingest_paths([folder], cfg, use_cache=False).pieces}
    # the same vocabulary as the in-memory dataset fits on the store's own training pieces
    train = [pieces[names[i]] for i in store.indices(TRAIN)]
    fitted = build_dataset(train, DataConfig(representation=representation, val_fraction=0.0))
    assert store.vocab.tokens == fitted.vocab.tokens
    memory = build_dataset(list(pieces.values()), cfg, vocab=store.vocab)
    by_name = dict(zip(memory.train_names + memory.val_names, memory.train + memory.val, strict=True))
    for i, name in enumerate(names):
        np.testing.assert_array_equal(store.piece(i), by_name[name])
    assert store.tokens.dtype == np.uint16 and isinstance(store.tokens, np.memmap)


def test_a_bad_file_among_good_ones_is_reported_and_skipped(folder, tmp_path):
    manifest = ingest_to_store([folder], tmp_path / "store", DataConfig())
    assert manifest["files"] == 14 and manifest["ok"] == 12 and manifest["skipped"] == 2
    reasons = manifest["reasons"]
    assert any("not a MIDI file (it is an HTML page)" in r for r in reasons)
    assert any("duplicate" in r for r in reasons)
    rows = [json.loads(line) for line in (tmp_path / "store" / "files.jsonl").read_text().splitlines()]
    assert len(rows) == 14
    bad = next(r for r in rows if r["name"] == "broken.mid")
    assert not bad["ok"] and "HTML" in bad["reason"]
    assert sum(r["ok"] for r in rows) == 12


def test_a_half_written_store_is_refused_with_what_to_do(folder, tmp_path):
    ingest_to_store([folder], tmp_path / "store", DataConfig())
    (tmp_path / "store" / MANIFEST).unlink()  # as a killed ingest leaves it
    with pytest.raises(DatasetError, match=r"half-written token store .* ingest PATH --store"):
        open_store(tmp_path / "store")
    ingest_to_store([folder], tmp_path / "store", DataConfig())  # ingesting again replaces it
    assert open_store(tmp_path / "store").n_pieces == 12


def test_a_finished_store_is_replaced_only_when_asked_and_other_folders_never(folder, tmp_path):
    ingest_to_store([folder], tmp_path / "store", DataConfig())
    with pytest.raises(DatasetError, match="--overwrite"):
        ingest_to_store([folder], tmp_path / "store", DataConfig())
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="not a token store"):
        ingest_to_store([folder], tmp_path / "mine", DataConfig())
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_a_truncated_store_is_refused(folder, tmp_path):
    ingest_to_store([folder], tmp_path / "store", DataConfig())
    tokens = tmp_path / "store" / "tokens.bin"
    tokens.write_bytes(tokens.read_bytes()[:-10])
    with pytest.raises(DatasetError, match="changed or damaged"):
        open_store(tmp_path / "store")


def test_piano_rolls_are_refused_with_the_way_they_train(folder, tmp_path):
    with pytest.raises(ConfigError, match="--data"):
        ingest_to_store([folder], tmp_path / "store", DataConfig(representation="pianoroll"))


def test_nothing_usable_writes_no_manifest(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.mid").write_bytes(b"nope")
    with pytest.raises(DatasetError, match="No usable MIDI file among 1"):
        ingest_to_store([tmp_path / "in"], tmp_path / "store", DataConfig())
    assert not (tmp_path / "store" / MANIFEST).exists()


def test_the_walk_is_lazy_and_in_path_order(tmp_path):
    for sub in ("b", "a/z", "a"):
        (tmp_path / sub).mkdir(parents=True, exist_ok=True)
    for name in ("b/2.mid", "a/z/1.mid", "a/0.mid", "c.mid", "a/skip.txt"):
        (tmp_path / name).write_bytes(b"MThd")
    walk = walk_inputs([tmp_path], Limits())
    assert next(walk)[0] == "a/0.mid"  # a generator: nothing below "a" needed listing yet
    assert [name for name, _ in walk] == ["a/z/1.mid", "b/2.mid", "c.mid"]


def test_the_digest_set_remembers_past_its_merges():
    seen = DigestSet()
    DigestSet.MERGE, saved = 8, DigestSet.MERGE
    try:
        assert all(seen.add(d) for d in range(-50, 50))
        assert not any(seen.add(d) for d in range(-50, 50))
        assert len(seen) == 100
    finally:
        DigestSet.MERGE = saved


def test_store_windows_equal_the_in_memory_windows(folder, tmp_path):
    ingest_to_store([folder], tmp_path / "store", DataConfig(val_fraction=0.25))
    store = open_store(tmp_path / "store")
    train = [store.piece(i) for i in store.indices(TRAIN)]
    for window, stride in ((32, 16), (64, 64), (3000, 7)):  # the last: every piece shorter than the window
        x, y, w = sequence_windows(train, window, stride)
        reader = WindowReader(store.tokens, *window_table(store.offsets, store.indices(TRAIN), window, stride), window)
        sx, sy, sw = reader.batch(np.arange(len(reader)))
        np.testing.assert_array_equal(sx, x)
        np.testing.assert_array_equal(sy, y)
        np.testing.assert_array_equal(sw, w)


def test_the_training_pipeline_gives_every_window_of_training_data_once_per_epoch(folder, tmp_path):
    ingest_to_store([folder], tmp_path / "store", DataConfig(val_fraction=0.25))
    store = open_store(tmp_path / "store")
    config = RunConfig()
    config.data.window, config.data.stride, config.data.fim_rate = 32, 16, 0.0
    config.model.arch = "lstm"
    rep = for_vocab(store.vocab)
    train = [store.piece(i) for i in store.indices(TRAIN)]
    val = [store.piece(i) for i in store.indices(VAL)]
    memory = rep.training_data(train, val, config, 16, seed=3)
    streamed = rep.store_training_data(store, config, 16, seed=3)
    assert (streamed.samples, streamed.global_batch) == (memory.samples, memory.global_batch)

    def rows(ds):
        batches = [tuple(np.asarray(t) for t in b) for b in ds]
        return sorted(map(bytes, np.concatenate([np.concatenate(b, axis=1).view(np.uint8) for b in batches])))

    assert rows(streamed.train) == rows(memory.train)
    assert rows(streamed.val) == rows(memory.val)
    first = [np.asarray(b[0]) for b in streamed.train]
    again = [np.asarray(b[0]) for b in streamed.train]
    assert not all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))  # reshuffled every epoch


def test_fill_in_the_middle_windows_are_drawn_from_the_store(folder, tmp_path):
    ingest_to_store([folder], tmp_path / "store", DataConfig(val_fraction=0.25))
    store = open_store(tmp_path / "store")
    config = RunConfig()
    config.data.window, config.data.stride, config.data.fim_rate = 64, 32, 0.5
    rep = for_vocab(store.vocab.with_fim())
    data = rep.store_training_data(store, config, 32, seed=0)
    x, y, _ = (np.asarray(t) for t in next(iter(data.train)))
    sentinel = rep.vocab.fim_ids()[1]  # <fim_suffix> opens an SPM example
    share = float(np.mean(x[:, 0] == sentinel))
    assert 0.2 < share < 0.8
    assert np.array_equal(x[:, 1:], y[:, :-1])  # still next-token targets
    again = [np.asarray(t) for t in next(iter(rep.store_training_data(store, config, 32, seed=0).train))]
    np.testing.assert_array_equal(again[0], x)  # the same seed, the same draw


BOUNDED = textwrap.dedent(
    """
    import resource, sys
    from pathlib import Path
    from musegen.config import DataConfig
    from musegen.datasets.build_store import ingest_to_store
    ingest_to_store([Path(sys.argv[1])], Path(sys.argv[2]), DataConfig(), max_files=int(sys.argv[3]))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """
)


@pytest.mark.slow
def test_memory_stays_bounded_whatever_the_number_of_files(tmp_path):
    """2,000 files cost the ingest no more memory than 200 (a few MB of slack for allocator noise)."""
    folder = tmp_path / "many"
    for k in range(2000):
        sub = folder / f"{k // 500:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        notes = [(i * 0.25, (i + 1) * 0.25, 30 + (k % 60 + i * 5) % 60) for i in range(40 + k // 60)]  # distinct
        (sub / f"f{k:05d}.mid").write_bytes(midi_bytes(notes))
    peaks = {}
    for n in (200, 2000):
        proc = subprocess.run(
            [sys.executable, "-c", BOUNDED, str(folder), str(tmp_path / f"store{n}"), str(n)],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        peaks[n] = int(proc.stdout.split()[-1]) / 1024  # MB
        assert open_store(tmp_path / f"store{n}").n_pieces == n
    assert peaks[2000] - peaks[200] < 8, peaks


def test_max_files_stops_the_walk_and_says_so(folder, tmp_path):
    manifest = ingest_to_store([folder], tmp_path / "store", DataConfig(), max_files=5)
    assert manifest["files"] == 5 and manifest["limited"] is True
    manifest = ingest_to_store([folder], tmp_path / "all", DataConfig(), max_files=14)
    assert manifest["files"] == 14 and manifest["limited"] is False
