"""Template/search training pairs drawn from sequence manifests (STARK "causal" sampler + processing).

One item is a dict of float32 tensors::

    template_pixel_values (3, T, T)   normalised template crop
    search_pixel_values   (3, S, S)   normalised search crop
    template_boxes        (4,)        target in the template crop, normalised (x, y, w, h)
    labels                (4,)        target in the search crop, normalised (cx, cy, w, h), clipped to the crop

Determinism: item ``index`` is drawn with ``numpy.random.default_rng([seed, epoch, index % samples_per_epoch])``,
where ``epoch = set_epoch value * num_epochs + index // samples_per_epoch``. The dataset therefore has the
*virtual length* ``samples_per_epoch * num_epochs``: one Trainer pass over it sees ``num_epochs`` different
"epochs" of pairs, without relying on an epoch counter reaching DataLoader workers (persistent workers hold
copies of the dataset). Ranks of a distributed run get different indices from their sampler, so they draw
different pairs, and a resumed run draws exactly the pairs of the uninterrupted one.

Sampling (STARK's causal sampler): pick a manifest by ratio, then a sequence with >= ``min_frames`` frames and
>= ``min_visible`` usable frames (single-image manifests such as COCO are exempt: template = search image);
template = usable frame in [0, n-1) that has a usable frame after it; search = usable frame in
[t+1, t+max_gap+g), g growing by 5 until one exists. Processing (STARK's): joint grayscale and horizontal flip,
search jitter (scale exp(N(0,1)·0.5), centre ±sqrt(wh)·3.5/2), crops with the image processor's
``sample_target``, rejection of all-padding crops, per-frame brightness and horizontal flip, ImageNet
normalisation. Unreadable frames and rejected crops are counted in ``stats`` and redrawn.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

from ..image_processing_simtrack import SimTrackImageProcessor
from ..io.frames import read_image

__all__ = ["TrackingPairDataset", "collate_pairs"]

logger = logging.getLogger(__name__)

PAIR_KEYS = ("template_pixel_values", "search_pixel_values", "template_boxes", "labels")


def collate_pairs(items: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack items into a batch: (B, 3, T, T), (B, 3, S, S), (B, 4), (B, 4)."""
    return {key: torch.stack([item[key] for item in items]) for key in PAIR_KEYS}


def _usable(boxes: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Visible frames with a finite box of positive size."""
    return visible & np.isfinite(boxes).all(1) & (np.nan_to_num(boxes[:, 2]) > 0) & (np.nan_to_num(boxes[:, 3]) > 0)


@dataclass
class _Source:
    name: str
    manifest: Any  # datasets.Dataset (or any sequence of manifest rows)
    rows: np.ndarray  # eligible row indices
    single_image: bool


class TrackingPairDataset(TorchDataset):
    """Map-style dataset of training pairs over one or more manifests (see the module docstring).

    Args:
        manifests: ``{name: manifest}`` (e.g. from :func:`simtrack_hf.data.manifests.load_sources`), a list of manifests,
            or one manifest. A manifest is a ``datasets.Dataset`` with the columns of ``MANIFEST_FEATURES`` (or a
            list of row dicts with ``frame_paths``, ``boxes`` and ``visible``).
        processor: supplies the crop function, crop sizes, factors and normalisation.
        ratios: sampling weight per manifest (mapping by name, or a sequence); default equal.
        samples_per_epoch: pairs per epoch (60000 in the reference).
        num_epochs: epochs folded into the virtual length.
        seed: base seed of the per-item generators.
        max_gap: initial search window after the template frame (``MAX_SAMPLE_INTERVAL``).
        min_frames, min_visible: sequence eligibility (single-image manifests exempt).
        template_jitter, search_jitter: (scale, centre) jitter factors.
        grayscale_prob, joint_flip_prob: joint transforms; flip_prob, brightness_jitter: per frame.
        mask_stride: padding check on the crop mask sampled every ``mask_stride`` pixels (16 in the reference).
        max_attempts: redraws per item before giving up with a ``RuntimeError``.
        opencv_threads: ``cv2.setNumThreads`` value set here, in the parent process (default 1; None leaves it).
            OpenCV's thread pool does not survive ``fork``: forked DataLoader workers that inherit a used pool
            can deadlock or crawl, and it only competes with the training threads anyway.
    """

    def __init__(
        self,
        manifests: Mapping[str, Any] | Sequence[Any] | Any,
        processor: SimTrackImageProcessor,
        ratios: Mapping[str, float] | Sequence[float] | None = None,
        samples_per_epoch: int = 60000,
        num_epochs: int = 1,
        seed: int = 0,
        max_gap: int = 200,
        min_frames: int = 20,
        min_visible: int = 5,
        template_jitter: tuple[float, float] = (0.0, 0.0),
        search_jitter: tuple[float, float] = (0.5, 3.5),
        grayscale_prob: float = 0.05,
        joint_flip_prob: float = 0.5,
        flip_prob: float = 0.5,
        brightness_jitter: float = 0.2,
        mask_stride: int = 16,
        max_attempts: int = 100,
        opencv_threads: int | None = 1,
    ) -> None:
        if opencv_threads is not None:
            cv2.setNumThreads(opencv_threads)
        if isinstance(manifests, Mapping):
            named = list(manifests.items())
        elif isinstance(manifests, (list, tuple)) and not (manifests and isinstance(manifests[0], Mapping)):
            named = [(f"source_{i}", m) for i, m in enumerate(manifests)]
        else:
            named = [("source_0", manifests)]
        if isinstance(ratios, Mapping):
            weights = [float(ratios.get(name, 1.0)) for name, _ in named]
        elif ratios is not None:
            weights = [float(r) for r in ratios]
            if len(weights) != len(named):
                raise ValueError(f"{len(weights)} ratios for {len(named)} manifests")
        else:
            weights = [1.0] * len(named)
        if samples_per_epoch < 1 or num_epochs < 1:
            raise ValueError("samples_per_epoch and num_epochs must be >= 1")
        self.processor = processor
        self.samples_per_epoch = int(samples_per_epoch)
        self.num_epochs = int(num_epochs)
        self.seed = int(seed)
        self.epoch = 0
        self.max_gap = int(max_gap)
        self.min_frames = int(min_frames)
        self.min_visible = int(min_visible)
        self.template_jitter = tuple(float(v) for v in template_jitter)
        self.search_jitter = tuple(float(v) for v in search_jitter)
        self.grayscale_prob = float(grayscale_prob)
        self.joint_flip_prob = float(joint_flip_prob)
        self.flip_prob = float(flip_prob)
        self.brightness_jitter = float(brightness_jitter)
        self.mask_stride = int(mask_stride)
        self.max_attempts = int(max_attempts)
        self.stats: Counter = Counter()  # per process (workers count their own copies)
        self._warned: set[str] = set()

        self.sources: list[_Source] = []
        kept: list[float] = []
        for (name, manifest), weight in zip(named, weights):
            if weight <= 0:
                continue
            source = self._index_manifest(name, manifest)
            if len(source.rows) == 0:
                logger.warning("manifest %r has no sequence eligible for pair sampling; skipped", name)
                continue
            self.sources.append(source)
            kept.append(weight)
        if not self.sources:
            raise ValueError("no manifest has a sequence eligible for pair sampling")
        self.probabilities = np.asarray(kept) / sum(kept)

    # ------------------------------------------------------------------------------------------- indexing
    def _index_manifest(self, name: str, manifest: Any) -> _Source:
        """Rows eligible for sampling; a manifest whose rows all hold one frame is a single-image source."""
        rows, lengths = [], []
        for i, (boxes, visible) in enumerate(_iter_boxes(manifest)):
            usable = _usable(np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(visible, bool))
            lengths.append(len(usable))
            rows.append((i, usable))
        single_image = len(lengths) > 0 and max(lengths) == 1
        if single_image:
            rows = [i for i, usable in rows if usable[0]]
        else:
            need = max(self.min_visible, 2)
            rows = [i for i, usable in rows if len(usable) >= self.min_frames and int(usable.sum()) >= need]
        return _Source(name, manifest, np.asarray(rows, np.int64), single_image)

    def __len__(self) -> int:
        return self.samples_per_epoch * self.num_epochs

    def set_epoch(self, epoch: int) -> None:
        """Shift to the next block of ``num_epochs`` epochs (for manual loops without persistent workers)."""
        self.epoch = int(epoch)

    def generator(self, index: int) -> np.random.Generator:
        """The generator of item ``index``: seeded from (seed, epoch, index within the epoch)."""
        epoch = self.epoch * self.num_epochs + index // self.samples_per_epoch
        return np.random.default_rng([self.seed, epoch, index % self.samples_per_epoch])

    # ------------------------------------------------------------------------------------------- sampling
    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} pairs")
        rng = self.generator(int(index))
        for _ in range(self.max_attempts):
            item = self._draw(rng)
            if item is not None:
                return item
        raise RuntimeError(
            f"no valid pair after {self.max_attempts} attempts for index {index} "
            f"(counts in this process: {dict(self.stats)}); check the data"
        )

    def _sample_frames(self, usable: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
        """Causal pair: template t, then search in [t+1, t+max_gap+g) with g growing by 5."""
        ids = np.flatnonzero(usable)
        template_ids = ids[ids < ids[-1]]  # frames in [0, n-1) with a usable frame after them
        t = int(template_ids[rng.integers(len(template_ids))])
        gap = 0
        while True:
            window = ids[(ids > t) & (ids < t + self.max_gap + gap)]
            if len(window):
                return t, int(window[rng.integers(len(window))])
            gap += 5

    def _load(self, path: str) -> np.ndarray | None:
        """RGB frame, or None (counted, warned once) when the file is missing or corrupt."""
        try:
            return read_image(Path(path))
        except (OSError, ValueError):
            self.stats["bad_frames"] += 1
            if path not in self._warned and len(self._warned) < 100:
                self._warned.add(path)
                logger.warning("unreadable frame %s skipped (pair redrawn)", path)
            return None

    def _draw(self, rng: np.random.Generator) -> dict[str, torch.Tensor] | None:
        """One attempt: a pair, or None (bad frame / rejected crop) so the caller redraws."""
        source = self.sources[int(rng.choice(len(self.sources), p=self.probabilities))]
        row = source.manifest[int(source.rows[rng.integers(len(source.rows))])]
        boxes = np.asarray(row["boxes"], np.float64).reshape(-1, 4)
        usable = _usable(boxes, np.asarray(row["visible"], bool))
        t, s = (0, 0) if source.single_image else self._sample_frames(usable, rng)
        template = self._load(row["frame_paths"][t])
        if template is None:
            return None
        search = template if s == t else self._load(row["frame_paths"][s])
        if search is None:
            return None
        template_box, search_box = boxes[t].copy(), boxes[s].copy()

        # joint transforms: one roll for both frames
        if rng.random() < self.grayscale_prob:
            template, search = (np.repeat(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)[..., None], 3, 2)
                                for im in (template, search))
        if rng.random() < self.joint_flip_prob:
            template, search = template[:, ::-1], search[:, ::-1]
            template_box[0] = template.shape[1] - template_box[0] - template_box[2]
            search_box[0] = search.shape[1] - search_box[0] - search_box[2]

        p = self.processor
        t_out = self._crop(template, template_box, self.template_jitter, p.template_factor, p.template_size, rng)
        s_out = self._crop(search, search_box, self.search_jitter, p.search_factor, p.search_size, rng)
        if t_out is None or s_out is None:
            self.stats["rejected_crops"] += 1
            return None
        template_pixels, template_xywh = self._per_frame(*t_out, rng)
        search_pixels, search_xywh = self._per_frame(*s_out, rng)
        x1, y1 = np.clip(search_xywh[:2], 0.0, 1.0)
        x2, y2 = np.clip(search_xywh[:2] + search_xywh[2:], 0.0, 1.0)
        if x2 - x1 <= 1e-4 or y2 - y1 <= 1e-4:  # target outside the search crop
            self.stats["rejected_crops"] += 1
            return None
        self.stats["pairs"] += 1
        return {
            "template_pixel_values": template_pixels,
            "search_pixel_values": search_pixels,
            "template_boxes": torch.tensor(template_xywh, dtype=torch.float32),
            "labels": torch.tensor([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], dtype=torch.float32),
        }

    def _crop(
        self, image: np.ndarray, box: np.ndarray, jitter: tuple[float, float], factor: float, size: int,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Jitter ``box`` (xywh px), crop around it; return (crop uint8, GT box normalised xywh in the crop)."""
        scale_jitter, centre_jitter = jitter
        wh = box[2:] * np.exp(rng.standard_normal(2) * scale_jitter)
        centre = box[:2] + 0.5 * box[2:] + (rng.random(2) - 0.5) * math.sqrt(wh[0] * wh[1]) * centre_jitter
        jittered = np.concatenate([centre - 0.5 * wh, wh])
        if not np.isfinite(jittered).all() or (wh <= 0).any():
            return None
        try:
            crop, resize_factor = self.processor.sample_target(np.ascontiguousarray(image), jittered, factor, size)
            ones = np.broadcast_to(np.uint8(255), image.shape[:2])  # the same crop of an all-valid mask
            valid, _ = self.processor.sample_target(ones, jittered, factor, size)
        except ValueError:  # crop side < 1 or no overlap with the image
            return None
        padding = valid < 255
        cells = max(size // self.mask_stride, 1)  # nearest downsampling to size / stride, as F.interpolate
        grid = np.floor(np.arange(cells) * size / cells).astype(int)
        if padding.all() or padding[np.ix_(grid, grid)].all():
            return None
        # transform_image_to_crop: centre (S-1)/2 + (gt_c - jitter_c) * rf, size * rf, normalised by S
        out_wh = box[2:] * resize_factor
        out_centre = (size - 1) / 2 + (box[:2] + 0.5 * box[2:] - centre) * resize_factor
        return crop, np.concatenate([out_centre - 0.5 * out_wh, out_wh]) / size

    def _per_frame(
        self, crop: np.ndarray, box: np.ndarray, rng: np.random.Generator
    ) -> tuple[torch.Tensor, np.ndarray]:
        """Brightness x U(1-b, 1+b) (clamped), horizontal flip, normalisation -> ((3, H, W), box xywh)."""
        b = self.brightness_jitter
        image = np.clip(crop.astype(np.float32) * rng.uniform(max(0.0, 1 - b), 1 + b), 0, 255)
        box = box.copy()
        if rng.random() < self.flip_prob:
            image = image[:, ::-1]
            box[0] = 1.0 - box[0] - box[2]
        return self.processor.normalize_crops(np.ascontiguousarray(image)[None])[0], box


def _iter_boxes(manifest: Any) -> Iterator[tuple[Any, Any]]:
    """(boxes, visible) of every row, reading only those two columns of a ``datasets.Dataset``."""
    if hasattr(manifest, "select_columns"):
        for batch in manifest.select_columns(["boxes", "visible"]).iter(batch_size=1000):
            yield from zip(batch["boxes"], batch["visible"])
    else:
        for row in manifest:
            yield row["boxes"], row["visible"]
