"""The performance representation: Performance RNN events in seconds, their repairs, rules and a real run.

Round trips on synthetic played pieces with a tempo map and on a real piano file (skipped where
../shared/data/piano is absent): onsets and offsets back within 10 ms in seconds, velocities within
one level. Constraints are checked on random draws (no model); a tiny LSTM is trained for real on
unquantized pieces, scored beside its n-gram floor, and generates off-grid music with dynamics.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from musegen import runs
from musegen.config import (
    ConstraintConfig,
    DataConfig,
    ModelConfig,
    RunConfig,
    SamplingConfig,
    TrainConfig,
    sampling_choice,
)
from musegen.errors import ConfigError
from musegen.notes import (
    END,
    PITCH,
    START,
    UNQUANTIZED_BELOW,
    VELOCITY,
    Piece,
    grid_fit,
    make_notes,
    seconds_to_beats,
    velocity_bin,
    velocity_levels,
)
from musegen.representations.performance import PerformanceRepresentation
from musegen.representations.registry import check, for_config, for_vocab, names
from musegen.steering.constraints import constraint_choice
from musegen.vocabulary import Vocabulary
from tests.generation.steering import most_at_once, pitch_classes

PIANO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "piano"
STEP = 0.01  # seconds
TOL = STEP + 1e-6
TEMPO_MAP = np.array([[0.0, 90.0], [6.0, 140.0], [14.0, 66.0], [20.0, 104.0]])


def _rep(**data: object) -> PerformanceRepresentation:
    rep = for_config(DataConfig(representation="performance", **data))  # type: ignore[arg-type]
    assert isinstance(rep, PerformanceRepresentation)
    return rep


def played_piece(seed: int, n: int = 80, tempo_map: np.ndarray | None = TEMPO_MAP) -> Piece:
    """Notes as a pianist plays them: onsets anywhere in time, chords, overlaps, many velocities (beats
    through ``tempo_map``, so that the seconds differ from the beats)."""
    rng = np.random.default_rng(seed)
    onsets = np.cumsum(rng.exponential(0.18, n))
    onsets[rng.random(n) < 0.25] -= 0.003  # a chord a few ms apart
    onsets = np.maximum(onsets, 0.0)
    ends = onsets + rng.uniform(0.05, 0.9, n)
    pitches = rng.integers(40, 90, n)
    velocities = rng.integers(20, 120, n)
    tm = np.array([[0.0, 120.0]]) if tempo_map is None else tempo_map
    rows = [
        (float(seconds_to_beats(s, tm)), float(seconds_to_beats(e, tm)), int(p), int(v))
        for s, e, p, v in zip(onsets, ends, pitches, velocities, strict=True)
    ]
    # one voice per pitch, as a keyboard has: a key is released before it is struck again
    notes = make_notes(rows)
    keep, last_end = [], {}
    for i, (s, e, p, _) in enumerate(notes):
        if s >= last_end.get(p, -1.0):
            keep.append(i)
            last_end[p] = e
    return Piece(f"played {seed}", notes[keep], float(tm[0, 1]), None if tempo_map is None else tm)


def _check_round_trip(piece: Piece, decoded: Piece, rep: PerformanceRepresentation) -> None:
    """Every note back within 10 ms (onset; offset unless its key is struck again sooner), velocity within a level."""
    assert decoded.tempo == 120.0
    seconds = np.asarray(piece.seconds(piece.notes[:, :2]))
    back = decoded.notes[:, :2] / 2.0  # beats at 120 BPM
    bins = rep.tokenizer.velocity_bins
    for pitch in np.unique(piece.notes[:, PITCH]):
        mine = np.flatnonzero(piece.notes[:, PITCH] == pitch)
        theirs = np.flatnonzero(decoded.notes[:, PITCH] == pitch)
        assert len(theirs) and len(theirs) <= len(mine)
        for j in mine:
            k = theirs[np.argmin(np.abs(back[theirs, 0] - seconds[j, 0]))]
            assert abs(back[k, 0] - seconds[j, 0]) <= TOL
            later = seconds[mine, 0][seconds[mine, 0] > seconds[j, 0] + STEP]
            restruck = len(later) and later.min() < seconds[j, 1] + STEP
            if not restruck:
                assert abs(back[k, 1] - max(seconds[j, 1], seconds[j, 0] + STEP / 2)) <= TOL
            else:
                assert back[k, 1] <= seconds[j, 1] + TOL
            original = velocity_bin(piece.notes[j, VELOCITY], bins)
            assert abs(int(velocity_bin(decoded.notes[k, VELOCITY], bins)) - int(original)) <= 1


# --------------------------------------------------------------------------- events


def test_events_in_seconds_offs_before_ons_and_a_velocity_only_when_it_changes():
    rep = _rep()
    tm = np.array([[0.0, 60.0], [1.0, 120.0]])  # beat 0-1 lasts 1 s, then half a second a beat
    notes = make_notes([(0, 1, 64, 80), (0, 1, 60, 80), (1, 1.5, 64, 80), (1.5, 5.5, 67, 30)])
    tokens = rep.sequence(Piece("p", notes, 60.0, tm))
    v80, v30 = velocity_levels(32)[velocity_bin(80, 32)], velocity_levels(32)[velocity_bin(30, 32)]
    assert tokens == [
        f"Velocity_{v80}", "NoteOn_60", "NoteOn_64",  # one velocity for the chord, pitches ascending
        "TimeShift_100",  # beat 1 is at 1 s
        "NoteOff_60", "NoteOff_64", "NoteOn_64",  # the re-struck key: off, then on
        "TimeShift_25", "NoteOff_64", f"Velocity_{v30}", "NoteOn_67",
        "TimeShift_100", "TimeShift_100", "NoteOff_67",  # 4 beats at 120 BPM = 2 s, chained
    ]  # fmt: skip
    decoded = rep.decode(rep.ids(tokens))
    np.testing.assert_allclose(decoded.notes[:, :2], [[0, 2], [0, 2], [2, 2.5], [2.5, 6.5]])  # 2 beats a second
    assert decoded.notes[:, VELOCITY].tolist() == [v80, v80, v80, v30]
    assert rep.time_cursor(rep.ids(tokens)) == pytest.approx(6.5)


def test_the_vocabulary_is_closed_and_its_settings_travel_in_meta():
    rep = _rep(velocity_bins=16, steps_per_beat=12)  # the grid does not matter
    vocab = rep.vocab
    assert len(vocab) == 3 + 100 + 128 + 128 + 16 and rep.output_width() == len(vocab)
    assert vocab.meta == {"scheme": "performance", "shift_ms": 10, "max_shift": 100, "velocity_bins": 16}
    assert rep.fit_vocab([["NoteOn_60"]]) is vocab  # the data does not change it
    again = for_vocab(Vocabulary.from_dict(vocab.to_dict()))
    assert isinstance(again, PerformanceRepresentation) and again.tokenizer == rep.tokenizer
    assert rep.unit == "event" and rep.units == "events" and not rep.uses_grid and rep.fixed_tempo == 120.0
    assert "per note" in rep.unit_help() and rep.known_range() == "every MIDI pitch"
    assert "performance" in names() and names().index("performance") > names().index("pianoroll")
    for key, bad in (("shift_ms", 0), ("max_shift", 10**6), ("velocity_bins", 1000), ("shift_ms", "10")):
        damaged = Vocabulary(vocab.tokens, "performance", {**vocab.meta, key: bad})
        with pytest.raises(ConfigError, match=f"vocab.json's {key}"):
            for_vocab(damaged)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_played_piece_with_a_tempo_map_comes_back_within_10_ms(seed):
    rep = _rep()
    piece = played_piece(seed)
    assert grid_fit(piece.notes) < UNQUANTIZED_BELOW
    decoded = rep.decode(rep.encode(piece))
    assert decoded.n_notes == piece.n_notes
    _check_round_trip(piece, decoded, rep)
    seconds = float(piece.seconds(piece.notes[:, END].max()))
    assert rep.time_cursor(rep.encode(piece)) == pytest.approx(2 * seconds, abs=2 * TOL)


def _real_piece(path: Path) -> Piece:
    """A real file as musegen reads it (sustain pedal applied), with the file's tempo map."""
    import pretty_midi

    from musegen.sources.ingest import read_midi_bytes

    piece = read_midi_bytes(path.read_bytes(), path.name)
    if piece.tempo_map is None:  # a reader that keeps only the first tempo: the map from pretty_midi
        pm = pretty_midi.PrettyMIDI(str(path))
        times, bpm = pm.get_tempo_changes()
        beats = [pm.time_to_tick(t) / pm.resolution for t in times]
        piece = Piece(piece.name, piece.notes, piece.tempo, np.stack([beats, bpm], axis=1))
    return piece


@pytest.mark.skipif(not PIANO.is_dir(), reason="the real piano MIDI (../shared/data/piano) is not here")
def test_a_real_piano_file_comes_back_within_10_ms_with_its_dynamics():
    rep = _rep()
    path = sorted(PIANO.rglob("*.mid"))[0]
    piece = _real_piece(path)
    assert len(piece.tempos()) > 1 and len(np.unique(piece.notes[:, VELOCITY])) > 10
    ids = rep.encode(piece)
    decoded = rep.decode(ids)
    assert decoded.n_notes >= 0.99 * piece.n_notes  # only notes of one key struck twice within 10 ms merge
    _check_round_trip(piece, decoded, rep)
    assert grid_fit(decoded.notes) < UNQUANTIZED_BELOW  # played timing kept, not snapped to sixteenths
    assert 2.0 < (len(ids) - 1) / piece.n_notes < 5.0  # events per note


def test_malformed_events_are_repaired_never_fatal():
    rep = _rep()
    tokens = [
        "NoteOff_50",  # a silent key: skipped
        "Velocity_64", "NoteOn_60", "TimeShift_50", "NoteOn_60",  # struck again: the first ends at 0.5 s
        "NoteOn_62", "NoteOff_62",  # off at once: 10 ms
        "TimeShift_20", "<unk>", "Velocity_999", "NoteOn_70",  # never turned off: to the end of the sequence
        "TimeShift_100",
    ]  # fmt: skip
    decoded = rep.decode(rep.ids(tokens))
    rows = decoded.notes[np.lexsort((decoded.notes[:, PITCH], decoded.notes[:, START]))]
    np.testing.assert_allclose(rows[:, :3] / [2, 2, 1], [[0, 0.5, 60], [0.5, 1.7, 60], [0.5, 0.51, 62], [0.7, 1.7, 70]])
    assert set(rows[:, VELOCITY]) == {64}
    long = rep.decode(rep.ids(["NoteOn_60", *["TimeShift_100"] * 9]))  # unclosed for 9 s: at most 8 s
    np.testing.assert_allclose(long.notes[0, :2] / 2, [0, 8])
    for junk in ([], ["<bos>"], ["NoteOff_3", "TimeShift_7"], ["Velocity_1"]):
        assert rep.decode(rep.ids(junk)).n_notes == 0


def test_every_note_has_its_events_in_decode_order():
    rep = _rep()
    piece = played_piece(4, n=40)
    ids = rep.encode(piece)
    decoded = rep.decode(ids)
    pairs = rep.element_notes(ids)
    assert np.array_equal(np.unique(pairs[:, 1]), np.arange(decoded.n_notes))
    assert len(set(pairs[:, 0].tolist())) == len(pairs)  # no event in two notes
    tokens = rep.vocab.decode(ids)
    for element, note in pairs.tolist():
        if tokens[element].startswith(("NoteOn_", "NoteOff_")):
            assert int(tokens[element].split("_")[1]) == decoded.notes[note, PITCH]
    kinds = [tokens[e].split("_")[0] for e in pairs[:, 0]]
    assert kinds.count("NoteOn") == kinds.count("NoteOff") == decoded.n_notes


def test_a_run_learns_to_infill_when_asked_and_says_so_otherwise():
    rep = _rep()
    assert not rep.can_infill(ModelConfig("lstm"))
    with pytest.raises(ConfigError, match="trained without fill-in-the-middle"):
        rep.check_infill(ModelConfig("lstm"))
    fim = check(RunConfig(data=DataConfig(representation="performance", fim_rate=0.5), model=ModelConfig("lstm")))
    assert fim.can_infill(ModelConfig("lstm")) and fim.vocab.fim_ids() is not None
    from musegen.training.sizing import can_learn_infilling

    assert can_learn_infilling(RunConfig(data=DataConfig(representation="performance")))  # the Train page's option


# --------------------------------------------------------------------------- constraints (random draws)


def _draw(
    rep: PerformanceRepresentation, rules: ConstraintConfig | None, seed: int, steps: int = 400, prefer: str = ""
) -> list[np.ndarray]:
    """Random draws under ``rules``, as the decoding loop makes them, primed with a real seed (``prefer``: a
    kind of event the random model likes best, as a short-trained one likes Velocity events)."""
    batch = 6
    constraint = rep.constraint(rules, batch)
    assert constraint is not None
    prompt = np.tile(rep.encode(played_piece(9, n=12)), (batch, 1))
    constraint.prime(prompt)
    rng = np.random.default_rng(seed)
    never = list(rep.forbidden)
    rows = []
    for _ in range(steps):
        logits = rng.normal(size=(batch, rep.output_width())) * 3
        logits[:, never] = -np.inf
        if prefer:
            logits[:, [i for i, t in enumerate(rep.vocab.tokens) if t.startswith(prefer)]] += 6
        logits = np.where(constraint.allowed(), logits, -np.inf)
        drawn = logits.argmax(axis=1)
        constraint.observe(drawn)
        rows.append(drawn)
    assert constraint.fallbacks == 0
    return [np.concatenate([[2], np.asarray(rows)[:, b]]) for b in range(batch)]


def test_the_grammar_turns_off_only_sounding_keys_and_strikes_only_silent_ones():
    rep = _rep()
    for ids in _draw(rep, ConstraintConfig(grammar=True), seed=1):
        sounding: set[int] = set()
        for token in rep.vocab.decode(ids[1:]):
            kind, _, value = token.partition("_")
            if kind == "NoteOn":
                assert int(value) not in sounding
                sounding.add(int(value))
            elif kind == "NoteOff":
                assert int(value) in sounding
                sounding.discard(int(value))
        assert rep.decode(ids).n_notes > 5


def test_key_range_and_most_notes_at_once_hold_and_never_corner_a_sequence():
    rep = _rep()
    rules = ConstraintConfig(key="D minor", low=50, high=74, max_polyphony=2, grammar=True)
    for ids in _draw(rep, rules, seed=2):
        piece = rep.decode(ids)
        assert piece.n_notes > 5
        assert pitch_classes(piece) <= {2, 4, 5, 7, 9, 10, 0}
        assert piece.notes[:, PITCH].min() >= 50 and piece.notes[:, PITCH].max() <= 74
        assert most_at_once(piece) <= 2
    for ids in _draw(rep, ConstraintConfig(max_polyphony=1, grammar=False), seed=3):  # repairs count too
        assert most_at_once(rep.decode(ids)) <= 1
    assert rep.constraint(ConstraintConfig(max_note_seconds=0), 2) is None  # nothing asked: nothing to keep to


def _longest(rep: PerformanceRepresentation, ids: np.ndarray) -> float:
    """The longest note (seconds) the events say, notes never turned off capped as the decoder caps them."""
    notes = rep.tokenizer.parse(rep.vocab.decode(ids))[0]
    return max(off - on for on, off, *_ in notes) / rep.tokenizer.steps_per_second


def test_by_default_no_note_sounds_past_8_s_and_at_most_10_at_once():
    """Performance runs' default rules (no rules chosen): a note is let go after 8 s, and 10 keys sound at
    most, whatever the model draws; a longest note of one second holds too."""
    rep = _rep()
    draws = _draw(rep, None, seed=4, steps=1200)
    assert max(_longest(rep, ids) for ids in draws) == 8.0  # random draws keep notes down: each let go at 8 s
    assert max(most_at_once(rep.decode(ids)) for ids in draws) == 10
    for ids in _draw(rep, ConstraintConfig(max_note_seconds=1.0, grammar=True), seed=5, steps=800):
        assert _longest(rep, ids) <= 1.0
    assert constraint_choice(unit="event").max_polyphony == 10 and constraint_choice().max_polyphony == 0


def test_velocity_events_come_only_before_a_note_on_so_notes_are_never_starved():
    """A model that likes Velocity events best (as one trained 2 epochs does, when its NoteOns are masked)
    still strikes notes: a Velocity comes only where a NoteOn may follow, then a NoteOn, never the same
    loudness twice."""
    rep = _rep()
    for ids in _draw(rep, None, seed=6, steps=600, prefer="Velocity"):
        tokens = rep.vocab.decode(ids[1:])
        kinds = [t.split("_")[0] for t in tokens]
        assert kinds.count("NoteOn") >= 100 and kinds.count("Velocity") <= kinds.count("NoteOn")
        for a, b in itertools.pairwise(tokens):
            assert not (a.startswith("Velocity") and b.split("_")[0] in ("Velocity", "TimeShift"))
    raw = _draw(rep, ConstraintConfig(max_note_seconds=0.0, max_polyphony=128), seed=6, steps=600, prefer="Velocity")
    assert sum(t.startswith("NoteOn") for t in rep.vocab.decode(raw[0][1:])) < 60  # without the rule: starved


# --------------------------------------------------------------------------- a real run


def played_run(config: RunConfig, folder: Path, name: str, pieces: int = 8, evaluate: bool = False) -> Path:
    """A real run of ``config`` trained on ``pieces`` played pieces (``played_piece(0)`` onwards)."""
    from musegen.datasets.dataset import build_dataset
    from musegen.training.loop import train

    dataset = build_dataset([played_piece(s) for s in range(pieces)], config.data)
    run_dir = runs.create_run(folder, config, dataset.vocab, name=name)
    train(config, dataset, run_dir, evaluate=evaluate)
    return run_dir


@pytest.fixture(scope="module")
def performance_run(tmp_path_factory) -> Path:
    config = RunConfig(
        data=DataConfig(representation="performance", window=64, stride=32, val_fraction=0.25),
        model=ModelConfig("lstm", embed_dim=16, units=48, layers=1),
        train=TrainConfig(epochs=3, batch_size=16, learning_rate=5e-3, seed=0),
    )
    return played_run(config, tmp_path_factory.mktemp("runs"), "performance", evaluate=True)


@pytest.mark.slow
def test_a_tiny_run_trains_scores_and_plays_off_the_grid_with_dynamics(performance_run):
    from musegen.generation.compose import Composer

    composer = Composer(performance_run)
    rep = composer.rep
    assert isinstance(rep, PerformanceRepresentation)
    metrics = runs.load_run(performance_run).metrics
    assert metrics is not None and metrics.unit == "event"
    assert np.isfinite(metrics.model.nll) and metrics.model.nll < rep.uniform_nll()
    train_ids = [ids for label, ids in composer.pieces() if label.startswith("training")]
    val_ids = [ids for label, ids in composer.pieces() if not label.startswith("training")]
    scores = rep.score(composer.model, val_ids, composer.config.data.window, "lstm")
    floor = rep.floor(train_ids, val_ids)
    assert np.isfinite(scores["nll"]) and np.isfinite(floor["nll"]) and scores["tokens"] > 0
    seed = composer.seed_from_piece(0, 0, 32)
    sampling = SamplingConfig(length=160, variations=3, temperature=1.0, top_k=0, seed=4)
    pieces = composer.compose(seed, sampling).continuations
    notes = np.concatenate([p.notes for p in pieces])
    assert len(notes) > 10
    assert grid_fit(notes) < UNQUANTIZED_BELOW  # onsets off the sixteenth grid
    assert len(np.unique(notes[:, VELOCITY])) >= 3  # several velocities
    rules = ConstraintConfig(key="C major", max_polyphony=2, grammar=True)
    for piece in composer.compose(seed, sampling, constraints=rules).continuations:
        assert pitch_classes(piece) <= {0, 2, 4, 5, 7, 9, 11} and most_at_once(piece) <= 2
    short = composer.compose(seed, sampling_choice(length=400, variations=2, seed=5, unit="event"))  # the app's
    for ids, piece in zip(short.token_counts, short.continuations, strict=True):
        assert piece.n_notes >= ids / 16 and most_at_once(piece) <= 10  # top-k 8 drew 6 notes in 400 events
        assert (piece.notes[:, 1] - piece.notes[:, 0]).max() <= 16 + 1e-9  # beats at 120 BPM: 8 s


@pytest.mark.slow
def test_a_tiny_run_plays_over_chords(performance_run):
    from musegen.generation.compose import Composer
    from musegen.steering.chords import parse_progression
    from tests.generation.test_chords import bass_misses, off_chord

    composer = Composer(performance_run)
    seed = composer.seed_from_piece(0, 0, 16)
    rules = ConstraintConfig(chords="Dm7 G7 | Cmaj7", grammar=True, chord_bass=True)
    sampling = SamplingConfig(length=128, variations=3, temperature=1.2, top_k=0, seed=1)
    pieces = composer.compose(seed, sampling, constraints=rules).continuations
    progression = parse_progression(rules.chords)
    assert sum(p.n_notes for p in pieces) > 0
    assert all(off_chord(p, progression) == [] and bass_misses(p, progression) == [] for p in pieces)
