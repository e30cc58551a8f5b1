"""The decoding loop: continue a seed with a trained model, one compiled step per generated element.

:func:`generate` is the one loop of musegen: it primes the compiled incremental decoder of
:mod:`musegen.models.incremental` (cached convolution inputs, LSTM state) with the seed, then
alternates one sampling step (the representation's: a softmax draw for tokens, 88 Bernoulli
draws for a piano-roll frame) and one model step, all variations in one batch. No
``model.predict`` inside it. :func:`generate_ids` and :func:`generate_frames` are that loop for
token ids and for frames without a run folder; :func:`generate_ids_predict_loop` is the
tutorial's ``model.predict``-per-token loop, kept only as the benchmark's reference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from musegen.config import ConstraintConfig, SamplingConfig
from musegen.errors import ConfigError
from musegen.representations import registry
from musegen.representations.base import Representation
from musegen.representations.codec import check_ids
from musegen.steering.constraints import Constraint
from musegen.steering.motif import MotifMemory
from musegen.steering.sampling import sample_next
from musegen.vocabulary import BOS_ID, PAD_ID

if TYPE_CHECKING:
    import keras

ProgressFn = Callable[[int, int], None]  # (elements done, elements total)
SampleFn = Callable[[np.ndarray, SamplingConfig, np.random.Generator], np.ndarray]


def generate(
    model: keras.Model,
    seed: np.ndarray,
    cfg: SamplingConfig,
    sample: SampleFn,
    *,
    on_progress: ProgressFn | None = None,
    rng: np.random.Generator | None = None,
    constraint: Constraint | None = None,
    memory: MotifMemory | None = None,
) -> list[np.ndarray]:
    """Continue ``seed`` ((T,) ids or (T, K) frames, T >= 1) by ``cfg.length`` elements, ``cfg.variations`` at once.

    ``sample(logits (B, width), cfg, rng)`` draws the next element of every variation (a model with
    the NADE head draws its frames itself: its stepper's ``draw`` replaces ``sample``). Returns one
    array of ``cfg.length`` new elements per variation (the seed not included). The same
    ``cfg.seed`` gives the same result; ``rng``, when given, is used instead.
    ``on_progress(done, total)`` is called after every element. A ``constraint``
    (:mod:`musegen.steering.constraints`) reads the seed, restricts every draw to what its rules
    allow, and may end the generation early once every row is ``done`` (an infilled middle that
    reached its suffix): the arrays are then shorter than ``cfg.length``. A ``memory``
    (:mod:`musegen.steering.motif`) mixes the figures already played into every draw, among what
    the constraint's rules allow.
    """
    from musegen.models.incremental import make_stepper

    cfg.validate(max_length=max(cfg.length, 1))  # the length cap is the caller's (Limits); the rest is checked here
    seed = np.asarray(seed)
    rng = rng if rng is not None else np.random.default_rng(cfg.seed)
    stepper = make_stepper(model, cfg.variations, pad_id=PAD_ID)
    # a NADE model draws its frames itself (key by key inside the head); every other model gives logits
    draw: SampleFn = getattr(stepper, "draw", None) or sample
    prompt = np.tile(seed[None], (cfg.variations,) + (1,) * seed.ndim)
    if memory is not None:  # inside the constraint: it mixes what the rules allow
        memory.prime(prompt)
        draw = memory.wrap(draw)
    if constraint is not None:
        constraint.prime(prompt)
        draw = constraint.wrap(draw, stepper)
    logits = stepper.prime(prompt)
    out: np.ndarray | None = None
    made = 0
    for i in range(cfg.length):
        drawn = draw(logits, cfg, rng)
        if out is None:
            out = np.empty((cfg.variations, cfg.length, *drawn.shape[1:]), dtype=drawn.dtype)
        out[:, i] = drawn
        made = i + 1
        if on_progress is not None:
            on_progress(i + 1, cfg.length)
        if constraint is not None and constraint.done.all():
            if on_progress is not None and made < cfg.length:
                on_progress(cfg.length, cfg.length)
            break
        if i + 1 < cfg.length:
            logits = stepper.step(out[:, i])
    return list(out[:, :made]) if out is not None else []


def generate_with(
    model: keras.Model,
    rep: Representation,
    seed: np.ndarray,
    cfg: SamplingConfig,
    *,
    on_progress: ProgressFn | None = None,
    rng: np.random.Generator | None = None,
    constraints: ConstraintConfig | None = None,
) -> list[np.ndarray]:
    """:func:`generate` under a representation: its seed checks, its empty prompt, its sampling step,
    its constraint (of ``constraints``, or the run's default rules: performance events have some; a ConfigError
    when it has none of that kind), and
    with ``cfg.motif_memory`` its motif memory (token representations; frames have none)."""
    rep.check_model(model)
    width = rep.output_width()
    seed = rep.check_seed(seed) if len(np.asarray(seed)) else rep.start()
    constraint = rep.constraint(constraints, cfg.variations)  # None when nothing is kept to (a run may have defaults)
    strength = cfg.motif_memory or 0.0  # None (suited to the run) is resolved by the Composer; alone, off
    skip = rep.motif_skip_ids() if strength > 0 else None
    memory = MotifMemory(width, cfg.variations, strength, skip) if skip is not None else None
    return generate(
        model, seed, cfg, rep.sample, on_progress=on_progress, rng=rng, constraint=constraint, memory=memory
    )


def generate_ids(
    model: keras.Model,
    seed_ids: np.ndarray,
    cfg: SamplingConfig,
    *,
    on_progress: ProgressFn | None = None,
    forbid_ids: Sequence[int] = (PAD_ID, BOS_ID),
    rng: np.random.Generator | None = None,
) -> list[np.ndarray]:
    """Continue token ids ``seed_ids`` (T,); int32 ids out. An empty seed starts a piece (``<bos>``).

    Any seed length works: a short one is simply a shorter context (classic models pad it to
    their window), a long one is read in full. ``forbid_ids`` are never drawn.
    """
    seed = _token_seed(model, seed_ids, cfg, forbid_ids)

    def sample(logits: np.ndarray, c: SamplingConfig, r: np.random.Generator) -> np.ndarray:
        return sample_next(logits, c, r, forbid_ids).astype(np.int32)

    return generate(model, seed, cfg, sample, on_progress=on_progress, rng=rng)


def generate_frames(
    model: keras.Model,
    seed_frames: np.ndarray,
    cfg: SamplingConfig,
    *,
    on_progress: ProgressFn | None = None,
    rng: np.random.Generator | None = None,
) -> list[np.ndarray]:
    """Continue piano-roll frames ``seed_frames`` (T, 88); (length, 88) uint8 frames out.

    An empty seed starts from one silent frame; every key of a new frame is drawn on its own (or,
    with the NADE head, given the keys below it). The representation that reads the model's frames
    (:func:`musegen.representations.registry.for_model`) checks the seed and draws the frames.
    """
    cfg.validate(max_length=max(cfg.length, 1))
    rep = registry.for_model(model)
    if rep is None:
        raise ConfigError("this model does not read and predict the frames of a representation (88-key piano rolls).")
    seed = rep.check_seed(seed_frames) if len(np.asarray(seed_frames)) else rep.start()
    return generate(model, seed, cfg, rep.sample, on_progress=on_progress, rng=rng)


def _token_seed(model: keras.Model, seed_ids: np.ndarray, cfg: SamplingConfig, forbid_ids: Sequence[int]) -> np.ndarray:
    cfg.validate(max_length=max(cfg.length, 1))
    vocab = int(model.outputs[0].shape[-1])
    seed = check_ids(seed_ids, vocab)
    if seed.size == 0:  # nothing to continue from: start a piece
        seed = np.array([BOS_ID], dtype=np.int64)
    if len(set(forbid_ids) & set(range(vocab))) >= vocab:
        raise ConfigError("every token is forbidden; nothing can be sampled.")
    return seed


def generate_ids_predict_loop(
    model: keras.Model,
    seed_ids: np.ndarray,
    cfg: SamplingConfig,
    *,
    window: int = 128,
    forbid_ids: Sequence[int] = (PAD_ID, BOS_ID),
) -> list[np.ndarray]:
    """The tutorial's loop: ``model.predict`` on the last ``window`` tokens, once per token.

    Slow by design (a full forward pass and ``predict``'s set-up per token); the benchmark's
    reference point. Sequence models see a left-padded window and use its last position.
    """
    from musegen.models.incremental import is_sequence_model

    seeds = np.tile(_token_seed(model, seed_ids, cfg, forbid_ids), (cfg.variations, 1))
    vocab = int(model.outputs[0].shape[-1])
    sequence = is_sequence_model(model)
    if not sequence:
        window = int(model.inputs[0].shape[1])
    rng = np.random.default_rng(cfg.seed)
    ids = np.full((cfg.variations, window), PAD_ID, dtype=np.int64)
    tail = seeds[:, -window:]
    ids[:, window - tail.shape[1] :] = tail
    out = np.empty((cfg.variations, cfg.length), dtype=np.int32)
    for i in range(cfg.length):
        if sequence:
            logits = model.predict(ids.astype(np.int32), verbose=0)[:, -1]
        else:
            probs = model.predict((ids / vocab).astype(np.float32)[..., None], verbose=0)
            logits = np.log(np.maximum(probs, 1e-30))
        out[:, i] = sample_next(logits, cfg, rng, forbid_ids)
        ids = np.concatenate([ids[:, 1:], out[:, i : i + 1]], axis=1)
    return list(out)
