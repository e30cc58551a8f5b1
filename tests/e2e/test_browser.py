"""The real app in a real browser: streamlit run + Debian's Chromium driven by Playwright.

One user's whole journey: upload two chorales and a corrupt file (the corrupt one is reported),
train a tiny model and watch the chart update, reload the browser and find the job again, stop it,
generate, hear audio with a positive duration, download the MIDI. A screenshot goes to
``test-artifacts/`` when a step fails. Never downloads a browser: without ``/usr/bin/chromium``
the test is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.e2e.browser import goto, idle, run_app, set_number, start_tiny_wavenet, wait_for_audio
from tests.midi_factory import piece_midi

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.isolated]


@pytest.fixture(scope="module")
def app_url(chromium, tmp_path_factory) -> Iterator[str]:
    """``streamlit run streamlit_app.py`` on a free loopback port, with its own runs folder."""
    with run_app(tmp_path_factory.mktemp("e2e")) as url:
        yield url


def test_upload_train_stop_generate_listen_download(page, app_url, chorales, tmp_path):
    page.goto(app_url)
    page.get_by_role("heading", name="musegen").wait_for()
    nav = page.locator('[data-testid="stSidebarNav"]').get_by_role("link").all_inner_texts()
    assert len(nav) == 5 and not [t for t in nav if "common" in t.lower()], nav  # pages/common.py is no page

    # Dataset: two real chorales and a corrupt file; the corrupt one is reported, the others used.
    goto(page, "Dataset")
    page.get_by_text("Upload MIDI files").click()
    files = [
        {"name": "chorale-a.mid", "mimeType": "audio/midi", "buffer": piece_midi(chorales[0])},
        {"name": "chorale-b.mid", "mimeType": "audio/midi", "buffer": piece_midi(chorales[1])},
        {"name": "broken.mid", "mimeType": "audio/midi", "buffer": b"MThd\x00\x00\x00\x06garbage"},
    ]
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(files)
    warning = page.locator('[data-testid="stAlertContentWarning"]')
    warning.wait_for()
    assert "2 of 3 files are used" in warning.inner_text()
    assert "broken.mid" in warning.inner_text()
    page.get_by_text("Token and window settings").click()
    set_number(page, "Window length (tokens)", 32)
    idle(page)
    page.get_by_text("Pieces").first.wait_for()

    # Train: a tiny WaveNet for many epochs; watch the chart update, then stop it.
    goto(page, "Train")
    page.get_by_text("chorale-a.mid").first.wait_for()  # the uploaded dataset is the one used
    start_tiny_wavenet(page, epochs=500)
    progress = page.locator('[data-testid="stProgress"]')
    page.get_by_text(re.compile(r"Epoch \d+/500")).first.wait_for(timeout=120_000)
    chart = page.locator('[data-testid="stVegaLiteChart"]')
    chart.first.wait_for()
    first = progress.first.inner_text()
    page.wait_for_function(
        "(before) => { const p = document.querySelector('[data-testid=\"stProgress\"]');"
        " return p && p.innerText !== before && /Epoch ([3-9]|\\d\\d)/.test(p.innerText); }",
        arg=first,
        timeout=120_000,
    )
    # The fragment re-renders every 2 s and may swap the chart element out for a moment: wait, don't count.
    chart.first.wait_for(timeout=30_000)
    # A browser reload (a new Streamlit session) finds the running job again through ?sid= in the URL.
    assert "sid=" in page.url
    run_heading = page.get_by_role("heading", name=re.compile(r"wavenet · running"))
    run_id = run_heading.inner_text().split(" · ")[0].split()[-1]
    page.reload()
    page.get_by_role("heading", name=re.compile(re.escape(run_id) + r" · wavenet · running")).wait_for()
    page.get_by_role("button", name="Stop", exact=True).click()
    page.get_by_text("stopped").first.wait_for(timeout=60_000)

    # Generate with the stopped run (the best model was kept): audio plays, MIDI downloads.
    goto(page, "Generate")
    page.get_by_text("trained on chorale-a.mid").first.wait_for()
    set_number(page, "Length (tokens)", 48)
    set_number(page, "Variations", 1)
    idle(page)
    page.get_by_role("button", name="Generate").click()
    page.get_by_role("heading", name="Results").wait_for(timeout=120_000)
    wait_for_audio(page)
    durations = page.eval_on_selector_all("audio", "els => els.map(a => a.duration)")
    assert max(durations) > 0
    with page.expect_download() as download:
        page.get_by_role("button", name="Download MIDI").first.click()
    path = tmp_path / "generated.mid"
    download.value.save_as(path)
    assert path.read_bytes()[:4] == b"MThd"
    assert download.value.suggested_filename.endswith(".mid")
