"""New tokens of a fine-tuning run start from their family's known members (training/new_tokens.py)."""

from __future__ import annotations

import numpy as np

from musegen.training.new_tokens import Family, families, start_new_tokens, token_counts

TOKENS = ["<pad>", "<unk>", "<bos>", "Velocity_40", "Velocity_80", "Velocity_120", "Pitch_60", "Pitch_62", "Bar"]


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max())
    return e / e.sum()


def test_token_counts_ignore_ids_out_of_range():
    counts = token_counts([np.array([3, 4, 4, 99]), [-1, 8]], len(TOKENS))
    assert counts.tolist() == [0, 0, 0, 1, 2, 0, 0, 0, 1]


def test_families_need_a_known_member_and_a_new_one():
    base = token_counts([[4, 6, 7, 8]], len(TOKENS))  # the base knew Velocity_80, both pitches, Bar
    user = token_counts([[3, 4, 5, 6, 7, 1]], len(TOKENS))  # the user plays three velocities
    assert families(TOKENS, base, user) == [Family("Velocity", known=(4,), new=(3, 5))]
    # a token neither side uses stays out; with nothing new there is no family to start
    assert families(TOKENS, base, token_counts([[4, 6]], len(TOKENS))) == []
    # a family the base never saw at all has nothing to start from
    assert families(TOKENS, token_counts([[6]], len(TOKENS)), user) == [Family("Pitch", known=(6,), new=(7,))]


def test_new_members_take_the_share_the_user_gives_them_of_the_family_mass():
    rng = np.random.default_rng(0)
    v, e, h = len(TOKENS), 4, 5
    embedding, kernel = rng.normal(size=(v, e)), rng.normal(size=(h, v))
    bias = rng.normal(size=v)
    bias[[3, 5]] = -30.0  # the base pushed its unseen velocities down
    found = [Family("Velocity", known=(4,), new=(3, 5))]
    user = np.zeros(v)
    user[[3, 4, 5]] = [5, 1, 2]  # plus one each: shares 6/11, 2/11, 3/11
    emb2, ker2, bias2 = start_new_tokens(embedding, kernel, bias, found, user)
    hidden = rng.normal(size=h)
    before, after = _softmax(hidden @ kernel + bias), _softmax(hidden @ ker2 + bias2)
    # the family keeps its probability, shared as the user's pieces share it; every other token keeps its own
    family = before[[3, 4, 5]].sum()
    assert np.isclose(after[[3, 4, 5]].sum(), family)
    assert np.allclose(after[[3, 4, 5]], family * np.array([6, 2, 3]) / 11)
    others = [0, 1, 2, 6, 7, 8]
    assert np.allclose(after[others], before[others])
    assert np.allclose(emb2[3], embedding[4]) and np.allclose(emb2[5], embedding[4])
    assert np.allclose(emb2[others], embedding[others])
    # the inputs are not changed in place
    assert bias[3] == -30.0


def test_known_members_keep_their_order_and_rare_new_ones_take_little():
    bias = np.array([0, 0, 0, 1.0, 2.0, -40.0, 0, 0, 0])
    kernel = np.zeros((2, len(TOKENS)))
    found = [Family("Velocity", known=(3, 4), new=(5,))]
    user = np.zeros(len(TOKENS))
    user[[3, 4, 5]] = [500, 497, 0]  # the new member once in a thousand (with add-one: 1 / 1000)
    _, _, bias2 = start_new_tokens(np.zeros((len(TOKENS), 2)), kernel, bias, found, user)
    probs, old = _softmax(bias2), _softmax(bias)
    assert np.isclose(probs[[3, 4, 5]].sum(), old[[3, 4, 5]].sum())
    assert np.isclose(probs[4] / probs[3], np.e)
    assert np.isclose(probs[5], old[[3, 4, 5]].sum() / 1000)
