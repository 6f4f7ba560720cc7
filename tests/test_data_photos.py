"""Real-photo tracking data: photo folders, rendered videos, still-image pairs (generated photos stand in)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from simtrack_hf import SimTrackImageProcessor
from simtrack_hf.configuration_simtrack import SimTrackConfig
from simtrack_hf.data.benchmarks import read_benchmark
from simtrack_hf.data.photos import (
    PHOTO_PACKAGES,
    fetch_photos,
    list_photos,
    load_photos,
    render_photo_sequence,
    still_photo_rows,
    write_photo_dataset,
)
from simtrack_hf.data.rendering import ensure_photo_benchmark
from simtrack_hf.training.pairs import TrackingPairDataset


def fake_photo(seed: int, height: int = 300, width: int = 420) -> np.ndarray:
    """A textured RGB image: smooth colour fields plus random blobs and lines, like a cluttered photo."""
    rng = np.random.default_rng(seed)
    image = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(40):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        centre = (int(rng.integers(width)), int(rng.integers(height)))
        cv2.circle(image, centre, int(rng.integers(5, 40)), colour, -1)
        cv2.line(image, centre, (int(rng.integers(width)), int(rng.integers(height))), colour, 2)
    return image


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    for i in range(3):
        cv2.imwrite(str(root / f"p{i}.jpg"), fake_photo(i)[..., ::-1])
    return root


def test_list_photos_missing_empty_and_unreadable(tmp_path, photo_dir):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list_photos(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no readable photo"):
        list_photos(tmp_path / "empty")
    (tmp_path / "mixed").mkdir()
    cv2.imwrite(str(tmp_path / "mixed" / "ok.jpg"), fake_photo(5))
    (tmp_path / "mixed" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.warns(UserWarning, match="1 unreadable photo"):
        assert [p.name for p in list_photos(tmp_path / "mixed")] == ["ok.jpg"]
    assert len(list_photos(photo_dir)) == 3


def test_rendered_video_is_deterministic_and_boxes_valid(photo_dir):
    photos = load_photos(list_photos(photo_dir))
    seqs = [render_photo_sequence(photos, (0, i), num_frames=12, size=(120, 160)) for i in range(8)]
    again = render_photo_sequence(photos, (0, 0), num_frames=12, size=(120, 160))
    assert np.array_equal(seqs[0].frames, again.frames) and np.array_equal(seqs[0].boxes, again.boxes)
    for seq in seqs:
        assert seq.frames.shape == (12, 120, 160, 3) and seq.frames.dtype == np.uint8
        x, y, w, h = seq.boxes.T
        assert (x >= 0).all() and (y >= 0).all() and (x + w <= 160 + 1e-3).all() and (y + h <= 120 + 1e-3).all()
        assert seq.visible[0] and (w[seq.visible] >= 2).all()
    moved = [np.abs(np.diff(s.boxes[:, :2], axis=0)).sum() for s in seqs]
    assert max(moved) > 10  # targets and cameras move
    still = render_photo_sequence(photos, (0, 1), num_frames=6, size=(120, 160), motion=0.0)
    assert np.ptp(still.boxes[still.visible], axis=0).max() < 3  # no motion: the box barely changes


def test_video_dataset_reads_back_as_a_benchmark(tmp_path, photo_dir):
    photos = load_photos(list_photos(photo_dir))
    split = write_photo_dataset(photos, tmp_path, num_sequences=2, num_frames=5, size=(96, 128), seed=3, split="bench")
    sequences = read_benchmark("photos", split)
    assert [len(s) for s in sequences] == [5, 5]
    expected = render_photo_sequence(photos, (3, 1), num_frames=5, size=(96, 128))
    assert np.allclose(sequences[0].ground_truth, expected.boxes, atol=1e-3)


def test_photo_benchmark_is_rendered_once(tmp_path, photo_dir):
    root = ensure_photo_benchmark(tmp_path / "heldout", photo_dir, 2, 4, size=(96, 128), seed=9)
    stamp = (root / ".complete").stat().st_mtime_ns
    assert len(read_benchmark("photos", root)) == 2
    ensure_photo_benchmark(tmp_path / "heldout", photo_dir, 2, 4, size=(96, 128), seed=9)
    assert (root / ".complete").stat().st_mtime_ns == stamp


def test_still_image_pairs(photo_dir):
    paths = list_photos(photo_dir)
    rows = still_photo_rows(paths, boxes_per_photo=5, seed=1)
    assert len(rows) == 15
    for row in rows:
        (x, y, w, h), = row["boxes"]
        assert x >= 0 and y >= 0 and x + w <= row["width"] and y + h <= row["height"] and w > 0 and h > 0
    processor = SimTrackImageProcessor.from_model_config(SimTrackConfig.from_variant("tiny"))
    dataset = TrackingPairDataset({"still": rows}, processor, samples_per_epoch=8, seed=0)
    item = dataset[3]
    assert item["search_pixel_values"].shape == (3, 128, 128) and dataset.sources[0].single_image
    cx, cy, w, h = item["labels"].tolist()
    assert 0 <= cx <= 1 and 0 <= cy <= 1 and 0 < w <= 1 and 0 < h <= 1


def test_fetch_refuses_unknown_packages(tmp_path):
    with pytest.raises(ValueError, match="unknown photo package"):
        fetch_photos(tmp_path, ["not-a-package"])
    assert {split for split, _ in PHOTO_PACKAGES.values()} == {"train", "heldout"}
