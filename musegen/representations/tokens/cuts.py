"""Where a fill-in-the-middle prompt's context may be cut: only between two instants of the music.

A prefix keeps its tail from the start of an instant, a suffix its head up to the end of one, so that no
note is split from its own tokens. Each token representation says where an instant begins with a
``boundary(previous, token)`` test: timed tokens at a Pitch after a TimeShift (and an onset ends at a
TimeShift after a Duration), performance events at any event after a TimeShift.
"""

from __future__ import annotations

from collections.abc import Callable

Boundary = Callable[[str, str], bool]  # (the token before, the token) -> a cut may fall between them


def cut_before(tokens: list[str], at: int, boundary: Boundary) -> int:
    """The first boundary at or after ``at``: where a prefix's tail may begin (past every boundary: only
    its trailing time shifts are kept)."""
    if at <= 0:
        return 0
    for i in range(at, len(tokens)):
        if boundary(tokens[i - 1], tokens[i]):
            return i
    return len(tokens) - next((k for k, t in enumerate(reversed(tokens)) if not t.startswith("TimeShift_")), 0)


def cut_after(tokens: list[str], at: int, boundary: Boundary) -> int:
    """The last boundary at or before ``at``: where a suffix's head may end (``at`` when there is none)."""
    if at >= len(tokens):
        return len(tokens)
    for i in range(at, 0, -1):
        if boundary(tokens[i - 1], tokens[i]):
            return i
    return min(at, len(tokens))
