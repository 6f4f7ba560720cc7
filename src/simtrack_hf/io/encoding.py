"""Browser-playable video files: H.264 in ``.mp4`` / ``.mov`` / ``.m4v``, VP9 in ``.webm``, encoded with PyAV.

PyAV's wheels bundle FFmpeg with libx264 and libvpx, so the files play in every current browser (OpenCV's
``mp4v`` fourcc writes MPEG-4 Part 2, which browsers do not decode). Frames are RGB ``uint8`` ``(H, W, 3)``;
4:2:0 chroma needs even sides, so an odd width or height is padded by repeating the last column / row.
MP4 files are written with the index first (``faststart``), so a browser starts playing before the download ends.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BROWSER_CODECS", "BrowserVideoWriter"]

_X264 = ("libx264", {"crf": "23", "preset": "veryfast"})
_VP9 = ("libvpx-vp9", {"crf": "32", "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"})

#: Container extension -> (FFmpeg muxer, encoder, encoder options).
BROWSER_CODECS: dict[str, tuple[str, str, dict[str, str]]] = {
    ".mp4": ("mp4", *_X264),
    ".m4v": ("mp4", *_X264),
    ".mov": ("mov", *_X264),
    ".webm": ("webm", *_VP9),
}


def _import_av() -> Any:
    try:
        import av
    except ImportError:
        raise ImportError("writing browser-playable video needs PyAV: pip install av") from None
    return av


class BrowserVideoWriter:
    """Write RGB frames to an H.264 ``.mp4`` (or ``.mov``/``.m4v``) or VP9 ``.webm`` file, one frame at a time.

    ``frame_size`` is ``(width, height)``; when None it comes from the first frame and the file is created then.
    A writer closed before any frame leaves no file. Every frame must have that size. Parent folders are created. Raises ``ValueError`` for
    an unknown extension or a bad fps and ``OSError`` when the file cannot be created. Use as a context manager
    or call :meth:`close`.

    Example::

        with BrowserVideoWriter("tracked.mp4", fps=25) as writer:
            for frame in frames:
                writer.write(frame)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float,
        frame_size: tuple[int, int] | None = None,
        *,
        quality: int | None = None,
    ) -> None:
        """``quality`` overrides the constant-rate factor (lower is better; x264 default 23, VP9 default 32)."""
        self.path = Path(path)
        ext = self.path.suffix.lower()
        if ext not in BROWSER_CODECS:
            raise ValueError(f"unsupported video extension {ext!r} for {self.path}: use one of {sorted(BROWSER_CODECS)}")
        if not fps or not np.isfinite(fps) or fps <= 0:
            raise ValueError(f"fps must be a positive number, got {fps}")
        self._av = _import_av()
        self.format, self.codec, options = BROWSER_CODECS[ext]
        self.options = {**options, **({"crf": str(int(quality))} if quality is not None else {})}
        self.fps = Fraction(float(fps)).limit_denominator(1001)
        self.frame_size: tuple[int, int] | None = None  # (width, height) of the frames
        self.frames_written = 0
        self._file: Any = None
        self._container: Any = None
        self._stream: Any = None
        self._closed = False
        if frame_size is not None:
            self._open(int(frame_size[0]), int(frame_size[1]))

    def _open(self, width: int, height: int) -> None:
        self.frame_size = (width, height)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        options = {"movflags": "+faststart"} if self.format != "webm" else {}
        self._file = open(self.path, "wb")  # noqa: SIM115 (closed in close()); OSError names the path
        self._container = self._av.open(self._file, mode="w", format=self.format, container_options=options)
        stream = self._container.add_stream(self.codec, rate=self.fps, options=self.options)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        self._stream = stream

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB ``uint8`` ``(H, W, 3)`` frame."""
        if self._closed:
            raise ValueError(f"writer for {self.path} is closed")
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected an RGB uint8 (H, W, 3) frame, got {frame.dtype} {frame.shape}")
        height, width = frame.shape[:2]
        if self.frame_size is None:
            self._open(width, height)
        elif (width, height) != self.frame_size:
            raise ValueError(
                f"frame {self.frames_written} is {width}x{height} (WxH), the video is "
                f"{self.frame_size[0]}x{self.frame_size[1]}"
            )
        if width % 2 or height % 2:
            frame = np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        video_frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        video_frame.pts = self.frames_written
        video_frame.time_base = 1 / self.fps
        self._container.mux(self._stream.encode(video_frame))
        self.frames_written += 1

    def close(self) -> None:
        """Flush the encoder and finish the file (removed if no frame was written); further writes raise."""
        if self._container is not None:
            try:
                if self.frames_written:
                    self._container.mux(self._stream.encode(None))
            finally:
                self._container.close()
                self._file.close()
                self._container = self._file = None
                if not self.frames_written:  # nothing to play: leave no file behind
                    self.path.unlink(missing_ok=True)
        self._closed = True

    def __enter__(self) -> BrowserVideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
