"""Deterministic synthetic single-object tracking videos.

Each sequence shows a textured rectangular target (stripes, checker or blob
noise in two random colours) that moves smoothly and changes scale and aspect
ratio over a slowly panning textured background. One to three distractors with
a similar texture and palette move behind the target, and with probability
``occlusion_prob`` an occluder passes in front of it.

The ground-truth box is the integer pixel extent of the target rectangle,
clipped to the frame, *before* occlusion (what GOT-10k annotates). Everything
derives from the seed, so the same seed gives byte-identical frames and files.

``write_got10k_dataset`` writes the GOT-10k training layout
(``root/<split>/GOT-10k_Train_000001/{00000001.jpg, groundtruth.txt,
absence.label, cover.label, cut_by_image.label}`` plus ``list.txt``), which
:func:`simtrack_hf.data.manifests.got10k_manifest` reads back.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

__all__ = [
    "SyntheticSequence",
    "cover_level",
    "make_sequence",
    "render_sequence",
    "write_got10k_dataset",
    "write_sequence_folder",
]

_PAN_MARGIN = 16  # background is this much larger on each side, for camera pan


class SyntheticSequence(NamedTuple):
    """A rendered sequence: ``frames`` (N,H,W,3) uint8 RGB, ``boxes`` (N,4) float32 xywh,
    ``visible`` (N,) bool, ``visible_ratio`` (N,) float32 in [0,1] (share of the box not
    covered by the occluder) and ``cut_by_image`` (N,) bool (target rectangle truncated
    by the frame border)."""

    frames: np.ndarray
    boxes: np.ndarray
    visible: np.ndarray
    visible_ratio: np.ndarray
    cut_by_image: np.ndarray


def cover_level(visible_ratio: float) -> int:
    """GOT-10k ``cover.label`` level (0-8) of a visible ratio.

    0 = fully occluded, 1..6 = (0,15%], (15,30%], ... (75,90%], 7 = (90,100%), 8 = fully visible.
    """
    r = float(visible_ratio)
    if r <= 0.0:
        return 0
    if r >= 1.0:
        return 8
    if r > 0.9:
        return 7
    return max(1, min(6, math.ceil(r / 0.15 - 1e-9)))


# --------------------------------------------------------------------------- textures


def _palette(rng: np.random.Generator) -> np.ndarray:
    """Two clearly different RGB colours, shape (2, 3) float32."""
    c1 = rng.uniform(0, 255, 3)
    c2 = rng.uniform(0, 255, 3)
    while np.abs(c1 - c2).sum() < 180:
        c2 = rng.uniform(0, 255, 3)
    return np.stack([c1, c2]).astype(np.float32)


def _texture(rng: np.random.Generator, h: int, w: int, palette: np.ndarray, kind: int) -> np.ndarray:
    """A (h, w, 3) uint8 two-colour texture: 0 stripes, 1 checker, 2 blob noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == 0:
        theta = rng.uniform(0, math.pi)
        period = rng.uniform(6, 16)
        mask = np.sin(2 * math.pi * (xx * math.cos(theta) + yy * math.sin(theta)) / period) > 0
    elif kind == 1:
        p = int(rng.integers(6, 16))
        mask = ((xx // p + yy // p) % 2) == 0
    else:
        low = rng.random((h // 8 + 2, w // 8 + 2)).astype(np.float32)
        mask = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC) > 0.5
    tex = np.where(mask[..., None], palette[0], palette[1])
    tex = tex + rng.normal(0, 12, (h, w, 3)).astype(np.float32)
    return np.clip(tex, 0, 255).astype(np.uint8)


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Low-contrast multi-scale noise with a few static textured clutter patches."""
    gh, gw = h // 32 + 2, w // 32 + 2
    low = rng.uniform(60, 190, (gh, gw, 1)) + rng.uniform(-40, 40, (gh, gw, 3))
    bg = cv2.resize(low.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    bg += cv2.resize(rng.normal(0, 25, (h // 6 + 2, w // 6 + 2, 3)).astype(np.float32), (w, h),
                     interpolation=cv2.INTER_LINEAR)
    bg += rng.normal(0, 8, (h, w, 3)).astype(np.float32)
    out = np.clip(bg, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(3, 7))):
        ph, pw = int(rng.integers(h // 10, h // 4)), int(rng.integers(w // 10, w // 4))
        y, x = int(rng.integers(0, h - ph)), int(rng.integers(0, w - pw))
        patch = _texture(rng, ph, pw, _palette(rng) * 0.6 + 50, int(rng.integers(3)))
        out[y:y + ph, x:x + pw] = patch
    return out


# --------------------------------------------------------------------------- motion


def _smooth(rng: np.random.Generator, n: int) -> np.ndarray:
    """A smooth random signal in [-1, 1] of length n (two sinusoids, per-frame frequencies)."""
    t = np.arange(n, dtype=np.float64)
    a1 = rng.uniform(0.5, 0.8)
    f1, f2 = rng.uniform(0.004, 0.015), rng.uniform(0.015, 0.035)
    p1, p2 = rng.uniform(0, 2 * math.pi, 2)
    return a1 * np.sin(2 * math.pi * f1 * t + p1) + (1 - a1) * np.sin(2 * math.pi * f2 * t + p2)


def _track(rng: np.random.Generator, n: int, height: int, width: int, base: float,
           aspect: float, inside: float = 0.4) -> np.ndarray:
    """Integer rectangles (n, 4) as x0, y0, w, h (unclipped) of a smoothly moving object.

    The centre stays within ``inside * size`` of the border, so at most
    ``(0.5 - inside)`` of the object leaves the frame on any side.
    """
    scale = np.exp(0.25 * _smooth(rng, n))
    asp = aspect * np.exp(0.15 * _smooth(rng, n))
    w = np.maximum(2, np.round(base * np.sqrt(asp) * scale))
    h = np.maximum(2, np.round(base / np.sqrt(asp) * scale))
    w, h = np.minimum(w, width), np.minimum(h, height)
    lo_x, hi_x = inside * w, width - inside * w
    lo_y, hi_y = inside * h, height - inside * h
    cx = lo_x + (hi_x - lo_x) * (_smooth(rng, n) + 1) / 2
    cy = lo_y + (hi_y - lo_y) * (_smooth(rng, n) + 1) / 2
    return np.stack([np.round(cx - w / 2), np.round(cy - h / 2), w, h], axis=1).astype(np.int64)


def _clip(rect: np.ndarray, height: int, width: int) -> tuple[int, int, int, int]:
    """Clip an x0, y0, w, h rectangle to the frame; returns x0, y0, x1, y1 (may be empty)."""
    x0, y0, w, h = (int(v) for v in rect)
    return max(x0, 0), max(y0, 0), min(x0 + w, width), min(y0 + h, height)


def _paste(frame: np.ndarray, tex: np.ndarray, rect: np.ndarray) -> None:
    """Resize ``tex`` to the rectangle and paste its in-frame part into ``frame``."""
    x0, y0, w, h = (int(v) for v in rect)
    cx0, cy0, cx1, cy1 = _clip(rect, frame.shape[0], frame.shape[1])
    if cx1 <= cx0 or cy1 <= cy0:
        return
    img = cv2.resize(tex, (w, h), interpolation=cv2.INTER_LINEAR)
    frame[cy0:cy1, cx0:cx1] = img[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]


# --------------------------------------------------------------------------- sequences


def render_sequence(seed: int | tuple[int, ...], num_frames: int = 30, size: tuple[int, int] = (240, 320),
                    occlusion_prob: float = 0.5, num_distractors: int | None = None,
                    draw_target: bool = True) -> SyntheticSequence:
    """Render one synthetic sequence (see the module docstring).

    Args:
        seed: integer (or tuple of integers) seeding every random choice.
        num_frames: number of frames N.
        size: frame size as (height, width).
        occlusion_prob: probability that an occluder crosses the target.
        num_distractors: number of look-alike distractors; random in 1..3 when None.
        draw_target: if False the identical scene is rendered without the target
            (annotations unchanged); useful for tests and masks.
    """
    height, width = int(size[0]), int(size[1])
    n = int(num_frames)
    if n < 1 or height < 16 or width < 16:
        raise ValueError(f"need num_frames >= 1 and size >= 16x16, got {n} and {size}")
    rng = np.random.default_rng(seed)
    m = _PAN_MARGIN
    background = _background(rng, height + 2 * m, width + 2 * m)
    pan = np.round((np.stack([_smooth(rng, n), _smooth(rng, n)], 1) + 1) * m).astype(np.int64)

    # target
    base = rng.uniform(0.18, 0.3) * min(height, width)
    aspect = float(np.exp(rng.uniform(-0.5, 0.5)))
    palette, kind = _palette(rng), int(rng.integers(3))
    target_tex = _texture(rng, 96, 96, palette, kind)
    target = _track(rng, n, height, width, base, aspect)

    # look-alike distractors, drawn behind the target
    k = int(rng.integers(1, 4)) if num_distractors is None else int(num_distractors)
    distractors = []
    for _ in range(k):
        pal = np.clip(palette + rng.normal(0, 20, palette.shape), 0, 255).astype(np.float32)
        tex = _texture(rng, 96, 96, pal, kind)
        rect = _track(rng, n, height, width, base * rng.uniform(0.7, 1.3),
                      aspect * float(np.exp(rng.uniform(-0.2, 0.2))), inside=0.1)
        distractors.append((tex, rect))

    # occluder crossing the target around frame tc
    occluder = None
    if rng.random() < occlusion_prob:
        tc = int(rng.integers(int(0.25 * n), max(int(0.75 * n), int(0.25 * n) + 1)))
        tw, th = target[tc, 2], target[tc, 3]
        ow, oh = tw * rng.uniform(0.6, 1.6), th * rng.uniform(0.6, 1.6)
        angle = rng.uniform(0, 2 * math.pi)
        duration = max(6.0, rng.uniform(0.2, 0.5) * n)
        speed = (math.hypot(tw, th) + math.hypot(ow, oh)) / duration
        centre = target[tc, :2] + target[tc, 2:] / 2 + rng.uniform(-0.15, 0.15, 2) * (tw, th)
        dt = np.arange(n) - tc
        ocx = centre[0] + speed * math.cos(angle) * dt
        ocy = centre[1] + speed * math.sin(angle) * dt
        rect = np.stack([np.round(ocx - ow / 2), np.round(ocy - oh / 2),
                         np.full(n, round(ow)), np.full(n, round(oh))], 1).astype(np.int64)
        occluder = (_texture(rng, 64, 64, _palette(rng), int(rng.integers(3))), rect)

    frames = np.empty((n, height, width, 3), np.uint8)
    boxes = np.zeros((n, 4), np.float32)
    ratio = np.ones(n, np.float32)
    cut = np.zeros(n, bool)
    for i in range(n):
        frame = frames[i]
        frame[:] = background[pan[i, 1]:pan[i, 1] + height, pan[i, 0]:pan[i, 0] + width]
        for tex, rect in distractors:
            _paste(frame, tex, rect[i])
        if draw_target:
            _paste(frame, target_tex, target[i])
        bx0, by0, bx1, by1 = _clip(target[i], height, width)
        boxes[i] = (bx0, by0, bx1 - bx0, by1 - by0)
        cut[i] = (bx1 - bx0) < target[i, 2] or (by1 - by0) < target[i, 3]
        if occluder is not None:
            tex, rect = occluder
            _paste(frame, tex, rect[i])
            ox0, oy0, ox1, oy1 = _clip(rect[i], height, width)
            inter = max(0, min(bx1, ox1) - max(bx0, ox0)) * max(0, min(by1, oy1) - max(by0, oy0))
            ratio[i] = 1.0 - inter / float((bx1 - bx0) * (by1 - by0))
    visible = (ratio > 0) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
    return SyntheticSequence(frames, boxes, visible, ratio, cut)


def make_sequence(seed: int | tuple[int, ...], num_frames: int = 30, size: tuple[int, int] = (240, 320),
                  **kwargs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(frames (N,H,W,3) uint8 RGB, boxes (N,4) float32 xywh, visible (N,) bool)``.

    Shortcut for :func:`render_sequence`; ``kwargs`` are passed through.
    """
    seq = render_sequence(seed, num_frames=num_frames, size=size, **kwargs)
    return seq.frames, seq.boxes, seq.visible


_SPLIT_PREFIX = {"train": "GOT-10k_Train", "val": "GOT-10k_Val", "test": "GOT-10k_Test"}


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="ascii")


def write_sequence_folder(root: str | os.PathLike, num_sequences: int,
                          render: Callable[[int], SyntheticSequence], split: str = "train",
                          jpeg_quality: int = 90, names: Sequence[str] | None = None,
                          object_class: str = "synthetic texture") -> Path:
    """Write ``render(i)`` for i = 1..num_sequences in the GOT-10k layout under ``root/<split>``.

    Files: ``%08d.jpg`` frames (1-based), ``groundtruth.txt`` (``x,y,w,h`` with 4 decimals), ``absence.label``
    (1 = fully occluded), ``cover.label`` (0-8, see :func:`cover_level`), ``cut_by_image.label``, ``meta_info.ini``
    (``resolution: (W, H)``, read by the official GOT-10k toolkit's report; ``object_class``) and the split's
    ``list.txt``. Sequence ``i`` is named ``names[i - 1]`` when given, else ``GOT-10k_<Split>_%06d``. Each
    sequence is rendered into a hidden temporary folder and renamed into place, and
    ``list.txt`` is written last, so an interrupted run never leaves a sequence or a split that looks complete.
    Returns the split directory.
    """
    split_dir = Path(root) / split
    split_dir.mkdir(parents=True, exist_ok=True)
    prefix = _SPLIT_PREFIX.get(split, f"GOT-10k_{split.capitalize()}")
    written = []
    params = [int(cv2.IMWRITE_JPEG_QUALITY), int(jpeg_quality)]
    for i in range(1, num_sequences + 1):
        name = names[i - 1] if names is not None else f"{prefix}_{i:06d}"
        written.append(name)
        seq_dir = split_dir / name
        if seq_dir.exists():
            raise FileExistsError(f"{seq_dir} already exists; write into an empty folder")
        tmp_dir = split_dir / f".{name}.partial"
        shutil.rmtree(tmp_dir, ignore_errors=True)
        tmp_dir.mkdir()
        seq = render(i)
        for j, frame in enumerate(seq.frames, start=1):
            ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(frame[..., ::-1]), params)
            if not ok:
                raise RuntimeError(f"JPEG encoding failed for {seq_dir}/{j:08d}.jpg")
            (tmp_dir / f"{j:08d}.jpg").write_bytes(buf.tobytes())
        _write_lines(tmp_dir / "groundtruth.txt", [",".join(f"{v:.4f}" for v in b) for b in seq.boxes])
        _write_lines(tmp_dir / "absence.label", [str(int(not v)) for v in seq.visible])
        _write_lines(tmp_dir / "cover.label", [str(cover_level(r)) for r in seq.visible_ratio])
        _write_lines(tmp_dir / "cut_by_image.label", [str(int(c)) for c in seq.cut_by_image])
        height, width = seq.frames.shape[1:3]
        _write_lines(tmp_dir / "meta_info.ini", ["[METAINFO]", f"object_class: {object_class}",
                                                 f"resolution: ({width}, {height})"])
        tmp_dir.rename(seq_dir)
    _write_lines(split_dir / "list.txt", written)
    return split_dir


def write_got10k_dataset(root: str | os.PathLike, num_sequences: int = 10, num_frames: int = 30,
                         size: tuple[int, int] = (240, 320), seed: int = 0, split: str = "train",
                         jpeg_quality: int = 90, **kwargs) -> Path:
    """Write ``num_sequences`` synthetic sequences in the GOT-10k layout under ``root/<split>``.

    Sequence ``i`` (1-based) is ``GOT-10k_<Split>_%06d`` rendered with seed ``(seed, i)``; ``kwargs`` go to
    :func:`render_sequence`; files as :func:`write_sequence_folder`. Same arguments give byte-identical files.
    Returns the split directory.
    """
    def render(i: int) -> SyntheticSequence:
        return render_sequence((seed, i), num_frames=num_frames, size=size, **kwargs)

    return write_sequence_folder(root, num_sequences, render, split=split, jpeg_quality=jpeg_quality)
