"""Fine-tuning's first weights for tokens the base never learned: each starts as its family's known members.

A base model's vocabulary can hold tokens its corpus never used. musegen's bundled base has 32 velocity
levels, but music21's corpus plays every note at one loudness, so 31 of them were only ever pushed down:
their output logits sit far below the rest and their embeddings are random. A user's piano pieces use
them on every note, and a fine-tuning run would first spend its few minutes unlearning that.

So, before the first step, a token the base's own data never holds but the user's pieces do (a *new*
token) starts from its family: the tokens that share its name up to the last ``_`` (``Velocity_64`` is
of ``Velocity``) and that the base did see (*known*). A new token's embedding and output weights are the
mean of the known members', and the family's output biases are set so that the family keeps the
probability mass the base gave it, shared among its members as the user's training pieces share them
(counts plus one): the new members get what the user plays of them, the known members the rest, in the
order the base had. The model then begins by saying "a velocity comes here, about this loud", and refines
it from the user's pieces; a family with a few rare new members (an extreme pitch) loses almost nothing.
Families with no known member, or no new one, are left as they are; so is every model without a token
embedding and a logits layer (piano rolls).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Family:
    """A token family with both kinds of member: the ids the base knows, and the new ids the user's data uses."""

    name: str
    known: tuple[int, ...]
    new: tuple[int, ...]


def token_counts(sequences: Iterable[Sequence[int] | np.ndarray], vocab_size: int) -> np.ndarray:
    """How often each of ``vocab_size`` ids occurs in ``sequences`` (ids outside the range are ignored)."""
    counts = np.zeros(vocab_size, dtype=np.int64)
    for seq in sequences:
        ids = np.asarray(seq, dtype=np.int64).ravel()
        ids = ids[(ids >= 0) & (ids < vocab_size)]
        counts += np.bincount(ids, minlength=vocab_size)
    return counts


def families(tokens: Sequence[str], base_counts: np.ndarray, user_counts: np.ndarray) -> list[Family]:
    """The families (name before the last ``_``) that have a member the base knows and a new one the user uses."""
    members: dict[str, list[int]] = {}
    for i, token in enumerate(tokens):
        if "_" in token and not token.startswith("<"):
            members.setdefault(token.rsplit("_", 1)[0], []).append(i)
    found = []
    for name, ids in members.items():
        known = tuple(i for i in ids if base_counts[i] > 0)
        new = tuple(i for i in ids if base_counts[i] == 0 and user_counts[i] > 0)
        if known and new:
            found.append(Family(name, known, new))
    return found


def _logsumexp(values: np.ndarray) -> float:
    top = float(np.max(values))
    return top + float(np.log(np.sum(np.exp(values - top))))


def start_new_tokens(
    embedding: np.ndarray, kernel: np.ndarray, bias: np.ndarray, found: Sequence[Family], user_counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Copies of the embedding (V, E), logits kernel (H, V) and bias (V,) with each family's new members
    started from its known ones: the family's output mass kept, shared as the user's pieces share it."""
    embedding, kernel, bias = embedding.copy(), kernel.copy(), bias.copy()
    for family in found:
        known, new = list(family.known), list(family.new)
        mass = _logsumexp(bias[known].astype(np.float64))  # the log of the family's probability, before
        counts = user_counts[known + new].astype(np.float64) + 1.0  # add-one: a known member never drops to 0
        shares = counts / counts.sum()
        embedding[new] = embedding[known].mean(axis=0)
        kernel[:, new] = kernel[:, known].mean(axis=1, keepdims=True)
        # known members keep their order among themselves, with the share of them all in the user's pieces
        bias[known] = bias[known] + np.log(shares[: len(known)].sum())
        bias[new] = mass + np.log(shares[len(known) :])
    return embedding, kernel, bias
