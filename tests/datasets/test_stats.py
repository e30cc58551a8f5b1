"""Dataset statistics: the headline figures in the chosen representation's words."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from musegen.config import DataConfig
from musegen.datasets.stats import dataset_stats, headline, velocity_histogram
from musegen.notes import Piece, make_notes
from musegen.representations.registry import NAMES, get
from musegen.sources.ingest import read_midi_file

PIANO = Path(__file__).resolve().parents[3] / "shared" / "data" / "piano"


@pytest.mark.parametrize("name", NAMES)
def test_the_headline_counts_pieces_notes_steps_and_what_a_model_predicts(name, chorales):
    cfg = DataConfig(representation=name)
    stats = dataset_stats(chorales[:3], cfg)
    figures = headline(stats, cfg)
    rep = get(name)
    assert [f.label for f in figures] == ["Pieces", "Notes", rep.unit.capitalize() + "s", rep.size_label]
    assert figures[0].value == "3" and figures[1].value == f"{stats.notes:,}"
    assert figures[2].value == f"{stats.events:,}"


def test_a_piano_roll_predicts_the_88_keys_and_tokens_their_vocabulary(chorales):
    rolls = DataConfig(representation="pianoroll")
    assert headline(dataset_stats(chorales[:2], rolls), rolls)[3].value == "88"
    tokens = DataConfig(representation="classic")
    stats = dataset_stats(chorales[:2], tokens)
    assert headline(stats, tokens)[3].value == str(stats.vocab_size)


def _swelling(n: int = 64) -> Piece:
    """Sixteenth notes whose velocity climbs 1, 9, 17, ... 121 and again (every bin of 8 gets some)."""
    return Piece("swell", make_notes([(i / 4, (i + 1) / 4, 60 + i % 7, 1 + 8 * (i % 16)) for i in range(n)]))


def test_the_velocity_histogram_counts_notes_per_loudness_soft_to_loud():
    pieces = [_swelling(), Piece("loud", make_notes([(0, 1, 60, 127), (1, 2, 62, 127)]))]
    stats = dataset_stats(pieces, DataConfig(velocity=True))
    hist = stats.velocity_histogram
    assert list(hist)[:3] == ["1-7", "8-15", "16-23"] and list(hist)[-1] == "120-127" and len(hist) == 16
    assert sum(hist.values()) == stats.notes == 66
    assert list(hist.values()) == [4] * 15 + [4 + 2]  # 1, 9, ..., 121 four times each; the two 127s
    velocities = np.concatenate([p.notes[:, 3] for p in pieces])
    assert stats.velocity_mean == pytest.approx(velocities.mean()) and stats.velocity_spread == pytest.approx(
        velocities.std()
    )
    json.dumps(stats.to_dict())  # the CLI's ingest report and the page's cache


def test_one_loudness_is_one_bar_and_no_notes_no_histogram():
    stats = dataset_stats([Piece("flat", make_notes([(i, i + 1, 60, 80) for i in range(8)]))])
    assert [k for k, v in stats.velocity_histogram.items() if v] == ["80-87"]
    assert stats.velocity_mean == 80 and stats.velocity_spread == 0
    empty = dataset_stats([])
    assert sum(empty.velocity_histogram.values()) == 0 and empty.velocity_mean == empty.velocity_spread == 0
    assert velocity_histogram(np.array([0.0, 0.4, 200.0]))["1-7"] == 2  # out of range clipped to 1..127
    assert velocity_histogram(np.array([5.0, 127.0]), bins=4) == {"1-31": 1, "32-63": 0, "64-95": 0, "96-127": 1}


@pytest.mark.skipif(not PIANO.is_dir(), reason="the real piano MIDI (../shared/data/piano) is not here")
def test_real_piano_files_have_a_spread_of_velocities():
    files = sorted(PIANO.rglob("*.mid"))[:3]
    pieces = [read_midi_file(f) for f in files]
    stats = dataset_stats(pieces, DataConfig(velocity=True))
    assert sum(stats.velocity_histogram.values()) == stats.notes > 1000
    assert stats.velocity_spread > 4 and 30 < stats.velocity_mean < 110
    assert sum(1 for v in stats.velocity_histogram.values() if v) >= 5  # played with dynamics, not one loudness
