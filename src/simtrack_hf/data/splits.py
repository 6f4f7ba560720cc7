"""Training splits of the tracking datasets, as the original recipe (SimTrack / STARK / pytracking) uses them.

The split lists ship in ``splits/`` beside this module (one entry per line):

| source | split | sequences |
|---|---|---|
| ``lasot`` | ``train`` (default) | the 1120 names of ``lasot_train_split.txt``; the usual download keeps the 280 test sequences in the same class folders, and they are never taken |
| ``got10k`` | ``train`` (default) | every sequence of ``train/`` (9335): GOT-10k's one-shot protocol |
| ``got10k`` | ``vottrain`` | 7086 (the paper's ``GOT10K_vottrain``): ``got10k_vot_train_split.txt``, 0-based indices into the sorted ``train/`` list |
| ``got10k`` | ``votval`` | 1249 (``GOT10K_votval``): ``got10k_vot_val_split.txt``, same indexing, disjoint from vottrain |
| ``trackingnet`` | ``train`` (default) | every ``TRAIN_k`` chunk |
| ``coco`` | ``train2017`` (default) | the objects of ``annotations/instances_train2017.json`` |

The GOT-10k indices refer to the ``train/`` list exactly as the original reads it (``list.txt``, else the sorted
sub-folders). :func:`select_split` turns (source, folder, split) into the sequences to read, before any frame or
label is read: an index beyond the folder, or a GOT-10k folder of real sequence names that is not the complete
``train/`` set (9335), is a `ValueError`; sequences a name list holds but the folder lacks are counted and
returned, never silently skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from . import layouts

__all__ = ["DEFAULT_SPLITS", "SPLITS", "SplitSelection", "check_split", "read_split_file", "select_split"]

# source -> split -> its list file (None: every sequence of the folder)
SPLITS: dict[str, dict[str, str | None]] = {
    "lasot": {"train": "lasot_train_split.txt"},
    "got10k": {"train": None, "vottrain": "got10k_vot_train_split.txt", "votval": "got10k_vot_val_split.txt"},
    "trackingnet": {"train": None},
    "coco": {"train2017": None},
}
DEFAULT_SPLITS = {"lasot": "train", "got10k": "train", "trackingnet": "train", "coco": "train2017"}
_GOT10K_NAME = re.compile(r"GOT-10k_Train_\d{6}")
GOT10K_TRAIN_SEQUENCES = 9335


def read_split_file(name: str) -> list[str]:
    """The non-empty lines of a shipped split file (``splits/<name>``)."""
    text = resources.files(__package__).joinpath("splits", name).read_text()
    return [line.strip() for line in text.splitlines() if line.strip()]


def check_split(kind: str, split: str | None, entry: str) -> str | None:
    """The split to use for source `kind` (the default when `split` is None; None for a source without splits).
    Raises `ValueError` naming `entry` and the choices when `kind` has no split `split`."""
    choices = SPLITS.get(kind, {})
    if split is None:
        return DEFAULT_SPLITS.get(kind)
    if split not in choices:
        offered = ", ".join(choices) if choices else "none: name no split"
        raise ValueError(f"--data entry {entry!r}: {kind} has no split {split!r} (choices: {offered})")
    return split


@dataclass(frozen=True)
class SplitSelection:
    """What a split takes from a folder: `builder_kwargs` for the manifest builder (the sequences to read),
    `in_folder` sequences found, `not_in_split` of them left out, and `missing`: names of the split the folder
    lacks."""

    split: str | None
    default: bool
    builder_kwargs: dict[str, Any] = field(default_factory=dict)
    in_folder: int | None = None
    not_in_split: int = 0
    missing: tuple[str, ...] = ()

    def describe(self) -> str:
        """`split train (the default)`, `split vottrain` or `no split`."""
        if self.split is None:
            return "no split"
        return f"split {self.split}" + (" (the default)" if self.default else "")


def _got10k_indices(name: str, entry: str) -> list[int]:
    try:
        return [int(line) for line in read_split_file(name)]
    except ValueError:
        raise ValueError(f"--data entry {entry!r}: split file {name} holds a line that is not an index") from None


def select_split(kind: str, root: str | Path, split: str | None, entry: str) -> SplitSelection:
    """The sequences split `split` (None: the default) takes from the folder `root` of source `kind`, from folder
    listings only. Raises `ValueError` (naming `entry`) for an unknown split, an index beyond the folder, or a
    folder of GOT-10k sequence names that is not the complete ``train/`` list the indices refer to."""
    chosen = check_split(kind, split, entry)
    default = split is None and chosen is not None
    root = Path(root)
    if kind == "coco":
        return SplitSelection(chosen, default, {"split": chosen})
    list_file = SPLITS.get(kind, {}).get(chosen) if chosen else None
    if list_file is None:
        return SplitSelection(chosen, default)
    if kind == "lasot":
        present = layouts.lasot_names(root)
        wanted = read_split_file(list_file)
        have = set(present)
        taken = [name for name in wanted if name in have]
        return SplitSelection(chosen, default, {"sequences": taken}, len(present), len(present) - len(taken),
                              tuple(name for name in wanted if name not in have))
    folder = root / "train" if (root / "train").is_dir() else root
    names = layouts.got10k_names(folder)
    indices = _got10k_indices(list_file, entry)
    if max(indices) >= len(names):
        raise ValueError(f"--data entry {entry!r}: split {chosen} indexes sequence {max(indices)} (0-based) but "
                         f"{folder} holds {len(names)}; it needs the complete GOT-10k train/ folder (9335)")
    if len(names) != GOT10K_TRAIN_SEQUENCES and all(_GOT10K_NAME.fullmatch(name) for name in names):
        raise ValueError(f"--data entry {entry!r}: {folder} lists {len(names)} GOT-10k sequences; split {chosen} "
                         f"indexes the complete train/ list ({GOT10K_TRAIN_SEQUENCES}), so a partial one would shift "
                         "every index")
    taken = [names[i] for i in indices]
    return SplitSelection(chosen, default, {"sequences": taken}, len(names), len(names) - len(set(taken)))
