"""The test suite's time on this machine: ``make test`` (set-up, lint, the parallel phase and the isolated
phase) and the fast loop (``make test-fast``), wall clock and the peak resident memory of the largest process.

Run it alone (``python -m benchmarks tests``): it runs the whole suite, so ``make bench`` leaves it out unless
named. The figures go to BENCHMARKS.md ("The test suite") and the README's statement of the suite's time.
"""

from __future__ import annotations

import re
import resource
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("test", "test-fast")
EXPLICIT_ONLY = True  # python -m benchmarks without names skips this one: it runs the whole suite
_SUMMARY = re.compile(r"=+ (.*?(?:passed|failed|error).*?) in [\d.]+s")


def run_target(target: str) -> dict:
    """``make TARGET``: its wall time, the pytest summaries it printed and the peak RSS of a child."""
    t0 = time.monotonic()
    done = subprocess.run(["make", "-s", target], cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summaries = _SUMMARY.findall(done.stdout)
    return {
        "target": f"make {target}",
        "ok": done.returncode == 0,
        "seconds": round(seconds, 1),
        "minutes": round(seconds / 60, 2),
        "pytest": summaries,
        "peak_rss_mb_so_far": round(peak_mb),
    }


def main() -> list[dict]:
    rows = [run_target(t) for t in TARGETS]
    print("| command | result | wall time | pytest |")
    print("|---|---|---|---|")
    for r in rows:
        result = "ok" if r["ok"] else "FAILED"
        print(
            f"| `{r['target']}` | {result} | {r['minutes']:.1f} min ({r['seconds']:.0f} s) | {'; '.join(r['pytest'])} |"
        )
    print(f"\npeak resident memory of the largest process: {rows[-1]['peak_rss_mb_so_far']} MB")
    return rows


if __name__ == "__main__":
    main()
