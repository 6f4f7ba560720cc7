"""Writing what the tracker saw: boxes drawn on frames, annotated videos and attention-map grids (PNG).

Boxes are ``(x, y, w, h)`` in pixels, top-left corner plus size (the benchmark convention); frames are RGB.

Example::

    with VideoReader("clip.mp4") as frames, AnnotatedVideoWriter("out.mp4", frames.fps or 30) as out:
        for frame in frames:
            box = ...  # (x, y, w, h) from the tracker for this frame
            out.write(frame, [box])
"""

from __future__ import annotations

import colorsys
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..image_processing_simtrack import to_rgb_uint8
from .encoding import BROWSER_CODECS, BrowserVideoWriter
from .frames import PathLike

__all__ = ["AnnotatedVideoWriter", "attention_grid", "draw_boxes", "id_color", "save_attention_grid"]

_CONTAINER_FOURCC = {".avi": "MJPG"}  # written by OpenCV; the BROWSER_CODECS extensions by PyAV


def id_color(i: int) -> tuple[int, int, int]:
    """A bright, deterministic RGB colour for id ``i``; consecutive ids get well-separated hues."""
    hue = (i * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def _box_array(boxes: Any) -> np.ndarray:
    arr = np.asarray(boxes if boxes is not None else np.zeros((0, 4)), dtype=np.float64)
    if arr.ndim == 1 and arr.size == 4:
        arr = arr[None]
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4) as (x, y, w, h), got {arr.shape}")
    return arr


_LOST_COLOR = (160, 160, 160)


def _dashed_rectangle(image: np.ndarray, p1: tuple[int, int], p2: tuple[int, int], color: tuple[int, int, int],
                      thickness: int, dash: int = 6) -> None:
    """Draw the outline of the rectangle p1-p2 as dashes of ``dash`` pixels."""
    (x1, y1), (x2, y2) = p1, p2
    for a, b, fixed, horizontal in ((x1, x2, y1, True), (x1, x2, y2, True), (y1, y2, x1, False), (y1, y2, x2, False)):
        for start in range(min(a, b), max(a, b), 2 * dash):
            end = min(start + dash, max(a, b))
            pts = ((start, fixed), (end, fixed)) if horizontal else ((fixed, start), (fixed, end))
            cv2.line(image, pts[0], pts[1], color, thickness)


def draw_boxes(
    frame: Any,
    boxes: Any,
    scores: Sequence[float] | np.ndarray | None = None,
    ids: Sequence[int] | np.ndarray | None = None,
    lost: Sequence[bool] | np.ndarray | None = None,
    *,
    thickness: int = 2,
) -> np.ndarray:
    """Return a copy of RGB ``frame`` with ``(x, y, w, h)`` boxes drawn; ``frame`` is not modified.

    Box ``k`` is coloured by ``id_color(ids[k])`` (or ``id_color(k)`` without ids) and labelled
    with ``"id <n>"`` and/or the score (2 decimals) when given. A box flagged in ``lost`` is drawn dashed
    in grey and labelled "lost". Non-finite boxes are skipped.
    """
    out = to_rgb_uint8(frame).copy()
    arr = _box_array(boxes)
    n = len(arr)
    for name, values in (("scores", scores), ("ids", ids), ("lost flags", lost)):
        if values is not None and len(values) != n:
            raise ValueError(f"got {n} boxes but {len(values)} {name}")
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.4
    for k, (x, y, w, h) in enumerate(arr):
        if not np.all(np.isfinite((x, y, w, h))):
            continue
        is_lost = lost is not None and bool(lost[k])
        color = _LOST_COLOR if is_lost else id_color(int(ids[k]) if ids is not None else k)
        x1, y1, x2, y2 = int(round(x)), int(round(y)), int(round(x + w)), int(round(y + h))
        if is_lost:
            _dashed_rectangle(out, (x1, y1), (x2, y2), color, thickness)
        else:
            cv2.rectangle(out, (x1, y1), (x2, y2), color, thickness)
        parts = ([f"id {int(ids[k])}"] if ids is not None else []) + (
            [f"{float(scores[k]):.2f}"] if scores is not None else []
        ) + (["lost"] if is_lost else [])
        if parts:
            text = " ".join(parts)
            (tw, th), base = cv2.getTextSize(text, font, scale, 1)
            ty = y1 - 3 if y1 - th - base - 3 >= 0 else y1 + th + 3  # above the box, else inside
            cv2.rectangle(out, (x1, ty - th - 2), (x1 + tw + 2, ty + base), color, -1)
            cv2.putText(out, text, (x1 + 1, ty), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return out


class AnnotatedVideoWriter:
    """Context manager writing RGB frames, optionally annotated with boxes, to a video file.

    The codec follows the extension: ``.mp4``/``.m4v``/``.mov`` -> H.264 and ``.webm`` -> VP9, which browsers
    play (`BrowserVideoWriter`, PyAV), ``.avi`` -> ``MJPG`` (OpenCV); pass ``fourcc`` (e.g. ``"XVID"``) to
    write with OpenCV instead. ``frame_size`` is ``(width, height)`` (OpenCV order); when None it is taken
    from the first frame. Parent folders are created. Raises ``ValueError`` for an unknown extension or a bad
    fps, and ``OSError`` if the file cannot be opened (codec unavailable, path not writable). A writer closed
    before its first frame leaves no file (for OpenCV's formats: when ``frame_size`` is None).
    """

    def __init__(
        self,
        path: PathLike,
        fps: float,
        frame_size: tuple[int, int] | None = None,
        *,
        fourcc: str | None = None,
        thickness: int = 2,
    ) -> None:
        self.path = Path(path)
        ext = self.path.suffix.lower()
        if fourcc is None and ext not in {**_CONTAINER_FOURCC, **BROWSER_CODECS}:
            raise ValueError(
                f"unsupported video extension {ext!r} for {self.path}: "
                f"use one of {sorted({**_CONTAINER_FOURCC, **BROWSER_CODECS})} or pass fourcc"
            )
        if not fps or fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.fps = float(fps)
        self.fourcc = fourcc or _CONTAINER_FOURCC.get(ext)  # None: H.264 / VP9 through PyAV
        self.frame_size = tuple(int(v) for v in frame_size) if frame_size is not None else None
        self.thickness = thickness
        self.frames_written = 0
        self._writer: cv2.VideoWriter | None = None
        self._encoder = BrowserVideoWriter(self.path, self.fps, self.frame_size) if self.fourcc is None else None
        self._closed = False
        if self.frame_size is not None and self._encoder is None:
            self._open()

    def _open(self) -> None:
        assert self.frame_size is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        code = cv2.VideoWriter_fourcc(*self.fourcc)
        writer = cv2.VideoWriter(str(self.path), code, self.fps, self.frame_size)
        if not writer.isOpened():
            writer.release()
            raise OSError(
                f"could not open video writer for {self.path} "
                f"(fourcc {self.fourcc!r}, size {self.frame_size}); "
                "the codec may be unavailable in this OpenCV build or the path is not writable"
            )
        self._writer = writer

    def write(
        self,
        frame: Any,
        boxes: Any = None,
        scores: Sequence[float] | np.ndarray | None = None,
        ids: Sequence[int] | np.ndarray | None = None,
        lost: Sequence[bool] | np.ndarray | None = None,
    ) -> None:
        """Append RGB ``frame`` with ``(x, y, w, h)`` ``boxes`` drawn (see :func:`draw_boxes`; lost ones dashed)."""
        img = draw_boxes(frame, boxes, scores, ids, lost, thickness=self.thickness)
        size = (img.shape[1], img.shape[0])
        if self.frame_size is None:
            self.frame_size = size
        if size != self.frame_size:
            raise ValueError(
                f"frame {self.frames_written} has size {size[0]}x{size[1]} (WxH), "
                f"writer expects {self.frame_size[0]}x{self.frame_size[1]}"
            )
        if self._closed:
            raise ValueError(f"writer for {self.path} is closed")
        if self._encoder is not None:
            self._encoder.write(img)
        else:
            if self._writer is None:
                self._open()
            assert self._writer is not None
            self._writer.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file; further writes raise."""
        if self._encoder is not None:
            self._encoder.close()
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        self._closed = True

    def __enter__(self) -> AnnotatedVideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def attention_grid(maps: np.ndarray, crop: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """(L, h, w) maps in [0, 1] overlaid on an (S, S, 3) RGB crop -> one RGB image, one tile per layer."""
    size = crop.shape[0]
    columns = math.ceil(math.sqrt(len(maps)))
    rows = math.ceil(len(maps) / columns)
    grid = np.zeros((rows * size, columns * size, 3), np.uint8)
    for i, heat in enumerate(maps):
        heat = cv2.resize(np.asarray(heat, np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
        colour = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
        tile = cv2.addWeighted(crop, 1 - alpha, colour, alpha, 0)
        cv2.putText(tile, f"layer {i + 1}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        r, c = divmod(i, columns)
        grid[r * size : (r + 1) * size, c * size : (c + 1) * size] = tile
    return grid


def save_attention_grid(maps: np.ndarray, crop: np.ndarray, path: str | os.PathLike) -> None:
    """Write `attention_grid(maps, crop)` as a PNG (RGB in, correct colours out)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if not cv2.imwrite(str(path), attention_grid(maps, crop)[..., ::-1]):
        raise OSError(f"could not write {path}")
