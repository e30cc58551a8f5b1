"""Steering (issue 15): does infilling use what follows, and what do constraints cost?

(a) For each bundled demo model (``assets/models/demo-*``, trained with half their windows as
    fill-in-the-middle examples), the true middle's NLL per token on held-out chorales, with the
    suffix and without it (:func:`musegen.evaluation.infilling.suffix_benefit`), for spans of 2, 4
    and 8 beats (2 random spans per piece, seed 0). A positive gain means the model uses the music
    after the span.
(b) Generation time per token with and without constraints (key, range, notes at once, grammar),
    4 variations of 256 tokens from the same seed, measured in one run (ratios, not absolute times),
    and the time per middle token of one infilled span of 4 beats (4 variations; the prompt's shape
    traced by a first call, as in the app after the first click).

``python -m benchmarks.bench_steering [--json]`` (``python -m benchmarks steering``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "assets" / "models"
MODELS = ("demo-wavenet", "demo-lstm", "demo-transformer")
SPANS = (2.0, 4.0, 8.0)


def suffix_rows() -> list[dict[str, Any]]:
    from musegen.evaluation.infilling import suffix_benefit
    from musegen.generation.compose import Composer

    rows = []
    for name in MODELS:
        composer = Composer(DEMO / name)
        if not composer.can_infill:
            rows.append({"model": name, "note": "trained without infilling"})
            continue
        val = [composer.rep.decode(ids) for label, ids in composer.pieces() if label.startswith("held-out")]
        for beats in SPANS:
            r = suffix_benefit(composer.model, composer.rep, val, composer.config.data.window, span_beats=beats)
            rows.append({"model": name, **r.to_dict()})
    return rows


def cost_rows() -> list[dict[str, Any]]:
    from musegen.config import ConstraintConfig, SamplingConfig
    from musegen.generation.compose import Composer

    rules = {
        "none": None,
        "grammar": ConstraintConfig(grammar=True),
        "key + range": ConstraintConfig(key="D minor", low=48, high=84),
        "all four": ConstraintConfig(key="D minor", low=48, high=84, max_polyphony=3, grammar=True),
    }
    rows = []
    for name in MODELS:
        composer = Composer(DEMO / name)
        seed = composer.seed_from_piece(0, 0, 64)
        sampling = SamplingConfig(length=256, variations=4, seed=0)
        composer.compose(seed, SamplingConfig(length=8, variations=4, seed=0))  # compile the steps once
        base = None
        for label, cfg in rules.items():
            t0 = time.perf_counter()
            composer.compose(seed, sampling, constraints=cfg)
            ms = 1000 * (time.perf_counter() - t0) / sampling.length
            base = base or ms
            rows.append(
                {"model": name, "constraints": label, "ms_per_step": round(ms, 2), "ratio": round(ms / base, 2)}
            )
        if composer.can_infill:
            piece = composer.seed_from_piece(0, 0, 10_000).piece
            composer.infill(piece, 4.0, 8.0, SamplingConfig(length=256, variations=4, seed=1))  # trace this prompt
            t0 = time.perf_counter()
            fill = composer.infill(piece, 4.0, 8.0, SamplingConfig(length=256, variations=4, seed=0))
            rows.append(
                {
                    "model": name,
                    "constraints": "infill 4 beats",
                    "ms_per_step": round(1000 * (time.perf_counter() - t0) / max(fill.token_counts), 2),
                    "tokens": fill.token_counts,
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv or [])
    result = {"suffix": suffix_rows(), "cost": cost_rows()}
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print("| model | span (beats) | NLL with suffix | without | gain (nats/token) | spans | tokens |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in result["suffix"]:
        if "note" in r:
            print(f"| {r['model']} | {r['note']} | | | | | |")
            continue
        print(
            f"| {r['model']} | {r['span_beats']:g} | {r['with_suffix']:.3f} | {r['without_suffix']:.3f} | "
            f"{r['gain']:+.3f} | {r['spans']} | {r['tokens']} |"
        )
    print("\n| model | constraints | ms per step (4 variations) | ratio to none |")
    print("|---|---|---:|---:|")
    for r in result["cost"]:
        print(f"| {r['model']} | {r['constraints']} | {r['ms_per_step']} | {r.get('ratio', '')} |")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
