"""The piano-roll representation: its codec, model, streamed data, frame scores and steering put together
(registered once, in :mod:`musegen.representations.registry`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from musegen.config import ConstraintConfig, DataConfig, ModelConfig, RunConfig, SamplingConfig
from musegen.errors import ConfigError
from musegen.notes import PITCH, Piece
from musegen.representations.base import Representation, TrainingData
from musegen.representations.pianoroll.codec import (
    LOWEST_PITCH,
    N_KEYS,
    REPRESENTATION,
    PianoRollTokenizer,
    check_frames,
    frames_to_piece,
    pianoroll_vocab,
    piece_to_frames,
    transpose_frames,
)
from musegen.representations.pianoroll.steering import FrameConstraint, sample_frames
from musegen.scoring.floors import MarkovFloor, frame_nll
from musegen.steering.constraints import Constraint
from musegen.steering.infill import InfillPlan
from musegen.streams.frames import frame_training_data
from musegen.vocabulary import Vocabulary

if TYPE_CHECKING:
    import keras


class PianoRollRepresentation(Representation):
    """88-key multi-hot frames; see :mod:`musegen.representations.pianoroll`."""

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
        always well-formed: the grammar does not apply); under a chord progression new notes begin on its
        tones. Piano rolls do not infill."""
        if plan is not None:
            self.check_infill(ModelConfig())
        if cfg is None or not cfg.active:
            return None
        return FrameConstraint(cfg, batch, self.steps_per_beat)

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
