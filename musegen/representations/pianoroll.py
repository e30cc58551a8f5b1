"""Piano-roll frames: true polyphony as multi-hot rows over the 88 piano keys.

A piece becomes a (T, 88) uint8 matrix on a time grid of ``steps_per_beat`` frames per
quarter note (1 for the JSB Chorales benchmark, ``DataConfig.steps_per_beat`` for MIDI data):
``frames[t, k] == 1`` when MIDI pitch ``21 + k`` sounds during frame t. Onsets and offsets
are rounded to the grid as the timed tokens do (a note lasts at least one frame); pitches
outside the piano (below 21, above 108) are left out.

Models read the frames through a Dense adapter and predict frame t + 1 from frames 0..t with
one independent sigmoid per key (see :func:`musegen.models.build_frame_model`); the first
frame of a piece is context only, never a target. Generation draws every key from its own
Bernoulli distribution. ``frames -> Piece`` merges consecutive held frames of a key into one
note, so two repeated notes of a pitch played legato read back as one long note (the
piano roll's known ambiguity). Held-out scores are nats per frame (the sum over the keys)
beside a per-key first-order Markov floor.

For the app's statistics and run folders the representation also has tokens (one per frame,
e.g. ``Frame_48.55.64.72`` or ``Frame_rest``) and a fixed vocabulary of the 88 keys, so that
statistics and ``vocab.json`` work as for the token representations.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from musegen.config import ConstraintConfig, DataConfig, ModelConfig, RunConfig, SamplingConfig
from musegen.errors import ConfigError, TrainingError
from musegen.notes import DEFAULT_VELOCITY, END, LOWEST_PIANO_PITCH, PIANO_KEYS, PITCH, START, Piece, make_notes
from musegen.representations.base import Representation, TrainingData
from musegen.scoring.floors import MarkovFloor, frame_nll
from musegen.steering.constraints import Constraint, DrawFn, pitch_mask
from musegen.steering.infill import InfillPlan
from musegen.streams.frames import frame_training_data
from musegen.vocabulary import SPECIALS, Vocabulary

if TYPE_CHECKING:
    import keras

LOWEST_PITCH = LOWEST_PIANO_PITCH  # A0, key 0
N_KEYS = PIANO_KEYS  # A0..C8 (MIDI 21-108)
REPRESENTATION = "pianoroll"
REST = "Frame_rest"

__all__ = [
    "LOWEST_PITCH",
    "N_KEYS",
    "PianoRollRepresentation",
    "PianoRollTokenizer",
    "check_frames",
    "frames_to_piece",
    "pianoroll_vocab",
    "piece_to_frames",
    "sample_frames",
    "transpose_frames",
]


# --------------------------------------------------------------------------- pieces <-> frames


def piece_to_frames(piece: Piece, steps_per_beat: int) -> np.ndarray:
    """(T, 88) uint8 multi-hot frames of ``piece``; T covers its last note-off (0 frames if empty)."""
    if steps_per_beat < 1:
        raise ConfigError(f"steps_per_beat must be at least 1, got {steps_per_beat}.")
    notes = piece.notes
    keys = notes[:, PITCH].astype(np.int64) - LOWEST_PITCH
    on_piano = (keys >= 0) & (keys < N_KEYS)
    onset = np.round(notes[:, START] * steps_per_beat).astype(np.int64)
    offset = np.maximum(onset + 1, np.round(notes[:, END] * steps_per_beat).astype(np.int64))
    onset, offset, keys = onset[on_piano], offset[on_piano], keys[on_piano]
    n_frames = int(offset.max()) if len(offset) else 0
    frames = np.zeros((n_frames, N_KEYS), dtype=np.uint8)
    for a, b, k in zip(onset.tolist(), offset.tolist(), keys.tolist(), strict=True):
        frames[max(a, 0) : b, k] = 1
    return frames


def frames_to_piece(frames: np.ndarray, steps_per_beat: int, name: str = "generated", tempo: float = 120.0) -> Piece:
    """Notes from frames: each run of consecutive 1s of a key is one note (velocity 80)."""
    frames = check_frames(frames)
    padded = np.zeros((len(frames) + 2, N_KEYS), dtype=np.int8)
    padded[1:-1] = frames
    edges = np.diff(padded, axis=0)  # +1 where a key goes down, -1 where it comes up
    start_t, start_k = np.nonzero(edges == 1)
    end_t, end_k = np.nonzero(edges == -1)
    # runs of one key start and end in time order, so sorting by (key, time) pairs them up
    starts = start_t[np.lexsort((start_t, start_k))]
    ends = end_t[np.lexsort((end_t, end_k))]
    keys = np.sort(start_k)
    spb = float(steps_per_beat)
    rows = np.stack(
        [starts / spb, ends / spb, (keys + LOWEST_PITCH).astype(np.float64), np.full(len(keys), DEFAULT_VELOCITY)],
        axis=1,
    )
    return Piece(name, make_notes(rows), tempo)


def transpose_frames(frames: np.ndarray, semitones: int) -> np.ndarray:
    """``frames`` shifted by ``semitones`` along the keys; keys pushed off the keyboard are dropped."""
    out = np.zeros_like(frames)
    if semitones >= 0:
        out[:, semitones:] = frames[:, : N_KEYS - semitones]
    else:
        out[:, :semitones] = frames[:, -semitones:]
    return out


def check_frames(frames: Any) -> np.ndarray:
    """``frames`` as a (T, 88) uint8 array of 0/1, or a ConfigError that says what is wrong."""
    arr = np.asarray(frames)
    if arr.ndim != 2 or arr.shape[1] != N_KEYS:
        raise ConfigError(f"piano-roll frames must have shape (T, {N_KEYS}); got {arr.shape}.")
    if arr.size and not np.isin(arr, (0, 1)).all():
        raise ConfigError("piano-roll frames must hold only 0 and 1 (key up / key down).")
    return arr.astype(np.uint8)


# --------------------------------------------------------------------------- tokens and vocabulary


def pianoroll_vocab(steps_per_beat: int) -> Vocabulary:
    """The fixed vocabulary of a piano-roll run: the specials, then one entry per key (``Key_21``..``Key_108``)."""
    keys = [f"Key_{LOWEST_PITCH + k}" for k in range(N_KEYS)]
    meta = {"steps_per_beat": int(steps_per_beat), "lowest_pitch": LOWEST_PITCH, "keys": N_KEYS}
    return Vocabulary([*SPECIALS, *keys], REPRESENTATION, meta)


@dataclass
class PianoRollTokenizer:
    """One token per frame (for statistics and seeds): ``Frame_<pitches joined by '.'>`` or ``Frame_rest``."""

    steps_per_beat: int = 4
    representation: str = REPRESENTATION

    def tokenize(self, piece: Piece) -> list[str]:
        return [frame_token(f) for f in piece_to_frames(piece, self.steps_per_beat)]

    def detokenize(self, tokens: Sequence[str], name: str = "generated") -> Piece:
        """Frames from frame tokens (unknown tokens read as rests), then notes."""
        frames = np.zeros((len(tokens), N_KEYS), dtype=np.uint8)
        for t, token in enumerate(tokens):
            kind, _, value = token.partition("_")
            if kind != "Frame" or value == "rest":
                continue
            for part in value.split("."):
                if part.isdigit() and 0 <= int(part) - LOWEST_PITCH < N_KEYS:
                    frames[t, int(part) - LOWEST_PITCH] = 1
        return frames_to_piece(frames, self.steps_per_beat, name)

    def build_vocab(self, token_lists: Any = ()) -> Vocabulary:
        return pianoroll_vocab(self.steps_per_beat)


def frame_token(frame: np.ndarray) -> str:
    keys = np.flatnonzero(frame)
    return "Frame_" + ".".join(str(int(k) + LOWEST_PITCH) for k in keys) if len(keys) else REST


# --------------------------------------------------------------------------- sampling


def sample_frames(logits: np.ndarray, cfg: SamplingConfig, rng: np.random.Generator) -> np.ndarray:
    """One frame per row of ``logits`` (B, 88): every key an independent Bernoulli draw.

    ``temperature`` divides the logits (below 1: only the likeliest keys sound); greedy or
    temperature 0 sounds every key with probability above one half. ``top_k`` > 0 lets at most
    the k likeliest keys sound; ``top_p`` does not apply to independent keys and is ignored.
    """
    z = np.array(logits, dtype=np.float64, ndmin=2)
    if np.isnan(z).any():
        raise TrainingError("the model produced NaN scores; it has diverged. Retrain with a lower learning rate.")
    if 0 < cfg.top_k < z.shape[1]:  # exactly k candidates per frame, ties broken by position
        best = np.argpartition(-z, cfg.top_k - 1, axis=1)[:, : cfg.top_k]
        keep = np.zeros(z.shape, dtype=bool)
        np.put_along_axis(keep, best, True, axis=1)
        z = np.where(keep, z, -np.inf)
    if cfg.greedy or cfg.temperature == 0:
        return (z > 0).astype(np.uint8)
    p = 1.0 / (1.0 + np.exp(-z / cfg.temperature))
    return (rng.random(p.shape) < p).astype(np.uint8)


# --------------------------------------------------------------------------- the representation


class PianoRollRepresentation(Representation):
    """88-key multi-hot frames; see the module doc."""

    name: ClassVar[str] = REPRESENTATION
    label: ClassVar[str] = (
        "piano roll — 88-key frames on the grid: true polyphony (WaveNet, LSTM, Transformer; keys drawn "
        "independently or as chords with the NADE head)"
    )
    heads: ClassVar[tuple[str, ...]] = ("independent", "nade")
    unit: ClassVar[str] = "frame"
    min_length: ClassVar[int] = 2  # the first frame is context only: two frames give one target
    transposes_on_the_fly: ClassVar[bool] = True  # training_data moves each example's keys: no stored copies
    min_seed: ClassVar[int] = 1
    empty_message: ClassVar[str] = (
        "No piece has two frames or more on the piano's keys. Check the files and the filter."
    )
    perplexity_per: ClassVar[int] = N_KEYS
    unit_name: ClassVar[str] = "frames"
    size_label: ClassVar[str] = "Keys"
    size_help: ClassVar[str] = "each frame is 88 keys, on or off; the model gives each its own probability"
    metric_help: ClassVar[tuple[str, str, str]] = (
        "mean negative log-likelihood per frame, nats: the sum over the 88 keys (the JSB benchmark's measure)",
        "per key: exp(NLL / 88); a fair coin per key is 2",
        "frame accuracy (Bay et al. 2009): TP / (TP + FP + FN), keys on where p > 0.5",
    )

    def __init__(self, steps_per_beat: int, vocab: Vocabulary | None = None):
        super().__init__(vocab or pianoroll_vocab(steps_per_beat))
        self.steps_per_beat = int(steps_per_beat)
        self.tokenizer = PianoRollTokenizer(self.steps_per_beat)  # one token per frame, for statistics

    @classmethod
    def from_config(cls, cfg: DataConfig) -> PianoRollRepresentation:
        return cls(cfg.steps_per_beat)

    @classmethod
    def from_vocab(cls, vocab: Vocabulary) -> PianoRollRepresentation:
        return cls(int(vocab.meta.get("steps_per_beat", DataConfig.steps_per_beat)), vocab)

    def unit_help(self) -> str:
        return f"Piano-roll frames: one per 1/{self.steps_per_beat} beat, every key on or off."

    # ------------------------------------------------------------------ codec

    def sequence(self, piece: Piece) -> np.ndarray:
        return piece_to_frames(piece, self.steps_per_beat)

    def transposed(self, piece: Piece | None, seq: np.ndarray, semitones: int) -> np.ndarray:
        return transpose_frames(seq, semitones)

    def dedupe_key(self, seq: np.ndarray) -> Any:
        return (seq.shape, seq.tobytes())

    def fit_vocab(self, train: Sequence[Any]) -> Vocabulary:
        return self.vocab  # the keyboard: closed

    def ids(self, seq: np.ndarray) -> np.ndarray:
        return check_frames(seq)

    def decode(self, ids: np.ndarray, name: str = "generated") -> Piece:
        return frames_to_piece(np.asarray(ids, np.uint8), self.steps_per_beat, name)

    # ------------------------------------------------------------------ model and training data

    def output_width(self) -> int:
        return N_KEYS

    def check_model(self, model: Any) -> None:
        """88 scores out, and frames in: 88 keys (176 for the NADE head, which reads the target frame beside
        the context)."""
        super().check_model(model)
        if tuple(model.inputs[0].shape[2:]) not in ((N_KEYS,), (2 * N_KEYS,)):
            raise ConfigError(f"this model does not read and predict {N_KEYS}-key piano-roll frames.")

    @classmethod
    def for_model(cls, model: Any) -> PianoRollRepresentation | None:
        """A piano roll on the default grid when ``model`` reads and predicts 88-key frames."""
        try:
            rep = cls(DataConfig.steps_per_beat)
            rep.check_model(model)
        except ConfigError:
            return None
        return rep

    def build_model(self, config: RunConfig) -> keras.Model:
        """A piano-roll model trained on the frame NLL (sum over the 88 keys, mean over real frames).

        With the NADE head the logits are the keys' conditionals, so the same loss is the exact NLL."""
        import keras

        from musegen.models import FrameNLL, build_frame_model, precision

        with precision.policy(config.train.precision):
            model = build_frame_model(config.model, N_KEYS, window=config.data.window)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=config.train.learning_rate, clipnorm=1.0),
            loss=FrameNLL(),
            jit_compile=config.train.keras_jit_compile(),
        )
        return model

    def training_data(
        self,
        train_seqs: Sequence[np.ndarray],
        val_seqs: Sequence[np.ndarray],
        config: RunConfig,
        global_batch: int,
        seed: int,
    ) -> TrainingData:
        """Streamed from one uint8 store of the frames, transposed example by example, batched by length
        (:mod:`musegen.streams.frames`); a clear TrainingError instead of an OOM kill when it cannot fit."""
        nade = config.model.head == "nade"  # the NADE head reads [x_t | x_{t+1}]: (B, T, 176)
        return frame_training_data(train_seqs, val_seqs, config, global_batch, seed, nade=nade)

    # ------------------------------------------------------------------ scoring

    def score(self, model: Any, val: list[np.ndarray], window: int, arch: str) -> dict[str, Any]:
        scores = frame_nll(model, val)
        return {**scores, "tokens": scores["frames"]}

    def floor(self, train: list[np.ndarray], val: list[np.ndarray]) -> dict[str, Any]:
        floor = MarkovFloor().fit([np.asarray(s, np.uint8) for s in train if len(s) > 1]).score(val)
        # a per-key first-order Markov chain is a per-key 2-gram
        return {**floor, "order": 2, "tokens": floor["frames"]}

    def floor_label(self, baseline: dict[str, Any]) -> str:
        return "per-key Markov floor"

    def uniform_nll(self) -> float:
        return N_KEYS * math.log(2.0)  # every key a fair coin

    # ------------------------------------------------------------------ generation

    def start(self) -> np.ndarray:
        return np.zeros((1, N_KEYS), np.uint8)

    def sample(self, logits: np.ndarray, cfg: SamplingConfig, rng: np.random.Generator) -> np.ndarray:
        return sample_frames(logits, cfg, rng)

    def check_seed(self, seed: np.ndarray) -> np.ndarray:
        return check_frames(seed)

    def time_cursor(self, ids: np.ndarray) -> float:
        return len(ids) / float(self.steps_per_beat)

    def tokens_per_beat(self, samples: Sequence[np.ndarray] = ()) -> float:
        return float(self.steps_per_beat)

    def known(self, piece: Piece) -> tuple[int, int]:
        pitches = piece.notes[:, PITCH]
        return int(np.sum((pitches >= LOWEST_PITCH) & (pitches < LOWEST_PITCH + N_KEYS))), len(pitches)

    def known_range(self) -> str:
        return "the 88 piano keys"

    def constraint(self, cfg: ConstraintConfig | None, batch: int, plan: InfillPlan | None = None) -> Constraint | None:
        """Keys outside the key and range never sound; at most ``max_polyphony`` keys per frame (a frame is
        always well-formed: the grammar does not apply). Piano rolls do not infill."""
        if plan is not None:
            self.check_infill(ModelConfig())
        if cfg is None or not cfg.active:
            return None
        return FrameConstraint(cfg, batch)

    def element_notes(self, ids: np.ndarray) -> np.ndarray:
        """A note is a run of 1s of one key (as :func:`frames_to_piece` reads it): its cells (frame t,
        key k), flat index ``t * 88 + k``. A silent key makes no note."""
        on = check_frames(ids).astype(bool)
        first = on.copy()
        first[1:] &= ~on[:-1]  # where a run begins
        run_k, run_t = np.nonzero(first.T)  # the runs by key, then time: frames_to_piece's order before sorting
        per_key = np.bincount(run_k, minlength=N_KEYS)
        run = np.cumsum(first, axis=0) - 1 + (np.cumsum(per_key) - per_key)  # each cell's run, numbered as above
        order = np.lexsort((run_k, run_t))  # as make_notes sorts decode's notes (by start, then pitch)
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        t, k = np.nonzero(on)
        return np.stack([t * N_KEYS + k, rank[run[t, k]]], axis=1).astype(np.int64)


class FrameConstraint(Constraint):
    """Key and range as keys forced off, notes at once as a cap on the keys on per frame.

    The cap is the sampling step's own ``top_k`` (at most k keys sound; the smaller of the two wins):
    for independent keys the k likeliest are the candidates, with the NADE head the first k drawn
    from low to high. With the NADE head the keys are forced off inside its key-by-key draw, so every
    key above is drawn given the ones below as they really are.
    """

    def __init__(self, cfg: ConstraintConfig, batch: int):
        super().__init__(batch)
        self.keys = pitch_mask(cfg)[LOWEST_PIANO_PITCH : LOWEST_PIANO_PITCH + N_KEYS]
        if not self.keys.any():
            raise ConfigError(f"no piano key is within pitches {cfg.low}-{cfg.high} and {cfg.key or 'the range'}.")
        self.max_poly = int(cfg.max_polyphony)

    def allowed(self) -> np.ndarray:
        return np.tile(self.keys, (self.batch, 1))

    def observe(self, drawn: np.ndarray) -> None:
        pass

    def _capped(self, cfg: SamplingConfig) -> SamplingConfig:
        if not self.max_poly:
            return cfg
        return dataclasses.replace(cfg, top_k=min(cfg.top_k, self.max_poly) if cfg.top_k else self.max_poly)

    def wrap(self, draw: DrawFn, stepper: Any = None) -> DrawFn:
        nade = getattr(stepper, "draw", None)

        def constrained(logits: np.ndarray, cfg: SamplingConfig, rng: np.random.Generator) -> np.ndarray:
            cfg = self._capped(cfg)
            if nade is not None:  # NADE: ``logits`` are the backbone's features; the head draws the keys
                return nade(logits, cfg, rng, allowed=self.allowed().astype(np.float32))
            return draw(np.where(self.allowed(), logits, -np.inf), cfg, rng)

        return constrained
