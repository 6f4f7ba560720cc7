"""Sequence manifests for tracking datasets, as ``datasets.Dataset`` (one row per sequence), read leniently
by `simtrack_hf.data.layouts.read_sequence` (the reader evaluation benchmarks use strictly).

Every builder returns a Dataset with :data:`MANIFEST_FEATURES`::

    dataset: string            sequence: string
    frame_paths: [string]      boxes: [[float32 x4]]  (x, y, w, h in pixels)
    visible: [bool]            width, height: int32   (from the first frame)

Supported layouts (``root`` is the folder named below):

* ``got10k``: ``root/<split>/<seq>/{%08d.jpg, groundtruth.txt, absence.label, cover.label}``
  (``root`` may also be the split folder). visible = not absence and cover > 0.
* ``lasot``: ``root/<class>/<class>-N/{img/%08d.jpg, groundtruth.txt, full_occlusion.txt,
  out_of_view.txt}``. visible = not occlusion and not out of view.
* ``trackingnet``: ``root/TRAIN_k/{anno/<seq>.txt, frames/<seq>/<i>.jpg}``, 0-based frames.
* ``coco``: ``root/annotations/instances_<split>.json`` + ``root/<split>/*.jpg``; one
  single-frame row per non-crowd object.
* ``folder``: custom data, ``root/<seq>/`` holds the frames (or ``img/``, ``frames/`` or
  ``images/`` sub-folders) plus ``groundtruth.txt`` and optionally ``visible.txt`` (1 =
  visible), ``absence.label`` or ``cover.label``.

In every layout a frame is also invisible when its box is not finite or has w <= 0 or h <= 0.
Bad sequences (no ground truth, missing frames, box/frame or label count mismatch, empty,
all boxes NaN, unreadable first frame) are dropped and reported in ONE
:class:`ManifestWarning` with counts per reason; a missing root raises ``FileNotFoundError``.

:func:`build_manifest` caches manifests with ``save_to_disk`` (the drop counts travel in the manifest's
``info.description``); :func:`load_sources` parses a ``--data`` string such as
``"got10k:/data/got10k:vottrain,lasot:/data/lasot:train:2"``, with the splits of `simtrack_hf.data.splits`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset, Features, Value, concatenate_datasets, load_from_disk
from datasets import Sequence as HFSequence

from ..io.boxes import read_box_file
from ..io.frames import IMAGE_EXTENSIONS, image_size, natural_sort_key
from . import layouts
from .cache import user_cache_dir
from .splits import SplitSelection, check_split, select_split

__all__ = [
    "BUILDERS",
    "DataSource",
    "MANIFEST_FEATURES",
    "ManifestWarning",
    "build_counts",
    "build_manifest",
    "coco_manifest",
    "concatenate_manifests",
    "default_cache_dir",
    "describe_source",
    "folder_manifest",
    "got10k_manifest",
    "lasot_manifest",
    "load_sources",
    "parse_sources",
    "source_ratios",
    "trackingnet_manifest",
    "validate_manifest",
]

logger = logging.getLogger(__name__)

MANIFEST_FEATURES = Features({
    "dataset": Value("string"),
    "sequence": Value("string"),
    "frame_paths": HFSequence(Value("string")),
    "boxes": HFSequence(HFSequence(Value("float32"), length=4)),
    "visible": HFSequence(Value("bool")),
    "width": Value("int32"),
    "height": Value("int32"),
})

_MANIFEST_VERSION = 1
_CHUNK_ROWS = 1000


class ManifestWarning(UserWarning):
    """Sequences were dropped or repaired while building or validating a manifest."""


# --------------------------------------------------------------------------- file helpers


def _require_dir(root: str | os.PathLike) -> Path:
    path = Path(os.path.abspath(os.path.expanduser(os.fspath(root))))
    if not path.is_dir():
        raise FileNotFoundError(f"dataset root {str(path)!r} does not exist or is not a directory")
    return path


def _read_names(spec: str | os.PathLike | Iterable[str]) -> list[str]:
    """Sequence names from an iterable of names or from a text file with one name per line."""
    if isinstance(spec, (str, os.PathLike)):
        return [ln.strip() for ln in Path(spec).read_text().splitlines() if ln.strip()]
    return [str(s) for s in spec]


# --------------------------------------------------------------------------- validation


def _check(frame_paths: Sequence[str], boxes: np.ndarray, visible: np.ndarray | None,
           exists: Callable[[str], bool] | None) -> tuple[str | None, np.ndarray, np.ndarray, int]:
    """Validate one sequence. Returns (drop reason or None, boxes, visible, repaired NaN frames).

    Frames whose box is not finite get a zero box and become invisible; w <= 0 or h <= 0
    frames become invisible.
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    n = len(frame_paths)
    vis = np.ones(len(boxes), bool) if visible is None else np.asarray(visible, bool)
    if n == 0 or len(boxes) == 0:
        return "empty_sequence", boxes, vis, 0
    if len(boxes) != n:
        return "box_count_mismatch", boxes, vis, 0
    if len(vis) != n:
        return "label_count_mismatch", boxes, vis, 0
    if exists is not None and not all(exists(p) for p in frame_paths):
        return "missing_frames", boxes, vis, 0
    finite = np.isfinite(boxes).all(axis=1)
    if not finite.any():
        return "nan_boxes", boxes, vis, 0
    boxes = np.where(finite[:, None], boxes, 0).astype(np.float32)
    vis = vis & finite & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
    return None, boxes, vis, int((~finite).sum())


def _report(name: str, total: int, dropped: Counter, notes: Counter) -> None:
    kept = total - sum(dropped.values())
    logger.info("%s manifest: %d of %d sequences kept", name, kept, total)
    if not dropped and not notes:
        return
    parts = []
    if dropped:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(dropped.items()))
        parts.append(f"dropped {sum(dropped.values())} of {total} sequences ({reasons})")
    if notes:
        parts.append("notes: " + ", ".join(f"{k}={v}" for k, v in sorted(notes.items())))
    warnings.warn(f"{name} manifest: " + "; ".join(parts), ManifestWarning, stacklevel=3)


def _to_dataset(rows: list[dict[str, Any]]) -> Dataset:
    cols = {k: [r[k] for r in rows] for k in MANIFEST_FEATURES}
    return Dataset.from_dict(cols, features=MANIFEST_FEATURES)


class _Collector:
    """Accumulates validated rows (in Arrow chunks) and drop/note counts for one build."""

    def __init__(self, dataset: str, check_files: bool = True) -> None:
        self.dataset = dataset
        self.listing = layouts.DirListing()
        self.exists = self.listing if check_files else None
        self.rows: list[dict[str, Any]] = []
        self.parts: list[Dataset] = []
        self.total = 0
        self.dropped: Counter = Counter()
        self.notes: Counter = Counter()

    def drop(self, reason: str) -> None:
        self.total += 1
        self.dropped[reason] += 1

    def add(self, sequence: str, frame_paths: Sequence[str], boxes: np.ndarray,
            visible_parts: Sequence[np.ndarray] = (), size: tuple[int, int] | None = None,
            reason: str | None = None, dataset: str | None = None) -> dict[str, Any] | None:
        """Validate and add one sequence (``visible_parts`` are ANDed per-frame flags).
        Returns the row, or None when it was dropped."""
        if reason is not None:
            return self.drop(reason)
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        visible = np.ones(len(boxes), bool)
        for part in visible_parts:
            if len(part) != len(boxes):
                return self.drop("label_count_mismatch")
            visible &= np.asarray(part, bool)
        reason, boxes, visible, n_nan = _check(frame_paths, boxes, visible, self.exists)
        if reason is None and size is None:
            try:
                size = image_size(frame_paths[0])
            except (OSError, ValueError):
                reason = "unreadable_frame"
        if reason is not None:
            return self.drop(reason)
        self.total += 1
        if n_nan:
            self.notes["nan_box_frames"] += n_nan
        row = {
            "dataset": dataset or self.dataset, "sequence": sequence, "frame_paths": list(frame_paths),
            "boxes": boxes.tolist(), "visible": visible.tolist(), "width": int(size[0]), "height": int(size[1]),
        }
        self.rows.append(row)
        if len(self.rows) >= _CHUNK_ROWS:
            self.parts.append(_to_dataset(self.rows))
            self.rows = []
        return row

    def finish(self) -> Dataset:
        """The manifest, its drop counts as JSON in ``info.description`` (`build_counts`); ValueError (with the
        drop reasons) when no sequence is usable."""
        _report(self.dataset, self.total, self.dropped, self.notes)
        if not self.rows and not self.parts:
            reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.dropped.items())) or "no sequences found"
            raise ValueError(f"{self.dataset}: no usable sequence ({reasons})")
        if self.rows or not self.parts:
            self.parts.append(_to_dataset(self.rows))
        ds = self.parts[0] if len(self.parts) == 1 else concatenate_datasets(self.parts)
        ds.info.description = json.dumps({"total": self.total, "dropped": dict(self.dropped)})
        return ds


def build_counts(ds: Dataset) -> dict[str, Any]:
    """``{"total": sequences read, "dropped": {reason: count}}`` of a built manifest ({} when unknown)."""
    try:
        return json.loads(ds.info.description or "{}")
    except ValueError:
        return {}


def validate_manifest(ds: Dataset, check_files: bool = True, name: str | None = None) -> Dataset:
    """Drop bad rows of an existing manifest (same rules as the builders), with ONE warning.

    Rows with missing frame files (when ``check_files``), box/frame/visible count mismatches,
    no frames or only non-finite boxes are dropped; non-finite boxes in other rows are zeroed
    and marked invisible. Returns ``ds`` itself when nothing changed.
    """
    col = _Collector(name or "validated", check_files=check_files)
    changed = False
    for row in ds:
        new = col.add(row["sequence"], row["frame_paths"], np.asarray(row["boxes"], np.float32).reshape(-1, 4),
                      [np.asarray(row["visible"], bool)], size=(row["width"], row["height"]), dataset=row["dataset"])
        changed = changed or new is None or new["visible"] != list(row["visible"])
    out = col.finish()
    return out if changed or col.notes else ds


# --------------------------------------------------------------------------- builders


def _add_sequence(col: "_Collector", files: layouts.SequenceFiles, name: str | None = None) -> None:
    """Read one sequence leniently (`simtrack_hf.data.layouts.read_sequence`) and add it; a missing label file
    leaves its frames visible (counted as ``missing_visibility_labels``)."""
    record = layouts.read_sequence(files, strict=False, listing=col.listing)
    if record.problem == "missing_groundtruth":
        col.drop(record.problem)
        return
    row = col.add(name or record.name, record.frames, record.boxes, record.visible_parts, reason=record.problem)
    if row is not None and record.missing_labels:
        col.notes["missing_visibility_labels"] += 1  # kept as visible


def got10k_manifest(root: str | os.PathLike, split: str = "train",
                    sequences: str | os.PathLike | Iterable[str] | None = None) -> Dataset:
    """GOT-10k manifest of ``root/<split>`` (or of ``root`` if it is the split folder).

    Sequences come from ``list.txt`` when present, otherwise from the sub-folders;
    ``sequences`` (names or a text file of names, e.g. a vot-train split) restricts them.
    Without ``absence.label``/``cover.label`` frames count as visible (noted in the warning).
    """
    root = _require_dir(root)
    split_dir = root / split if (root / split).is_dir() else root
    col = _Collector("got10k")
    names = _read_names(sequences) if sequences is not None else layouts.got10k_names(split_dir)
    for name in names:
        _add_sequence(col, layouts.got10k_sequence(split_dir, name))
    return col.finish()


def lasot_manifest(root: str | os.PathLike, sequences: str | os.PathLike | Iterable[str] | None = None) -> Dataset:
    """LaSOT manifest; ``sequences`` (names like ``"airplane-1"`` or a text file of names)
    selects a split, default every ``<class>/<class>-N`` folder."""
    root = _require_dir(root)
    col = _Collector("lasot")
    names = _read_names(sequences) if sequences is not None else layouts.lasot_names(root)
    for name in names:
        _add_sequence(col, layouts.lasot_sequence(root, name))
    return col.finish()


def trackingnet_manifest(root: str | os.PathLike, chunks: Iterable[int] | None = None) -> Dataset:
    """TrackingNet manifest over ``TRAIN_k`` chunks (default: every one present).

    Sequence names are ``"TRAIN_k/<seq>"``; frames are ``frames/<seq>/<i>.jpg`` from 0.
    """
    root = _require_dir(root)
    if chunks is None:
        chunk_dirs = sorted((p for p in root.iterdir() if p.is_dir() and re.fullmatch(r"TRAIN_\d+", p.name)),
                            key=lambda p: natural_sort_key(p.name))
    else:
        chunk_dirs = [root / f"TRAIN_{int(k)}" for k in chunks]
        for d in chunk_dirs:
            if not d.is_dir():
                raise FileNotFoundError(f"TrackingNet chunk folder {str(d)!r} does not exist")
    col = _Collector("trackingnet")
    for chunk in chunk_dirs:
        anno_dir = chunk / "anno"
        for name in layouts.annotation_names(anno_dir) if anno_dir.is_dir() else []:
            _add_sequence(col, layouts.trackingnet_sequence(chunk, name), name=f"{chunk.name}/{name}")
    return col.finish()


def coco_manifest(root: str | os.PathLike, split: str = "train2017", min_size: float = 4.0) -> Dataset:
    """COCO as single-frame sequences: one row per object of ``instances_<split>.json``.

    Crowd annotations and boxes with w or h below ``min_size`` pixels are skipped (counted
    as notes); width/height come from the annotation file. Sequence name: annotation id.
    """
    root = _require_dir(root)
    ann_file = root / "annotations" / f"instances_{split}.json"
    if not ann_file.is_file():
        raise FileNotFoundError(f"COCO annotation file {str(ann_file)!r} does not exist")
    data = json.loads(ann_file.read_text())
    images = {img["id"]: img for img in data.get("images", [])}
    col = _Collector("coco")
    for ann in data.get("annotations", []):
        if ann.get("iscrowd", 0):
            col.notes["skipped_crowd"] += 1
            continue
        box = np.asarray(ann.get("bbox", [np.nan] * 4), np.float32).reshape(-1)[:4]
        if box.size == 4 and np.isfinite(box).all() and min(box[2], box[3]) < min_size:
            col.notes["skipped_tiny"] += 1
            continue
        img = images.get(ann.get("image_id"))
        if img is None:
            col.drop("missing_image_entry")
            continue
        size = (int(img["width"]), int(img["height"])) if "width" in img and "height" in img else None
        col.add(str(ann["id"]), [str(root / split / img["file_name"])], box.reshape(1, -1), size=size)
    return col.finish()


def folder_manifest(root: str | os.PathLike, name: str = "custom") -> Dataset:
    """Custom folders: ``root/<seq>/`` (or ``root`` itself) with frames and ``groundtruth.txt``.

    Frames are the images in the folder, or in its ``img/``, ``frames/`` or ``images/``
    sub-folder, in natural order (``2.jpg`` before ``10.jpg``). Optional per-frame flags:
    ``visible.txt`` (1 = visible), ``absence.label`` (1 = absent), ``cover.label`` (0 = hidden).
    """
    root = _require_dir(root)
    col = _Collector(name)
    if (root / "groundtruth.txt").is_file():
        seq_dirs = [root]
    else:
        seq_dirs = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: natural_sort_key(p.name))
    for seq_dir in seq_dirs:
        gt = seq_dir / "groundtruth.txt"
        if not gt.is_file():
            col.drop("missing_groundtruth")
            continue
        frame_dir = seq_dir
        for sub in ("img", "frames", "images"):
            if not layouts.image_names(frame_dir, col.listing) and (seq_dir / sub).is_dir():
                frame_dir = seq_dir / sub
        frames = [str(frame_dir / f) for f in layouts.image_names(frame_dir, col.listing)]
        boxes = read_box_file(gt, strict=False)
        flags = [(layouts.read_flags(seq_dir / name, strict=False), good)
                 for name, good in (("visible.txt", 1), ("absence.label", 0), ("cover.label", None))]
        parts = [(f > 0) if good is None else (f == good) for f, good in flags if f is not None]
        reason = "missing_frames" if not frames and len(boxes) else None
        col.add(seq_dir.name, frames, boxes, parts, reason=reason)
    return col.finish()


BUILDERS: dict[str, Callable[..., Dataset]] = {
    "got10k": got10k_manifest,
    "lasot": lasot_manifest,
    "trackingnet": trackingnet_manifest,
    "coco": coco_manifest,
    "folder": folder_manifest,
}
_ALIASES = {"got-10k": "got10k", "got10k_vottrain": "got10k", "coco17": "coco", "coco2017": "coco",
            "custom": "folder", "tnet": "trackingnet"}
_ALIAS_SPLITS = {"got10k_vottrain": "vottrain"}  # the split an alias names when the entry names none


def _canonical_kind(kind: str, entry: str | None = None) -> str:
    k = kind.strip().lower()
    k = _ALIASES.get(k, k)
    if k not in BUILDERS:
        where = f"--data entry {entry!r}: " if entry else ""
        raise ValueError(f"{where}unknown dataset kind {kind!r}; choices: {', '.join(sorted(BUILDERS))} "
                         f"(aliases {', '.join(sorted(_ALIASES))})")
    return k


# --------------------------------------------------------------------------- cache


def default_cache_dir() -> Path:
    """`user_cache_dir` plus ``/manifests``."""
    return user_cache_dir() / "manifests"


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, (set, frozenset)):
        return sorted(map(str, obj))
    return list(obj) if isinstance(obj, tuple) else str(obj)


def _file_stamps(root: Path, cache_root: Path) -> tuple[list[list[Any]], str]:
    """(relative path, mtime, size) of every file under ``root`` that is not an image (boxes, flags, lists,
    annotations), and a hash of the relative paths of the images (frames added or deleted change it; images are
    not stat-ed, so the walk stays a listing); hidden entries and the cache folder excluded."""
    stamps, frames = [], hashlib.sha1()
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and Path(folder, d).absolute() != cache_root)
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = os.path.join(folder, name)
            if name.lower().endswith(IMAGE_EXTENSIONS):
                frames.update(os.path.relpath(path, root).encode() + b"\0")
            else:
                st = os.stat(path)
                stamps.append([os.path.relpath(path, root), st.st_mtime_ns, st.st_size])
    return stamps, frames.hexdigest()


def _cache_key(kind: str, root: Path, kwargs: Mapping[str, Any], cache_root: Path) -> str:
    """Hash of kind, absolute root, kwargs, the path, mtime and size of every label file under the root and the
    frame files present (see `_file_stamps`), and of list files passed in ``kwargs``: editing any annotation, or
    adding or deleting frames, rebuilds."""
    stamps, frames = _file_stamps(root, cache_root.absolute())
    for v in kwargs.values():  # list files passed as ``sequences=``
        if isinstance(v, (str, os.PathLike)) and os.path.isfile(v):
            st = os.stat(v)
            stamps.append([os.path.abspath(v), st.st_mtime_ns, st.st_size])
    blob = json.dumps({"v": _MANIFEST_VERSION, "kind": kind, "root": str(root), "kwargs": kwargs,
                       "stamps": stamps, "frames": frames}, sort_keys=True, default=_jsonable)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def build_manifest(kind: str, root: str | os.PathLike, cache_dir: str | os.PathLike | None = None,
                   rebuild: bool = False, **kwargs: Any) -> Dataset:
    """Build (or load from cache) the manifest of ``kind`` at ``root``.

    The cache entry ``<cache_dir>/<kind>-<key>`` (default :func:`default_cache_dir`) is keyed by kind, absolute
    root, ``kwargs``, every label file's mtime and size and the frame files present, so a second call loads it
    memory-mapped without re-reading labels. ``rebuild=True`` forces a rebuild. Writes are atomic
    (temporary folder + rename), so concurrent ranks may race safely.
    """
    kind = _canonical_kind(kind)
    root = _require_dir(root)
    kwargs = {k: (list(v) if isinstance(v, (tuple, range)) else v) for k, v in kwargs.items()}
    cache_root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    entry = cache_root / f"{kind}-{_cache_key(kind, root, kwargs, cache_root)}"
    if entry.is_dir() and not rebuild:
        try:
            return load_from_disk(str(entry))
        except Exception as err:  # corrupt entry: rebuild it
            logger.warning("manifest cache %s unreadable (%s); rebuilding", entry, err)
            rebuild = True
    ds = BUILDERS[kind](root, **kwargs)
    cache_root.mkdir(parents=True, exist_ok=True)
    tmp = cache_root / f".{entry.name}.tmp-{uuid.uuid4().hex}"
    ds.save_to_disk(str(tmp))
    (tmp / "simtrack_manifest.json").write_text(json.dumps(
        {"kind": kind, "root": str(root), "kwargs": kwargs}, default=str, indent=1))
    if entry.is_dir() and rebuild:
        shutil.rmtree(entry, ignore_errors=True)
    try:
        os.replace(tmp, entry)
    except OSError:  # another process finished first: keep its entry
        shutil.rmtree(tmp, ignore_errors=True)
    return load_from_disk(str(entry))


# --------------------------------------------------------------------------- --data strings


@dataclass(frozen=True)
class DataSource:
    """One entry of a ``--data`` string: builder ``kind``, ``root`` folder, sampling ``ratio``, a unique ``name``
    (the kind, suffixed ``_2``, ``_3``... when repeated), the ``split`` named (None: the source's default, see
    `simtrack_hf.data.splits`) and the ``entry`` text (for messages)."""

    kind: str
    root: str
    ratio: float = 1.0
    name: str = ""
    split: str | None = None
    entry: str = ""


def parse_sources(spec: str) -> list[DataSource]:
    """Parse ``"KIND:PATH[:SPLIT][:RATIO],..."``, checking kinds and splits (no file is read).

    KIND is one of :data:`BUILDERS` (or an alias such as ``coco17``, ``custom``; ``got10k_vottrain`` names split
    vottrain); PATH is everything after the first colon, minus a trailing ``:RATIO`` that parses as a positive
    number (default 1) and a trailing ``:SPLIT``, a plain word (``train``, ``vottrain``, ``votval``...: the
    choices of `simtrack_hf.data.splits.SPLITS`). Example: ``"got10k:/data/got10k:vottrain,lasot:/data/lasot:2"``
    takes GOT-10k's vottrain split and samples LaSOT (its default train split) twice as often. Paths may not
    contain commas nor end in ``:WORD``. An unknown kind or split raises `ValueError` naming the entry and the
    choices.
    """
    sources: list[DataSource] = []
    seen: Counter = Counter()
    for entry in (e.strip() for e in spec.split(",")):
        if not entry:
            continue
        kind_text, sep, rest = entry.partition(":")
        if not sep or not rest:
            raise ValueError(f"bad data source {entry!r}; expected KIND:PATH[:SPLIT][:RATIO]")
        kind = _canonical_kind(kind_text, entry)
        ratio = 1.0
        head, sep, tail = rest.rpartition(":")
        if sep and head and re.fullmatch(r"\d+(\.\d*)?|\.\d+", tail.strip()):
            rest, ratio = head, float(tail)
            if ratio <= 0:
                raise ValueError(f"ratio must be positive in {entry!r}")
        split = _ALIAS_SPLITS.get(kind_text.strip().lower())
        head, sep, tail = rest.rpartition(":")
        if sep and head and re.fullmatch(r"[A-Za-z]\w*", tail.strip()):
            rest, split = head, tail.strip()
        check_split(kind, split, entry)
        seen[kind] += 1
        name = kind if seen[kind] == 1 else f"{kind}_{seen[kind]}"
        sources.append(DataSource(kind, rest, ratio, name, split, entry))
    if not sources:
        raise ValueError(f"no data sources in {spec!r}")
    return sources


def source_ratios(spec: str | Sequence[DataSource]) -> dict[str, float]:
    """``{name: ratio}`` of a ``--data`` string (see :func:`parse_sources`)."""
    sources = parse_sources(spec) if isinstance(spec, str) else spec
    return {s.name: s.ratio for s in sources}


def describe_source(source: DataSource, selection: SplitSelection, manifest: Dataset) -> str:
    """The line that says what a source gives: its split, sequences kept of those found, dropped by reason
    (``not_in_split`` and the builder's reasons) and the split's sequences the folder lacks."""
    counts = build_counts(manifest)
    dropped = Counter({"not_in_split": selection.not_in_split}) + Counter(counts.get("dropped", {}))
    found = selection.in_folder if selection.in_folder is not None else counts.get("total", len(manifest))
    line = f"{source.name} ({selection.describe()}) from {source.root}: kept {len(manifest)} of {found}"
    line += "; dropped " + (", ".join(f"{k}={v}" for k, v in sorted(dropped.items())) if dropped else "none")
    if selection.missing:
        shown = ", ".join(selection.missing[:5]) + (", ..." if len(selection.missing) > 5 else "")
        line += f"; {len(selection.missing)} sequences of the split are missing from the folder ({shown})"
    return line


def load_sources(spec: str | Sequence[DataSource], cache_dir: str | os.PathLike | None = None,
                 rebuild: bool = False, builder_kwargs: Mapping[str, Mapping[str, Any]] | None = None
                 ) -> dict[str, Dataset]:
    """``{name: manifest}`` for a ``--data`` string (syntax in :func:`parse_sources`), each
    built through the cache of :func:`build_manifest` from the sequences of its split. Every entry's folder and
    split are checked (from folder listings) before any source is read; each source then logs the line of
    :func:`describe_source` (a warning when the split names sequences the folder lacks). ``builder_kwargs`` maps a
    source name or kind to extra builder arguments. Ratios come from :func:`source_ratios`."""
    sources = parse_sources(spec) if isinstance(spec, str) else list(spec)
    builder_kwargs = builder_kwargs or {}
    selections = [select_split(s.kind, _require_dir(s.root), s.split, s.entry or s.name) for s in sources]
    out: dict[str, Dataset] = {}
    for s, selection in zip(sources, selections):
        kw = {**selection.builder_kwargs, **builder_kwargs.get(s.name, builder_kwargs.get(s.kind, {}))}
        out[s.name] = build_manifest(s.kind, s.root, cache_dir=cache_dir, rebuild=rebuild, **kw)
        logger.log(logging.WARNING if selection.missing else logging.INFO,
                   describe_source(s, selection, out[s.name]))
    return out


def concatenate_manifests(manifests: Mapping[str, Dataset] | Iterable[Dataset]) -> Dataset:
    """One manifest from several (rows keep their ``dataset`` column)."""
    parts = list(manifests.values()) if isinstance(manifests, Mapping) else list(manifests)
    if not parts:
        return _to_dataset([])
    return parts[0] if len(parts) == 1 else concatenate_datasets(parts)
