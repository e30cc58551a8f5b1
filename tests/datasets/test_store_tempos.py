"""The token store's tempo maps: stored exactly, read back memory-mapped, carried into a store run's seeds;
stores from before them still open."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from musegen import runs
from musegen.config import DataConfig, ModelConfig, RunConfig, SamplingConfig, TrainConfig
from musegen.datasets.build_store import ingest_to_store
from musegen.errors import DatasetError
from musegen.generation.compose import Composer
from musegen.notes import DEFAULT_TEMPO, Piece
from musegen.output.midi import midi_bytes, piece_to_midi
from musegen.sources.ingest import ingest_paths
from musegen.streams.store import MANIFEST, TokenStore, load_store_dataset, open_store
from musegen.streams.store_tempos import BPM, TEMPO_OFFSETS, TEMPOS
from musegen.training.loop import train
from tests.representations.test_performance import TEMPO_MAP, played_piece

CHANGES = {0: TEMPO_MAP, 2: np.array([[0.0, 150.0], [8.0, 75.0]])}  # the other pieces: 120 BPM throughout


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Six played piano files: two with tempo changes, four of one tempo."""
    root = tmp_path_factory.mktemp("played")
    for seed in range(6):
        piece = played_piece(seed, n=60, tempo_map=CHANGES.get(seed))
        pm = piece_to_midi(piece, tempo=piece.tempo, tempo_map=piece.tempo_map)
        (root / f"played-{seed}.mid").write_bytes(midi_bytes(pm))
    return root


@pytest.fixture(scope="module")
def stores(folder, tmp_path_factory) -> dict[str, Path]:
    """The files ingested as performance events and as timed tokens."""
    out = tmp_path_factory.mktemp("stores")
    for rep in ("performance", "timed"):
        ingest_to_store([folder], out / rep, DataConfig(representation=rep, val_fraction=0.34), workers=1)
    return {rep: out / rep for rep in ("performance", "timed")}


def _by_name(store: TokenStore) -> dict[str, int]:
    return {name.rsplit("/", 1)[-1]: i for i, name in enumerate(store.names(np.arange(store.n_pieces)))}


def test_every_piece_keeps_its_tempo_map_exactly(folder, stores):
    store = open_store(stores["performance"])
    read = {p.name: p for p in ingest_paths([folder], DataConfig(), use_cache=False).pieces}
    assert store.has_tempos and store.n_pieces == 6
    for name, i in _by_name(store).items():
        got = store.tempo_map(i)
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, read[name].tempos())  # beats and BPM as ingest read them, bit for bit
        want = CHANGES.get(int(name.rsplit("-", 1)[-1]), np.array([[0.0, 120.0]]))
        np.testing.assert_allclose(got, want, rtol=1e-5)  # what was written (MIDI keeps microseconds a beat)
    assert isinstance(store.tempo_maps.tempos, np.memmap)
    rows = store.manifest["tempo_rows"]
    assert rows == 4 + 2 + 4 and (stores["performance"] / TEMPOS).stat().st_size == 16 * rows
    # the tempo each piece plays at: fixed for performance events (seconds at 120 BPM), the map's mean for timed
    assert {store.tempo(i) for i in range(6)} == {120.0}
    timed = open_store(stores["timed"])
    means = {name: timed.tempo(i) for name, i in _by_name(timed).items()}
    assert means["played-1"] == 120.0 and 66 < means["played-0"] < 140 and 75 < means["played-2"] < 150


def test_a_store_from_before_tempo_maps_opens_and_plays_at_the_default(stores, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(stores["timed"], old)
    for name in (TEMPOS, TEMPO_OFFSETS, BPM):
        (old / name).unlink()
    manifest = json.loads((old / MANIFEST).read_text())
    del manifest["tempo_rows"]
    (old / MANIFEST).write_text(json.dumps(manifest))
    store, new = open_store(old), open_store(stores["timed"])
    assert not store.has_tempos and store.n_pieces == new.n_pieces
    np.testing.assert_array_equal(store.piece(3), new.piece(3))
    np.testing.assert_array_equal(store.tempo_map(0), [[0.0, DEFAULT_TEMPO]])
    assert store.tempo(0) == DEFAULT_TEMPO
    sample = load_store_dataset(store, fim=False)
    assert sample.train and sample.train_tempos == [] == sample.val_tempos  # the run records no tempos


def test_a_damaged_tempo_file_is_refused_with_what_to_do(stores, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(stores["timed"], broken)
    tempos = broken / TEMPOS
    data = tempos.read_bytes()
    tempos.write_bytes(data[:-16])
    with pytest.raises(DatasetError, match=r"tempos.bin holds 144 bytes where the manifest says 160 bytes.*Ingest"):
        open_store(broken)
    tempos.unlink()
    with pytest.raises(DatasetError, match=r"tempos.bin is missing where the manifest says 160 bytes"):
        open_store(broken)
    rows = np.frombuffer(data, "<f8").reshape(-1, 2).copy()
    rows[1, 0] = -1.0  # a beat before the one before it
    tempos.write_bytes(rows.tobytes())
    store = open_store(broken)
    holder = int(np.searchsorted(store.tempo_maps.offsets, 1, side="right")) - 1  # the piece whose map has row 1
    with pytest.raises(DatasetError, match=rf"no valid tempo map for piece {holder} .*Ingest it again"):
        store.tempo_map(holder)
    store.tempo_map(holder + 1)  # the others read as before


def _store_run(store_dir: Path, runs_dir: Path, config: RunConfig) -> Path:
    dataset = load_store_dataset(open_store(store_dir), fim=False)
    run_dir = runs.create_run(runs_dir, config, dataset.vocab)
    train(config, dataset, run_dir, evaluate=False)
    return run_dir


@pytest.mark.slow
def test_a_performance_run_from_a_store_seeds_at_its_pieces_tempo_and_plays(stores, tmp_path):
    config = RunConfig(
        data=DataConfig(representation="performance", window=64, stride=64, val_fraction=0.34),
        model=ModelConfig("lstm", embed_dim=16, units=32, layers=1),
        train=TrainConfig(epochs=1, batch_size=16, learning_rate=5e-3, seed=0),
    )
    run_dir = _store_run(stores["performance"], tmp_path / "runs", config)
    store = open_store(stores["performance"])
    recorded = runs.piece_tempos(run_dir)  # the sample the run keeps carries its pieces' tempos
    assert recorded["train"] == [120.0] * store.manifest["train_pieces"]
    assert recorded["val"] == [120.0] * store.manifest["val_pieces"]
    composer = Composer(run_dir)
    seed = composer.seed_from_piece(0, start=10, length=48)
    assert seed.tempo == 120.0 and seed.piece.tempo_map is None  # events decode at a fixed 120 BPM: no map
    comp = composer.compose(seed, SamplingConfig(length=48, temperature=1.0, top_k=0, seed=3, variations=1))
    assert comp.continuations[0].n_notes > 0


def test_a_timed_store_runs_seeds_keep_their_pieces_tempo_changes(stores, tmp_path):
    """What the training loop writes of a store run (data.npz, pieces.json, store.json), without a model:
    a seed needs none."""
    store = open_store(stores["timed"])
    dataset = load_store_dataset(store, fim=False)
    run_dir = runs.create_run(tmp_path, RunConfig(data=store.data_config), dataset.vocab)
    names, tempos = (dataset.train_names, dataset.val_names), (dataset.train_tempos, dataset.val_tempos)
    runs.save_dataset(run_dir, dataset.train, dataset.val, names, tempos=tempos)
    runs.save_store_reference(run_dir, store.reference())
    composer = Composer(run_dir)
    labels = [label for label, _ in composer.pieces()]
    k, i = next(k for k, label in enumerate(labels) if label.endswith("played-0")), _by_name(store)["played-0"]
    tm = store.tempo_map(i)
    held = Piece("", np.zeros((0, 4)), 90.0, tm)  # the piece's time, for what a seed of it should play at
    whole = composer.seed_from_piece(k, start=0, length=100_000)
    np.testing.assert_array_equal(whole.piece.tempo_map, tm[tm[:, 0] < whole.end_beats])  # in the piece's beats
    assert len(whole.piece.tempo_map) >= 3  # most of its changes
    assert whole.tempo == round(composer.rep.playback_tempo(held, 0.0, whole.end_beats), 2) != DEFAULT_TEMPO
    start = 60
    begin = composer.rep.time_cursor(composer.pieces()[k][1][:start])
    later = composer.seed_from_piece(k, start=start, length=150)  # from the middle: the map from the seed's start
    end = begin + later.end_beats
    inside = tm[(tm[:, 0] > begin) & (tm[:, 0] < end)]
    assert len(inside) >= 1, (begin, end)
    np.testing.assert_array_equal(later.piece.tempo_map, np.vstack([[0.0, held.tempo_at(begin)], inside - [begin, 0]]))
    assert later.tempo == round(composer.rep.playback_tempo(held, begin, end), 2)
    plain = composer.seed_from_piece(next(k for k, label in enumerate(labels) if label.endswith("played-1")), 0, 40)
    assert plain.tempo == 120.0 and plain.piece.tempo_map is None

    moved = shutil.copytree(run_dir, tmp_path / "moved")  # a run whose store is gone plays at the pieces' mean tempos
    runs.save_store_reference(moved, {**store.reference(), "path": str(tmp_path / "gone")})
    alone = Composer(moved).seed_from_piece(k, start=0, length=40)
    assert alone.tempo == store.tempo(i) and alone.piece.tempo_map is None
