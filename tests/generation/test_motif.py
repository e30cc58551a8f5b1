"""The motif memory: a cache of the piece's own figures mixed into the model's probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from musegen.config import ConstraintConfig, DataConfig, ModelConfig, SamplingConfig
from musegen.errors import ConfigError
from musegen.metrics.music import distinct_ngram_ratio, figure_repetition
from musegen.notes import PITCH, Piece, make_notes
from musegen.representations.timed import TimedRepresentation
from musegen.steering.motif import MAX_CONTEXT, MIN_CONTEXT, SUGGEST_MAX, MotifMemory, suggested_strength

V = 12


def softmax(z: np.ndarray) -> np.ndarray:
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    return p / p.sum(axis=-1, keepdims=True)


def test_the_longest_context_seen_before_says_what_comes_next():
    memory = MotifMemory(V, batch=1, strength=0.5)
    memory.prime(np.array([[3, 4, 5, 6, 7, 3, 4, 5, 6]]))
    assert memory.continuation(0) == {7: 1}  # 3 4 5 6 was followed by 7
    memory.observe(np.array([8]))  # 3 4 5 6 8: a new figure, but 4 5 6 8 is new too
    assert memory.continuation(0) is None
    fresh = MotifMemory(V, batch=1, strength=0.5)
    fresh.prime(np.array([[1, 2, 3, 4, 5, 9, 2, 3, 4, 5, 10, 1, 2, 3, 4, 5]]))
    # the longest context wins: 1 2 3 4 5 was followed by 9 (2 3 4 5 also by 10)
    assert fresh.continuation(0) == {9: 1}
    short = MotifMemory(V, batch=1, strength=0.5)
    short.prime(np.array([[1, 2, 3, 9, 1, 2, 3]]))  # shorter than a figure: nothing remembered
    assert MIN_CONTEXT == 4 and short.continuation(0) is None
    assert MAX_CONTEXT >= MIN_CONTEXT


def test_mixing_moves_probability_to_what_followed_and_keeps_the_rest():
    logits = np.log(np.full((2, V), 1.0 / V))
    memory = MotifMemory(V, batch=2, strength=0.25, skip_ids=[0, 1, 2, 11])
    memory.prime(np.array([[3, 4, 5, 6, 7, 3, 4, 5, 6], [3, 4, 5, 6, 7, 8, 9, 10, 11]]))
    p = softmax(memory.mix(logits))
    remembered = V - 4  # 3..10
    mass = remembered / V
    assert p[0, 7] == pytest.approx((1 - 0.25) / V + 0.25 * mass)
    assert p[0, 3] == pytest.approx((1 - 0.25) / V)
    for skipped in (0, 1, 2, 11):  # the tokens left out keep their probability: the grammar is the model's
        assert p[0, skipped] == pytest.approx(1.0 / V)
    assert p[0].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(p[1], 1.0 / V)  # no context seen before in row 1: unchanged
    assert memory.used == 1
    off = MotifMemory(V, batch=2, strength=0.0)
    off.prime(np.array([[3, 4, 5, 6, 7, 3, 4, 5, 6]] * 2))
    np.testing.assert_array_equal(off.mix(logits), logits)


def test_skipped_tokens_do_not_break_a_figure():
    # a figure played at another velocity (token 11) is the same figure
    memory = MotifMemory(V, batch=1, strength=0.5, skip_ids=[11])
    memory.prime(np.array([[3, 11, 4, 5, 6, 7, 3, 4, 11, 5, 11, 6]]))
    assert memory.continuation(0) == {7: 1}
    masked = np.full((1, V), -np.inf)
    masked[0, 11] = 0.0  # only a velocity may come next: the memory has nothing to say
    np.testing.assert_array_equal(memory.mix(masked), masked)


def test_strength_is_checked():
    SamplingConfig().validate()  # None: what suits the run
    SamplingConfig(motif_memory=0.0).validate()
    SamplingConfig(motif_memory=0.9).validate()
    for bad in (-0.1, 1.0, 2.0):
        with pytest.raises(ConfigError, match="motif_memory"):
            SamplingConfig(motif_memory=bad).validate()


def test_the_suggestion_follows_how_much_the_music_repeats():
    assert suggested_strength(0.64) == 0.5  # the real piano pieces (BENCHMARKS.md, "Motif memory")
    assert suggested_strength(0.95) == 0.0  # Bach's chorales hardly repeat a figure: no memory
    assert suggested_strength(1.0) == 0.0 and suggested_strength(0.0) == SUGGEST_MAX
    strengths = [suggested_strength(r) for r in np.linspace(0, 1, 21)]
    assert strengths == sorted(strengths, reverse=True)  # the more the music repeats, the stronger
    assert all(round(s * 20) == s * 20 for s in strengths)  # on the Generate page's steps of 0.05
    assert figure_repetition(figure_piece(8, (60, 64, 67, 72))) < 0.1
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.choice([-5, -3, -2, 2, 3, 5], 400)) % 48 + 36
    rows = [(i * 0.25 + rng.integers(0, 3) / 12, i * 0.25 + 0.5, int(p), 64) for i, p in enumerate(walk)]
    assert figure_repetition(Piece("walk", make_notes(rows), 120.0)) > 0.95
    assert figure_repetition(Piece("empty", make_notes([]), 120.0)) == 1.0


def test_a_run_of_repetitive_music_suggests_a_memory_and_compose_uses_it(tmp_path):
    from musegen import runs
    from musegen.config import RunConfig
    from musegen.generation.compose import Composer

    config = RunConfig(data=DataConfig(velocity=True))
    rep = TimedRepresentation.from_config(config.data)
    figures = [figure_piece(6, (48 + i, 55 + i, 60 + i, 64 + i)) for i in range(4)]
    run_dir = runs.create_run(tmp_path, config, rep.vocab, name="figures")
    encoded = [rep.encode(p) for p in figures]
    runs.save_dataset(run_dir, encoded[:3], encoded[3:], (["a", "b", "c"], ["d"]))
    composer = Composer(run_dir)
    assert composer.figure_repetition() < 0.2 and composer.motif_strength() == SUGGEST_MAX
    keras.utils.set_random_seed(0)
    composer._model = build_model(ModelConfig("lstm", embed_dim=8, units=16, layers=1), len(rep.vocab), 32)
    seed = composer.seed_from_piece(0, 0, 40)
    comp = composer.compose(seed, SamplingConfig(length=16, seed=1))
    assert comp.sampling.motif_memory == SUGGEST_MAX  # None became the run's suggestion, recorded
    given = composer.compose(seed, SamplingConfig(length=16, seed=1, motif_memory=0.0))
    assert given.sampling.motif_memory == 0.0


def test_the_chorale_demo_models_suggest_no_memory():
    from pathlib import Path

    from musegen.generation.compose import Composer

    demo = Path(__file__).resolve().parents[2] / "assets" / "models"
    for name in ("demo-wavenet", "demo-lstm"):
        composer = Composer(demo / name)
        assert composer.figure_repetition() > 0.9 and composer.motif_strength() == 0.0


def test_the_timed_representation_leaves_out_velocities_and_specials():
    rep = TimedRepresentation.from_config(DataConfig(velocity=True, fim_rate=0.5))
    skip = set(rep.motif_skip_ids().tolist())
    tokens = rep.vocab.tokens
    assert {tokens[i] for i in skip if not tokens[i].startswith("Velocity_")} == {
        *tokens[:3],
        *(tokens[i] for i in rep.vocab.fim_ids()),
    }
    assert sum(t.startswith("Velocity_") for t in tokens) == sum(tokens[i].startswith("Velocity_") for i in skip)


# --- with a real model ---------------------------------------------------------------------------

import keras  # noqa: E402

from musegen.generation.decode import generate_with  # noqa: E402
from musegen.models import build_frame_model, build_model  # noqa: E402
from musegen.representations.pianoroll import PianoRollRepresentation  # noqa: E402


def figure_piece(bars: int, pitches: tuple[int, ...]) -> Piece:
    """An accompaniment figure: ``pitches`` as eighth notes, over and over."""
    rows = [(i * 0.5, i * 0.5 + 0.5, pitches[i % len(pitches)], 40 + 10 * (i % 3)) for i in range(bars * 8)]
    return Piece("figure", make_notes(rows), 120.0)


@pytest.fixture(scope="module")
def timed():
    keras.utils.set_random_seed(0)
    rep = TimedRepresentation.from_config(DataConfig(velocity=True))
    model = build_model(ModelConfig("lstm", embed_dim=8, units=16, layers=1), len(rep.vocab), 32)
    return rep, model


def test_an_untrained_model_continues_the_figure_it_was_given(timed):
    rep, model = timed
    seed = rep.encode(figure_piece(4, (60, 64, 67, 72)))
    plain = SamplingConfig(length=160, seed=3, variations=4, temperature=0.5, top_k=0, duration_temperature=None)
    remembering = SamplingConfig(**{**plain.__dict__, "motif_memory": 0.9})
    grammar = ConstraintConfig(grammar=True)
    without = generate_with(model, rep, seed, plain, constraints=grammar)
    with_memory = generate_with(model, rep, seed, remembering, constraints=grammar)
    ratio = [
        np.mean([distinct_ngram_ratio(rep.decode(ids, "x").notes[:, PITCH]) for ids in out])
        for out in (without, with_memory)
    ]
    assert ratio[1] < ratio[0] - 0.2  # the figure comes back: far fewer distinct 4-note figures
    again = generate_with(model, rep, seed, remembering, constraints=grammar)
    for a, b in zip(with_memory, again, strict=True):  # the same seed gives the same music
        np.testing.assert_array_equal(a, b)


def test_the_rules_hold_over_the_memory(timed):
    rep, model = timed
    seed = rep.encode(figure_piece(4, (61, 66, 68, 73)))  # C#, F#, G#: none of them in C major
    cfg = SamplingConfig(length=120, seed=1, variations=3, motif_memory=0.9)
    out = generate_with(model, rep, seed, cfg, constraints=ConstraintConfig(key="C major", grammar=True))
    for ids in out:
        pitches = rep.decode(ids, "x").notes[:, PITCH].astype(int)
        assert len(pitches) and set(pitches % 12) <= {0, 2, 4, 5, 7, 9, 11}


def test_frames_have_no_memory_and_generate_as_before():
    rep = PianoRollRepresentation.from_config(DataConfig(representation="pianoroll"))
    assert rep.motif_skip_ids() is None
    keras.utils.set_random_seed(0)
    model = build_frame_model(ModelConfig("wavenet", channels=8, skip_channels=8, dilation_cycle=3), window=16)
    seed = np.zeros((4, 88), np.uint8)
    a = generate_with(model, rep, seed, SamplingConfig(length=8, seed=2, motif_memory=0.5))
    b = generate_with(model, rep, seed, SamplingConfig(length=8, seed=2))
    np.testing.assert_array_equal(a[0], b[0])
