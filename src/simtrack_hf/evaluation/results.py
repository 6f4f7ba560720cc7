"""Tracker result files: per-frame times, where other toolkits put their results, and the benchmark servers'
formats (the ``<seq>.txt`` box files themselves are `simtrack_hf.io.boxes`: `read_results` / `write_results`).

`read_times` handles ``<seq>_time.txt`` (seconds per frame); `find_result_file` accepts the layouts other toolkits write (``<seq>_001.txt``, GOT-10k
``<seq>/<seq>_001.txt``); `write_got10k_submission` and `write_trackingnet_submission` write what the servers take.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from ..io.boxes import format_results, write_results
from ..io.frames import PathLike

__all__ = [
    "find_result_file",
    "read_times",
    "write_atomic",
    "write_got10k_submission",
    "write_trackingnet_submission",
]


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
    """``write(tmp_path)`` then rename over ``path``: a killed run never leaves a half-written file. The temporary
    name is per process, so ranks writing the same file at once never rename each other's half-written copy."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
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
