"""Strict readers of evaluation benchmarks: one `read_<benchmark>` per layout, each -> `BenchmarkSequence`s.

Every reader returns a list of :class:`BenchmarkSequence` (frame paths in natural order, xywh
ground truth, optional visibility). Layouts (``root`` is the folder you pass):

* LaSOT:        ``root/<class>/<class>-<k>/{img/%08d.jpg, groundtruth.txt, full_occlusion.txt,
  out_of_view.txt, nlp.txt}``; sequences from ``root/testing_set.txt`` when present, else every
  ``<class>/<class>-<k>`` folder. visible = not occluded and not out of view.
* GOT-10k:      ``root/<split>/{list.txt, <seq>/{%08d.jpg, groundtruth.txt, absence.label,
  cover.label}}``; visible = not absent and cover > 0. The test split has only the first box.
* TrackingNet:  ``root/TEST/{anno/<seq>.txt, frames/<seq>/<i>.jpg}`` (i from 0); first box only.
* OTB:          ``root/<seq>/{img/*.jpg, groundtruth_rect.txt}`` (comma, tab or space separated);
  sequences from ``root/list.txt`` when present, else every folder with a ``groundtruth_rect.txt``.
  Sequences whose annotation covers only part of the frames must be trimmed beforehand.
* UAV123:       ``root/data_seq/UAV123/<seq>/*.jpg`` and ``root/anno/UAV123/<seq>.txt`` (NaN rows =
  target absent). Each annotated sequence needs its own frame folder: the official release's
  sub-sequences (``bird1_1`` ...) share a folder and must be split out first.
* TNL2K:        ``root/<seq>/{imgs/*.jpg|png, groundtruth.txt, language.txt}``.
* synthetic:    the GOT-10k val layout directly under ``root`` (``list.txt``, ``<seq>/...``).
* photos:       the same layout (videos rendered from held-out real photographs, ``simtrack_hf.data.photos``).

Ground-truth shape is (N, 4) float64 where every frame is annotated and (1, 4) for test splits
(first frame only). Bad data raise ``ValueError`` naming the file (and line).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..io.frames import PathLike, list_image_files, natural_sort_key
from . import layouts

__all__ = [
    "BenchmarkSequence",
    "BENCHMARKS",
    "list_frames",
    "read_box_file",
    "read_lasot",
    "read_got10k",
    "read_synthetic",
    "read_trackingnet",
    "read_otb",
    "read_uav123",
    "read_tnl2k",
    "read_benchmark",
]

_SEP = re.compile(r"[,\s]+")


@dataclass
class BenchmarkSequence:
    """One video. ``frames``: N paths; ``ground_truth``: (N, 4) or, test splits, (1, 4) xywh
    float64 (NaN rows = unannotated); ``visible``: (N,) bool or None; ``language``: TNL2K / LaSOT text."""

    name: str
    frames: list[str]
    ground_truth: np.ndarray
    visible: np.ndarray | None
    dataset: str
    language: str | None = None

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def init_box(self) -> np.ndarray:
        """(4,) first-frame xywh box."""
        return self.ground_truth[0]

    @property
    def fully_annotated(self) -> bool:
        return len(self.ground_truth) == len(self.frames)


# ----------------------------------------------------------------------------- low-level parsing
def list_frames(folder: PathLike) -> list[str]:
    """Image files of ``folder`` in natural order; ValueError if missing or empty."""
    try:
        return [str(p) for p in list_image_files(folder)]
    except FileNotFoundError as error:
        raise ValueError(f"frame folder not found: {folder}") from error


def _numbered_lines(path: Path) -> list[tuple[int, str]]:
    if not path.is_file():
        raise ValueError(f"file not found: {path}")
    return [(i + 1, ln.strip()) for i, ln in enumerate(path.read_text().splitlines()) if ln.strip()]


def read_box_file(path: PathLike, *, allow_nan: bool = False, first_only: bool = False) -> np.ndarray:
    """Read one ``x,y,w,h`` box per line (comma / tab / space separated) -> (N, 4) float64.

    Blank lines are skipped. ValueError naming file and line for a wrong column count, a value that
    is not a number, or NaN when ``allow_nan`` is False. ``first_only`` reads just the first box.
    """
    path = Path(path)
    rows = _numbered_lines(path)
    if first_only:
        rows = rows[:1]
    if not rows:
        raise ValueError(f"{path}: no boxes")
    out = np.empty((len(rows), 4), np.float64)
    for k, (lineno, line) in enumerate(rows):
        parts = _SEP.split(line)
        if len(parts) != 4:
            raise ValueError(f"{path}, line {lineno}: expected 4 values (x, y, w, h), got {len(parts)}: {line!r}")
        try:
            out[k] = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"{path}, line {lineno}: not a number in {line!r}") from None
        if not allow_nan and np.isnan(out[k]).any():
            raise ValueError(f"{path}, line {lineno}: NaN is not allowed here: {line!r}")
    return out


def _read_ints(path: Path, n: int) -> np.ndarray:
    """Integer flags, any separators / lines (LaSOT one line, GOT-10k one per line) -> (n,)."""
    values = []
    for lineno, line in _numbered_lines(path):
        for tok in _SEP.split(line):
            try:
                values.append(int(float(tok)))
            except ValueError:
                raise ValueError(f"{path}, line {lineno}: not an integer: {tok!r}") from None
    if len(values) != n:
        raise ValueError(f"{path}: {len(values)} values for {n} frames")
    return np.asarray(values)


def _visibility(seq_dir: Path, gt: np.ndarray, rules: dict) -> np.ndarray | None:
    """(N,) visible flags from the label files of `rules` that exist in `seq_dir` (None when there are none)."""
    present = [(seq_dir / file, visible) for file, visible in rules.items() if (seq_dir / file).is_file()]
    if not present:
        return None
    flags = np.ones(len(gt), bool)
    for path, visible in present:
        flags &= visible(_read_ints(path, len(gt)))
    return flags


def _check_count(frames: list[str], gt: np.ndarray, gt_path: Path) -> None:
    if len(frames) != len(gt):
        raise ValueError(f"{gt_path}: {len(gt)} boxes but {len(frames)} frames in {Path(frames[0]).parent}")


def _read_list(path: Path) -> list[str]:
    return [ln for _, ln in _numbered_lines(path)]


def _subdirs(root: Path, must_contain: str) -> list[str]:
    if not root.is_dir():
        raise ValueError(f"benchmark folder not found: {root}")
    names = [e.name for e in os.scandir(root) if e.is_dir() and (Path(e.path) / must_contain).is_file()]
    if not names:
        raise ValueError(f"no sequences (folders with {must_contain}) in {root}")
    return sorted(names, key=natural_sort_key)


def _seq_dir(path: Path) -> Path:
    if not path.is_dir():
        raise ValueError(f"sequence folder not found: {path}")
    return path


# ----------------------------------------------------------------------------- readers
def read_lasot(root: PathLike, sequences: Sequence[str] | None = None) -> list[BenchmarkSequence]:
    """LaSOT (test split when ``root/testing_set.txt`` exists, else every sequence found)."""
    root = Path(root)
    if sequences is None:
        listing = root / "testing_set.txt"
        if listing.is_file():
            sequences = _read_list(listing)
        else:
            if not root.is_dir():
                raise ValueError(f"benchmark folder not found: {root}")
            sequences = layouts.lasot_names(root, require=layouts.GROUNDTRUTH)
            if not sequences:
                raise ValueError(f"no LaSOT sequences (<class>/<class>-<k>/groundtruth.txt) in {root}")
    out = []
    for name in sequences:
        d = _seq_dir(layouts.lasot_sequence_dir(root, name))
        frames = list_frames(d / layouts.LASOT_FRAME_DIR)
        gt = read_box_file(d / layouts.GROUNDTRUTH)
        _check_count(frames, gt, d / layouts.GROUNDTRUTH)
        visible = _visibility(d, gt, layouts.LASOT_VISIBILITY)
        nlp = d / "nlp.txt"
        language = nlp.read_text().strip() if nlp.is_file() else None
        out.append(BenchmarkSequence(name, frames, gt, visible, "lasot", language))
    return out


def _read_got10k_folder(folder: Path, dataset: str, first_frame_only: bool) -> list[BenchmarkSequence]:
    if not folder.is_dir():
        raise ValueError(f"benchmark folder not found: {folder}")
    names = layouts.got10k_names(folder, require=layouts.GROUNDTRUTH)
    if not names:
        raise ValueError(f"no sequences (folders with {layouts.GROUNDTRUTH}) in {folder}")
    out = []
    for name in names:
        d = _seq_dir(folder / name)
        frames = list_frames(d)
        gt = read_box_file(d / layouts.GROUNDTRUTH, first_only=first_frame_only)
        visible = None
        if not first_frame_only:
            _check_count(frames, gt, d / layouts.GROUNDTRUTH)
            visible = _visibility(d, gt, layouts.GOT10K_VISIBILITY)
        out.append(BenchmarkSequence(name, frames, gt, visible, dataset))
    return out


def read_got10k(root: PathLike, split: str = "val") -> list[BenchmarkSequence]:
    """GOT-10k ``val`` (full ground truth, visibility from the labels) or ``test`` (first box only)."""
    if split not in ("val", "test"):
        raise ValueError(f"GOT-10k split must be 'val' or 'test', got {split!r}")
    return _read_got10k_folder(Path(root) / split, f"got10k_{split}", first_frame_only=split == "test")


def read_synthetic(root: PathLike) -> list[BenchmarkSequence]:
    """A synthetic benchmark written in the GOT-10k val layout directly under ``root``."""
    return _read_got10k_folder(Path(root), "synthetic", first_frame_only=False)


def _annotated_sequences(anno: Path) -> list[str]:
    """Names of the ``<seq>.txt`` files in ``anno``, naturally sorted; ValueError when none."""
    if not anno.is_dir():
        raise ValueError(f"annotation folder not found: {anno}")
    names = layouts.annotation_names(anno)
    if not names:
        raise ValueError(f"no annotation files in {anno}")
    return names


def read_trackingnet(root: PathLike, sequences: Sequence[str] | None = None) -> list[BenchmarkSequence]:
    """TrackingNet TEST: ``root/TEST/anno/<seq>.txt`` (first box) and ``root/TEST/frames/<seq>/<i>.jpg``."""
    test = Path(root) / "TEST"
    anno = test / "anno"
    if sequences is None:
        sequences = _annotated_sequences(anno)
    return [
        BenchmarkSequence(
            name,
            list_frames(layouts.trackingnet_frame_dir(test, name)),
            read_box_file(anno / f"{name}.txt", first_only=True),
            None,
            "trackingnet",
        )
        for name in sequences
    ]


def read_otb(root: PathLike, sequences: Sequence[str] | None = None) -> list[BenchmarkSequence]:
    """OTB layout: ``root/<seq>/img/*.jpg`` + ``root/<seq>/groundtruth_rect.txt``."""
    root = Path(root)
    if sequences is None:
        listing = root / "list.txt"
        sequences = _read_list(listing) if listing.is_file() else _subdirs(root, "groundtruth_rect.txt")
    out = []
    for name in sequences:
        d = _seq_dir(root / name)
        frames = list_frames(d / "img")
        gt = read_box_file(d / "groundtruth_rect.txt")
        _check_count(frames, gt, d / "groundtruth_rect.txt")
        out.append(BenchmarkSequence(name, frames, gt, None, "otb"))
    return out


def read_uav123(root: PathLike, sequences: Sequence[str] | None = None, subset: str = "UAV123") -> list[BenchmarkSequence]:
    """UAV123 (or ``subset="UAV20L"``): NaN ground-truth rows are kept (target absent)."""
    root = Path(root)
    anno = root / "anno" / subset
    if sequences is None:
        sequences = _annotated_sequences(anno)
    out = []
    for name in sequences:
        frames = list_frames(root / "data_seq" / subset / name)
        gt = read_box_file(anno / f"{name}.txt", allow_nan=True)
        _check_count(frames, gt, anno / f"{name}.txt")
        if np.isnan(gt[0]).any():
            raise ValueError(f"{anno / f'{name}.txt'}, line 1: the first box must not be NaN")
        out.append(BenchmarkSequence(name, frames, gt, None, "uav"))
    return out


def read_tnl2k(root: PathLike, sequences: Sequence[str] | None = None) -> list[BenchmarkSequence]:
    """TNL2K: ``root/<seq>/{imgs/*, groundtruth.txt, language.txt}``."""
    root = Path(root)
    if sequences is None:
        sequences = _subdirs(root, "groundtruth.txt")
    out = []
    for name in sequences:
        d = _seq_dir(root / name)
        frames = list_frames(d / "imgs")
        gt = read_box_file(d / "groundtruth.txt")
        _check_count(frames, gt, d / "groundtruth.txt")
        lang = d / "language.txt"
        language = lang.read_text().strip() if lang.is_file() else None
        out.append(BenchmarkSequence(name, frames, gt, None, "tnl2k", language))
    return out


BENCHMARKS: dict[str, Callable[[PathLike], list[BenchmarkSequence]]] = {
    "lasot": read_lasot,
    "got10k_val": lambda root: read_got10k(root, "val"),
    "got10k_test": lambda root: read_got10k(root, "test"),
    "trackingnet": read_trackingnet,
    "otb": read_otb,
    "uav123": read_uav123,
    "tnl2k": read_tnl2k,
    "synthetic": read_synthetic,
    "photos": read_synthetic,
}


def read_benchmark(name: str, root: PathLike) -> list[BenchmarkSequence]:
    """``read_benchmark("lasot", "/data/LaSOT")``; names: keys of :data:`BENCHMARKS`."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; expected one of {sorted(BENCHMARKS)}")
    return BENCHMARKS[name](root)
