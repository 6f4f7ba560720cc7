"""What the web app does, without the web page: check the input, track a video as a stream, write the results.

Everything here is plain Python (no Gradio), so it is tested directly; `simtrack_hf.app.ui` wires it to the page.
Bad input raises :class:`AppError`, whose one-line message the page shows as it is.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from ..examples import EXAMPLES_DIR
from ..inference.attention import attention_maps
from ..inference.tracker import SimTrackTracker
from ..io.boxes import write_results
from ..io.encoding import BrowserVideoWriter
from ..io.frames import VideoReader
from ..io.writers import attention_grid, draw_boxes, id_color
from ..loading import DEFAULT_MODEL
from ..tracking_simtrack import track_videos

logger = logging.getLogger(__name__)

MODEL_SOURCES = ("Default model", "Local folder", "Hub model id")
BACKENDS = ("torch", "onnxruntime")
BOX_COLUMNS = ("x", "y", "w", "h")


class AppError(ValueError):
    """A problem with the user's input or choices; its message is one readable line."""


@dataclass(frozen=True)
class ServerLimits:
    """What one visitor can make the app do and what the server keeps (the options of `simtrack app`).

    Attributes:
        max_frames: frames tracked per video (the rest are skipped, with a notice).
        max_pixels: largest frame (width x height) accepted.
        max_attention_maps: attention-map images per run (their interval grows to fit the video).
        max_upload_mb: largest upload in MB (Gradio refuses more).
        keep_runs, keep_minutes: result files of at most this many runs are kept, none older than this; uploads
            and Gradio's copies are deleted after `keep_minutes`; everything at shutdown.
        model_root: visitors may pick model folders under this folder (None: only the app's model).
        allow_hub: visitors may name Hub model ids.
    """

    max_frames: int = 3000
    max_pixels: int = 1920 * 1080
    max_attention_maps: int = 30
    max_upload_mb: int = 200
    keep_runs: int = 20
    keep_minutes: float = 60.0
    model_root: str | None = None
    allow_hub: bool = False

    def __post_init__(self) -> None:
        for name in ("max_frames", "max_pixels", "max_attention_maps", "max_upload_mb", "keep_runs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if not (isinstance(self.keep_minutes, (int, float)) and 0 < self.keep_minutes < math.inf):
            raise ValueError(f"keep-minutes must be a positive number, got {self.keep_minutes!r}")
        if self.model_root is not None and not os.path.isdir(self.model_root):
            raise ValueError(f"model-root is not a folder: {self.model_root}")

    @property
    def sources(self) -> tuple[str, ...]:
        """The model sources a visitor may choose."""
        return tuple(s for s, on in zip(MODEL_SOURCES, (True, self.model_root is not None, self.allow_hub)) if on)


class RunFolders:
    """One folder per run under a private root; beyond ``keep_runs`` runs the oldest is deleted, and runs older
    than ``keep_minutes`` are deleted (checked every minute and at each new run); `close` deletes the root."""

    def __init__(self, keep_runs: int, keep_minutes: float, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="simtrack_app_"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.keep_runs, self.max_age = keep_runs, 60.0 * keep_minutes
        self._created: OrderedDict[Path, float] = OrderedDict()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        threading.Thread(target=self._prune_every, args=(min(60.0, self.max_age),), daemon=True).start()

    def new(self) -> Path:
        """A fresh, empty folder for one run (older runs pruned first, so at most ``keep_runs`` exist)."""
        with self._lock:
            self._prune(self.keep_runs - 1)
            folder = self.root / uuid.uuid4().hex
            folder.mkdir()
            self._created[folder] = time.monotonic()
            return folder

    def prune(self) -> None:
        """Delete the runs older than ``keep_minutes``."""
        with self._lock:
            self._prune(self.keep_runs)

    def _prune(self, keep: int) -> None:
        now = time.monotonic()
        for folder, created in list(self._created.items()):
            if len(self._created) > keep or now - created > self.max_age:
                shutil.rmtree(folder, ignore_errors=True)
                del self._created[folder]

    def _prune_every(self, seconds: float) -> None:
        while not self._closed.wait(seconds):
            self.prune()

    def close(self) -> None:
        """Delete every run and the root (at shutdown)."""
        self._closed.set()
        with self._lock:
            shutil.rmtree(self.root, ignore_errors=True)
            self._created.clear()


def one_line(err: BaseException, limit: int = 240) -> str:
    """The first non-empty line of an exception's message, shortened to ``limit`` characters."""
    text = next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- models


class ModelCache:
    """Loads trackers on demand and keeps the ``size`` most recently used ones (model loading takes seconds)."""

    def __init__(self, default_model: str = DEFAULT_MODEL, device: str | None = None, size: int = 2,
                 model_root: str | os.PathLike | None = None, allow_hub: bool = False) -> None:
        self.default_model = default_model
        self.device = device
        self.size = size
        self.model_root = None if model_root is None else os.path.realpath(model_root)
        self.allow_hub = allow_hub
        self._trackers: OrderedDict[tuple[str, str], SimTrackTracker] = OrderedDict()
        self._lock = threading.Lock()

    def resolve(self, source: str, location: str | None) -> str:
        """The folder or Hub id that ``source`` (one of :data:`MODEL_SOURCES`) and ``location`` name."""
        location = (location or "").strip()
        if source == MODEL_SOURCES[0]:
            return self.default_model
        if source == MODEL_SOURCES[1]:
            if self.model_root is None:
                raise AppError("this server offers no model folders (its operator can allow some with --model-root)")
            if not location:
                raise AppError("type the name of a model folder under the server's model root")
            # resolved before anything is looked up: nothing outside the root is opened, or said to exist or not
            folder = os.path.realpath(os.path.join(self.model_root, location))
            if os.path.commonpath([folder, self.model_root]) != self.model_root:
                raise AppError(f"{location!r} is not under the server's model root")
            if not os.path.isdir(folder):
                raise AppError(f"model folder not found under the server's model root: {location}")
            return folder
        if source == MODEL_SOURCES[2]:
            if not self.allow_hub:
                raise AppError("this server loads no Hub models (its operator can allow them with --allow-hub)")
            if not location or location.count("/") != 1 or os.path.isdir(location):
                raise AppError(f"a Hub model id looks like 'organisation/name', got {location!r}")
            return location
        raise AppError(f"unknown model source {source!r}: choose one of {', '.join(MODEL_SOURCES)}")

    def get(self, source: str, location: str | None, backend: str) -> tuple[SimTrackTracker, str]:
        """A tracker for the chosen model and backend, and the model's name for the results ("default" or its
        folder or Hub id)."""
        if backend not in BACKENDS:
            raise AppError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
        model = self.resolve(source, location)
        key = (model, backend)
        with self._lock:
            if key in self._trackers:
                self._trackers.move_to_end(key)
                return self._trackers[key], self._name(model)
            try:
                tracker = SimTrackTracker.from_pretrained(model, device=self.device, backend=backend)
            except ImportError as err:
                raise AppError(f"the {backend} backend is not installed ({one_line(err)})") from None
            except Exception as err:  # any failure to load is the chosen model's fault: say which and why
                logger.info("model %s (%s) did not load", model, backend, exc_info=True)
                raise AppError(f"the model {model} did not load with the {backend} backend: {one_line(err)}") from None
            self._trackers[key] = tracker
            while len(self._trackers) > self.size:
                self._trackers.popitem(last=False)
            return tracker, self._name(model)

    def _name(self, model: str) -> str:
        return "the shipped default model" if model == DEFAULT_MODEL else model


# --------------------------------------------------------------------------- video and boxes


@dataclass
class VideoInfo:
    """A readable video: its first frame, size, frame rate and (when the container says) frame count."""

    path: str
    first_frame: np.ndarray
    fps: float
    num_frames: int | None

    @property
    def width(self) -> int:
        return int(self.first_frame.shape[1])

    @property
    def height(self) -> int:
        return int(self.first_frame.shape[0])

    def describe(self) -> str:
        count = f"{self.num_frames} frames" if self.num_frames else "frame count unknown"
        return f"{Path(self.path).name}: {self.width}x{self.height}, {self.fps:g} fps, {count}"


def probe_video(path: str | os.PathLike | None, max_pixels: int | None = None) -> VideoInfo:
    """Open ``path`` as a video and read its first frame; :class:`AppError` if it is not a video, is empty or has
    frames of more than ``max_pixels`` pixels."""
    if not path:
        raise AppError("upload a video or pick the example clip first")
    name = Path(path).name
    if not Path(path).is_file():
        raise AppError(f"{name} is not a file")
    try:
        reader = VideoReader(str(path))
        with reader:
            first = next(iter(reader), None)
    except (ValueError, OSError, cv2.error) as err:
        if "no readable frames" in str(err):
            raise AppError(f"{name} has no frames") from None
        reason = one_line(err).replace(str(path), name)
        raise AppError(f"{name} is not a video this app can read ({reason})") from None
    if first is None:
        raise AppError(f"{name} has no frames")
    height, width = first.shape[:2]
    if max_pixels is not None and width * height > max_pixels:
        raise AppError(f"{name} is {width}x{height}: this server tracks frames of at most {max_pixels} pixels "
                       f"({max_pixels / 1e6:.1f} MP, e.g. 1920x1080); scale the video down first")
    return VideoInfo(str(path), first, float(reader.fps or 25.0), reader.num_frames)


def _blank(value: Any) -> bool:
    return value is None or str(value).strip().lower() in ("", "nan", "none")


def table_rows(rows: Any) -> list[list[Any]]:
    """The non-empty rows of a box table (list of rows, pandas frame or the API's ``{"data": ...}``), blank
    trailing cells dropped."""
    if rows is None:
        return []
    if isinstance(rows, dict):
        rows = rows.get("data") or []
    elif hasattr(rows, "values") and hasattr(rows, "columns"):  # a pandas DataFrame
        rows = rows.values.tolist()
    kept = []
    for row in rows:
        cells = list(row)
        while cells and _blank(cells[-1]):
            cells.pop()
        if cells:
            kept.append(cells)
    return kept


def parse_boxes(rows: Any, width: int, height: int) -> np.ndarray:
    """Rows of ``x, y, w, h`` (a table from the page; empty rows skipped) -> checked (N, 4) float boxes."""
    boxes = []
    for cells in table_rows(rows):
        target = len(boxes) + 1
        if len(cells) != 4:
            raise AppError(f"target {target}: a box is four numbers x, y, w, h, got {len(cells)}")
        values = []
        for column, value in zip(BOX_COLUMNS, cells):
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise AppError(f"target {target}: {column} = {value!r} is not a number") from None
            if not math.isfinite(number):
                raise AppError(f"target {target}: {column} is not a finite number")
            values.append(number)
        x, y, w, h = values
        if w <= 0 or h <= 0:
            raise AppError(f"target {target} has zero size ({w:g} x {h:g}): click two different corners")
        if x < 0 or y < 0 or x + w > width or y + h > height:
            raise AppError(
                f"target {target} ({x:g}, {y:g}, {w:g}, {h:g}) is not inside the {width}x{height} frame"
            )
        boxes.append(values)
    if not boxes:
        raise AppError("mark a target first: click two opposite corners of it on the first frame")
    return np.array(boxes, dtype=np.float64)


def corners_to_box(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """Two opposite corners (pixel positions) -> ``[x, y, w, h]``."""
    (x1, y1), (x2, y2) = a, b
    return [float(min(x1, x2)), float(min(y1, y2)), float(abs(x2 - x1)), float(abs(y2 - y1))]


def draw_targets(frame: np.ndarray, boxes: Sequence[Sequence[float]], corner: Sequence[float] | None = None) -> np.ndarray:
    """The first frame with the boxes so far (numbered from 1) and a pending first corner."""
    out = draw_boxes(frame, np.asarray(boxes, dtype=np.float64).reshape(-1, 4), ids=range(1, len(boxes) + 1))
    if corner is not None:
        color = id_color(len(boxes) + 1)
        cv2.drawMarker(out, (int(round(corner[0])), int(round(corner[1]))), color, cv2.MARKER_CROSS, 14, 2)
    return out


# --------------------------------------------------------------------------- tracking


@dataclass
class TrackingRun:
    """Results of one tracking run, all files in ``folder``."""

    folder: Path
    video: Path
    boxes: np.ndarray  # (T, N, 4) xywh pixels
    scores: np.ndarray  # (T, N)
    flags: np.ndarray  # (T, N) the tracker's lost flags
    threshold: float | None  # the tracker's lost threshold (None: no target is ever flagged lost)
    fps: float
    total_frames: int | None  # frames in the video when known (more than tracked when truncated)
    truncated: bool
    seconds: float
    model: str
    attention: dict[int, Path] = field(default_factory=dict)  # frame index -> grid PNG (targets left to right)
    attention_note: str = ""
    downloads: list[Path] = field(default_factory=list)

    @property
    def lost(self) -> np.ndarray | None:
        """(T, N) True where the tracker flagged a target lost (None when it has no lost threshold)."""
        return None if self.threshold is None else self.flags

    def summary(self, max_frames: int) -> str:
        frames = len(self.boxes)
        text = (
            f"Tracked {self.boxes.shape[1]} target(s) over {frames} frames in {self.seconds:.1f} s "
            f"({frames / max(self.seconds, 1e-9):.1f} frames/s) with {self.model}."
        )
        if self.truncated:
            more = f"has {self.total_frames} frames" if self.total_frames else "is longer"
            text += f" The video {more}: only the first {max_frames} were tracked (the app's frame limit)."
        if self.threshold is None:
            text += " This model has no lost-target threshold, so no frame is marked lost."
        else:
            lost = int(self.flags.any(axis=1).sum())
            text += f" {lost} frame(s) have a target flagged lost (score below {self.threshold:g})."
        return text


def run_tracking(
    tracker: SimTrackTracker,
    video: VideoInfo,
    boxes: np.ndarray,
    folder: str | os.PathLike,
    *,
    model: str,
    max_frames: int = ServerLimits.max_frames,
    attention_every: int = 10,
    max_attention_maps: int = ServerLimits.max_attention_maps,
    progress: Callable[[int, int | None], None] | None = None,
) -> TrackingRun:
    """Track ``boxes`` (N, 4) through ``video`` frame by frame (never holding the video), writing into ``folder``.

    Writes ``tracked.mp4`` (H.264, boxes drawn), one benchmark-format ``.txt`` per target, ``tracking.json``,
    ``scores.png`` and, every ``attention_every`` frames (0: never), a PNG of the target attention maps: at most
    ``max_attention_maps``, the interval widened to spread them over the video when its length is known.
    Stops after ``max_frames`` frames. ``progress(done, total)`` is called after each frame.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    total = min(video.num_frames, max_frames) if video.num_frames else None
    all_boxes: list[np.ndarray] = []
    all_scores: list[np.ndarray] = []
    all_lost: list[np.ndarray] = []
    attention: dict[int, Path] = {}
    attention_note = ""
    if attention_every and not isinstance(tracker.model, torch.nn.Module):
        attention_note, attention_every = "Attention maps need the torch backend.", 0
    if attention_every and total and (total - 1) // attention_every > max_attention_maps:
        attention_every = math.ceil((total - 1) / max_attention_maps)
        attention_note = f"Attention maps every {attention_every} frames (at most {max_attention_maps} a run)."

    def inspect(session: SimTrackTracker, frame: np.ndarray) -> Any:  # the attention maps, up to the cap
        return attention_maps(session, frame) if len(attention) < max_attention_maps else None

    ids = range(1, len(boxes) + 1)
    started = time.perf_counter()
    output = folder / "tracked.mp4"
    try:
        with VideoReader(video.path) as reader, BrowserVideoWriter(output, fps=video.fps) as writer:
            frames = iter(reader)
            tracking = track_videos([(tracker, itertools.islice(frames, max_frames), boxes)],
                                    inspect=inspect if attention_every else None, inspect_every=attention_every)
            for tracked in tracking:
                index, result = tracked.result.frame_index, tracked.result
                if tracked.inspection is not None:
                    attention[index] = _save_attention(*tracked.inspection, folder / f"attention_{index:06d}.png")
                all_boxes.append(result.boxes)
                all_scores.append(np.asarray(result.scores, dtype=np.float64))
                all_lost.append(np.asarray(result.lost, dtype=bool))
                writer.write(draw_boxes(tracked.frame, result.boxes, result.scores, ids=ids, lost=result.lost))
                if progress is not None:
                    progress(index + 1, total)
            truncated = next(frames, None) is not None
    except (ValueError, OSError, cv2.error) as err:
        raise AppError(f"reading {Path(video.path).name} failed at frame {len(all_boxes)}: {one_line(err)}") from None
    run = TrackingRun(
        folder=folder, video=output, boxes=np.stack(all_boxes), scores=np.stack(all_scores),
        flags=np.stack(all_lost), threshold=tracker.options.lost_threshold, fps=video.fps,
        total_frames=video.num_frames, truncated=truncated, seconds=time.perf_counter() - started, model=model,
        attention=attention, attention_note=attention_note,
    )
    run.downloads = write_downloads(run, Path(video.path).name)
    return run


def _save_attention(maps: np.ndarray, crops: np.ndarray, path: Path) -> Path:
    """Target attention maps (`attention_maps`: one per target, with its search crop), side by side in one PNG."""
    grids = [attention_grid(m, c) for m, c in zip(maps, crops)]
    gap = np.full((grids[0].shape[0], 6, 3), 255, np.uint8)
    image = np.concatenate([part for grid in grids for part in (grid, gap)][:-1], axis=1)
    if not cv2.imwrite(str(path), image[..., ::-1]):
        raise OSError(f"could not write {path}")
    return path


def write_downloads(run: TrackingRun, video_name: str) -> list[Path]:
    """One ``x,y,w,h`` text file per target (the benchmarks' format), ``tracking.json`` and ``scores.png``."""
    paths = []
    for k in range(run.boxes.shape[1]):
        paths.append(write_results(run.folder / f"boxes_target{k + 1}.txt", run.boxes[:, k]))
    lost = run.lost
    document = {
        "video": video_name,
        "frames": int(len(run.boxes)),
        "fps": run.fps,
        "truncated": run.truncated,
        "model": run.model,
        "lost_threshold": run.threshold,
        "box_format": "x, y, w, h in pixels (top-left corner and size)",
        "targets": [
            {
                "id": k + 1,
                "boxes": np.round(run.boxes[:, k], 4).tolist(),
                "scores": np.round(run.scores[:, k], 5).tolist(),
                "lost": None if lost is None else lost[:, k].tolist(),
            }
            for k in range(run.boxes.shape[1])
        ],
    }
    json_path = run.folder / "tracking.json"
    json_path.write_text(json.dumps(document, indent=1) + "\n")
    plot_path = run.folder / "scores.png"
    score_figure(run).savefig(plot_path, dpi=100)
    return [*paths, json_path, plot_path]


def score_figure(run: TrackingRun) -> Any:
    """A matplotlib figure of each target's score per frame, lost frames marked with crosses and shading."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("the score plot needs matplotlib: pip install simtrack_hf[app]") from None
    figure = Figure(figsize=(8, 3.2), layout="constrained")
    axes = figure.add_subplot()
    frames = np.arange(len(run.scores))
    lost = run.lost
    for k in range(run.scores.shape[1]):
        color = np.array(id_color(k + 1)) / 255 * 0.8  # a little darker than the boxes, for a white background
        axes.plot(frames, run.scores[:, k], color=color, lw=1.6, label=f"target {k + 1}")
        if lost is not None and lost[:, k].any():
            axes.plot(frames[lost[:, k]], run.scores[lost[:, k], k], "x", color="crimson", ms=6)
    if lost is not None:
        axes.axhline(run.threshold, color="crimson", ls="--", lw=1, label=f"lost below {run.threshold:g}")
        for start, stop in _spans(lost.any(axis=1)):
            axes.axvspan(start - 0.5, stop - 0.5, color="crimson", alpha=0.12, lw=0)
    else:
        axes.text(0.99, 0.03, "no lost-target threshold in this model's config", transform=axes.transAxes,
                  ha="right", fontsize=8, color="0.4")
    axes.set(xlabel="frame", ylabel="score", ylim=(0, 1.02), xlim=(0, max(1, len(frames) - 1)))
    axes.set_title("Score per frame (lost frames marked)", fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left", fontsize=8, ncols=min(4, run.scores.shape[1] + 1))
    return figure


def _spans(flags: np.ndarray) -> list[tuple[int, int]]:
    """Half-open ``[start, stop)`` runs of True in a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


