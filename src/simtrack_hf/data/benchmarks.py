"""Evaluation benchmarks, read strictly: one `read_<benchmark>` per layout, each -> `BenchmarkSequence`s (every
sequence through `simtrack_hf.data.layouts.read_sequence`, the reader training manifests use leniently).

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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..io.boxes import numbered_lines
from ..io.frames import PathLike, natural_sort_key
from . import layouts

__all__ = [
    "BenchmarkSequence",
    "BENCHMARKS",
    "read_lasot",
    "read_got10k",
    "read_synthetic",
    "read_trackingnet",
    "read_otb",
    "read_uav123",
    "read_tnl2k",
    "read_benchmark",
]

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


# ----------------------------------------------------------------------------- sequence lists
def _read_list(path: Path) -> list[str]:
    return [ln for _, ln in numbered_lines(path)]


def _subdirs(root: Path, must_contain: str) -> list[str]:
    if not root.is_dir():
        raise ValueError(f"benchmark folder not found: {root}")
    names = [e.name for e in os.scandir(root) if e.is_dir() and (Path(e.path) / must_contain).is_file()]
    if not names:
        raise ValueError(f"no sequences (folders with {must_contain}) in {root}")
    return sorted(names, key=natural_sort_key)


def _annotated_sequences(anno: Path) -> list[str]:
    """Names of the ``<seq>.txt`` files in ``anno``, naturally sorted; ValueError when none."""
    if not anno.is_dir():
        raise ValueError(f"annotation folder not found: {anno}")
    names = layouts.annotation_names(anno)
    if not names:
        raise ValueError(f"no annotation files in {anno}")
    return names


def _sequence(files: layouts.SequenceFiles, dataset: str, **options) -> BenchmarkSequence:
    """One sequence read strictly (`simtrack_hf.data.layouts.read_sequence`)."""
    record = layouts.read_sequence(files, strict=True, **options)
    return BenchmarkSequence(record.name, record.frames, record.boxes, record.visible, dataset, record.language)


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
    return [_sequence(layouts.lasot_sequence(root, name), "lasot") for name in sequences]


def _read_got10k_folder(folder: Path, dataset: str, first_frame_only: bool) -> list[BenchmarkSequence]:
    if not folder.is_dir():
        raise ValueError(f"benchmark folder not found: {folder}")
    names = layouts.got10k_names(folder, require=layouts.GROUNDTRUTH)
    if not names:
        raise ValueError(f"no sequences (folders with {layouts.GROUNDTRUTH}) in {folder}")
    return [_sequence(layouts.got10k_sequence(folder, name), dataset, first_only=first_frame_only) for name in names]


def read_got10k(root: PathLike, split: str = "val") -> list[BenchmarkSequence]:
    """GOT-10k ``val`` (full ground truth, visibility from the labels) or ``test`` (first box only)."""
    if split not in ("val", "test"):
        raise ValueError(f"GOT-10k split must be 'val' or 'test', got {split!r}")
    return _read_got10k_folder(Path(root) / split, f"got10k_{split}", first_frame_only=split == "test")


def read_synthetic(root: PathLike) -> list[BenchmarkSequence]:
    """A synthetic benchmark written in the GOT-10k val layout directly under ``root``."""
    return _read_got10k_folder(Path(root), "synthetic", first_frame_only=False)


def read_trackingnet(root: PathLike, sequences: Sequence[str] | None = None) -> list[BenchmarkSequence]:
    """TrackingNet TEST: ``root/TEST/anno/<seq>.txt`` (first box) and ``root/TEST/frames/<seq>/<i>.jpg``."""
    test = Path(root) / "TEST"
    if sequences is None:
        sequences = _annotated_sequences(test / "anno")
    return [_sequence(layouts.trackingnet_sequence(test, name), "trackingnet", first_only=True) for name in sequences]


def read_otb(root: PathLike, sequences: Sequence[str] | None = None) -> list[BenchmarkSequence]:
    """OTB layout: ``root/<seq>/img/*.jpg`` + ``root/<seq>/groundtruth_rect.txt``."""
    root = Path(root)
    if sequences is None:
        listing = root / "list.txt"
        sequences = _read_list(listing) if listing.is_file() else _subdirs(root, "groundtruth_rect.txt")
    return [_sequence(layouts.SequenceFiles(name, root / name, root / name / "img",
                                            root / name / "groundtruth_rect.txt"), "otb") for name in sequences]


def read_uav123(root: PathLike, sequences: Sequence[str] | None = None, subset: str = "UAV123") -> list[BenchmarkSequence]:
    """UAV123 (or ``subset="UAV20L"``): NaN ground-truth rows are kept (target absent)."""
    root = Path(root)
    anno = root / "anno" / subset
    if sequences is None:
        sequences = _annotated_sequences(anno)
    out = []
    for name in sequences:
        files = layouts.SequenceFiles(name, None, root / "data_seq" / subset / name, anno / f"{name}.txt")
        out.append(_sequence(files, "uav", allow_nan=True))
        if np.isnan(out[-1].init_box).any():
            raise ValueError(f"{files.groundtruth}, line 1: the first box must not be NaN")
    return out


def read_tnl2k(root: PathLike, sequences: Sequence[str] | None = None) -> list[BenchmarkSequence]:
    """TNL2K: ``root/<seq>/{imgs/*, groundtruth.txt, language.txt}``."""
    root = Path(root)
    if sequences is None:
        sequences = _subdirs(root, "groundtruth.txt")
    return [_sequence(layouts.SequenceFiles(name, root / name, root / name / "imgs", root / name / "groundtruth.txt",
                                            language="language.txt"), "tnl2k") for name in sequences]


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
