"""Tests for simtrack_hf.io: frame sources, normalisation, writers and results files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from simtrack_hf.io import (
    AnnotatedVideoWriter,
    VideoReader,
    draw_boxes,
    id_color,
    list_image_files,
    natural_sort_key,
    open_frames,
    to_rgb_uint8,
)

H, W, N = 48, 64, 12


def _make_video(path: Path, n: int = N, red_first: bool = False, fourcc: str = "mp4v") -> Path:
    """Write an n-frame WxH video of a white square moving right (first frame pure red if asked)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10.0, (W, H))
    assert writer.isOpened()
    for i in range(n):
        bgr = np.zeros((H, W, 3), np.uint8)
        if red_first and i == 0:
            bgr[:] = (0, 0, 255)  # pure red in BGR
        else:
            bgr[16:32, 2 + 4 * i : 18 + 4 * i] = 255
        writer.write(bgr)
    writer.release()
    return path


# --------------------------------------------------------------------------- reading


def test_video_file_frames_shape_fps_and_rgb(tmp_path):
    path = _make_video(tmp_path / "clip.mp4", red_first=True)
    with VideoReader(path) as reader:
        assert reader.num_frames == len(reader) == N
        assert reader.fps == pytest.approx(10.0)
        frames = list(reader)
        assert len(list(reader)) == N  # files are re-iterable
    assert len(frames) == N
    assert all(f.shape == (H, W, 3) and f.dtype == np.uint8 for f in frames)
    r, g, b = frames[0].reshape(-1, 3).mean(0)
    assert r > 200 and g < 60 and b < 60  # BGR -> RGB done, allowing codec noise
    # the square moves right: its centre of mass increases
    xs = [np.nonzero(f[..., 1].max(0) > 128)[0].mean() for f in frames[1:]]
    assert all(a < b for a, b in zip(xs, xs[1:]))


def test_natural_sort_and_folder(tmp_path):
    assert sorted(["10.jpg", "2.jpg", "1.jpg"], key=natural_sort_key) == ["1.jpg", "2.jpg", "10.jpg"]
    for value in (1, 2, 10):
        Image.fromarray(np.full((H, W, 3), value, np.uint8)).save(tmp_path / f"{value}.png")
    (tmp_path / "notes.txt").write_text("ignored")
    assert [p.name for p in list_image_files(tmp_path)] == ["1.png", "2.png", "10.png"]
    reader = open_frames(tmp_path)
    assert len(reader) == 3 and reader.fps is None
    assert [int(f[0, 0, 0]) for f in reader] == [1, 2, 10]


def test_list_tuple_and_array_sources():
    frames = [np.zeros((H, W, 3), np.uint8), Image.new("L", (W, H), 7), np.full((H, W), 9, np.uint8)]
    reader = VideoReader(frames, fps=25)
    assert len(reader) == 3 and reader.fps == 25
    out = list(reader)
    assert [f.shape for f in out] == [(H, W, 3)] * 3
    assert out[1][0, 0].tolist() == [7, 7, 7] and out[2][0, 0].tolist() == [9, 9, 9]
    assert len(list(VideoReader(tuple(frames)))) == 3
    assert len(list(VideoReader(np.zeros((4, H, W, 3), np.uint8)))) == 4
    assert open_frames(reader) is reader


def test_generator_source_is_streamed_lazily():
    pulled = 0

    def gen():
        nonlocal pulled
        for i in range(1000):
            pulled += 1
            yield np.full((8, 8, 3), i % 256, np.uint8)

    reader = open_frames(gen())
    assert reader.num_frames is None
    with pytest.raises(TypeError):
        len(reader)
    it = iter(reader)
    assert pulled == 0
    for k in range(1, 6):
        frame = next(it)
        assert int(frame[0, 0, 0]) == k - 1
        assert pulled == k  # never more than the frame just returned
    assert sum(1 for _ in it) == 995 and pulled == 1000


def test_size_change_mid_video_names_frame_index():
    frames = [np.zeros((H, W, 3), np.uint8)] * 3 + [np.zeros((H + 2, W, 3), np.uint8)]
    with pytest.raises(ValueError, match="frame 3"):
        list(VideoReader(frames))


# --------------------------------------------------------------------------- bad inputs


def test_missing_path(tmp_path):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        VideoReader(missing)


def test_corrupt_video(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video" * 100)
    with pytest.raises(ValueError, match="bad.mp4"):
        VideoReader(bad)


def test_video_without_frames(tmp_path):
    path = _make_video(tmp_path / "empty.avi", n=0, fourcc="MJPG")  # opens, but yields nothing
    with pytest.raises(ValueError, match="empty.avi"):
        VideoReader(path)


def test_empty_folder_and_unreadable_image(tmp_path):
    with pytest.raises(ValueError, match="no images"):
        VideoReader(tmp_path)
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(tmp_path / "1.png")
    (tmp_path / "2.jpg").write_bytes(b"garbage")
    reader = VideoReader(tmp_path)
    with pytest.raises(ValueError, match="2.jpg"):
        list(reader)


def test_bad_sources():
    with pytest.raises(ValueError, match="empty"):
        VideoReader([])
    with pytest.raises(TypeError):
        VideoReader(3.5)
    with pytest.raises(TypeError):
        VideoReader(True)
    with pytest.raises(ValueError, match="camera index 99"):
        VideoReader(99)  # no such camera on test machines
    with pytest.raises(ValueError, match="frame 1"):
        list(VideoReader([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.float32)]))


# --------------------------------------------------------------------------- normalisation


def test_to_rgb_uint8_conversions():
    rgb = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    assert to_rgb_uint8(rgb) is rgb
    rgba = np.dstack([rgb, np.full((H, W), 17, np.uint8)])
    np.testing.assert_array_equal(to_rgb_uint8(rgba), rgb)
    gray = rgb[..., 0]
    for g in (gray, gray[..., None]):
        np.testing.assert_array_equal(to_rgb_uint8(g), np.stack([gray] * 3, -1))
    np.testing.assert_array_equal(to_rgb_uint8(Image.fromarray(rgb).convert("RGBA")), rgb)
    np.testing.assert_array_equal(to_rgb_uint8(Image.fromarray(rgb).convert("P")).shape, (H, W, 3))
    bgr_view = rgb[..., ::-1]
    assert to_rgb_uint8(bgr_view).flags["C_CONTIGUOUS"]


def test_to_rgb_uint8_torch():
    torch = pytest.importorskip("torch")
    rgb = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
    np.testing.assert_array_equal(to_rgb_uint8(torch.from_numpy(rgb)), rgb)
    np.testing.assert_array_equal(to_rgb_uint8(torch.from_numpy(rgb).permute(2, 0, 1)), rgb)


@pytest.mark.parametrize(
    "frame, match",
    [
        (np.zeros((4, 4, 3), np.uint16), r"257"),
        (np.zeros((4, 4, 3), np.float32), r"\* 255"),
        (np.zeros((4, 4, 3), np.int32), "uint8"),
        (np.zeros((2, 4, 4, 3), np.uint8), "shape"),
        (np.zeros(4, np.uint8), "shape"),
        (np.zeros((0, 4, 3), np.uint8), "too small"),
    ],
)
def test_to_rgb_uint8_errors(frame, match):
    with pytest.raises(ValueError, match=match):
        to_rgb_uint8(frame)


# --------------------------------------------------------------------------- drawing / writing


def test_draw_boxes_returns_new_annotated_frame():
    frame = np.zeros((H, W, 3), np.uint8)
    out = draw_boxes(frame, [[10, 10, 20, 15], [np.nan] * 4], scores=[0.9, 0.1], ids=[3, 4])
    assert out is not frame and frame.max() == 0
    assert tuple(out[10, 20]) == id_color(3)  # top edge of box 0 in its id colour
    assert id_color(3) != id_color(4)
    assert draw_boxes(frame, [1, 2, 3, 4]).max() > 0  # a single (4,) box is accepted
    with pytest.raises(ValueError, match="scores"):
        draw_boxes(frame, [[0, 0, 5, 5]], scores=[0.1, 0.2])


@pytest.mark.parametrize("name, fourcc", [("out.mp4", None), ("out.avi", None), ("x.avi", "XVID")])
def test_annotated_writer_round_trip(tmp_path, name, fourcc):
    path = tmp_path / "sub" / name
    frames = list(VideoReader(_make_video(tmp_path / "in.mp4")))
    with AnnotatedVideoWriter(path, fps=10, fourcc=fourcc) as writer:
        for i, frame in enumerate(frames):
            writer.write(frame, [[4 * i, 16, 16, 16]], scores=[0.5], ids=[1])
    assert writer.frames_written == N
    reader = VideoReader(path)
    out = list(reader)
    assert len(out) == N and out[0].shape == (H, W, 3) and reader.fps == pytest.approx(10.0)
    with pytest.raises(ValueError, match="closed"):
        writer.write(frames[0])


def test_writer_errors(tmp_path):
    with pytest.raises(ValueError, match="extension"):
        AnnotatedVideoWriter(tmp_path / "out.gif", fps=10)
    with pytest.raises(ValueError, match="fps"):
        AnnotatedVideoWriter(tmp_path / "out.mp4", fps=0)
    (tmp_path / "dir.mp4").mkdir()
    with pytest.raises(OSError, match="dir.mp4"):
        AnnotatedVideoWriter(tmp_path / "dir.mp4", fps=10, frame_size=(W, H))
    with AnnotatedVideoWriter(tmp_path / "ok.mp4", fps=10, frame_size=(W, H)) as writer:
        with pytest.raises(ValueError, match="frame 0"):
            writer.write(np.zeros((H + 1, W, 3), np.uint8))


# --------------------------------------------------------------------------- results files


def test_lost_boxes_are_drawn_dashed_in_grey():
    frame = np.zeros((60, 80, 3), np.uint8)
    drawn = draw_boxes(frame, [[10, 10, 50, 30], [10, 10, 50, 30]], lost=[True, False])
    lost_only = draw_boxes(frame, [[10, 10, 50, 30]], lost=[True])
    top = lost_only[10, 10:60]
    assert (top == 160).all(axis=1).any() and (top == 0).all(axis=1).any()  # grey dashes with gaps
    assert not np.array_equal(drawn, lost_only)  # the second, found box is drawn in its colour
    with pytest.raises(ValueError, match="1 lost flags"):
        draw_boxes(frame, [[1, 1, 5, 5], [2, 2, 5, 5]], lost=[True])
