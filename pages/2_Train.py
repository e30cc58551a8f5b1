"""Train page: choose an architecture and settings, start a background training, watch it live."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from musegen import runs
from musegen.config import ARCHITECTURES, DataConfig, ModelConfig, RunConfig, TrainConfig
from musegen.errors import RunNotFoundError
from musegen.jobs import active_jobs, check_owner, job_status, list_jobs, resume_training, start_training
from musegen.plots import loss_chart
from musegen.presets import preset_config
from ui.common import current_dataset, fmt_duration, friendly_errors, runs_dir, session_id, show_metrics

ARCHS = {
    "wavenet": "WaveNet — gated dilated causal convolutions (fast, parallel)",
    "lstm": "LSTM — two recurrent layers",
    "classic-wavenet": "classic WaveNet — the tutorial's model (one target per window)",
    "classic-lstm": "classic LSTM — the tutorial's model (one target per window)",
}
STARTS = {"demo": "Small (trains in minutes on a laptop)", "full": "Full size (library defaults; slow on a CPU)"}
STATE_ICONS = {
    "queued": ":material/hourglass_top:",
    "running": ":material/directions_run:",
    "finished": ":material/check_circle:",
    "stopped": ":material/stop_circle:",
    "failed": ":material/error:",
}


def _starting_config(start: str, arch: str) -> RunConfig:
    if start == "demo":
        return preset_config("demo", arch)[0]
    config = RunConfig()
    config.model.arch = arch
    return config


def _settings(data: DataConfig) -> tuple[RunConfig, int | None]:
    """The widgets of a new training; returns its config and the piece limit (None = all)."""
    c1, c2 = st.columns([1, 2])
    start = c1.selectbox("Starting point", list(STARTS), format_func=STARTS.get, help="Fills in the settings below.")
    arch = c2.selectbox("Architecture", ARCHITECTURES, format_func=ARCHS.get)
    base = _starting_config(start, arch)
    t, m = base.train, base.model
    while m.receptive_field() < data.window and m.dilation_cycle < 16:  # let the WaveNet see the whole window
        m.dilation_cycle += 1
    k = f"{start}-{arch}-{data.window}-"  # new defaults when the starting point, architecture or window change
    c1, c2, c3, c4, c5 = st.columns(5)
    epochs = c1.number_input("Epochs", 1, 1000, t.epochs, key=k + "epochs", help="Passes over the training windows.")
    batch = c2.number_input("Batch size", 1, 4096, t.batch_size, key=k + "batch", help="Windows per update step.")
    lr = c3.number_input(
        "Learning rate", 1e-5, 1.0, t.learning_rate, format="%.4f", key=k + "lr", help="Adam's step size."
    )
    patience = c4.number_input(
        "Patience",
        0,
        100,
        t.patience,
        key=k + "patience",
        help="Stop after this many epochs without a better validation loss; 0 = never stop early.",
    )
    minutes = c5.number_input(
        "Time limit (min)",
        0.0,
        24 * 60.0,
        t.max_minutes,
        step=1.0,
        key=k + "minutes",
        help="Stop after this long, keeping the best model; 0 = no limit.",
    )
    with st.expander("Advanced: model size and data split", icon=":material/tune:"):
        a1, a2, a3, a4 = st.columns(4)
        classic = arch.startswith("classic-")
        embed = a1.number_input("Embedding size", 4, 1024, m.embed_dim, key=k + "embed", disabled=classic)
        dropout = a2.number_input("Dropout", 0.0, 0.9, m.dropout, step=0.05, key=k + "dropout")
        val = a3.number_input(
            "Validation share",
            0.0,
            0.5,
            data.val_fraction,
            step=0.05,
            key=k + "val",
            help="Share of pieces held out to measure the model.",
        )
        pieces = a4.number_input(
            "Use at most N pieces",
            0,
            100_000,
            0,
            key=k + "pieces",
            help="0 = every piece. A few pieces make a quick trial.",
        )
        b1, b2, b3, b4 = st.columns(4)
        channels = b1.number_input(
            "WaveNet channels", 4, 1024, m.channels, key=k + "channels", disabled=arch != "wavenet"
        )
        cycle = b2.number_input(
            "WaveNet dilation cycle",
            1,
            16,
            m.dilation_cycle,
            key=k + "cycle",
            disabled=arch != "wavenet",
            help="Dilations 1, 2, 4, … 2^(n-1).",
        )
        units = b3.number_input("LSTM units", 4, 2048, m.units, key=k + "units", disabled=arch != "lstm")
        layers = b4.number_input("LSTM layers", 1, 8, m.layers, key=k + "layers", disabled=arch != "lstm")
    data = DataConfig(**{**data.__dict__, "val_fraction": float(val)})
    if classic and data.representation != "classic":
        data.representation = "classic"
        st.caption(":material/info: Classic models read the tutorial's classic tokens; the dataset is re-tokenized.")
    model = ModelConfig(
        **{
            **m.__dict__,
            "arch": arch,
            "embed_dim": int(embed),
            "dropout": float(dropout),
            "channels": int(channels),
            "skip_channels": m.skip_channels if int(channels) == m.channels else 2 * int(channels),
            "dilation_cycle": int(cycle),
            "units": int(units),
            "layers": int(layers),
        }
    )
    train = TrainConfig(
        **{
            **t.__dict__,
            "epochs": int(epochs),
            "batch_size": int(batch),
            "learning_rate": float(lr),
            "patience": int(patience),
            "max_minutes": float(minutes),
        }
    )
    if arch == "wavenet" and model.receptive_field() < data.window:
        st.caption(
            f":material/warning: The WaveNet sees {model.receptive_field()} tokens, less than the window of "
            f"{data.window}: raise the dilation cycle to use the whole window."
        )
    return RunConfig(data=data, model=model, train=train), (int(pieces) or None)


def _monitor(run_dir: str, polling: bool) -> None:
    """The live view of one job: status, progress with ETA, loss chart, Stop; metrics at the end."""
    try:
        js = job_status(run_dir)
    except RunNotFoundError:
        st.session_state.pop("train_run", None)
        st.info("That training was deleted.")
        return
    if polling and not js.active:
        st.rerun()  # it just ended: redraw the whole page (Start comes back)
    head, stop_col = st.columns([4, 1])
    head.markdown(f"#### {STATE_ICONS.get(js.state, '')} {js.run_id} · {js.arch} · **{js.state}**")
    if js.active and stop_col.button(
        "Stop", icon=":material/stop:", key=f"stop-{js.run_id}", help="Stops within one batch and keeps the best model."
    ):
        with friendly_errors():
            check_owner(js.run_dir, session_id())
            runs.request_stop(js.run_dir)
            st.toast("Stopping after the current batch…")
    if js.state == "queued":
        where = f"number {js.queue_position} in the queue" if js.queue_position else "in the queue"
        st.info(
            f"Waiting for a free training slot: {js.running} of {js.limit} trainings are running; this one is "
            f"{where}. It starts by itself.",
            icon=":material/hourglass_top:",
        )
    elif js.state == "failed":
        st.error(f"Training failed: {js.message}", icon=":material/error:")
        if not js.resumable:
            st.info("Check the settings (a smaller window, more pieces) and start again.", icon=":material/lightbulb:")
    elif js.message:
        st.caption(js.message)
    done = int(js.history["epochs"][-1]["epoch"]) if js.history.get("epochs") else 0
    if js.resumable and st.button(
        f"Resume from epoch {done + 1}",
        icon=":material/resume:",
        key=f"resume-{js.run_id}",
        help="Continue from the last checkpoint (last.keras) to the run's number of epochs.",
    ):
        with friendly_errors():
            resume_training(js.run_dir, owner=session_id())
            st.rerun()
    if js.batches:
        text = f"Epoch {js.epoch}/{js.epochs} · batch {js.batch}/{js.batches} · {fmt_duration(js.elapsed_s)} elapsed"
        if js.active and js.eta_s is not None:
            text += f" · about {fmt_duration(js.eta_s)} left"
        st.progress(js.progress, text=text)
    elif js.state == "running":
        st.progress(0.0, text="Preparing the data and the model…")
    epochs = js.history.get("epochs", [])
    if epochs:
        last = epochs[-1]
        c1, c2, c3 = st.columns(3)
        c1.metric("Loss", f"{last['loss']:.4f}" if last.get("loss") is not None else "–")
        c2.metric("Validation loss", f"{last['val_loss']:.4f}" if last.get("val_loss") is not None else "–")
        best = js.history.get("best_value")
        c3.metric("Best", f"{best:.4f}" if best is not None else "–", help=f"at epoch {js.history.get('best_epoch')}")
    if js.history.get("batches"):
        st.altair_chart(loss_chart(js.history, height=300), width="stretch", key=f"chart-{js.run_id}")
    if js.state in ("finished", "stopped"):
        show_metrics(js.metrics)
        st.page_link("pages/3_Generate.py", label="Generate music with this model", icon=":material/piano:")


st.title("Train", anchor=False)
st.caption("Training runs in the background: switch pages or reload, it keeps going; come back to watch.")
sid, folder = session_id(), runs_dir()
ds = current_dataset()
data_cfg = ds.data if ds is not None else DataConfig()
if ds is None:
    st.info(
        "No dataset chosen yet: this trains on the **built-in Bach chorales** (choose another on the Dataset page).",
        icon=":material/library_music:",
    )
else:
    st.markdown(
        f"**Dataset:** {ds.name} · {len(ds.pieces)} pieces · {data_cfg.representation} tokens · "
        f"window {data_cfg.window} (set on the Dataset page)"
    )

mine = list_jobs(folder, owner=sid)
current = st.session_state.get("train_run")
if current is None and mine:
    current = str(mine[0].run_dir)
    st.session_state["train_run"] = current
running_mine = [j for j in mine if j.active]

if current and Path(current).is_dir():
    with friendly_errors():
        polling = job_status(current).active
        with st.container(border=True):
            st.fragment(run_every=2 if polling else None)(_monitor)(current, polling)


with st.container(border=True):
    st.markdown("##### New training")
    config, max_pieces = _settings(data_cfg)
    busy = bool(running_mine)
    if busy:
        st.caption(f":material/info: Your training {running_mine[0].run_id} is still going: stop it to start another.")
    if st.button("Start training", type="primary", icon=":material/play_arrow:", disabled=busy):
        with friendly_errors("Change the settings and try again."):
            config.dataset_name = ds.name if ds is not None else "bach-chorales"
            paths = ds.data_paths if ds is not None else []
            run_dir = start_training(config, paths, folder, owner=sid, max_pieces=max_pieces)
            st.session_state["train_run"] = str(run_dir)
            st.rerun()

others = [j for j in active_jobs(folder) if j.owner != sid]
if others:
    st.caption(f"{len(others)} other training(s) running on this server: see the Runs page.")
