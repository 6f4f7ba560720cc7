"""The web app's work without a browser: input checks, streamed tracking, result files, model loading, extras."""

from __future__ import annotations

import json
import sys

import av
import cv2
import numpy as np
import pytest
import torch
from conftest import tiny_config

from simtrack_hf import SimTrackImageProcessor, SimTrackModel, SimTrackTracker
from simtrack_hf.examples import example_clips
from simtrack_hf.app.core import (
    MODEL_SOURCES,
    AppError,
    ModelCache,
    corners_to_box,
    parse_boxes,
    probe_video,
    run_tracking,
    score_figure,
)
from simtrack_hf.io.boxes import read_results
from simtrack_hf.io.encoding import BrowserVideoWriter

SIZE = (96, 128)  # (height, width) of the test clips


def moving_square_video(path, frames: int = 8, size: tuple[int, int] = SIZE) -> str:
    """A textured background with a bright square moving right, H.264."""
    rng = np.random.default_rng(0)
    background = rng.integers(0, 120, (*size, 3), dtype=np.uint8)
    with BrowserVideoWriter(path, fps=10) as writer:
        for i in range(frames):
            frame = background.copy()
            frame[30:60, 20 + 4 * i : 50 + 4 * i] = (250, 240, 40)
            writer.write(frame)
    return str(path)


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_model")
    torch.manual_seed(0)
    config = tiny_config()
    SimTrackModel(config).save_pretrained(folder)
    SimTrackImageProcessor.from_model_config(config).save_pretrained(folder)
    return str(folder)


@pytest.fixture()
def tracker():
    torch.manual_seed(0)
    return SimTrackTracker(SimTrackModel(tiny_config()))


def test_parse_boxes_accepts_table_forms_and_skips_empty_rows():
    expected = [[10.0, 20.0, 30.0, 40.0], [0.0, 0.0, 128.0, 96.0]]
    rows = [[10, 20, 30, 40], ["", "", "", ""], ["0", "0", "128", "96"]]
    assert parse_boxes(rows, 128, 96).tolist() == expected
    assert parse_boxes({"headers": list("xywh"), "data": rows}, 128, 96).tolist() == expected
    assert corners_to_box((50, 10), (20, 40)) == [20.0, 10.0, 30.0, 30.0]


@pytest.mark.parametrize(
    "rows, message",
    [
        ([], "mark a target first"),
        ([[10, 10, 0, 20]], "target 1 has zero size"),
        ([[10, 10, 20, 20], [5, 5, 20, -3]], "target 2 has zero size"),
        ([[100, 10, 40, 20]], r"target 1 \(100, 10, 40, 20\) is not inside the 128x96 frame"),
        ([[-1, 10, 20, 20]], "not inside"),
        ([[10, "ten", 20, 20]], "target 1: y = 'ten' is not a number"),
        ([[10, 10, 20]], "four numbers"),
        ([[10, 10, float("inf"), 20]], "not a finite number"),
    ],
)
def test_parse_boxes_rejects_bad_boxes_with_one_line(rows, message):
    with pytest.raises(AppError, match=message) as caught:
        parse_boxes(rows, 128, 96)
    assert "\n" not in str(caught.value)


def test_probe_video_reads_the_first_frame_and_rejects_non_videos(tmp_path):
    info = probe_video(moving_square_video(tmp_path / "clip.mp4"))
    assert (info.width, info.height, info.fps, info.num_frames) == (128, 96, 10.0, 8)
    assert info.first_frame[45, 30].tolist() == pytest.approx([250, 240, 40], abs=30)  # RGB, the square

    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n")
    with pytest.raises(AppError, match="notes.mp4 is not a video this app can read") as caught:
        probe_video(text)
    assert str(tmp_path) not in str(caught.value)  # the name, not the server's path

    empty = tmp_path / "empty.avi"  # a valid container with no frames
    writer = cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), 10, (SIZE[1], SIZE[0]))
    writer.release()
    with pytest.raises(AppError, match="empty.avi has no frames"):
        probe_video(empty)
    with pytest.raises(AppError, match="upload a video"):
        probe_video(None)


def test_run_tracking_streams_and_writes_every_result(tracker, tmp_path):
    info = probe_video(moving_square_video(tmp_path / "clip.mp4"))
    boxes = parse_boxes([[20, 30, 30, 30], [60, 10, 20, 20]], info.width, info.height)
    calls = []
    run = run_tracking(tracker, info, boxes, tmp_path / "out", model="tiny", attention_every=3,
                       progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 8) for i in range(1, 9)]
    assert run.boxes.shape == (8, 2, 4) and run.scores.shape == (8, 2) and not run.truncated
    assert np.array_equal(run.boxes[0], boxes) and np.all(run.scores[0] == 1)

    with av.open(str(run.video)) as container:  # browser-playable: H.264 in MP4, every frame
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.frames == 8

    names = sorted(p.name for p in run.downloads)
    assert names == ["boxes_target1.txt", "boxes_target2.txt", "scores.png", "tracking.json"]
    for k in range(2):
        assert np.allclose(read_results(run.folder / f"boxes_target{k + 1}.txt"), run.boxes[:, k], atol=1e-4)
    document = json.loads((run.folder / "tracking.json").read_text())
    assert document["frames"] == 8 and [t["id"] for t in document["targets"]] == [1, 2]
    assert np.allclose(document["targets"][1]["scores"], run.scores[:, 1], atol=1e-5)
    assert document["lost_threshold"] is None and document["targets"][0]["lost"] is None

    assert sorted(run.attention) == [3, 6]  # frames 3 and 6, before tracking them
    grid = cv2.imread(str(run.attention[3]))
    search = tracker.processor.search_size
    assert grid.shape[:2] == (search, 2 * (2 * search) + 6)  # two targets side by side, one tile per layer (2)
    assert "no frame is marked lost" in run.summary(3000)


def test_frame_limit_stops_tracking_with_a_message(tracker, tmp_path):
    info = probe_video(moving_square_video(tmp_path / "clip.mp4", frames=8))
    run = run_tracking(tracker, info, np.array([[20.0, 30, 30, 30]]), tmp_path / "out", model="tiny",
                       max_frames=5, attention_every=0)
    assert run.truncated and len(run.boxes) == 5 and not run.attention
    assert "The video has 8 frames: only the first 5 were tracked" in run.summary(5)
    assert read_results(run.folder / "boxes_target1.txt").shape == (5, 4)


def test_lost_frames_follow_the_trackers_flags(tmp_path):
    info = probe_video(moving_square_video(tmp_path / "clip.mp4"))
    torch.manual_seed(0)  # untrained model: every tracked frame scores below 0.999
    tracker = SimTrackTracker(SimTrackModel(tiny_config()), lost_threshold=0.999)
    run = run_tracking(tracker, info, np.array([[20.0, 30, 30, 30]]), tmp_path / "out", model="tiny",
                       attention_every=0)
    assert run.lost[:, 0].tolist() == [False] + [True] * 7  # the initialisation frame scores 1
    document = json.loads((run.folder / "tracking.json").read_text())
    assert document["lost_threshold"] == 0.999 and document["targets"][0]["lost"] == run.lost[:, 0].tolist()
    assert "7 frame(s) have a target flagged lost (score below 0.999)" in run.summary(3000)
    axes = score_figure(run).axes[0]
    crosses = [line for line in axes.lines if line.get_marker() == "x"]
    assert len(crosses) == 1 and len(crosses[0].get_xdata()) == 7
    assert any(line.get_linestyle() == "--" for line in axes.lines)  # the threshold line


def test_model_cache_loads_once_and_explains_failures(tiny_model_dir, tmp_path):
    cache = ModelCache(default_model=tiny_model_dir)
    tracker, name = cache.get(MODEL_SOURCES[0], "", "torch")
    assert cache.get(MODEL_SOURCES[1], tiny_model_dir, "torch")[0] is tracker  # same folder: loaded once
    assert name == tiny_model_dir

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json")
    cases = [
        ((MODEL_SOURCES[1], str(broken), "torch"), f"the model {broken} did not load with the torch backend"),
        ((MODEL_SOURCES[1], str(tmp_path / "missing"), "torch"), "model folder not found"),
        ((MODEL_SOURCES[1], "", "torch"), "type the path of a model folder"),
        ((MODEL_SOURCES[2], "not a hub id", "torch"), "a Hub model id looks like 'organisation/name'"),
        ((MODEL_SOURCES[0], "", "onnxruntime"), "did not load with the onnxruntime backend"),
        ((MODEL_SOURCES[0], "", "tensorrt"), "unknown backend"),
    ]
    for args, message in cases:
        with pytest.raises(AppError, match=message) as caught:
            cache.get(*args)
        assert "\n" not in str(caught.value) and "Traceback" not in str(caught.value)


def test_example_clip_is_small_real_and_playable():
    clips = example_clips()
    assert clips, "the example clip ships with the package"
    for path, box, _ in clips:
        assert path.stat().st_size < 1_000_000
        info = probe_video(path)
        assert parse_boxes([box], info.width, info.height).shape == (1, 4)
        with av.open(str(path)) as container:
            assert container.streams.video[0].codec_context.name == "h264"
        truth = read_results(path.with_name(path.stem + "_groundtruth.txt"))
        assert len(truth) == info.num_frames and np.allclose(truth[0], box)


def test_missing_gradio_names_the_extra(monkeypatch):
    import simtrack_hf.app as app

    monkeypatch.delitem(sys.modules, "simtrack_hf.app.ui", raising=False)
    monkeypatch.delattr(app, "ui", raising=False)
    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio -> ImportError
    with pytest.raises(ImportError, match=r"pip install simtrack_hf\[app\]"):
        app.launch  # noqa: B018


def test_app_command_is_registered():
    from simtrack_hf.commands import build_parser

    args = build_parser().parse_args(["app", "--port", "7999", "--max-frames", "50"])
    assert (args.command, args.port, args.host, args.max_frames) == ("app", 7999, "127.0.0.1", 50)


def test_space_folder_installs_what_the_package_needs():
    """The Space's requirements list the package's dependencies and its [app] extra (gradio comes with the SDK)."""
    import re
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    repo = Path(__file__).resolve().parents[1]
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    name = lambda spec: re.split(r"[<>=!~\[ ;]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")  # noqa: E731
    needed = {name(s) for s in project["dependencies"] + project["optional-dependencies"]["app"]}
    space = repo / "spaces" / "simtrack"
    lines = [line for line in (space / "requirements.txt").read_text().splitlines() if line and line[0] not in "#-"]
    metadata = (space / "README.md").read_text().split("---")[1]
    assert re.search(r"^sdk: gradio$", metadata, re.M) and re.search(r"^app_file: app\.py$", metadata, re.M)
    assert needed - {"gradio"} <= {name(line) for line in lines}
    assert "from simtrack_hf.app import launch" in (space / "app.py").read_text()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_app_command_prints_its_address_and_no_share_advice(tiny_model_dir):
    import subprocess

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "simtrack_cli", "app", "--model", tiny_model_dir, "--port",
                               str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in server.stdout:  # until the app says where it serves
            lines.append(line)
            if "SimTrack app on" in line:
                break
    finally:
        server.terminate()
        lines += server.communicate(timeout=60)[0].splitlines()
    output = "".join(lines)
    assert f"SimTrack app on http://127.0.0.1:{port}/" in output, output[-2000:]
    assert "share=True" not in output


def test_page_guards_the_preview_of_files_the_browser_cannot_play(tiny_model_dir, tmp_path):
    """The page carries the script that drops the preview's error event (no red "Video not playable" for an .avi),
    and the status says the file is tracked all the same."""
    import urllib.request

    from simtrack_hf.app import launch

    port = _free_port()
    demo = launch(tiny_model_dir, port=port, host="127.0.0.1", block=False)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
            page = response.read().decode()
        assert "HTMLVideoElement" in page and "#video-input" in page
        load_video = next(f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "load_video")
        clip = tmp_path / "clip.avi"
        writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (SIZE[1], SIZE[0]))
        for _ in range(3):
            writer.write(np.full((*SIZE, 3), 90, dtype=np.uint8))
        writer.release()
        status = load_video(str(clip), {})[-1]
        assert "clip.avi: 128x96" in status and "cannot preview this file type; it is tracked all the same" in status
        assert "cannot preview" not in load_video(moving_square_video(tmp_path / "clip.mp4"), {})[-1]
    finally:
        demo.close()
