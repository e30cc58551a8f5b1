"""Dataset statistics: the headline figures in the chosen representation's words."""

from __future__ import annotations

import pytest

from musegen.config import DataConfig
from musegen.datasets.stats import dataset_stats, headline
from musegen.representations.registry import NAMES, get


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
