"""Synthetic tracking videos: determinism, box correctness, occlusion labels, GOT-10k writer."""

from pathlib import Path

import numpy as np
import pytest

from simtrack_hf.data.synthetic import cover_level, make_sequence, render_sequence, write_got10k_dataset

SIZE = (72, 96)


def _target_extent(seed, n=12, **kw):
    """Per frame, the bounding box (x, y, w, h) of pixels changed by drawing the target."""
    with_t = render_sequence(seed, n, SIZE, **kw)
    without = render_sequence(seed, n, SIZE, draw_target=False, **kw)
    diff = (with_t.frames != without.frames).any(-1)
    return with_t, diff


def test_make_sequence_shapes_and_determinism():
    frames, boxes, visible = make_sequence(3, num_frames=10, size=SIZE)
    assert frames.shape == (10, *SIZE, 3) and frames.dtype == np.uint8
    assert boxes.shape == (10, 4) and visible.shape == (10,) and visible.dtype == bool
    again = make_sequence(3, num_frames=10, size=SIZE)
    for a, b in zip((frames, boxes, visible), again):
        np.testing.assert_array_equal(a, b)
    other = make_sequence(4, num_frames=10, size=SIZE)
    assert not np.array_equal(frames, other[0])
    assert not np.array_equal(boxes, other[1])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_box_is_exact_target_extent(seed):
    seq, diff = _target_extent(seed, occlusion_prob=0.0)
    h, w = SIZE
    for i, (x, y, bw, bh) in enumerate(seq.boxes.astype(int)):
        assert bw > 0 and bh > 0 and x >= 0 and y >= 0 and x + bw <= w and y + bh <= h
        ys, xs = np.nonzero(diff[i])
        assert (xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()) == (x, y, bw, bh)
    assert seq.visible.all() and (seq.visible_ratio == 1).all()
    # the target is textured, not a flat colour, and moves
    x, y, bw, bh = seq.boxes[0].astype(int)
    assert seq.frames[0, y:y + bh, x:x + bw].reshape(-1, 3).std(0).max() > 20
    assert np.abs(np.diff(seq.boxes, axis=0)).sum() > 0


def test_occlusion_matches_visible_ratio():
    seen = 0
    for seed in range(10):
        seq, diff = _target_extent(seed, n=20, occlusion_prob=1.0)
        for i in np.nonzero(seq.visible_ratio < 1)[0]:
            x, y, bw, bh = seq.boxes[i].astype(int)
            shown = diff[i, y:y + bh, x:x + bw].mean()
            assert shown == pytest.approx(seq.visible_ratio[i], abs=0.03)
            assert seq.visible[i] == (seq.visible_ratio[i] > 0)
            seen += 1
    assert seen > 0


def test_cover_level_bins():
    table = {0.0: 0, 0.01: 1, 0.15: 1, 0.16: 2, 0.45: 3, 0.6: 4, 0.75: 5, 0.9: 6, 0.95: 7, 1.0: 8}
    assert {r: cover_level(r) for r in table} == table


def _read_ints(path: Path) -> list[int]:
    return [int(v) for v in path.read_text().split()]


def test_write_got10k_layout_labels_and_bytes(tmp_path):
    kw = dict(num_sequences=3, num_frames=8, size=SIZE, seed=7, occlusion_prob=1.0)
    split = write_got10k_dataset(tmp_path / "a", **kw)
    write_got10k_dataset(tmp_path / "b", **kw)
    names = (split / "list.txt").read_text().split()
    assert names == ["GOT-10k_Train_000001", "GOT-10k_Train_000002", "GOT-10k_Train_000003"]
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) == 1 + 3 * (8 + 5)
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    occluded = 0
    for i, name in enumerate(names, start=1):
        seq = render_sequence((7, i), 8, SIZE, occlusion_prob=1.0)
        d = split / name
        assert (d / "00000001.jpg").is_file() and (d / "00000008.jpg").is_file()
        lines = (d / "groundtruth.txt").read_text().splitlines()
        assert lines[0] == ",".join(f"{v:.4f}" for v in seq.boxes[0])
        cover, absence = _read_ints(d / "cover.label"), _read_ints(d / "absence.label")
        assert cover == [cover_level(r) for r in seq.visible_ratio]
        assert absence == [int(not v) for v in seq.visible]
        occluded += sum(c < 8 for c in cover)
    assert occluded > 0
    other = write_got10k_dataset(tmp_path / "c", **{**kw, "seed": 8})
    assert (other / names[0] / "groundtruth.txt").read_text() != (split / names[0] / "groundtruth.txt").read_text()
