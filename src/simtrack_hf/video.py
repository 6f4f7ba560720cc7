"""Video input/output for tracking: frame sources, frame normalisation, annotated writers.

Colour convention
-----------------
Everything in this module (and the tracker) works on **RGB** ``uint8`` frames of shape
``(H, W, 3)``. Video files, image folders and camera indices are decoded with OpenCV and
converted BGR -> RGB for you. Frames you pass in yourself (arrays, lists, generators such as
a webcam loop built on ``cv2.VideoCapture.read``) are taken to be RGB already: OpenCV users
must convert first, e.g. ``cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)`` or ``frame[..., ::-1]``.

Boxes are ``(x, y, w, h)`` in pixels, top-left corner plus size (the benchmark convention).

Example::

    with VideoReader("clip.mp4") as frames, AnnotatedVideoWriter("out.mp4", frames.fps or 30) as out:
        for frame in frames:
            box = ...  # (x, y, w, h) from the tracker for this frame
            out.write(frame, [box])

Frame sources stream: at most one frame is decoded or pulled from a generator at a time, so
memory does not grow with video length.
"""

from __future__ import annotations

import colorsys
import os
import re
from collections.abc import Iterable, Iterator, Sequence, Sized
from pathlib import Path
from typing import Any, Union

import cv2
import numpy as np

from .image_processing_simtrack import to_rgb_uint8

__all__ = [
    "IMAGE_EXTENSIONS",
    "AnnotatedVideoWriter",
    "VideoReader",
    "draw_boxes",
    "id_color",
    "list_image_files",
    "natural_sort_key",
    "open_frames",
    "to_rgb_uint8",
]

PathLike = Union[str, "os.PathLike[str]"]

#: File extensions (lower case) treated as frames when reading a folder.
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

_CONTAINER_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}


# --------------------------------------------------------------------------- normalisation


# --------------------------------------------------------------------------- folders


def natural_sort_key(name: str) -> tuple:
    """Sort key that orders embedded numbers numerically: ``2.jpg`` before ``10.jpg``."""
    return tuple(int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name))


def list_image_files(folder: PathLike) -> list[Path]:
    """Image files (:data:`IMAGE_EXTENSIONS`, any case) in ``folder``, naturally sorted.

    Hidden files (names starting with ``.``) are skipped. Raises ``FileNotFoundError`` if the
    folder does not exist and ``ValueError`` if it holds no images.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: {folder}")
    files = [
        p for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
    ]
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found in folder {folder}")
    return sorted(files, key=lambda p: natural_sort_key(p.name))


def read_image(path: Path) -> np.ndarray:
    data = np.fromfile(str(path), dtype=np.uint8)  # fromfile + imdecode handles non-ASCII paths
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise ValueError(f"could not read image file {path} (corrupt or unsupported format)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


# --------------------------------------------------------------------------- reader


def _open_capture(target: str | int) -> cv2.VideoCapture:
    cap = cv2.VideoCapture(target)
    if not cap.isOpened():
        cap.release()
        what = f"camera index {target}" if isinstance(target, int) else f"video file {target}"
        raise ValueError(f"could not open {what} (unreadable, corrupt or unsupported codec)")
    return cap


def _capture_fps(cap: cv2.VideoCapture) -> float | None:
    fps = cap.get(cv2.CAP_PROP_FPS)
    return float(fps) if fps and fps > 0 and np.isfinite(fps) else None


class VideoReader:
    """Iterable of RGB ``uint8`` ``(H, W, 3)`` frames from any supported source, streamed.

    ``source`` may be:

    * a video file path (``str``/``Path``), decoded with ``cv2.VideoCapture``, BGR -> RGB;
    * a folder of images (:data:`IMAGE_EXTENSIONS`), naturally sorted (``2.jpg`` before ``10.jpg``);
    * a list/tuple of frames (numpy arrays, PIL images, torch tensors), or a 4-D ``(T, H, W, C)`` array;
    * any other iterable or iterator/generator of frames (e.g. a webcam loop), consumed lazily;
    * an ``int`` camera index (``cv2.VideoCapture(index)``).

    Every frame goes through :func:`to_rgb_uint8`; frames you supply yourself must be RGB.
    A frame whose size differs from the first frame's raises ``ValueError`` naming its index.

    Attributes:
        fps: frames per second if known (video/camera metadata or the ``fps`` argument), else None.
        num_frames: frame count if known (container-reported for video files), else None;
            ``len(reader)`` raises ``TypeError`` when it is None.

    Files, folders, lists and re-iterable objects can be iterated several times; generators and
    cameras are single-pass. Use as a context manager (or call :meth:`close`) to release captures.
    """

    def __init__(self, source: Any, *, fps: float | None = None) -> None:
        self.source = source
        self.fps: float | None = fps
        self.num_frames: int | None = None
        self._kind: str
        self._cap: cv2.VideoCapture | None = None
        self._files: list[Path] = []
        self._file_caps: list[cv2.VideoCapture] = []  # captures of in-progress file iterations

        if isinstance(source, bool):
            raise TypeError("frame source must not be a bool")
        if isinstance(source, (int, np.integer)):
            self._kind = "camera"
            self._cap = _open_capture(int(source))
            self.fps = fps or _capture_fps(self._cap)
        elif isinstance(source, (str, os.PathLike)):
            path = Path(source)
            if not path.exists():
                raise FileNotFoundError(f"video file or image folder not found: {path}")
            if path.is_dir():
                self._kind = "folder"
                self._files = list_image_files(path)
                self.num_frames = len(self._files)
            else:
                self._kind = "file"
                cap = _open_capture(str(path))
                try:
                    ok, _ = cap.read()  # validate: a video must decode at least one frame
                    if not ok:
                        raise ValueError(f"video file {path} contains no readable frames")
                    self.fps = fps or _capture_fps(cap)
                    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
                    self.num_frames = count if count > 0 else None
                finally:
                    cap.release()
        elif isinstance(source, np.ndarray):
            if source.ndim != 4:
                raise ValueError(f"an array source must be 4-D (T, H, W, C), got shape {source.shape}")
            self._kind = "iterable"
            self.num_frames = len(source)
        elif isinstance(source, (list, tuple)):
            if not source:
                raise ValueError("frame list is empty")
            self._kind = "iterable"
            self.num_frames = len(source)
        elif isinstance(source, (Iterable, Iterator)) and not isinstance(source, (bytes, bytearray)):
            self._kind = "iterable"
            self.num_frames = len(source) if isinstance(source, Sized) else None
        else:
            raise TypeError(
                f"unsupported frame source {type(source).__name__}: expected a video path, image folder, "
                "list of frames, iterable/generator of frames or camera index"
            )

    def __len__(self) -> int:
        if self.num_frames is None:
            raise TypeError("the number of frames of this source is unknown (stream or camera)")
        return self.num_frames

    def _raw_frames(self) -> Iterator[Any]:
        if self._kind == "folder":
            for path in self._files:
                yield read_image(path)
        elif self._kind == "iterable":
            yield from self.source
        else:
            cap = _open_capture(str(self.source)) if self._kind == "file" else self._cap
            if cap is None:
                raise ValueError(f"camera {self.source} was already released")
            if self._kind == "file":
                self._file_caps.append(cap)
            try:
                while True:
                    ok, bgr = cap.read()
                    if not ok:
                        return
                    yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            finally:
                if self._kind == "file":
                    cap.release()
                    self._file_caps.remove(cap)

    def __iter__(self) -> Iterator[np.ndarray]:
        first_hw: tuple[int, int] | None = None
        index = -1
        for index, raw in enumerate(self._raw_frames()):
            try:
                frame = to_rgb_uint8(raw)
            except (ValueError, TypeError) as err:
                raise type(err)(f"frame {index}: {err}") from None
            if first_hw is None:
                first_hw = frame.shape[:2]
            elif frame.shape[:2] != first_hw:
                raise ValueError(
                    f"frame {index} has size {frame.shape[1]}x{frame.shape[0]} (WxH) but the first frame was "
                    f"{first_hw[1]}x{first_hw[0]}; tracking cannot continue across a resolution change"
                )
            yield frame
        if index < 0 and self._kind == "file":
            raise ValueError(f"video file {self.source} contains no readable frames")

    def close(self) -> None:
        """Release the underlying OpenCV capture(s), if any."""
        for cap in self._file_caps:
            cap.release()
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"VideoReader({self._kind}, num_frames={self.num_frames}, fps={self.fps})"


def open_frames(source: Any, *, fps: float | None = None) -> VideoReader:
    """Open any supported frame source as a :class:`VideoReader` (returned unchanged if it is one)."""
    return source if isinstance(source, VideoReader) else VideoReader(source, fps=fps)


# --------------------------------------------------------------------------- drawing / writing


def id_color(i: int) -> tuple[int, int, int]:
    """A bright, deterministic RGB colour for id ``i``; consecutive ids get well-separated hues."""
    hue = (i * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def _as_boxes(boxes: Any) -> np.ndarray:
    arr = np.asarray(boxes if boxes is not None else np.zeros((0, 4)), dtype=np.float64)
    if arr.ndim == 1 and arr.size == 4:
        arr = arr[None]
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4) as (x, y, w, h), got {arr.shape}")
    return arr


def draw_boxes(
    frame: Any,
    boxes: Any,
    scores: Sequence[float] | np.ndarray | None = None,
    ids: Sequence[int] | np.ndarray | None = None,
    *,
    thickness: int = 2,
) -> np.ndarray:
    """Return a copy of RGB ``frame`` with ``(x, y, w, h)`` boxes drawn; ``frame`` is not modified.

    Box ``k`` is coloured by ``id_color(ids[k])`` (or ``id_color(k)`` without ids) and labelled
    with ``"id <n>"`` and/or the score (2 decimals) when given. Non-finite boxes (e.g. a lost
    target written as NaN) are skipped.
    """
    out = to_rgb_uint8(frame).copy()
    arr = _as_boxes(boxes)
    n = len(arr)
    for name, values in (("scores", scores), ("ids", ids)):
        if values is not None and len(values) != n:
            raise ValueError(f"got {n} boxes but {len(values)} {name}")
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.4
    for k, (x, y, w, h) in enumerate(arr):
        if not np.all(np.isfinite((x, y, w, h))):
            continue
        color = id_color(int(ids[k]) if ids is not None else k)
        x1, y1, x2, y2 = int(round(x)), int(round(y)), int(round(x + w)), int(round(y + h))
        cv2.rectangle(out, (x1, y1), (x2, y2), color, thickness)
        parts = ([f"id {int(ids[k])}"] if ids is not None else []) + (
            [f"{float(scores[k]):.2f}"] if scores is not None else []
        )
        if parts:
            text = " ".join(parts)
            (tw, th), base = cv2.getTextSize(text, font, scale, 1)
            ty = y1 - 3 if y1 - th - base - 3 >= 0 else y1 + th + 3  # above the box, else inside
            cv2.rectangle(out, (x1, ty - th - 2), (x1 + tw + 2, ty + base), color, -1)
            cv2.putText(out, text, (x1 + 1, ty), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return out


class AnnotatedVideoWriter:
    """Context manager writing RGB frames, optionally annotated with boxes, to a video file.

    The codec follows the extension: ``.mp4``/``.m4v``/``.mov`` -> ``mp4v``, ``.avi`` -> ``MJPG``;
    pass ``fourcc`` (e.g. ``"XVID"``) to override. ``frame_size`` is ``(width, height)`` (OpenCV
    order); when None it is taken from the first frame. Parent folders are created. Raises
    ``ValueError`` for an unknown extension or a bad fps, and ``OSError`` if OpenCV cannot open
    the writer (codec unavailable, path not writable). If no frame is written, no file is created
    when ``frame_size`` is None.
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
        if fourcc is None:
            if ext not in _CONTAINER_FOURCC:
                raise ValueError(
                    f"unsupported video extension {ext!r} for {self.path}: "
                    f"use one of {sorted(_CONTAINER_FOURCC)} or pass fourcc"
                )
            fourcc = _CONTAINER_FOURCC[ext]
        if not fps or fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.fps = float(fps)
        self.fourcc = fourcc
        self.frame_size = tuple(int(v) for v in frame_size) if frame_size is not None else None
        self.thickness = thickness
        self.frames_written = 0
        self._writer: cv2.VideoWriter | None = None
        self._closed = False
        if self.frame_size is not None:
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
    ) -> None:
        """Append RGB ``frame`` with ``(x, y, w, h)`` ``boxes`` drawn (see :func:`draw_boxes`)."""
        img = draw_boxes(frame, boxes, scores, ids, thickness=self.thickness)
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
        if self._writer is None:
            self._open()
        assert self._writer is not None
        self._writer.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file; further writes raise."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        self._closed = True

    def __enter__(self) -> AnnotatedVideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


