"""A corpus's originality index on disk: the same answers after a round trip, damaged files refused with the
reason, and a fine-tuned run checked against its own pieces and, separately, against its base's corpus."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from musegen.errors import ModelLoadError
from musegen.evaluation.originality import BASE_INDEX, BASES, TRAINING, YOURS, Source, check
from musegen.metrics.originality import OriginalityIndex
from musegen.metrics.originality_file import load_index, save_index
from musegen.notes import Piece, make_notes


def _random_piece(rng: np.random.Generator, name: str, n: int) -> Piece:
    onsets = np.cumsum(rng.choice([0.0, 1 / 3, 0.5, 1.0, 9.0], n))  # chords, triplets and a step past 8 beats
    rows = [(float(o), float(o) + 0.5, int(p), 80) for p, o in zip(60 + rng.integers(-30, 31, n), onsets, strict=True)]
    return Piece(name, make_notes(rows))


@pytest.fixture(scope="module")
def corpus() -> list[Piece]:
    rng = np.random.default_rng(3)
    return [_random_piece(rng, f"corpus/{i}", int(rng.integers(1, 400))) for i in range(60)]


def test_a_round_trip_keeps_every_passage_and_answer(corpus, tmp_path):
    index = OriginalityIndex.from_pieces(corpus)
    back = load_index(save_index(index, tmp_path / BASE_INDEX))
    assert back.names == index.names and np.array_equal(back.note_offsets, index.note_offsets)
    assert np.array_equal(back.symbols, index.symbols) and np.array_equal(back.pitches, index.pitches)
    rng = np.random.default_rng(4)
    moved = Piece("moved", corpus[9].notes + np.array([4.0, 4.0, 2.0, 0.0]))  # 4 beats later, 2 semitones up
    queries = [_random_piece(rng, "new", 50), corpus[7], moved]
    for piece in queries:
        assert back.longest_copy(piece) == index.longest_copy(piece)
    assert back.longest_copy(queries[2]).transposition == 2
    assert (tmp_path / BASE_INDEX).stat().st_size < 5 * index.n_notes + 100_000  # a few bytes a note


def _rewrite(path, **changes) -> None:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())


def test_damaged_and_foreign_files_are_refused_with_the_reason(corpus, tmp_path):
    good = save_index(OriginalityIndex.from_pieces(corpus[:5]), tmp_path / "good.npz")
    data = good.read_bytes()
    cases = {"cut.npz": data[: len(data) // 2], "text.npz": b"not an index", "empty.npz": b""}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ModelLoadError, match="cannot be read as an originality index"):
            load_index(tmp_path / name)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(data)
    _rewrite(bad, note_offsets=np.array([0, 3, 2, 99], np.int64))
    with pytest.raises(ModelLoadError, match="damaged"):
        load_index(bad)
    bad.write_bytes(data)
    _rewrite(bad, format=np.array("something else"))
    with pytest.raises(ModelLoadError, match="is not a musegen-originality-v1 file"):
        load_index(bad)
    with zipfile.ZipFile(tmp_path / "pickled.npz", "w") as zf:  # an object array needs pickle: never loaded
        buf = io.BytesIO()
        np.save(buf, np.array([{"x": 1}], dtype=object), allow_pickle=True)
        zf.writestr("names.npy", buf.getvalue())
    with pytest.raises(ModelLoadError):
        load_index(tmp_path / "pickled.npz")
    with pytest.raises(ModelLoadError, match="is missing"):
        load_index(tmp_path / "none.npz")


def test_check_names_each_source_and_a_missing_index_says_why(corpus):
    found = [Source(YOURS, OriginalityIndex.from_pieces(corpus[:3])), Source(BASES, None, "not checked: damaged")]
    yours, base = check(found, corpus[1])
    assert yours.flagged and "also in your pieces" in yours.describe()
    assert not base.flagged and base.describe() == "not checked: damaged" and base.to_dict() == {"note": base.note}
    single = check([Source(TRAINING, OriginalityIndex.from_pieces(corpus[:1]))], corpus[5])
    assert "also in the training data" in single[0].describe() or "occurs in the training data" in single[0].describe()
