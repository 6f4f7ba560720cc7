"""The web app's work without a browser: input checks, streamed tracking, result files, model loading, extras."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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
    RunFolders,
    ServerLimits,
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
    root = Path(tiny_model_dir).parent
    cache = ModelCache(default_model=tiny_model_dir, model_root=root, allow_hub=True)
    tracker, name = cache.get(MODEL_SOURCES[0], "", "torch")
    assert cache.get(MODEL_SOURCES[1], tiny_model_dir, "torch")[0] is tracker  # same folder: loaded once
    assert cache.get(MODEL_SOURCES[1], Path(tiny_model_dir).name, "torch")[0] is tracker  # a name under the root
    assert name == tiny_model_dir

    broken = root / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json")
    cases = [
        ((MODEL_SOURCES[1], "broken", "torch"), f"the model {broken} did not load with the torch backend"),
        ((MODEL_SOURCES[1], "missing", "torch"), "model folder not found under the server's model root: missing"),
        ((MODEL_SOURCES[1], "", "torch"), "type the name of a model folder"),
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


def test_visitors_pick_only_the_apps_model_unless_the_operator_allows_more(tiny_model_dir, tmp_path):
    closed = ModelCache(default_model=tiny_model_dir)
    assert closed.resolve(MODEL_SOURCES[0], "/etc") == tiny_model_dir  # the location is ignored
    with pytest.raises(AppError, match="this server offers no model folders .*--model-root"):
        closed.resolve(MODEL_SOURCES[1], tiny_model_dir)
    with pytest.raises(AppError, match="this server loads no Hub models .*--allow-hub"):
        closed.resolve(MODEL_SOURCES[2], "org/name")
    (tmp_path / "root" / "model").mkdir(parents=True)
    (tmp_path / "root" / "escape").symlink_to(tmp_path)
    rooted = ModelCache(default_model=tiny_model_dir, model_root=tmp_path / "root")
    assert rooted.resolve(MODEL_SOURCES[1], "model") == os.path.realpath(tmp_path / "root" / "model")
    for outside in ["/etc", "../", "../root2", "escape", "escape/other", "/nonexistent/x"]:
        with pytest.raises(AppError, match="is not under the server's model root") as caught:
            rooted.resolve(MODEL_SOURCES[1], outside)  # existing or not: the same words, nothing opened
        assert "not found" not in str(caught.value)
    assert ServerLimits(model_root=str(tmp_path)).sources == MODEL_SOURCES[:2]
    assert ServerLimits(allow_hub=True).sources == (MODEL_SOURCES[0], MODEL_SOURCES[2])


def test_run_folders_are_bounded_in_count_and_age_and_deleted_at_close(tmp_path, monkeypatch):
    runs = RunFolders(keep_runs=2, keep_minutes=1, root=tmp_path / "out")
    first, second = runs.new(), runs.new()
    (first / "big.bin").write_bytes(b"x" * 1000)
    third = runs.new()
    assert not first.exists() and second.is_dir() and third.is_dir()  # the oldest goes beyond 2 runs
    clock = time.monotonic() + 61
    monkeypatch.setattr(time, "monotonic", lambda: clock)
    runs.prune()
    assert not second.exists() and not third.exists()  # older than a minute
    runs.new()
    runs.close()
    assert not (tmp_path / "out").exists()


def test_frame_size_and_attention_maps_are_bounded(tracker, tmp_path):
    clip = moving_square_video(tmp_path / "clip.mp4", frames=8)
    with pytest.raises(AppError, match=r"clip.mp4 is 128x96: this server tracks frames of at most 12000 pixels"):
        probe_video(clip, max_pixels=12000)
    info = probe_video(clip, max_pixels=128 * 96)
    run = run_tracking(tracker, info, np.array([[20.0, 30, 30, 30]]), tmp_path / "out", model="tiny",
                       attention_every=1, max_attention_maps=3)
    assert sorted(run.attention) == [3, 6]  # every 1 would be 7 maps: spread as every 3
    assert "Attention maps every 3 frames (at most 3 a run)" in run.attention_note


def test_a_box_row_with_a_fifth_cell_is_refused():
    assert parse_boxes([[10, 20, 30, 40, ""]], 128, 96).tolist() == [[10, 20, 30, 40]]  # a blank cell: none
    with pytest.raises(AppError, match="target 1: a box is four numbers x, y, w, h, got 5"):
        parse_boxes([[10, 20, 30, 40, 50]], 128, 96)


def test_the_server_limits_uploads_and_deletes_its_files_at_shutdown(tiny_model_dir, tmp_path):
    port = _free_port()
    env = {**os.environ, "TMPDIR": str(tmp_path), "GRADIO_TEMP_DIR": str(tmp_path / "gradio")}
    server = subprocess.Popen([sys.executable, "-m", "simtrack_cli", "app", "--model", tiny_model_dir, "--port",
                               str(port), "--max-upload-mb", "1"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=env)
    try:
        for line in server.stdout:
            if "SimTrack app on" in line:
                break
        assert [p.name[:13] for p in tmp_path.glob("simtrack_app_*")] == ["simtrack_app_"]
        from gradio_client import Client, handle_file

        big = tmp_path / "big.mp4"
        big.write_bytes(b"\0" * (2 * 1024 * 1024))
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        with pytest.raises(Exception, match="(?i)file size|too large|exceeds"):
            client.predict(handle_file(str(big)), {"headers": list("xywh"), "data": [[1, 1, 9, 9]]}, MODEL_SOURCES[0],
                           "", "torch", 0, api_name="/track")
        clip = moving_square_video(tmp_path / "clip.mp4")
        client.predict(handle_file(clip), {"headers": list("xywh"), "data": [[20, 30, 30, 30]]}, MODEL_SOURCES[0], "",
                       "torch", 2, api_name="/track")
        assert len(list(tmp_path.glob("simtrack_app_*/*/attention_*.png"))) == 3  # a run's files, kept for now
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
    assert not list(tmp_path.glob("simtrack_app_*"))  # nothing left behind
    examples = {clip.video.name for clip in example_clips()}  # Gradio keeps its copy of the shipped example
    assert not [p for p in (tmp_path / "gradio").rglob("*") if p.is_file() and p.name not in examples]
