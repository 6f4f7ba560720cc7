"""Training pairs: determinism from (seed, epoch, index), crop/label geometry, rejection and bad frames."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from simtrack_hf import SimTrackImageProcessor
from simtrack_hf.data import build_manifest, render_sequence, write_got10k_dataset
from simtrack_hf.training import TrackingPairDataset, collate_pairs

T, S = 64, 128
NO_AUGMENT = dict(search_jitter=(0.0, 0.0), grayscale_prob=0.0, joint_flip_prob=0.0, flip_prob=0.0,
                  brightness_jitter=0.0)


@pytest.fixture(scope="module")
def processor() -> SimTrackImageProcessor:
    return SimTrackImageProcessor(template_size=T, search_size=S)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs_data")
    write_got10k_dataset(root, num_sequences=3, num_frames=24, size=(96, 128), seed=5)
    return build_manifest("got10k", root, cache_dir=root / "cache")


@pytest.fixture(scope="module")
def image_row(tmp_path_factory):
    """A single-image manifest row (template = search image) and its RGB image."""
    import cv2

    seq = render_sequence(3, num_frames=1, size=(120, 160), occlusion_prob=0.0)
    path = tmp_path_factory.mktemp("image") / "frame.png"  # lossless: the crop comparison is exact
    cv2.imwrite(str(path), seq.frames[0][..., ::-1])
    row = {"frame_paths": [str(path)], "boxes": seq.boxes[:1].tolist(), "visible": [True]}
    return row, seq.frames[0], seq.boxes[0].astype(np.float64)


def assert_items_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_item_format_and_determinism(manifest, processor):
    ds = TrackingPairDataset({"synthetic": manifest}, processor, samples_per_epoch=8, seed=3)
    item = ds[5]
    shapes = {"template_pixel_values": (3, T, T), "search_pixel_values": (3, S, S), "template_boxes": (4,),
              "labels": (4,)}
    assert {k: tuple(v.shape) for k, v in item.items()} == shapes
    assert all(v.dtype == torch.float32 for v in item.values())
    assert_items_equal(item, ds[5])  # same index -> same pair
    assert_items_equal(item, TrackingPairDataset([manifest], processor, samples_per_epoch=8, seed=3)[5])
    labels = item["labels"]
    assert (labels[2:] > 0).all() and (labels[:2] - labels[2:] / 2 >= -1e-6).all()
    assert (labels[:2] + labels[2:] / 2 <= 1 + 1e-6).all()
    batch = collate_pairs([ds[0], ds[1]])
    assert batch["search_pixel_values"].shape == (2, 3, S, S) and batch["labels"].shape == (2, 4)


def test_indices_epochs_and_seeds_differ(manifest, processor):
    ds = TrackingPairDataset(manifest, processor, samples_per_epoch=4, num_epochs=2, seed=0)
    assert len(ds) == 8
    draws = [ds[i]["labels"] for i in range(8)]
    assert len({tuple(d.tolist()) for d in draws}) == 8  # every index (and both epochs) draws its own pair
    other_seed = TrackingPairDataset(manifest, processor, samples_per_epoch=4, num_epochs=2, seed=1)
    assert not torch.equal(other_seed[0]["labels"], draws[0])
    # set_epoch(1) on a one-epoch dataset = the second epoch of the two-epoch one
    one = TrackingPairDataset(manifest, processor, samples_per_epoch=4, num_epochs=1, seed=0)
    one.set_epoch(1)
    assert torch.equal(one[2]["labels"], draws[6])
    with pytest.raises(IndexError):
        ds[8]


def test_crops_match_processor_without_jitter(image_row, processor):
    row, image, box = image_row
    ds = TrackingPairDataset([[row]], processor, samples_per_epoch=2, **NO_AUGMENT)
    item = ds[0]
    template = processor.preprocess(image, box, crop="template")
    search = processor.preprocess(image, box, crop="search")
    assert torch.equal(item["template_pixel_values"], template["template_pixel_values"][0])
    assert torch.equal(item["search_pixel_values"], search["search_pixel_values"][0])

    # search label: centred at (S-1)/2, side w * S / ceil(sqrt(wh) * factor)
    crop_side = math.ceil(math.sqrt(box[2] * box[3]) * processor.search_factor)
    expected = [(S - 1) / 2 / S, (S - 1) / 2 / S, box[2] / crop_side, box[3] / crop_side]
    assert item["labels"].tolist() == pytest.approx(expected, abs=1e-6)
    assert abs(item["labels"][0] - 0.5) < 1 / S
    # template box: training convention (centre (T-1)/2), within ~1 px of the inference convention
    t_side = math.ceil(math.sqrt(box[2] * box[3]) * processor.template_factor)
    wh = box[2:] / t_side
    assert item["template_boxes"].tolist() == pytest.approx([*((T - 1) / 2 / T - wh / 2), *wh], abs=1e-6)
    assert torch.allclose(item["template_boxes"], template["template_boxes"][0], atol=1.01 / T)


def test_per_frame_flip_mirrors_pixels_and_boxes(image_row, processor):
    row, _, _ = image_row
    plain = TrackingPairDataset([[row]], processor, samples_per_epoch=2, **NO_AUGMENT)[0]
    flipped = TrackingPairDataset([[row]], processor, samples_per_epoch=2, **{**NO_AUGMENT, "flip_prob": 1.0})[0]
    assert torch.equal(flipped["search_pixel_values"], plain["search_pixel_values"].flip(-1))
    assert torch.equal(flipped["template_pixel_values"], plain["template_pixel_values"].flip(-1))
    assert float(flipped["labels"][0]) == pytest.approx(1 - float(plain["labels"][0]), abs=1e-6)
    x, w = plain["template_boxes"][0].item(), plain["template_boxes"][2].item()
    assert flipped["template_boxes"][0].item() == pytest.approx(1 - x - w, abs=1e-6)


def test_jittered_pairs_stay_valid_and_rejections_are_counted(manifest, processor):
    ds = TrackingPairDataset(manifest, processor, samples_per_epoch=40, search_jitter=(0.5, 12.0))
    labels = torch.stack([ds[i]["labels"] for i in range(40)])
    assert ds.stats["rejected_crops"] > 0 and ds.stats["pairs"] == 40
    assert (labels[:, 2:] > 0).all() and (labels >= 0).all() and (labels <= 1).all()
    assert labels[:, 0].std() > 0.05  # the target is not always centred in the search crop


def test_bad_frames_are_skipped_and_counted(manifest, processor, tmp_path):
    broken = []
    for name in ("a", "b"):
        paths = []
        for i in range(24):
            path = tmp_path / f"{name}_{i:03d}.jpg"
            path.write_bytes(b"not an image")
            paths.append(str(path))
        broken.append({"frame_paths": paths, "boxes": [[10, 10, 20, 20]] * 24, "visible": [True] * 24})
    ds = TrackingPairDataset({"good": manifest, "broken": broken}, processor, samples_per_epoch=12,
                             ratios={"good": 1, "broken": 3})
    items = [ds[i] for i in range(12)]
    assert len(items) == 12 and ds.stats["bad_frames"] > 0
    only_broken = TrackingPairDataset(broken, processor, samples_per_epoch=2, max_attempts=4)
    with pytest.raises(RuntimeError, match="no valid pair"):
        only_broken[0]
    assert only_broken.stats["bad_frames"] == 4


def test_causal_frame_sampling_uses_usable_frames_only(processor):
    n = 30
    boxes = np.tile([5.0, 5.0, 10.0, 10.0], (n, 1))
    boxes[1::3] = np.nan  # NaN boxes
    boxes[2::5, 2] = 0.0  # zero-width boxes
    visible = np.ones(n, bool)
    visible[::4] = False
    rows = [
        {"frame_paths": ["x"] * n, "boxes": boxes.tolist(), "visible": visible.tolist()},
        {"frame_paths": ["x"] * 10, "boxes": [[1, 1, 5, 5]] * 10, "visible": [True] * 10},  # < 20 frames
        {"frame_paths": ["x"] * n, "boxes": boxes.tolist(), "visible": [False] * n},  # nothing visible
    ]
    ds = TrackingPairDataset(rows, processor, samples_per_epoch=1, max_gap=3)
    assert ds.sources[0].rows.tolist() == [0]
    usable = visible & np.isfinite(boxes).all(1) & (np.nan_to_num(boxes[:, 2]) > 0)
    rng = np.random.default_rng(0)
    for _ in range(200):
        t, s = ds._sample_frames(usable, rng)
        assert usable[t] and usable[s] and t < s and t < n - 1
    with pytest.raises(ValueError, match="no manifest"):
        TrackingPairDataset(rows[1:], processor)
