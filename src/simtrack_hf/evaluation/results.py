"""Tracker result files: one ``x,y,w,h`` line per frame, per-frame times, and the benchmark servers' formats.

`read_results` / `write_results` handle ``<seq>.txt``; `read_times` handles ``<seq>_time.txt`` (seconds per
frame); `find_result_file` accepts the layouts other toolkits write (``<seq>_001.txt``, GOT-10k
``<seq>/<seq>_001.txt``); `write_got10k_submission` and `write_trackingnet_submission` write what the servers take.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from ..io.boxes import read_box_file
from ..io.frames import PathLike

__all__ = [
    "find_result_file",
    "format_results",
    "read_results",
    "read_times",
    "write_atomic",
    "write_got10k_submission",
    "write_results",
    "write_trackingnet_submission",
]


def read_results(path: PathLike, num_frames: int | None = None) -> np.ndarray:
    """Read a tracker result file (one ``x,y,w,h`` per line, comma / tab / space) -> (N, 4) float64.

    ValueError naming file and line for malformed or NaN lines, or when ``num_frames`` is given
    and the file has a different number of boxes.
    """
    boxes = read_box_file(path)
    if num_frames is not None and len(boxes) != num_frames:
        raise ValueError(f"{path}: {len(boxes)} boxes, expected {num_frames} (one per frame)")
    return boxes


def format_results(boxes, integer: bool = False, decimals: int = 4, delimiter: str = ",") -> str:
    """(N, 4) xywh boxes as result-file lines (see `write_results`); ValueError naming the first non-finite row."""
    boxes = np.asarray(boxes, np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {boxes.shape}")
    if not np.isfinite(boxes).all():
        raise ValueError(f"boxes contain NaN or inf at frame {int(np.argmax(~np.isfinite(boxes).all(1)))}")
    if integer:
        rows = np.trunc(boxes).astype(np.int64)
        return "".join(delimiter.join(str(v) for v in r) + "\n" for r in rows)
    return "".join(delimiter.join(f"{v:.{decimals}f}" for v in r) + "\n" for r in boxes)


def write_results(path: PathLike, boxes, *, integer: bool = False, decimals: int = 4, delimiter: str = ",") -> Path:
    """Write (N, 4) xywh boxes, one ``x,y,w,h`` per line; creates parent folders.

    ``integer=True`` truncates toward zero like the original SimTrack (``astype(int)``): that costs
    up to 1 px per coordinate and shifts scores slightly; the default keeps ``decimals`` decimals.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_results(boxes, integer, decimals, delimiter))
    return path


def write_got10k_submission(
    out_dir: PathLike,
    results: Mapping[str, np.ndarray],
    times: Mapping[str, np.ndarray] | None = None,
    *,
    repetition: int = 1,
    decimals: int = 4,
    zip_path: PathLike | None = None,
) -> Path:
    """GOT-10k layout: ``out_dir/<seq>/<seq>_<rep:03d>.txt`` (comma xywh) and, when ``times`` (seconds
    per frame) is given, ``out_dir/<seq>/<seq>_time.txt``. ``zip_path`` also zips the sequence folders
    (what the server takes). Returns ``out_dir``."""
    out_dir = Path(out_dir)
    for name, boxes in results.items():
        boxes = np.asarray(boxes, np.float64)
        write_results(out_dir / name / f"{name}_{repetition:03d}.txt", boxes, decimals=decimals)
        if times is not None:
            t = np.asarray(times[name], np.float64).reshape(-1)
            if len(t) != len(boxes):
                raise ValueError(f"sequence {name!r}: {len(t)} times for {len(boxes)} boxes")
            (out_dir / name / f"{name}_time.txt").write_text("".join(f"{v:.8f}\n" for v in t))
    if zip_path is not None:
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in results:
                for f in sorted((out_dir / name).iterdir()):
                    zf.write(f, f"{name}/{f.name}")
    return out_dir


def write_trackingnet_submission(zip_path: PathLike, results: Mapping[str, np.ndarray], *, decimals: int = 4) -> Path:
    """TrackingNet server format: a zip holding one ``<seq>.txt`` (comma xywh per frame) per sequence."""
    zip_path = Path(zip_path)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, boxes in results.items():
            zf.writestr(f"{name}.txt", format_results(boxes, False, decimals))
    return zip_path


def read_times(path: Path, num_frames: int | None = None) -> np.ndarray:
    try:
        times = np.array([float(v) for v in path.read_text().split()], dtype=np.float64)
    except ValueError:
        raise ValueError(f"{path}: expected one number (seconds) per line") from None
    if num_frames is not None and len(times) != num_frames:
        raise ValueError(f"{path}: {len(times)} times for {num_frames} frames")
    return times


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp_path)`` then rename over ``path``: a killed run never leaves a half-written file."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def find_result_file(results_dir: str | os.PathLike, name: str) -> Path:
    """The results file of sequence ``name``: ``<name>.txt``, ``<name>_001.txt`` or ``<name>/<name>_001.txt``."""
    results_dir = Path(results_dir)
    candidates = [results_dir / f"{name}.txt", results_dir / f"{name}_001.txt", results_dir / name / f"{name}_001.txt"]
    for path in candidates:
        if path.is_file():
            return path
    tried = ", ".join(str(p.relative_to(results_dir)) for p in candidates)
    raise ValueError(f"no results for sequence {name!r} in {results_dir} (looked for {tried})")
