"""Box files: one ``x,y,w,h`` box per line (comma, tab, space or semicolon separated), the format of benchmark
ground truth, training labels and tracker results.

`read_box_file` reads them strictly (a bad line raises, naming file and line) or leniently (a bad line becomes a
NaN row, for training manifests that drop or repair what they cannot use); `read_results` / `write_results` /
`format_results` are the tracker result files (``<seq>.txt``, one box per frame) of the CLI, the app and the
evaluation runner.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .frames import PathLike

__all__ = ["format_results", "numbered_lines", "read_box_file", "read_results", "split_values", "write_results"]

_SEP = re.compile(r"[,\s;]+")


def split_values(line: str) -> list[str]:
    """The values of one line of a box or label file (comma / tab / space / semicolon separated)."""
    return [token for token in _SEP.split(line.strip()) if token]


def numbered_lines(path: Path) -> list[tuple[int, str]]:
    """(1-based line number, stripped text) of the non-blank lines of ``path``; ValueError when it is missing."""
    if not path.is_file():
        raise ValueError(f"file not found: {path}")
    return [(i + 1, ln.strip()) for i, ln in enumerate(path.read_text().splitlines()) if ln.strip()]


def read_box_file(path: PathLike, *, strict: bool = True, allow_nan: bool = False, first_only: bool = False
                  ) -> np.ndarray:
    """Read one ``x,y,w,h`` box per line -> (N, 4); blank lines are skipped.

    ``strict`` (default): float64; ValueError naming file and line for a missing or empty file, a wrong column
    count, a value that is not a number, or NaN when ``allow_nan`` is False. ``first_only`` reads just the first
    box. ``strict=False``: float32; a line with fewer than 4 values or a value that is not a number becomes a NaN
    row, values after the fourth are ignored, an empty file gives (0, 4).
    """
    path = Path(path)
    if not strict:
        rows = []
        for line in path.read_text().splitlines():
            values = split_values(line)
            if not values:
                continue
            try:
                rows.append([float(v) for v in values[:4]] if len(values) >= 4 else [np.nan] * 4)
            except ValueError:
                rows.append([np.nan] * 4)
        boxes = np.asarray(rows, np.float32).reshape(-1, 4)
        return boxes[:1] if first_only else boxes
    rows = numbered_lines(path)
    if first_only:
        rows = rows[:1]
    if not rows:
        raise ValueError(f"{path}: no boxes")
    out = np.empty((len(rows), 4), np.float64)
    for k, (lineno, line) in enumerate(rows):
        parts = split_values(line)
        if len(parts) != 4:
            raise ValueError(f"{path}, line {lineno}: expected 4 values (x, y, w, h), got {len(parts)}: {line!r}")
        try:
            out[k] = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"{path}, line {lineno}: not a number in {line!r}") from None
        if not allow_nan and np.isnan(out[k]).any():
            raise ValueError(f"{path}, line {lineno}: NaN is not allowed here: {line!r}")
    return out


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
