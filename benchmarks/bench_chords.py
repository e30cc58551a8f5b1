"""Chords you type (issue 35): how often the notes land on the chord, what the rule costs per step, and what it
costs the music.

For each bundled demo model (``assets/models/demo-*``, chorales) and, with ``--run DIR``, any other run (the
piano run of BENCHMARKS.md), the same progression (``C | Am | F G7 | C``, 4/4, repeated) under continuations
of ``SEEDS`` held-out seeds (the run's first pieces, 32 tokens each), 4 variations of ``LENGTH`` tokens each,
random seed k, temperature 1, no top-k: without any rule, with the token grammar alone (which every chord
row keeps too), with the hard rule, the hard rule with
passing tones on weak beats, the hard rule with the bass, and the soft rule at strengths 1 and 3. Per row:

- the share of note onsets (under a chord) that are chord tones (:func:`musegen.steering.chords.chord_tone_share`);
- the time per step (ms, 4 variations in one batch), and its ratio to the run without the progression;
- the held-out-music feature overlap: Yang & Lerch's overlapped area, mean over issue 7's features
  (:func:`musegen.metrics.music.compare_sets`), of the generated set against the run's real reference pieces
  (:meth:`Composer.reference_pieces`, as the Generate page compares them), so a drop says what the rule costs.

``python -m benchmarks.bench_chords [--run DIR ...] [--json]`` (``python -m benchmarks chords``).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "assets" / "models"
MODELS = ("demo-wavenet", "demo-lstm", "demo-transformer")
PROGRESSION = "C | Am | F G7 | C"
SEEDS, LENGTH = 3, 256
RULES: dict[str, dict[str, Any] | None] = {
    "none": None,
    "grammar only": {"chords": ""},  # the token grammar every chord row also keeps: its own cost apart
    "hard": {},
    "hard + passing tones": {"passing_tones": True},
    "hard + bass": {"chord_bass": True},
    "soft 1": {"chord_mode": "soft", "chord_strength": 1.0},
    "soft 3": {"chord_mode": "soft", "chord_strength": 3.0},
}


def run_rows(run_dir: Path, label: str) -> list[dict[str, Any]]:
    """Every rule's row for one run."""
    from musegen.config import ConstraintConfig, SamplingConfig
    from musegen.generation.compose import Composer
    from musegen.metrics.music import compare_sets, piece_stats
    from musegen.steering.chords import chord_tone_share, parse_progression

    composer = Composer(run_dir)
    real = [piece_stats(p) for p in composer.reference_pieces(24)]
    seeds = [composer.seed_from_piece(k, 0, 32) for k in range(SEEDS)]
    composer.compose(seeds[0], SamplingConfig(length=8, variations=4, seed=0))  # compile the steps once
    progression = parse_progression(PROGRESSION)
    rows, base = [], None
    for name, fields in RULES.items():
        grammar = composer.rep.unit != "frame"
        cfg = None if fields is None else ConstraintConfig(**({"chords": PROGRESSION, "grammar": grammar} | fields))
        pieces, seconds = [], 0.0
        for k, seed in enumerate(seeds):
            sampling = SamplingConfig(length=LENGTH, variations=4, temperature=1.0, top_k=0, seed=k)
            t0 = time.perf_counter()
            pieces += composer.compose(seed, sampling, constraints=cfg).continuations
            seconds += time.perf_counter() - t0
        ms = 1000 * seconds / (LENGTH * SEEDS)
        base = base or ms
        overlap = compare_sets([piece_stats(p) for p in pieces], real).mean_overlap
        share = chord_tone_share(pieces, progression)
        rows.append(
            {
                "run": label,
                "rule": name,
                "chord_tones": None if math.isnan(share) else round(share, 3),
                "notes": sum(p.n_notes for p in pieces),
                "ms_per_step": round(ms, 2),
                "ratio": round(ms / base, 2),
                "overlap": round(float(overlap), 3),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", default=[], metavar="DIR", help="another run (a piano run)")
    parser.add_argument("--demos", choices=("yes", "no"), default="yes", help="include the bundled demo models")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv or [])
    runs = [(DEMO / m, m) for m in MODELS] if args.demos == "yes" else []
    runs += [(Path(r), Path(r).name) for r in args.run]
    rows = [row for path, label in runs for row in run_rows(path, label)]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"progression {PROGRESSION}; {SEEDS} seeds x 4 variations x {LENGTH} tokens per row\n")
    print("| run | rule | chord tones (share of onsets) | notes | ms per step (4 variations) | ratio | overlap |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['run']} | {r['rule']} | {r['chord_tones']} | {r['notes']} | {r['ms_per_step']} | {r['ratio']} | "
            f"{r['overlap']} |"
        )
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
