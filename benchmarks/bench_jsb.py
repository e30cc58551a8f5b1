"""The JSB Chorales benchmark: musegen's WaveNet and LSTM on piano-roll frames beside Bai et al. (2018).

The same library call as ``python -m musegen benchmark jsb`` (:func:`musegen.experiments.jsb.run_benchmark`):
each model trains within a time budget, its epoch is selected on ``validdata`` and ``testdata``
is scored once. The budget per model is ``MUSEGEN_BENCH_JSB_MINUTES`` (default 25 minutes, so
the two models take about 50); set it lower for a quick look (the numbers are then worse).
``MUSEGEN_BENCH_JSB_DATA`` points at another ``.mat`` of the same format.
"""

from __future__ import annotations

import os


def main() -> dict | None:
    from musegen.experiments.jsb import DEFAULT_DATA, DEFAULT_MINUTES, format_report, run_benchmark

    data = os.environ.get("MUSEGEN_BENCH_JSB_DATA") or str(DEFAULT_DATA)
    minutes = float(os.environ.get("MUSEGEN_BENCH_JSB_MINUTES") or DEFAULT_MINUTES)
    if not os.path.isfile(data):
        print(f"skipped: no benchmark data at {data} (set MUSEGEN_BENCH_JSB_DATA to a piano-roll .mat)")
        return None
    print(f"{minutes:g} min of training per model (MUSEGEN_BENCH_JSB_MINUTES)\n")

    def progress(arch, event) -> None:
        if event.kind == "status" and event.status in ("finished", "stopped"):
            print(f"{arch}: {event.message}", flush=True)

    report = run_benchmark(data, minutes=minutes, on_progress=progress)
    print()
    print(format_report(report))
    return report


if __name__ == "__main__":
    main()
