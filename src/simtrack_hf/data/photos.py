"""Real photographs as tracking data: fetching them, and turning them into pairs and short videos.

* :func:`fetch_photos` unpacks the photographic wallpapers of a few Debian packages (``apt-get download`` +
  ``dpkg-deb -x``, so it needs the Debian archive once) into ``<cache>/photos/<split>/<package>/``, downscaled to
  at most ``max_side`` pixels, with each package's ``copyright`` file beside its photos. :data:`PHOTO_PACKAGES`
  names the packages, their licences and the split each one belongs to: the ``heldout`` packages are never
  used for training or model selection (our own held-out set).
* :func:`list_photos` lists the readable photos of a folder (missing / empty folder: ``FileNotFoundError``;
  unreadable files: one counted warning).
* :func:`render_photo_sequence` renders a video from photos: a moving camera (pan, zoom, small rotation and
  perspective) over a background photo, and either a scene region as the target (camera motion only) or an
  object cut from a photo with a soft irregular mask that moves, scales and changes aspect over it; look-alike
  distractors cut from the same photo, an occluder from another photo, motion blur, illumination and colour
  drift and sensor noise. The box is the target mask's extent in the frame before occlusion.
* :func:`write_photo_dataset` writes such videos in the GOT-10k layout (read back by ``got10k_manifest``), and
  :func:`still_photo_rows` makes the "still image as a video" rows (one frame, one box per row: the sampler
  crops template and search from the same photo under its scale/shift jitter, as STARK/SimTrack do for COCO).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .cache import user_cache_dir
from .synthetic import SyntheticSequence, write_sequence_folder

__all__ = [
    "PHOTO_PACKAGES",
    "default_photo_dir",
    "fetch_photos",
    "list_photos",
    "load_photos",
    "render_photo_sequence",
    "still_photo_rows",
    "write_photo_dataset",
]

logger = logging.getLogger(__name__)

# Debian package -> (split, licence of its photographs). Held-out packages never enter training.
PHOTO_PACKAGES: dict[str, tuple[str, str]] = {
    "ukui-wallpapers": ("train", "CC-BY-SA-3.0"),
    "lomiri-wallpapers-20.04": ("train", "CC-BY-SA-3.0 / CC-BY-4.0 / CC-BY-SA-4.0"),
    "mate-backgrounds": ("train", "GPL-2+"),
    "gnome-backgrounds": ("train", "CC-BY-SA-3.0 / CC-BY-SA-2.0"),
    "plasma-workspace-wallpapers": ("train", "GPL-2+ / LGPL / CC-BY-SA-4.0"),
    "lomiri-wallpapers-16.04": ("heldout", "CC-BY-SA-3.0 / CC-BY-4.0 / CC-BY-SA-4.0"),
}
_PHOTO_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
_MIN_SIDE = 400  # smaller images in the packages are icons and thumbnails


def default_photo_dir() -> Path:
    """``<user cache>/photos`` (``$SIMTRACK_HF_CACHE``, default ``~/.cache/simtrack_hf``), where :func:`fetch_photos`
    unpacks."""
    return user_cache_dir() / "photos"


def fetch_photos(cache_dir: str | os.PathLike | None = None, packages: Sequence[str] | None = None,
                 max_side: int = 1280) -> Path:
    """Download and unpack the photo packages into ``<cache_dir>/photos``; returns that folder.

    Packages already unpacked (a ``COPYRIGHT`` file in their folder) are skipped. Within a package, several
    resolutions of one wallpaper keep only the largest.
    """
    root = Path(cache_dir) / "photos" if cache_dir else default_photo_dir()
    names = list(packages or PHOTO_PACKAGES)
    unknown = [p for p in names if p not in PHOTO_PACKAGES]
    if unknown:
        raise ValueError(f"unknown photo package(s) {unknown}; known: {', '.join(PHOTO_PACKAGES)}")
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise RuntimeError("fetching photos needs apt-get and dpkg-deb (a Debian-based system)")
    for package in names:
        split = PHOTO_PACKAGES[package][0]
        dest = root / split / package
        if (dest / "COPYRIGHT").is_file():
            continue
        with tempfile.TemporaryDirectory() as tmp:
            run = subprocess.run(["apt-get", "download", package], cwd=tmp, capture_output=True, text=True)
            debs = list(Path(tmp).glob("*.deb"))
            if run.returncode != 0 or not debs:
                raise RuntimeError(f"apt-get download {package} failed: {run.stderr.strip().splitlines()[-1:]}")
            unpacked = Path(tmp) / "x"
            subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(unpacked)], check=True)
            staging = root / split / f".{package}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            count = _copy_photos(unpacked, staging, max_side)
            copyright_file = unpacked / "usr" / "share" / "doc" / package / "copyright"
            shutil.copy(copyright_file, staging / "COPYRIGHT")
            if dest.exists():
                shutil.rmtree(dest)
            staging.rename(dest)
        logger.info("photos: %d from %s (%s) -> %s", count, package, PHOTO_PACKAGES[package][1], dest)
    return root


def _copy_photos(unpacked: Path, dest: Path, max_side: int) -> int:
    """Copy the photos of an unpacked package (largest resolution per folder), downscaled; returns the count."""
    best: dict[str, tuple[int, Path]] = {}
    for path in sorted(unpacked.rglob("*")):
        if path.suffix.lower() not in _PHOTO_EXTS or not path.is_file():
            continue
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None or min(image.shape[:2]) < _MIN_SIDE:
            continue
        # plasma keeps one wallpaper per folder in several sizes (images/, images_dark/); others one per file
        key = str(path.parent.parent) if path.parent.name.startswith("images") else str(path)
        area = image.shape[0] * image.shape[1]
        if key not in best or area > best[key][0]:
            best[key] = (area, path)
    for i, (_, path) in enumerate(sorted(best.values(), key=lambda v: str(v[1]))):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        scale = max_side / max(image.shape[:2])
        if scale < 1:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        stem = path.parent.parent.name if path.parent.name.startswith("images") else path.stem
        cv2.imwrite(str(dest / f"{i:03d}_{stem[:40]}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return len(best)


def list_photos(folder: str | os.PathLike) -> list[Path]:
    """Readable photos under ``folder`` (recursive, sorted). Unreadable files are skipped with one counted warning.

    Raises:
        FileNotFoundError: the folder does not exist or holds no readable photo.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"photo folder {str(root)!r} does not exist (fetch one with `simtrack fetch-photos`)")
    found, bad = [], []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in _PHOTO_EXTS and path.is_file() and not path.name.startswith("."):
            header = cv2.imread(str(path), cv2.IMREAD_REDUCED_COLOR_8)
            (found if header is not None else bad).append(path)
    if bad:
        warnings.warn(f"{len(bad)} unreadable photo(s) under {root} skipped, e.g. {bad[0]}", stacklevel=2)
    if not found:
        raise FileNotFoundError(f"photo folder {str(root)!r} holds no readable photo ({', '.join(_PHOTO_EXTS)})")
    return found


def load_photos(paths: Sequence[str | os.PathLike], max_side: int = 640) -> list[np.ndarray]:
    """RGB uint8 arrays of ``paths``, downscaled to at most ``max_side`` pixels."""
    photos = []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"unreadable photo {str(path)!r}")
        scale = max_side / max(image.shape[:2])
        if scale < 1:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        photos.append(np.ascontiguousarray(image[..., ::-1]))
    return photos


# --------------------------------------------------------------------------- rendering


def _smooth_walk(rng: np.random.Generator, n: int, knots: int = 4) -> np.ndarray:
    """A smooth curve in [-1, 1] over ``n`` frames (cubic interpolation of random knots)."""
    k = max(2, min(knots, n))
    x = np.linspace(0, n - 1, k)
    y = rng.uniform(-1, 1, k)
    t = np.arange(n)
    coeffs = np.polyfit(x, y, min(3, k - 1))
    return np.clip(np.polyval(coeffs, t) if n > 1 else y[:1], -1.5, 1.5)


def _blob_mask(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A soft irregular mask (float32 in [0, 1]) filling most of an h x w box: ellipse, rounded rectangle or
    a random star-convex polygon."""
    mask = np.zeros((h, w), np.uint8)
    kind = rng.integers(3)
    if kind == 0:
        cv2.ellipse(mask, (w // 2, h // 2), (max(1, w // 2 - 1), max(1, h // 2 - 1)), 0, 0, 360, 255, -1)
    elif kind == 1:
        r = int(min(h, w) * rng.uniform(0.1, 0.3))
        cv2.rectangle(mask, (r, 0), (w - 1 - r, h - 1), 255, -1)
        cv2.rectangle(mask, (0, r), (w - 1, h - 1 - r), 255, -1)
        for cx, cy in ((r, r), (w - 1 - r, r), (r, h - 1 - r), (w - 1 - r, h - 1 - r)):
            cv2.circle(mask, (cx, cy), r, 255, -1)
    else:
        angles = np.sort(rng.uniform(0, 2 * math.pi, int(rng.integers(6, 12))))
        radii = rng.uniform(0.6, 1.0, len(angles))
        pts = np.stack([w / 2 + radii * np.cos(angles) * (w / 2 - 1), h / 2 + radii * np.sin(angles) * (h / 2 - 1)], 1)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 255)
    return cv2.GaussianBlur(mask, (0, 0), 1.0).astype(np.float32) / 255.0


def _texture_energy(patch: np.ndarray) -> float:
    """Gradient energy of an RGB patch (variance of its Laplacian): high on textured regions, ~0 on flat sky."""
    return float(cv2.Laplacian(cv2.cvtColor(np.ascontiguousarray(patch), cv2.COLOR_RGB2GRAY), cv2.CV_32F).var())


def _cut(rng: np.random.Generator, photo: np.ndarray, near: tuple[float, float] | None = None,
         size: int = 96, candidates: int = 4) -> np.ndarray:
    """A ``size`` x ``size`` RGB patch of ``photo``: of ``candidates`` random square regions (near ``near``
    (x, y) if given), the most textured one (largest gradient energy), so flat sky rarely becomes a target."""
    ph, pw = photo.shape[:2]
    best, best_energy = None, -1.0
    for _ in range(candidates):
        side = rng.uniform(0.12, 0.4) * min(ph, pw)
        if near is None:
            x, y = rng.uniform(0, pw - side), rng.uniform(0, ph - side)
        else:
            x = float(np.clip(near[0] + rng.normal(0, side), 0, pw - side))
            y = float(np.clip(near[1] + rng.normal(0, side), 0, ph - side))
        patch = cv2.resize(photo[int(y):int(y + side), int(x):int(x + side)], (size, size),
                           interpolation=cv2.INTER_AREA)
        energy = _texture_energy(patch)
        if energy > best_energy:
            best, best_energy = patch, energy
    return best


def _camera(rng: np.random.Generator, n: int, photo_shape: tuple[int, ...], height: int, width: int,
            motion: float) -> np.ndarray:
    """Per-frame homographies (n, 3, 3) mapping frame pixels to photo pixels: pan, zoom, rotation, perspective."""
    ph, pw = photo_shape[:2]
    base = min(pw / width, ph / height) * rng.uniform(0.45, 0.9)  # photo pixels per frame pixel
    zoom = base * np.exp(0.25 * motion * _smooth_walk(rng, n))
    angle = math.radians(6) * motion * _smooth_walk(rng, n)
    mats = np.empty((n, 3, 3))
    span_x = max(0.0, pw - width * zoom.max() * 1.1) / 2
    span_y = max(0.0, ph - height * zoom.max() * 1.1) / 2
    cx = pw / 2 + span_x * np.clip(rng.uniform(-0.6, 0.6) + 0.5 * motion * _smooth_walk(rng, n), -1, 1)
    cy = ph / 2 + span_y * np.clip(rng.uniform(-0.6, 0.6) + 0.5 * motion * _smooth_walk(rng, n), -1, 1)
    px, py = rng.normal(0, 2e-4 * motion, 2) / zoom.mean()
    for i in range(n):
        c, s = math.cos(angle[i]) * zoom[i], math.sin(angle[i]) * zoom[i]
        to_centre = np.array([[1, 0, -width / 2], [0, 1, -height / 2], [px, py, 1]])
        mats[i] = np.array([[c, -s, cx[i]], [s, c, cy[i]], [0, 0, 1]]) @ to_centre
    return mats


def _trajectory(rng: np.random.Generator, n: int, height: int, width: int, base: float, aspect: float,
                motion: float) -> np.ndarray:
    """(n, 4) float x, y, w, h of a target that moves smoothly, changes scale and aspect."""
    scale = base * np.exp(0.35 * motion * _smooth_walk(rng, n))
    asp = aspect * np.exp(0.2 * motion * _smooth_walk(rng, n))
    w, h = scale * np.sqrt(asp), scale / np.sqrt(asp)
    walk_x = np.clip(rng.uniform(-0.5, 0.5) + 0.8 * motion * _smooth_walk(rng, n), -1.05, 1.05)
    walk_y = np.clip(rng.uniform(-0.5, 0.5) + 0.8 * motion * _smooth_walk(rng, n), -1.05, 1.05)
    cx, cy = width / 2 + (width / 2 - w / 2) * walk_x, height / 2 + (height / 2 - h / 2) * walk_y
    return np.stack([cx - w / 2, cy - h / 2, w, h], 1)


def _blend(frame: np.ndarray, patch: np.ndarray, mask: np.ndarray, rect: np.ndarray) -> np.ndarray:
    """Alpha-paste ``patch`` resized to ``rect`` (x, y, w, h float) into ``frame``; returns the pasted mask in
    frame coordinates (float32 HxW, zero outside)."""
    height, width = frame.shape[:2]
    full = np.zeros((height, width), np.float32)
    w, h = max(2, int(round(rect[2]))), max(2, int(round(rect[3])))
    x0, y0 = int(round(rect[0])), int(round(rect[1]))
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x0 + w, width), min(y0 + h, height)
    if cx1 <= cx0 or cy1 <= cy0:
        return full
    img = cv2.resize(patch, (w, h), interpolation=cv2.INTER_LINEAR)[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
    alpha = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
    region = frame[cy0:cy1, cx0:cx1].astype(np.float32)
    frame[cy0:cy1, cx0:cx1] = (region * (1 - alpha[..., None]) + img * alpha[..., None]).astype(np.uint8)
    full[cy0:cy1, cx0:cx1] = alpha
    return full


def _extent(mask: np.ndarray, threshold: float = 0.5) -> tuple[float, float, float, float]:
    """x, y, w, h of the pixels of ``mask`` above ``threshold`` (zeros when none)."""
    ys, xs = np.nonzero(mask > threshold)
    if len(xs) == 0:
        return 0.0, 0.0, 0.0, 0.0
    return float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)


def _motion_blur(frame: np.ndarray, velocity: np.ndarray) -> np.ndarray:
    """Linear motion blur along ``velocity`` (pixels per frame)."""
    length = int(min(15, np.hypot(*velocity)))
    if length < 2:
        return frame
    kernel = np.zeros((length, length), np.float32)
    c = (length - 1) / 2
    d = velocity / (np.hypot(*velocity) + 1e-6) * c
    cv2.line(kernel, (int(round(c - d[0])), int(round(c - d[1]))), (int(round(c + d[0])), int(round(c + d[1]))), 1.0)
    return cv2.filter2D(frame, -1, kernel / max(kernel.sum(), 1e-6))


def render_photo_sequence(photos: Sequence[np.ndarray], seed: int | tuple[int, ...], num_frames: int = 40,
                          size: tuple[int, int] = (240, 320), motion: float = 1.0) -> SyntheticSequence:
    """Render one video from real photos (see the module docstring); everything derives from ``seed``.

    Args:
        photos: RGB uint8 photos (at least one; two or more give the object mode different fore- and backgrounds).
        seed: integer (or tuple) seeding every random choice.
        num_frames: frames N; size: (height, width).
        motion: scales camera and target motion (0 = still camera and target).
    """
    if not photos:
        raise ValueError("render_photo_sequence needs at least one photo")
    height, width = int(size[0]), int(size[1])
    n = int(num_frames)
    if n < 1 or height < 32 or width < 32:
        raise ValueError(f"need num_frames >= 1 and size >= 32x32, got {n} and {size}")
    rng = np.random.default_rng(seed)
    background = photos[int(rng.integers(len(photos)))]
    cams = _camera(rng, n, background.shape, height, width, motion)
    scene_mode = rng.random() < 0.2
    base = rng.uniform(0.1, 0.4) * min(height, width)
    aspect = float(np.exp(rng.uniform(-0.7, 0.7)))

    if scene_mode:  # a fixed region of the background photo, seen by the moving camera: the most textured of 6
        w0, h0 = base * math.sqrt(aspect), base / math.sqrt(aspect)
        first = cv2.warpPerspective(background, cams[0], (width, height),
                                    flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
        corners = [(rng.uniform(0.15, 0.85) * width - w0 / 2, rng.uniform(0.15, 0.85) * height - h0 / 2)
                   for _ in range(6)]
        x0, y0 = max(corners, key=lambda c: _texture_energy(
            first[max(0, int(c[1])):max(1, int(c[1] + h0)), max(0, int(c[0])):max(1, int(c[0] + w0))]))
        corners0 = np.array([[x0, y0, 1], [x0 + w0, y0, 1], [x0 + w0, y0 + h0, 1], [x0, y0 + h0, 1]]).T
        world = cams[0] @ corners0  # target corners in photo coordinates
        target = source = mask = None
        distractors: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    else:
        source = photos[int(rng.integers(len(photos)))]
        ph, pw = source.shape[:2]
        centre = (rng.uniform(0, pw), rng.uniform(0, ph))
        target = _cut(rng, source, centre)
        mask = _blob_mask(rng, 96, 96)
        rects = _trajectory(rng, n, height, width, base, aspect, motion)
        distractors = []
        for _ in range(int(rng.integers(0, 3))):
            d_rects = _trajectory(rng, n, height, width, base * rng.uniform(0.7, 1.3), aspect, motion)
            distractors.append((_cut(rng, source, centre), _blob_mask(rng, 96, 96), d_rects))

    occluder = None
    if rng.random() < 0.35 and n > 4:
        tc = int(rng.integers(n // 4, max(n // 4 + 1, 3 * n // 4)))
        o_base = base * rng.uniform(0.6, 1.4)
        angle = rng.uniform(0, 2 * math.pi)
        speed = 2.5 * o_base / max(6.0, rng.uniform(0.2, 0.5) * n)
        occluder = (tc, angle, speed, o_base, _cut(rng, photos[int(rng.integers(len(photos)))]),
                    _blob_mask(rng, 96, 96))

    gain = 1.0 + 0.25 * _smooth_walk(rng, n) * rng.uniform(0, 1)
    tint = 1.0 + 0.08 * rng.uniform(-1, 1, 3)
    blur_prob, noise = rng.uniform(0, 0.4), rng.uniform(0, 6)

    frames = np.empty((n, height, width, 3), np.uint8)
    boxes = np.zeros((n, 4), np.float32)
    ratio = np.ones(n, np.float32)
    cut = np.zeros(n, bool)
    prev_centre = None
    for i in range(n):
        frame = cv2.warpPerspective(background, cams[i], (width, height),
                                    flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
        if scene_mode:
            pts = np.linalg.inv(cams[i]) @ world
            pts = pts[:2] / pts[2]
            x1, y1, x2, y2 = pts[0].min(), pts[1].min(), pts[0].max(), pts[1].max()
            full = (x2 - x1, y2 - y1)
            x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
            box = (x1, y1, max(0.0, x2 - x1), max(0.0, y2 - y1))
            cut[i] = box[2] < full[0] - 0.5 or box[3] < full[1] - 0.5
            target_mask = None
        else:
            for d_patch, d_mask, d_rects in distractors:
                _blend(frame, d_patch, d_mask, d_rects[i])
            target_mask = _blend(frame, target, mask, rects[i])
            box = _extent(target_mask)
            cut[i] = rects[i][0] < 0 or rects[i][1] < 0 or rects[i][0] + rects[i][2] > width \
                or rects[i][1] + rects[i][3] > height
        boxes[i] = box
        if occluder is not None and boxes[i, 2] > 0:
            tc, angle, speed, o_base, o_patch, o_mask = occluder
            centre = boxes[i, :2] + boxes[i, 2:] / 2 if i == tc or prev_centre is None else prev_centre
            if i == tc:
                prev_centre = centre
            dt = i - tc
            ref = prev_centre if prev_centre is not None else centre
            oc = ref + speed * dt * np.array([math.cos(angle), math.sin(angle)])
            o_mask_full = _blend(frame, o_patch, o_mask, np.array([oc[0] - o_base / 2, oc[1] - o_base / 2,
                                                                     o_base, o_base]))
            x, y, w, h = (int(round(v)) for v in boxes[i])
            if w > 0 and h > 0:
                covered = o_mask_full[y:y + h, x:x + w] > 0.5
                own = target_mask[y:y + h, x:x + w] > 0.5 if target_mask is not None else np.ones_like(covered)
                ratio[i] = 1.0 - float((covered & own).sum()) / max(1, int(own.sum()))
        if i > 0 and rng.random() < blur_prob:
            frame = _motion_blur(frame, boxes[i, :2] - boxes[i - 1, :2] + rng.normal(0, 2, 2))
        frame = frame.astype(np.float32) * (gain[i] * tint)
        if noise > 0:
            frame += rng.normal(0, noise, frame.shape).astype(np.float32)
        frames[i] = np.clip(frame, 0, 255).astype(np.uint8)
    visible = (ratio > 0.05) & (boxes[:, 2] >= 2) & (boxes[:, 3] >= 2)
    return SyntheticSequence(frames, boxes, visible, ratio, cut)


def write_photo_dataset(photos: Sequence[np.ndarray], root: str | os.PathLike, num_sequences: int = 100,
                        num_frames: int = 40, size: tuple[int, int] = (240, 320), seed: int = 0,
                        split: str = "train") -> Path:
    """Write ``num_sequences`` photo videos (seed ``(seed, i)``) in the GOT-10k layout under ``root/<split>``."""
    def render(i: int) -> SyntheticSequence:
        return render_photo_sequence(photos, (seed, i), num_frames=num_frames, size=size)

    return write_sequence_folder(root, num_sequences, render, split=split)


def still_photo_rows(photo_paths: Sequence[str | os.PathLike], boxes_per_photo: int = 20, seed: int = 0
                     ) -> list[dict]:
    """Manifest rows for "still image as a video" pairs: ``boxes_per_photo`` random regions per photo.

    Regions cover 2-25 % of the shorter side squared, with aspect ratios in [1/3, 3]; each is the most textured of
    4 random candidates (flat sky or walls make no target). Each row holds one frame
    (``frame_paths``, ``boxes`` (1, 4) xywh, ``visible``), the shape :class:`TrackingPairDataset` treats as a
    single-image source.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for path in photo_paths:
        try:
            with Image.open(path) as image:
                width, height = image.size
                small = np.asarray(image.convert("RGB").reduce(4))
        except OSError:
            continue
        for j in range(boxes_per_photo):
            side = math.sqrt(rng.uniform(0.02, 0.25)) * min(height, width)
            aspect = math.exp(rng.uniform(-1.1, 1.1))
            w, h = min(side * math.sqrt(aspect), width - 2), min(side / math.sqrt(aspect), height - 2)
            x, y = max(((rng.uniform(0, width - w), rng.uniform(0, height - h)) for _ in range(4)),
                       key=lambda c: _texture_energy(small[int(c[1]) // 4:int(c[1] + h) // 4 + 1,
                                                           int(c[0]) // 4:int(c[0] + w) // 4 + 1]))
            rows.append({"dataset": "photos", "sequence": f"{Path(path).stem}_{j}", "frame_paths": [str(path)],
                         "boxes": [[x, y, w, h]], "visible": [True], "width": width, "height": height})
    return rows
