"""Frame sources: video files, image folders, frame lists, generators and cameras as RGB ``uint8`` frames.

Everything here (and the tracker) works on **RGB** ``uint8`` frames of shape ``(H, W, 3)``. Video files, image
folders and camera indices are decoded with OpenCV and converted BGR -> RGB for you. Frames you pass in yourself
(arrays, lists, generators such as a webcam loop built on ``cv2.VideoCapture.read``) are taken to be RGB already:
OpenCV users must convert first, e.g. ``cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)`` or ``frame[..., ::-1]``.

Frame sources stream: at most one frame is decoded or pulled from a generator at a time, so memory does not grow
with video length. Writers are in :mod:`simtrack_hf.io.writers`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sized
from pathlib import Path
from typing import Any, Union

import cv2
import numpy as np

from ..image_processing_simtrack import to_rgb_uint8

__all__ = [
    "IMAGE_EXTENSIONS",
    "PathLike",
    "VideoReader",
    "list_image_files",
    "natural_sort_key",
    "open_frames",
    "image_size",
    "read_image",
    "to_rgb_uint8",
]

PathLike = Union[str, "os.PathLike[str]"]

_MAX_CAMERA_INDEX = 2**31 - 1  # OpenCV takes a C int

#: File extensions (lower case) treated as frames when reading a folder (benchmarks and manifests too).
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


# --------------------------------------------------------------------------- folders


def natural_sort_key(name: str) -> tuple:
    """Sort key that orders embedded numbers numerically: ``2.jpg`` before ``10.jpg``."""
    return tuple(int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name))


def list_image_files(folder: PathLike) -> list[Path]:
    """Image files (:data:`IMAGE_EXTENSIONS`, any case) in ``folder``, naturally sorted.

    Hidden files (names starting with ``.``) are skipped. Raises ``FileNotFoundError`` if the
    folder does not exist and ``ValueError`` if it holds no images or two images of one name (``1.jpg``, ``1.png``).
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
    stems: dict[str, str] = {}
    for p in files:
        other = stems.setdefault(p.stem.lower(), p.name)
        if other != p.name:
            raise ValueError(f"folder {folder} holds both {other} and {p.name}: which one is the frame? Keep one")
    return sorted(files, key=lambda p: natural_sort_key(p.name))


def image_size(path: PathLike) -> tuple[int, int]:
    """(width, height) of an image file, read from its header only (OSError / ValueError when unreadable)."""
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def read_image(path: PathLike) -> np.ndarray:
    """RGB uint8 (H, W, 3) pixels of an image file (ValueError when corrupt or unsupported)."""
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
            if not 0 <= source <= _MAX_CAMERA_INDEX:
                raise ValueError(f"camera index {source} is out of range (0 to {_MAX_CAMERA_INDEX})")
            self._kind = "camera"
            self._cap = _open_capture(int(source))
            self.fps = fps or _capture_fps(self._cap)
        elif isinstance(source, (str, os.PathLike)):
            path = Path(source)
            if not path.exists():
                raise FileNotFoundError(f"video file or image folder not found: {path}")
            if not (path.is_dir() or path.is_file()):  # a named pipe or device: opening it may wait forever
                raise ValueError(f"{path} is not a regular file or a folder (a named pipe or device?): give a video "
                                 "file, an image folder or a camera index")
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
