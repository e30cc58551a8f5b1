"""Musical quality of a bundled demo run against its held-out chorales."""

from __future__ import annotations

from pathlib import Path

import pytest

from musegen.config import SamplingConfig
from musegen.evaluation.quality import SUMMARY_STATS, evaluate_music

pytestmark = pytest.mark.slow  # trains real models or runs real processes: `pytest -m "not slow"` skips it

DEMO = Path(__file__).resolve().parents[2] / "assets" / "models" / "demo-lstm"


def test_generated_music_is_compared_with_held_out_pieces():
    calls = []
    out = evaluate_music(
        DEMO, pieces=3, sampling=SamplingConfig(length=64, seed=5), on_progress=lambda d, t: calls.append(d)
    )
    assert calls == [1, 2, 3]
    assert 0.0 <= out["mean_overlap"] <= 1.0
    assert {row["feature"] for row in out["overlaps"]} >= {"pitch_class_entropy", "scale_consistency"}
    assert set(out["generated"]) == set(SUMMARY_STATS) == set(out["real"])
    assert out["real"]["scale_consistency"] > 0.8  # Bach stays in key
    again = evaluate_music(DEMO, pieces=3, sampling=SamplingConfig(length=64, seed=5))
    assert again["generated"] == out["generated"]  # reproducible
