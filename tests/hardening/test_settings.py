"""Hardening: settings at and past their edges, in the library, the CLI and the pages; property tests.

Edges that are music (a window longer than every piece, a vocabulary of one token, a batch
larger than the data) train and generate; settings that cannot work (zero epochs, top-p 0,
a negative temperature, length 0 or 100,000, instrument 128, a seed without notes) are refused
with a message naming the setting. Hypothesis then checks that any token sequence becomes a
valid MIDI file, that quantized music survives tokens and a MIDI file unchanged, and that any
sampling setting in the allowed ranges gives valid tokens from a real (tiny) model.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from musegen import runs
from musegen.config import DataConfig, Limits, ModelConfig, RunConfig, SamplingConfig, TrainConfig
from musegen.errors import ConfigError, MidiReadError, TrainingError
from musegen.generation.compose import Composer
from musegen.notes import Piece, make_notes
from musegen.output.midi import midi_bytes as write_bytes
from musegen.output.midi import piece_to_midi, sanitize_notes
from musegen.representations.classic import ClassicTokenizer, normal_order, pitch_name
from musegen.representations.timed import TimedTokenizer
from musegen.sources.ingest import read_midi_bytes
from musegen.training.jobs import start_training
from tests import app_helpers as ui
from tests.cli_runner import Completed, run_musegen
from tests.midi_factory import midi_bytes, no_notes_midi, tempo_map_only_midi

pytestmark = pytest.mark.slow  # trains real models or runs real processes: `pytest -m "not slow"` skips it

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "assets" / "models" / "demo-lstm"


def _monotone(k: int) -> bytes:
    """Eighth notes of middle C only, 8 + k of them: every classic token is 'C4'."""
    return midi_bytes([(i * 0.25, i * 0.25 + 0.25, 60) for i in range(8 + k)])


def _monotone_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(4):
        (folder / f"monotone-{k}.mid").write_bytes(_monotone(k))
    return folder


# A classic-token LSTM: a window longer than every piece, one real token, a batch larger than the data.
EDGE_FLAGS = ["--repr", "classic", "--arch", "lstm", "--embed-dim", "8", "--units", "8", "--layers", "1"]
EDGE_FLAGS += ["--window", "512", "--stride", "256", "--batch-size", "4096", "--epochs", "1", "--val-fraction", "0.25"]


def _edge_config() -> RunConfig:
    return RunConfig(
        data=DataConfig(representation="classic", window=512, stride=256, val_fraction=0.25),
        model=ModelConfig(arch="lstm", embed_dim=8, units=8, layers=1),
        train=TrainConfig(epochs=1, batch_size=4096, patience=0),
        dataset_name="monotone",
    )


# ------------------------------------------------------------------ library


def test_edge_settings_that_are_still_music_train_and_generate(tmp_path):
    from musegen.datasets.dataset import build_dataset
    from musegen.training.loop import train

    pieces = [read_midi_bytes(_monotone(k), f"m{k}.mid") for k in range(4)]
    config = _edge_config()
    data = build_dataset(pieces, config.data)
    assert data.vocab.tokens == ["<pad>", "<unk>", "<bos>", "C4"]  # a vocabulary of one real token
    assert max(len(s) for s in [*data.train, *data.val]) < config.data.window
    run_dir = runs.create_run(tmp_path, config, data.vocab)
    events = []
    result = train(config, data, run_dir, on_progress=events.append)
    assert result.status == "finished" and result.history.batches_per_epoch == 1
    assert any("clipped to the 3 training windows" in e.message for e in events if e.kind == "status")
    composer = Composer(run_dir)
    comp = composer.compose(composer.seed_from_piece(0, 0, 4), SamplingConfig(length=24, seed=1))
    notes = comp.joined(0).notes
    assert len(notes) and set(notes[:, 2].tolist()) == {60.0}  # the one token it knows
    pm = pretty_midi.PrettyMIDI(io.BytesIO(write_bytes(comp.midi(0))))
    assert {n.pitch for i in pm.instruments for n in i.notes} == {60}
    # the tutorial's model cannot use pieces shorter than its window: said before any training
    classic = RunConfig(data=config.data, model=ModelConfig(arch="classic-lstm"), train=config.train)
    with pytest.raises(TrainingError, match=r"shorter than the window.*lower the window"):
        train(classic, data, runs.create_run(tmp_path, classic, data.vocab))


def test_zero_epochs_are_refused_before_anything_starts(tmp_path):
    with pytest.raises(ConfigError, match="epochs must be at least 1"):
        start_training(RunConfig(train=TrainConfig(epochs=0)), [], tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


BAD_SAMPLING = {
    "top-p 0": (SamplingConfig(top_p=0.0), "top_p must be in (0, 1]"),
    "negative temperature": (SamplingConfig(temperature=-0.5), "temperature must be >= 0"),
    "length 0": (SamplingConfig(length=0), "length must be a whole number from 1 to 10000"),
    "length 100,000": (SamplingConfig(length=100_000), "length must be a whole number from 1 to 10000"),
}


@pytest.mark.parametrize("case", list(BAD_SAMPLING))
def test_bad_sampling_is_refused_before_the_model_loads(case):
    sampling, message = BAD_SAMPLING[case]
    composer = Composer(DEMO)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("]", r"\]")):
        composer.compose(composer.seed_from_piece(0, 0, 8), sampling, limits=Limits())
    assert composer._model is None  # refused before loading anything


@pytest.mark.parametrize("program", [128, -1, 1000])
def test_unknown_instrument_numbers_are_refused(program):
    piece = Piece("p", make_notes([(0, 1, 60, 80)]))
    with pytest.raises(ConfigError, match="General MIDI program 0-127"):
        piece_to_midi(piece, program=program)


SILENT_SEEDS = {
    "no-notes.mid": (no_notes_midi(), "no notes"),
    "tempo-map.mid": (tempo_map_only_midi(), "no notes"),
    "drums.mid": (midi_bytes([(0, 0.5, 36), (0.5, 1, 38)], is_drum=True), "drums only"),
    "empty.mid": (b"", "empty file"),
}


@pytest.mark.parametrize("name", list(SILENT_SEEDS))
def test_a_seed_without_usable_notes_is_refused(name):
    data, reason = SILENT_SEEDS[name]
    with pytest.raises(MidiReadError, match=reason):
        Composer(DEMO).seed_from_midi(data, name)


# ------------------------------------------------------------------ the command line


def _cli(*args: str, timeout: float = 300) -> Completed:
    return run_musegen(*args, cwd=ROOT)


def _error_line(proc: Completed) -> str:
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    return proc.stderr.strip().splitlines()[-1]  # TensorFlow may log before it


def test_cli_trains_at_the_edges_and_refuses_what_cannot_train(tmp_path):
    data = _monotone_folder(tmp_path / "data")
    proc = _cli("train", "--data", str(data), *EDGE_FLAGS, "--runs-dir", str(tmp_path / "runs"), "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    # the specials, one token and the four fill-in-the-middle sentinels (a new CLI run learns to infill)
    assert report["status"] == "finished" and report["metrics"]["vocab_size"] == 8
    assert "batch size clipped to the 3 training windows" in proc.stderr
    classic = [f if f != "lstm" else "classic-lstm" for f in EDGE_FLAGS]
    line = _error_line(_cli("train", "--data", str(data), *classic, "--runs-dir", str(tmp_path / "runs")))
    assert "no training windows" in line and "lower the window" in line


BAD_FLAGS = {
    "top-p 0": (["--top-p", "0"], "top_p must be in (0, 1]"),
    "negative temperature": (["--temperature", "-1"], "temperature must be >= 0"),
    "length 0": (["--length", "0"], "--length must be from 1 to 10,000 tokens"),
    "length 100,000": (["--length", "100000"], "MUSEGEN_MAX_GENERATION_LENGTH); got 100,000"),
    "instrument 128": (["--program", "128"], "General MIDI program 0-127"),
    "instrument -1": (["--program", "-1"], "General MIDI program 0-127"),
    "zero seconds": (["--seconds", "0"], "--seconds must be positive"),
    "seed without notes": (["--seed-midi", "{silent}"], "no notes"),
    "seed of drums": (["--seed-midi", "{drums}"], "drums only"),
}


@pytest.mark.parametrize("case", list(BAD_FLAGS))
def test_cli_generate_refuses_bad_settings_at_once(case, tmp_path):
    (tmp_path / "silent.mid").write_bytes(no_notes_midi())
    (tmp_path / "drums.mid").write_bytes(SILENT_SEEDS["drums.mid"][0])
    flags, message = BAD_FLAGS[case]
    flags = [f.format(silent=tmp_path / "silent.mid", drums=tmp_path / "drums.mid") for f in flags]
    out = tmp_path / "out" / "x.mid"
    line = _error_line(_cli("generate", str(DEMO), *flags, "--out", str(out), timeout=120))
    assert line.startswith("error: ") and message in line
    assert not out.parent.exists()  # nothing written


# ------------------------------------------------------------------ the pages


def test_pages_take_edge_settings_and_say_what_cannot_train(folders):
    at = ui.upload(ui.app(), [(f"monotone-{k}.mid", _monotone(k)) for k in range(4)])
    ui.widget(at.selectbox, "Representation").set_value("classic").run()
    window = ui.widget(at.number_input, "Window length")
    assert (window.min, window.max) == (8, 2048)
    window.set_value(2048).run()
    assert not at.exception and not at.error
    assert ui.widget(at.metric, "Vocabulary").value == "4"  # <pad> <unk> <bos> and the one note
    at.switch_page(ui.TRAIN).run()
    assert ui.widget(at.number_input, "Epochs").min == 1  # zero epochs cannot be asked for
    assert ui.widget(at.number_input, "Batch size").max == 4096
    ui.widget(at.selectbox, "Architecture").set_value("classic-lstm").run()
    ui.widget(at.number_input, "Batch size").set_value(4096).run()
    ui.widget(at.button, "Start training").click().run()
    assert not at.exception and not at.error
    assert ui.wait_for_training(at, 240) == "failed"
    shown = ui.texts(at)
    assert "Training failed: no training windows" in shown and "lower the window" in shown
    assert not at.exception
    assert not ui.widget(at.button, "Start training").disabled  # the session goes on: start again


def test_generate_page_bounds_and_a_silent_seed(folders, monkeypatch):
    shutil.copytree(DEMO, folders / "demo" / "demo-lstm", ignore=shutil.ignore_patterns("last.keras"))
    monkeypatch.setenv("MUSEGEN_MAX_GENERATION_LENGTH", "500")
    at = ui.app()
    at.switch_page(ui.GENERATE).run()
    assert not at.exception and not at.error
    assert ui.widget(at.number_input, "Length").max == 500  # the server's limit is the widget's bound
    assert ui.widget(at.number_input, "Length").min == 1
    assert ui.widget(at.slider, "Temperature").min == 0.05  # negative temperatures cannot be asked for
    assert ui.widget(at.slider, "Top-p").min == 0.05  # nor top-p 0
    assert len(ui.widget(at.selectbox, "Instrument").options) == 128  # General MIDI 0-127 only
    ui.widget(at.radio, "Seed").set_value("My own MIDI file").run()
    at.file_uploader[0].set_value([("silent.mid", no_notes_midi(), "audio/midi")]).run()
    assert not at.exception
    assert any("silent.mid: no notes" in e.value for e in at.error)
    at.file_uploader[0].set_value([("seed.mid", midi_bytes([(0, 0.5, 60), (0.5, 1, 64), (1, 2, 67)]), "audio/midi")])
    at.run()
    assert not at.exception and not at.error
    assert ui.widget(at.button, "Generate")  # a good seed: the page carries on


# ------------------------------------------------------------------ properties

TIMED = TimedTokenizer(4, 32)
TIMED_TOKENS = TIMED.build_vocab().tokens
# MIDI 0-11 are left out: music21 names them "C-1", "D-1"..., which read back as C-flat 1, D-flat 1
# (music21's own spelling is ambiguous there); they lie below the piano and do not occur in the data.
CLASSIC_TOKENS = [pitch_name(p) for p in range(12, 128)] + [
    normal_order(frozenset(s)) for s in ({0, 4, 7}, {2, 5, 9}, {0, 3, 6, 9}, {1, 2}, {0, 5, 7, 10, 11})
]
JUNK = ["<pad>", "<unk>", "<bos>", "Pitch_999", "Duration_0", "TimeShift_-3", "", "C99", "13.14", "Pitch_x"]


def _midi_notes(data: bytes) -> int:
    pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    for inst in pm.instruments:
        for note in inst.notes:
            assert 0 <= note.pitch <= 127 and 1 <= note.velocity <= 127 and note.end > note.start >= 0
    return sum(len(i.notes) for i in pm.instruments)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["timed", "classic"]),
    st.lists(st.sampled_from(TIMED_TOKENS + CLASSIC_TOKENS + JUNK), max_size=120),
    st.integers(20, 400),
    st.integers(0, 127),
)
def test_any_token_sequence_decodes_to_a_valid_midi_file(representation, tokens, tempo, program):
    tokenizer = TIMED if representation == "timed" else ClassicTokenizer()
    piece = tokenizer.detokenize(tokens)
    data = write_bytes(piece_to_midi(piece, tempo=float(tempo), program=program))
    assert data[:4] == b"MThd"
    assert _midi_notes(data) == len(sanitize_notes(piece.notes)[0])  # every note written, none invented
    if len(piece.notes):  # and musegen reads its own file back
        assert read_midi_bytes(data, "back.mid").n_notes == len(sanitize_notes(piece.notes)[0])


def _no_same_pitch_overlap(rows: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Quantized notes a MIDI channel can hold: of overlapping notes of one pitch, keep the first."""
    busy: dict[int, int] = {}
    kept = []
    for onset, dur, pitch in sorted(rows):
        if busy.get(pitch, -1) <= onset:
            kept.append((onset, dur, pitch))
            busy[pitch] = onset + dur
    return kept


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 300), st.integers(1, 32), st.integers(0, 127)), max_size=50))
def test_timed_music_survives_tokens_and_a_midi_file(rows):
    rows = _no_same_pitch_overlap(rows)
    piece = Piece("q", make_notes([(o / 4, (o + d) / 4, p, 80) for o, d, p in rows]))
    tokens = TIMED.tokenize(piece)
    decoded = TIMED.detokenize(tokens)
    if not len(decoded.notes):
        return
    back = read_midi_bytes(write_bytes(piece_to_midi(decoded, tempo=120.0)), "q.mid")
    assert TIMED.tokenize(back) == tokens


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(CLASSIC_TOKENS), min_size=1, max_size=60))
def test_classic_tokens_survive_decoding_and_a_midi_file(tokens):
    tok = ClassicTokenizer()
    piece = tok.detokenize(tokens)
    assert tok.tokenize(piece) == tokens
    back = read_midi_bytes(write_bytes(piece_to_midi(piece, tempo=100.0)), "c.mid")
    assert tok.tokenize(back) == tokens


V = 24  # tokens of the tiny models below


@pytest.fixture(scope="module")
def tiny_models():
    import keras

    from musegen.models import build_model

    keras.utils.set_random_seed(0)
    return {
        "wavenet": build_model(
            ModelConfig(arch="wavenet", embed_dim=8, channels=8, skip_channels=8, dilation_cycle=3), V, 16
        ),
        "lstm": build_model(ModelConfig(arch="lstm", embed_dim=8, units=8, layers=1), V, 16),
    }


sampling_settings = st.builds(
    SamplingConfig,
    length=st.integers(1, 6),
    temperature=st.one_of(st.just(0.0), st.floats(1e-3, 5.0)),
    top_k=st.integers(0, V + 4),
    top_p=st.floats(1e-6, 1.0),
    greedy=st.booleans(),
    seed=st.one_of(st.none(), st.integers(0, 2**31 - 1)),
    variations=st.integers(1, 3),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from(["wavenet", "lstm"]),
    sampling_settings,
    st.lists(st.integers(0, V - 1), max_size=20),
)
def test_any_allowed_sampling_gives_valid_tokens(tiny_models, arch, sampling, seed_ids):
    from musegen.generation.decode import generate_ids

    sampling.validate()
    out = generate_ids(tiny_models[arch], np.array(seed_ids, dtype=np.int32), sampling)
    assert len(out) == sampling.variations
    for ids in out:
        assert ids.shape == (sampling.length,) and ids.dtype == np.int32
        assert ((ids >= 0) & (ids < V)).all()
        assert not np.isin(ids, [0, 2]).any()  # never <pad> or <bos>
