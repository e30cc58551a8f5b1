"""Piano-roll generation per output head: milliseconds per frame, independent keys against NADE chords.

The JSB benchmark's settings (``musegen.experiments.jsb.SETTINGS``: about 300K-parameter WaveNet and
LSTM backbones), randomly initialised (speed does not depend on the weights), continue a 16-frame
seed for 256 frames with :func:`musegen.generation.decode.generate_frames`: one compiled backbone
step per frame, then either 88 Bernoulli draws in numpy (independent head) or the NADE's key-by-key
draw inside one compiled call (``NADEHead.sample``). Warm figures (the compiled steps reused, best
of 3), 1 variation and 8 in one batch; the ratio NADE / independent is measured in the same run.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

FRAMES = 256
SEED = 16
REPEATS = 3


def main() -> list[dict]:
    from musegen.config import SamplingConfig
    from musegen.experiments.jsb import SETTINGS
    from musegen.generation.decode import generate_frames
    from musegen.models import build_frame_model

    seed = (np.random.default_rng(0).random((SEED, 88)) < 0.05).astype(np.uint8)
    rows = []
    for arch in ("wavenet", "lstm"):
        for head in ("independent", "nade"):
            cfg = dataclasses.replace(SETTINGS[f"{arch}-nade"][0], head=head)
            model = build_frame_model(cfg, 88, window=128)
            row = {"arch": arch, "head": head, "parameters": int(model.count_params())}
            for variations in (1, 8):
                sampling = SamplingConfig(length=FRAMES, variations=variations, temperature=1.0, seed=0)
                generate_frames(model, seed, sampling)  # trace and compile
                best = float("inf")
                for _ in range(REPEATS):
                    t0 = time.perf_counter()
                    generate_frames(model, seed, sampling)
                    best = min(best, time.perf_counter() - t0)
                row[f"ms_per_frame_x{variations}"] = round(best * 1000 / FRAMES, 3)
            rows.append(row)
    print("| backbone | head | parameters | ms per frame, 1 variation | ms per frame, 8 variations |")
    print("|---|---|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['arch']} | {r['head']} | {r['parameters']:,} | {r['ms_per_frame_x1']:.2f} | "
            f"{r['ms_per_frame_x8']:.2f} |"
        )
    for arch in ("wavenet", "lstm"):
        ind, nade = (next(r for r in rows if r["arch"] == arch and r["head"] == h) for h in ("independent", "nade"))
        print(f"{arch}: NADE / independent = {nade['ms_per_frame_x1'] / ind['ms_per_frame_x1']:.2f}x (1 variation)")
    return rows


if __name__ == "__main__":
    main()
