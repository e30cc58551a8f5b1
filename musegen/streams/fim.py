"""Fill-in-the-middle training windows (Bavarian et al. 2022, "Efficient Training of Language Models
to Fill in the Middle"): a share of a token run's windows rewritten as prefix, suffix, then middle.

Each training window of a piece (the same windows as :func:`musegen.streams.windows.sequence_windows`)
is, with probability ``rate``, replaced by the same tokens in the paper's SPM form:

    <fim_suffix> suffix <fim_prefix> prefix <fim_middle> middle <fim_end>

The representation decides where a window may be cut and how its parts are written (``split``:
the timed tokens cut at grid times and write the suffix from the span's start, so that the model
learns how much time a middle must fill); this module only draws, assembles and pads. Every target
of a FIM window is trained on (the paper's choice), so the model still learns to continue. With
``rate`` 0 the windows are exactly the plain ones. The draw is seeded: the same seed, the same windows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from musegen.streams.windows import window_starts
from musegen.vocabulary import BOS_ID, PAD_ID

SUFFIX_KEEP = 16  # tokens of the suffix kept before the prefix is shortened
FimParts = tuple[np.ndarray, np.ndarray, np.ndarray]  # (prefix, suffix, middle) ids
# (chunk without <bos>, rng) -> its parts, or None when the chunk cannot be cut
SplitFn = Callable[[np.ndarray, np.random.Generator], "FimParts | None"]


def psm(
    prefix: Sequence[int],
    suffix: Sequence[int],
    middle: Sequence[int] | None,
    sentinels: tuple[int, int, int, int],
    max_len: int,
    head: Sequence[int] = (),
) -> np.ndarray:
    """``<suf> suffix <pre> head prefix <mid> [middle <end>]`` in at most ``max_len`` ids.

    The suffix comes first (the paper's SPM order): the prefix then runs straight into the middle, as
    in plain continuation, and a model without the suffix reads the same prefix in the same place.

    Too long, it loses the end of the suffix down to its first ``SUFFIX_KEEP`` tokens (which say how
    long the span is and how the music goes on), then the start of the prefix (and ``head``), then the
    rest of the suffix, then the end of the middle (and ``<end>``): the middle stays whole whenever it can.
    Without ``middle`` it is a generation prompt (ending with ``<mid>``).
    """
    pre, suf, mid, end = sentinels
    head, prefix, suffix = list(head), list(prefix), list(suffix)
    tail = [] if middle is None else [*middle, end]
    over = 3 + len(head) + len(prefix) + len(suffix) + len(tail) - max_len
    if over > 0:
        cut = min(over, max(0, len(suffix) - SUFFIX_KEEP))
        suffix = suffix[: len(suffix) - cut]
        over -= cut
    if over > 0:
        cut = min(over, len(head) + len(prefix))
        joined = (head + prefix)[cut:]
        head, prefix = [], joined
        over -= cut
    if over > 0:
        cut = min(over, len(suffix))
        suffix = suffix[: len(suffix) - cut]
        over -= cut
    if over > 0:
        tail = tail[: max(0, len(tail) - over)]
    return np.asarray([suf, *suffix, pre, *head, *prefix, mid, *tail], dtype=np.int32)


def fim_windows(
    seqs: Sequence[np.ndarray],
    window: int,
    stride: int,
    rate: float,
    seed: int,
    split: SplitFn,
    sentinels: tuple[int, int, int, int],
    pad: int = PAD_ID,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training arrays (x, y, w) of ``seqs`` with a share ``rate`` of the windows in PSM form."""
    rng = np.random.default_rng(seed)
    rows: list[np.ndarray] = []
    for seq in seqs:
        seq = np.asarray(seq, dtype=np.int32)
        n = len(seq) - 1
        if n <= 0:
            continue
        for s in window_starts(n, window, stride):
            chunk = seq[s : s + window + 1]
            if rate > 0 and rng.random() < rate:
                head = chunk[:1] if chunk[0] == BOS_ID else chunk[:0]
                parts = split(chunk[len(head) :], rng)
                if parts is not None:
                    chunk = psm(*parts, sentinels, window + 1, head=head)
            row = np.full(window + 1, pad, dtype=np.int32)
            row[: len(chunk)] = chunk
            rows.append(row)
    if not rows:
        empty = np.zeros((0, window), np.int32)
        return empty, empty.copy(), np.zeros((0, window), np.float32)
    full = np.stack(rows)
    x, y = full[:, :-1], full[:, 1:]
    return x, y, (y != pad).astype(np.float32)
