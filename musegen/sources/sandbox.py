"""Decoding untrusted MIDI in worker processes, where a crash or a runaway cannot take the server down.

A process keeps a few long-lived decoding workers (``python -m musegen.sources._worker``: a fresh
interpreter, so nothing of the app, its threads or its main module comes along), started on
first use and lent to one batch at a time; they also bound how many files the whole server
decodes at once. A worker decodes one file at a time under an address-space limit
(``RLIMIT_AS``: ``max_decode_mb`` on top of its own size) and a CPU-time limit per file
(``RLIMIT_CPU``: ``max_decode_seconds``); the parent also gives every file a wall-clock
deadline. A worker that runs out of memory, is killed, crashes or overruns becomes that
file's reason, and a fresh one takes its place. A worker that grew retires; an idle one
exits after ten minutes.

Requests and answers cross a socket as plain bytes: the settings as JSON and the MIDI bytes
in; :func:`~musegen.sources.decode.pack`'s JSON header, raw float64 notes and tempo map out. Nothing a
file holds is ever unpickled.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import numpy as np

from musegen.config import DataConfig, Limits, from_dict
from musegen.errors import MidiReadError
from musegen.sources.decode import MAX_TEMPO_ROWS, decode_notes, decoder_name, pack, unpack

try:
    import resource
except ImportError:  # Windows: no resource limits, so files are decoded in-process
    resource = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

WORKERS = max(1, min(4, os.cpu_count() or 1))  # decoding processes, shared by every batch of this process
MAX_WORKERS = 64  # what set_worker_limit allows
IDLE_EXIT_S = 600  # an idle worker exits after this long
WAIT_MAX_S = 86_400.0  # one wait's longest timeout (poll takes at most 24 days); a later deadline waits again
STARTUP_S = 30  # added to the deadline of a worker's first file: its interpreter is still starting
RETIRE_MB = 256  # a worker that grew by more than this since it started retires after its file
_MB = 1024 * 1024


@dataclass
class Decoded:
    """What became of one file: its notes (N, 4), tempo and tempo map ((K, 2) [beat, BPM]), or a reason.
    Only ``final`` ones are cached (a timeout or a killed worker may go differently another time)."""

    notes: np.ndarray | None
    tempo: float = 120.0
    reason: str = ""
    final: bool = True
    tempo_map: np.ndarray | None = None


def decode_in_worker(data: bytes, cfg: DataConfig, limits: Limits) -> Decoded:
    """Decode one file in a decoding worker (the single-file API's way)."""
    with DecodePool(cfg, limits, workers=1) as pool:
        return next(pool.map([(None, data)]))[1]


class DecodePool:
    """Up to ``workers`` of the process's decoding workers, borrowed for one batch (a context manager)."""

    def __init__(self, cfg: DataConfig, limits: Limits, workers: int = WORKERS) -> None:
        self.cfg, self.limits, self.size = cfg, limits, max(1, min(workers, WORKERS))
        self.deadline_s = 2 * limits.max_decode_seconds + 10  # wall clock: CPU time plus room for a busy machine
        wanted = {
            "instrument_filter": cfg.instrument_filter,
            "programs": list(cfg.programs),
            "sustain_pedal": cfg.sustain_pedal,
        }
        self.decoder = decoder_name()  # MUSEGEN_DECODER, checked here: a bad value is the caller's error
        settings = json.dumps({"cfg": wanted, "limits": asdict(limits), "decoder": self.decoder}).encode()
        self._settings = len(settings).to_bytes(4, "little") + settings
        self._busy: list[_Worker] = []

    def __enter__(self) -> DecodePool:
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self._busy:  # left with a file in hand (the batch was abandoned): its answer is stale
            _SHARED.give_back(worker, healthy=False)
        self._busy = []

    def map(self, jobs: Iterable[tuple[Any, bytes | None]]) -> Iterator[tuple[Any, Decoded | None]]:
        """Decode each job's bytes; yield (tag, Decoded) in the jobs' order. A job without bytes passes
        through as (tag, None). At most a few jobs per worker are read ahead of what is yielded."""
        window: deque[_Job] = deque()
        waiting: deque[_Job] = deque()
        source = iter(jobs)
        more = True
        while more or window:
            while more and len(window) < 4 * self.size:
                item = next(source, None)
                if item is None:
                    more = False
                    break
                job = _Job(item[0], item[1])
                window.append(job)
                if job.data is not None:
                    waiting.append(job)
            while waiting and len(self._busy) < self.size:
                worker = _SHARED.borrow(block=not self._busy)
                if worker is None:
                    break
                self._start(waiting.popleft(), worker)
            while window and window[0].done:
                job = window.popleft()
                yield job.tag, job.result
            if self._busy and window and not window[0].done:
                self._collect()

    def _start(self, job: _Job, worker: _Worker | _Inline) -> None:
        for attempt in range(2):  # a worker that died while idle is replaced once
            if isinstance(worker, _Inline):
                job.finish(decode_here(job.data, self.cfg, self.limits, self.decoder))
                return
            try:
                worker.conn.send_bytes(self._settings + job.data)
            except OSError:
                _SHARED.give_back(worker, healthy=False)
                if attempt == 0:
                    worker = _SHARED.borrow(block=True)
                continue
            worker.job, worker.deadline = job, time.monotonic() + self.deadline_s + STARTUP_S * worker.fresh
            worker.fresh = False
            job.data = None  # the worker has it
            self._busy.append(worker)
            return
        job.finish(Decoded(None, reason="no decoding worker could take it (see the log).", final=False))

    def _collect(self) -> None:
        """Wait until a busy worker answers, dies or passes its deadline; turn each into a result."""
        timeout = min(max(0.0, min(w.deadline for w in self._busy) - time.monotonic()), WAIT_MAX_S)
        ready = set(wait([w.conn for w in self._busy], timeout))
        for worker in list(self._busy):
            if worker.conn in ready:
                self._answer(worker)
            elif time.monotonic() >= worker.deadline:
                reason = f"took longer than {self.deadline_s} s to read (stopped)."
                self._done(worker, Decoded(None, reason=reason, final=False))

    def _answer(self, worker: _Worker) -> None:
        try:
            blob = worker.conn.recv_bytes(self.limits.max_notes_per_file * 32 + MAX_TEMPO_ROWS * 16 + _MB)
            notes, tempo, reason, final, tempo_map = unpack(blob[1:])  # the first byte: 1 when the worker retires
        except (EOFError, OSError, ValueError):
            self._done(worker, Decoded(None, reason=_death_reason(worker.exit_code(), self.limits), final=False))
            return
        self._done(worker, Decoded(notes, tempo, reason, final, tempo_map), healthy=final and blob[0] == 0)

    def _done(self, worker: _Worker, result: Decoded, healthy: bool = False) -> None:
        """Give the job its result and the worker back (a worker not healthy is stopped)."""
        worker.job.finish(result)
        worker.job = None
        self._busy.remove(worker)
        _SHARED.give_back(worker, healthy=healthy)


@dataclass
class _Job:
    tag: Any
    data: bytes | None
    result: Decoded | None = None
    done: bool = False

    def __post_init__(self) -> None:
        self.done = self.data is None

    def finish(self, result: Decoded) -> None:
        self.result, self.done, self.data = result, True, None


class _Worker:
    """One decoding process and the parent's end of its socket."""

    def __init__(self) -> None:
        parent, child = socket.socketpair()
        package_root = str(Path(__file__).resolve().parents[2])  # so the worker imports this very musegen
        path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, "PYTHONPATH": path, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        with child:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "musegen.sources._worker", str(child.fileno())],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # a stray print never mixes into a command's output
                env=env,
                start_new_session=True,  # Ctrl-C is for the parent, which stops its workers
            )
        self.conn = Connection(parent.detach())
        self.job: _Job | None = None
        self.deadline = math.inf
        self.fresh = True

    def alive(self) -> bool:
        return self.process.poll() is None

    def exit_code(self) -> int | None:
        try:
            return self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        self.conn.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class _Inline:
    """Stands in for a worker where none can be started: the file is decoded in this process."""


def set_worker_limit(n: int) -> None:
    """How many decoding workers this process may run at once (WORKERS: at most 4 by default, which bounds
    what a server decodes at once). A command-line ingest that has the machine to itself raises it to the
    machine's cores."""
    global WORKERS
    WORKERS = max(1, min(int(n), MAX_WORKERS))


class _Shared:
    """The process's decoding workers, lent to batches; at most WORKERS exist at once."""

    def __init__(self) -> None:
        self._inline = resource is None
        self.forget()

    def forget(self) -> None:
        """Start with no workers (also in a child after ``fork``: the workers it inherited are its parent's)."""
        self._lock = threading.Condition()
        self._idle: list[_Worker] = []
        self._count = 0

    def borrow(self, block: bool) -> _Worker | _Inline | None:
        """An idle or a new worker; when all are lent, wait for one (``block``) or return None."""
        if self._inline:
            return _Inline()
        with self._lock:
            while True:
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        return worker
                    self._count -= 1
                    worker.stop()
                if self._count < WORKERS:
                    self._count += 1
                    break
                if not block:
                    return None
                self._lock.wait()
        try:
            return _Worker()
        except OSError as exc:  # no processes here: decode in-process, and say so
            log.warning("cannot start a decoding worker (%s); decoding in this process", exc)
            self._inline = True
            self.give_back(None, healthy=False)
            return _Inline()

    def give_back(self, worker: _Worker | _Inline | None, healthy: bool) -> None:
        if isinstance(worker, _Inline):
            return
        if worker is not None and not healthy:
            worker.stop()
        with self._lock:
            if worker is not None and healthy:
                self._idle.append(worker)
            else:
                self._count -= 1
            self._lock.notify()


_SHARED = _Shared()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_SHARED.forget)


def _death_reason(code: int | None, limits: Limits) -> str:
    if resource is not None and code == -signal.SIGXCPU:
        seconds = limits.max_decode_seconds
        return f"took more than {seconds} s of CPU time to read (stopped; MUSEGEN_MAX_DECODE_SECONDS)."
    if code == -signal.SIGKILL:
        return "the decoder was killed while reading it (out of memory?); the file is likely hostile."
    if code is not None and code < 0:
        return f"crashed the decoder ({signal.Signals(-code).name}); the file is likely corrupt."
    return f"the decoder stopped while reading it (exit code {code}); the file is likely corrupt."


# ------------------------------------------------------------------ the worker's side


def serve(fd: int) -> None:
    """A worker's life: decode one request after another until the socket closes or stays idle."""
    import pretty_midi  # noqa: F401  (loaded before any limit: it is the same for every file; symusic, where
    # it is installed, came with musegen.sources.decode)

    conn = Connection(fd)
    if resource is not None:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a worker killed by a limit leaves no core file
    start = _address_space()
    while conn.poll(IDLE_EXIT_S):
        try:
            request = conn.recv_bytes()
        except (EOFError, OSError):
            return
        size = int.from_bytes(request[:4], "little")
        settings = json.loads(request[4 : 4 + size])
        cfg, limits = from_dict(DataConfig, settings["cfg"]), from_dict(Limits, settings["limits"])
        data = request[4 + size :]
        del request
        _limit(start, limits)
        _crash_if_asked(data)
        result = decode_here(data, cfg, limits, settings.get("decoder"))
        del data
        _unlimit()  # the next request is received under no file's limits
        retire = _address_space() > start + RETIRE_MB * _MB
        try:
            blob = pack(result.notes, result.tempo, result.reason, final=result.final, tempo_map=result.tempo_map)
            conn.send_bytes(bytes([retire]) + blob)
        except OSError:  # the parent is gone
            return
        if retire:
            return


def decode_here(data: bytes, cfg: DataConfig, limits: Limits, decoder: str | None = None) -> Decoded:
    """Decode one file in this process; every failure becomes the reason (never raises for a file)."""
    try:
        notes, tempo, tempo_map = decode_notes(data, cfg, limits, decoder)
        return Decoded(notes, tempo, tempo_map=tempo_map)
    except MidiReadError as exc:
        return Decoded(None, reason=str(exc))
    except MemoryError:
        reason = f"needs more than {limits.max_decode_mb:,} MB of memory to read (MUSEGEN_MAX_DECODE_MB)."
        return Decoded(None, reason=reason, final=False)
    except Exception as exc:  # a decoder bug must not stop a batch: the file gets the reason
        log.exception("decoding failed")
        return Decoded(None, reason=f"the decoder failed on it ({type(exc).__name__}: {exc}).", final=False)


def _crash_if_asked(data: bytes) -> None:
    """For the tests of a native crash: a worker started with ``MUSEGEN_TEST_NATIVE_CRASH=MARK`` reads
    address 0 from C (a real SIGSEGV, as a bug in symusic would raise) on a file holding MARK. Only a
    worker does this, never the process that serves the app."""
    mark = os.environ.get("MUSEGEN_TEST_NATIVE_CRASH", "").encode()
    if mark and mark in data:
        import ctypes

        ctypes.string_at(0)


def _limit(start: int, limits: Limits) -> None:
    """This file's limits: the address space the worker started with plus ``max_decode_mb``, and
    ``max_decode_seconds`` of CPU time on top of what the worker has used so far."""
    if resource is None:
        return
    if start:
        _set_soft(resource.RLIMIT_AS, start + limits.max_decode_mb * _MB)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _set_soft(resource.RLIMIT_CPU, math.ceil(usage.ru_utime + usage.ru_stime) + limits.max_decode_seconds)


def _unlimit() -> None:
    if resource is not None:
        for which in (resource.RLIMIT_AS, resource.RLIMIT_CPU):
            resource.setrlimit(which, (resource.getrlimit(which)[1],) * 2)


def _address_space() -> int:
    """This process's virtual memory size in bytes (0 where /proc is missing: no memory limit then)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _set_soft(which: int, soft: int) -> None:
    _, hard = resource.getrlimit(which)
    soft = min(soft, sys.maxsize)  # a limit past what rlim_t holds is no limit at all
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(which, (soft, hard))
