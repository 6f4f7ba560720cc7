"""The web app as people and programs use it: headless Chromium (Selenium) and `gradio_client`.

The app runs the way a Hugging Face Space runs it: `python app.py` in a folder holding `spaces/simtrack/*` and a copy
of the package, with the shipped default model and example clip. Needs Debian's `chromium` and `chromium-driver`
(`.ci/run` installs them; with SIMTRACK_REQUIRE_BROWSER=1 their absence fails instead of skipping).
SIMTRACK_APP_SCREENSHOT=path also keeps the screenshot there.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "src" / "simtrack_hf" / "examples" / "fig_river.mp4"
BOX = [148, 96, 140, 73]  # the example's first-frame target
HEADERS = ["x", "y", "w", "h"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def space_url(tmp_path_factory):
    """Serve the Space folder (app.py + requirements + README, and the package beside them) on localhost."""
    folder = tmp_path_factory.mktemp("space")
    for item in (REPO / "spaces" / "simtrack").iterdir():
        if item.is_file():
            shutil.copy(item, folder / item.name)
    shutil.copytree(REPO / "src" / "simtrack_hf", folder / "simtrack_hf", ignore=shutil.ignore_patterns("__pycache__"))
    port = _free_port()
    scratch = folder / "tmp"
    scratch.mkdir()
    env = {
        **os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": str(scratch / "gradio"), "TMPDIR": str(scratch),
        "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
    }
    log = open(folder / "server.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen([sys.executable, "app.py"], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None:
                pytest.fail(f"the Space app exited ({server.returncode}):\n{(folder / 'server.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the Space app did not answer in 180 s:\n{(folder / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        # app.py imports the package beside it, as on a Space (not the installed one)
        found = subprocess.run([sys.executable, "-c", "import simtrack_hf.app as a; print(a.__file__)"], cwd=folder,
                               env=env, capture_output=True, text=True, check=True).stdout.strip()
        assert Path(found) == folder / "simtrack_hf" / "app" / "__init__.py"
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture()
def browser():
    """Headless Chromium with a fresh profile, no network services, autoplay allowed."""
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (binary and driver):
        message = "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        if os.environ.get("SIMTRACK_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required", "--window-size=1400,1700"):
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="chromium_profile_")
    options.add_argument(f"--user-data-dir={profile}")
    driver_ = webdriver.Chrome(service=Service(driver), options=options)
    try:
        yield driver_
    finally:
        driver_.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_track_in_the_browser_and_play_the_result(space_url, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    status = lambda: browser.find_element(By.CSS_SELECTOR, "#status").text  # noqa: E731
    # a click in the page's JavaScript: a notice toast sliding over a button cannot intercept it
    press = lambda css: browser.execute_script(  # noqa: E731
        "arguments[0].click();", browser.find_element(By.CSS_SELECTOR, css))
    upload = tmp_path / "my_clip.mp4"  # another name than the example's: no target comes with it
    shutil.copy(CLIP, upload)

    not_video = tmp_path / "holiday.mp4"
    not_video.write_text("not a video\n")
    browser.get(space_url)
    file_input = lambda: wait.until(  # noqa: E731
        lambda b: b.find_elements(By.CSS_SELECTOR, "#video-input input[type=file]"))[0]
    file_input().send_keys(str(not_video))
    wait.until(lambda b: "Cannot use this file: holiday.mp4 is not a video this app can read" in status())
    press("#video-input button[aria-label='Clear']")
    avi = tmp_path / "clip.avi"  # a format the browser cannot preview: uploaded without a red notice
    import cv2

    reader, writer = cv2.VideoCapture(str(CLIP)), cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"MJPG"), 25,
                                                                  (320, 240))
    for _ in range(5):
        writer.write(reader.read()[1])
    reader.release()
    writer.release()
    file_input().send_keys(str(avi))
    wait.until(lambda b: "tracked all the same" in status())
    time.sleep(1)  # the preview's error event has fired by now
    assert "Video not playable" not in browser.find_element(By.TAG_NAME, "body").text
    press("#video-input button[aria-label='Clear']")
    file_input().send_keys(str(upload))
    image = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#first-frame img"))[0]
    wait.until(lambda b: "320x240" in status())

    press("#track-button")  # no target yet: a notice, not a traceback
    wait.until(lambda b: "mark a target first" in b.find_element(By.TAG_NAME, "body").text)
    assert "Traceback" not in browser.page_source
    for close in browser.find_elements(By.CSS_SELECTOR, ".toast-close"):
        browser.execute_script("arguments[0].click();", close)

    def click(x: float, y: float) -> None:
        """Click image pixel (x, y) of the first frame: the picture is centred in its box, scaled down only."""
        img = browser.find_element(By.CSS_SELECTOR, "#first-frame img")
        width, height, box_w, box_h = browser.execute_script(
            "const r = arguments[0].getBoundingClientRect();"
            "return [arguments[0].naturalWidth, arguments[0].naturalHeight, r.width, r.height];", img)
        scale = min(box_w / width, box_h / height, 1)
        ActionChains(browser).move_to_element_with_offset(img, (x - width / 2) * scale, (y - height / 2) * scale)\
            .click().perform()

    assert image.is_displayed()
    click(BOX[0], BOX[1])
    wait.until(lambda b: "First corner" in status())
    click(BOX[0] + BOX[2], BOX[1] + BOX[3])
    wait.until(lambda b: "Target 1:" in status())
    cells = browser.find_element(By.CSS_SELECTOR, "#boxes").text.split()
    numbers = [float(c) for c in cells if c.replace(".", "").isdigit()]
    assert np.allclose(numbers[-4:], BOX, atol=2), cells  # row "1 x y w h" (pixel rounding of the clicks)

    press("#track-button")
    wait.until(lambda b: "Tracked 1 target(s) over 100 frames" in status())
    video = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#tracked-video video"))[0]
    wait.until(lambda b: b.execute_script("return arguments[0].readyState >= 1 && arguments[0].duration > 0", video))
    duration = browser.execute_script("return arguments[0].duration", video)
    assert duration == pytest.approx(4.0, abs=0.2)  # 100 frames at 25 fps
    browser.execute_script("arguments[0].muted = true; arguments[0].play();", video)
    start = browser.execute_script("return arguments[0].currentTime", video)
    wait.until(lambda b: b.execute_script("return arguments[0].currentTime", video) > start + 0.5)
    assert browser.execute_script("return arguments[0].error", video) is None

    plot = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#score-plot img"))[0]
    wait.until(lambda b: b.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", plot))
    downloads = browser.find_element(By.CSS_SELECTOR, "#downloads").text.replace("\n", "")  # name | extension
    assert "boxes_target1.txt" in downloads and "tracking.json" in downloads

    browser.execute_script("arguments[0].pause(); arguments[0].currentTime = 2.0;", video)
    time.sleep(0.5)  # let the paused frame paint
    shot = tmp_path / "app.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 20_000
    if os.environ.get("SIMTRACK_APP_SCREENSHOT"):
        shutil.copy(shot, os.environ["SIMTRACK_APP_SCREENSHOT"])
    print(f"in-app tracking: {status()}")


def test_api_tracks_and_refuses_bad_input_with_one_line(space_url, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(space_url, verbose=False, download_files=str(tmp_path / "downloads"))

    def track(video: Path, rows: list, source: str = "Default model", location: str = "") -> tuple:
        return client.predict(handle_file(str(video)), {"headers": HEADERS, "data": rows}, source, location,
                              "torch", 0, api_name="/track")

    not_video = tmp_path / "notes.mp4"
    not_video.write_text("this is text\n")
    broken_model = tmp_path / "broken_model"
    broken_model.mkdir()
    (broken_model / "config.json").write_text("{}")
    bad = [
        ((not_video, [BOX]), "notes.mp4 is not a video this app can read"),
        ((CLIP, [[10, 10, 0, 30]]), "target 1 has zero size"),
        ((CLIP, [[300, 10, 40, 20]]), "target 1 (300, 10, 40, 20) is not inside the 320x240 frame"),
        # without --model-root / --allow-hub the page offers the app's model only (and the core refuses the rest)
        ((CLIP, [BOX], "Local folder", str(broken_model)), "'Local folder' (type: <class 'str'>) is not in the list"),
        ((CLIP, [BOX], "Hub model id", "org/name"), "'Hub model id' (type: <class 'str'>) is not in the list"),
        ((CLIP, [BOX + [5]]), "target 1: a box is four numbers x, y, w, h, got 5"),
    ]
    for args, message in bad:
        with pytest.raises(AppError) as caught:
            track(*args)
        assert message in str(caught.value) and "Traceback" not in str(caught.value)

    video, plot, files, status, *_ = track(CLIP, [BOX, [20, 20, 60, 50]])  # still serving, two targets
    assert "Tracked 2 target(s) over 100 frames" in status
    assert Path(video).stat().st_size > 10_000 and plot["type"] == "matplotlib"
    by_name = {Path(f).name: Path(f) for f in files}
    assert sorted(by_name) == ["boxes_target1.txt", "boxes_target2.txt", "scores.png", "tracking.json"]
    assert len(by_name["boxes_target1.txt"].read_text().splitlines()) == 100
    document = json.loads(by_name["tracking.json"].read_text())
    assert document["frames"] == 100 and document["targets"][0]["boxes"][0] == BOX
