"""Manifest builders on tiny fake dataset folders, validation, caching and --data parsing."""

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("datasets")
from datasets import Dataset  # noqa: E402

from simtrack_hf.data import manifests as sources  # noqa: E402
from simtrack_hf.data.manifests import (  # noqa: E402
    MANIFEST_FEATURES,
    ManifestWarning,
    build_manifest,
    coco_manifest,
    concatenate_manifests,
    folder_manifest,
    got10k_manifest,
    lasot_manifest,
    load_sources,
    parse_sources,
    source_ratios,
    trackingnet_manifest,
    validate_manifest,
)
from simtrack_hf.data.synthetic import write_got10k_dataset  # noqa: E402

W, H = 16, 12


def _jpgs(folder: Path, names) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.new("RGB", (W, H), (90, 120, 150)).save(folder / name)


def _gt(path: Path, n: int, sep: str = ",") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(sep.join(str(v) for v in (1 + i, 2, 5, 4)) + "\n" for i in range(n)))


def _build(fn, *args, **kw):
    """Run a builder; return (dataset, list of ManifestWarning messages)."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        ds = fn(*args, **kw)
    return ds, [str(w.message) for w in rec if issubclass(w.category, ManifestWarning)]


def test_got10k_reads_synthetic_writer(tmp_path):
    split = write_got10k_dataset(tmp_path, num_sequences=3, num_frames=6, size=(48, 64), seed=1,
                                 occlusion_prob=1.0)
    ds, warns = _build(got10k_manifest, tmp_path)
    assert warns == [] and ds.features == MANIFEST_FEATURES and len(ds) == 3
    for row in ds:
        d = split / row["sequence"]
        assert row["dataset"] == "got10k" and (row["width"], row["height"]) == (64, 48)
        assert row["frame_paths"][0] == str(d / "00000001.jpg") and len(row["frame_paths"]) == 6
        gt = np.loadtxt(d / "groundtruth.txt", delimiter=",", ndmin=2)
        np.testing.assert_allclose(row["boxes"], gt, atol=1e-4)
        absence = np.loadtxt(d / "absence.label", ndmin=1)
        cover = np.loadtxt(d / "cover.label", ndmin=1)
        assert row["visible"] == ((absence == 0) & (cover > 0)).tolist()
    # the split folder itself is accepted as root, and a sequence subset
    assert len(got10k_manifest(split, sequences=["GOT-10k_Train_000002"])) == 1


def test_got10k_bad_sequences_one_warning(tmp_path):
    split = tmp_path / "train"
    for i in range(1, 7):
        _jpgs(split / f"s{i}", [f"{j:08d}.jpg" for j in range(1, 4)])
        _gt(split / f"s{i}" / "groundtruth.txt", 3)
    (split / "s1" / "absence.label").write_text("0\n1\n0\n")
    (split / "s1" / "cover.label").write_text("8\n0\n0\n")
    (split / "s2" / "groundtruth.txt").unlink()                              # missing gt
    (split / "s3" / "groundtruth.txt").write_text("nan,nan,nan,nan\n" * 3)   # all NaN
    (split / "s4" / "00000002.jpg").unlink()                                 # missing frame
    _gt(split / "s5" / "groundtruth.txt", 2)                                 # 2 boxes, 3 frames
    (split / "s6" / "groundtruth.txt").write_text("1,2,3,4\nNaN,1,1,1\n0,0,0,0\n")  # repaired
    _jpgs(split / "s7", ["00000001.jpg"])
    (split / "s7" / "groundtruth.txt").write_text("\n")                        # empty
    ds, warns = _build(got10k_manifest, tmp_path)
    assert ds["sequence"] == ["s1", "s6"]
    assert ds[0]["visible"] == [True, False, False]
    assert ds[1]["visible"] == [True, False, False] and ds[1]["boxes"][1] == [0, 0, 0, 0]
    assert len(warns) == 1
    for key in ("missing_groundtruth=1", "nan_boxes=1", "missing_frames=1", "box_count_mismatch=1",
                "nan_box_frames=1", "missing_visibility_labels=1", "empty_sequence=1", "dropped 5 of 7"):
        assert key in warns[0]


def test_missing_root_raises(tmp_path):
    for fn in (got10k_manifest, lasot_manifest, trackingnet_manifest, coco_manifest, folder_manifest):
        with pytest.raises(FileNotFoundError):
            fn(tmp_path / "nope")
    with pytest.raises(FileNotFoundError):
        build_manifest("lasot", tmp_path / "nope", cache_dir=tmp_path / "cache")
    with pytest.raises(FileNotFoundError):
        coco_manifest(tmp_path)  # root exists, annotation file does not


def test_lasot(tmp_path):
    seq = tmp_path / "cat" / "cat-1"
    _jpgs(seq / "img", [f"{j:08d}.jpg" for j in range(1, 5)])
    _gt(seq / "groundtruth.txt", 4)
    (seq / "full_occlusion.txt").write_text("0,1,0,0")
    (seq / "out_of_view.txt").write_text("0,0,1,0")
    other = tmp_path / "dog" / "dog-2"
    _jpgs(other / "img", ["00000001.jpg"])
    _gt(other / "groundtruth.txt", 1)
    (other / "full_occlusion.txt").write_text("0,0")  # wrong length
    (other / "out_of_view.txt").write_text("0")
    ds, warns = _build(lasot_manifest, tmp_path)
    assert ds["sequence"] == ["cat-1"] and ds[0]["visible"] == [True, False, False, True]
    assert ds[0]["boxes"][0] == [1, 2, 5, 4] and (ds[0]["width"], ds[0]["height"]) == (W, H)
    assert len(warns) == 1 and "label_count_mismatch=1" in warns[0]
    assert len(lasot_manifest(tmp_path, sequences=["cat-1"])) == 1


def test_trackingnet(tmp_path):
    for k, seqs in ((0, ["a", "b"]), (1, ["c"])):
        for s in seqs:
            _jpgs(tmp_path / f"TRAIN_{k}" / "frames" / s, [f"{i}.jpg" for i in range(11)])
            _gt(tmp_path / f"TRAIN_{k}" / "anno" / f"{s}.txt", 11)
    (tmp_path / "TRAIN_0" / "frames" / "b" / "10.jpg").unlink()
    ds, warns = _build(trackingnet_manifest, tmp_path)
    assert ds["sequence"] == ["TRAIN_0/a", "TRAIN_1/c"] and len(warns) == 1
    assert ds[0]["frame_paths"][0].endswith("TRAIN_0/frames/a/0.jpg")
    assert ds[0]["frame_paths"][10].endswith("a/10.jpg") and all(ds[0]["visible"])
    assert trackingnet_manifest(tmp_path, chunks=[1])["sequence"] == ["TRAIN_1/c"]
    with pytest.raises(FileNotFoundError):
        trackingnet_manifest(tmp_path, chunks=[5])


def test_coco(tmp_path):
    _jpgs(tmp_path / "train2017", ["1.jpg"])
    ann = {
        "images": [{"id": 1, "file_name": "1.jpg", "width": 640, "height": 480},
                   {"id": 2, "file_name": "2.jpg", "width": 10, "height": 10}],
        "annotations": [
            {"id": 10, "image_id": 1, "bbox": [1, 2, 30, 40], "iscrowd": 0},
            {"id": 11, "image_id": 1, "bbox": [1, 2, 30, 40], "iscrowd": 1},
            {"id": 12, "image_id": 1, "bbox": [1, 2, 1, 40], "iscrowd": 0},
            {"id": 13, "image_id": 2, "bbox": [1, 2, 30, 40], "iscrowd": 0},
        ],
    }
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "instances_train2017.json").write_text(json.dumps(ann))
    ds, warns = _build(coco_manifest, tmp_path)
    assert ds["sequence"] == ["10"] and ds[0]["boxes"] == [[1, 2, 30, 40]] and ds[0]["visible"] == [True]
    assert (ds[0]["width"], ds[0]["height"]) == (640, 480)
    assert len(warns) == 1
    for key in ("missing_frames=1", "skipped_crowd=1", "skipped_tiny=1"):
        assert key in warns[0]


def _custom(root: Path) -> None:
    _jpgs(root / "walk", [f"{i}.jpg" for i in (1, 2, 10)])
    _gt(root / "walk" / "groundtruth.txt", 3, sep="\t")
    (root / "walk" / "visible.txt").write_text("1\n0\n1\n")
    _jpgs(root / "run" / "img", ["a.png", "b.png"])
    _gt(root / "run" / "groundtruth.txt", 2)
    (root / "run" / "absence.label").write_text("1\n0\n")
    _jpgs(root / "empty", [])
    (root / "empty" / "groundtruth.txt").write_text("")
    _jpgs(root / "nogt", ["1.jpg"])


def test_folder(tmp_path):
    _custom(tmp_path)
    ds, warns = _build(folder_manifest, tmp_path, name="mine")
    assert ds["sequence"] == ["run", "walk"] and set(ds["dataset"]) == {"mine"}
    run, walk = ds[0], ds[1]
    assert [Path(p).name for p in walk["frame_paths"]] == ["1.jpg", "2.jpg", "10.jpg"]
    assert walk["visible"] == [True, False, True] and run["visible"] == [False, True]
    assert run["frame_paths"][0].endswith("run/img/a.png")
    assert len(warns) == 1 and "empty_sequence=1" in warns[0] and "missing_groundtruth=1" in warns[0]


def test_validate_manifest(tmp_path):
    _jpgs(tmp_path, ["a.jpg", "b.jpg"])
    a, b = str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg")
    rows = [
        ("ok", [a, b], [[0, 0, 2, 2], [1, 1, 2, 2]], [True, True]),
        ("missing", [a, str(tmp_path / "c.jpg")], [[0, 0, 2, 2]] * 2, [True, True]),
        ("count", [a, b], [[0, 0, 2, 2]], [True]),
        ("empty", [], [], []),
        ("nan", [a], [[math.nan] * 4], [True]),
        ("zero_w", [a, b], [[0, 0, 0, 2], [1, 1, 2, 2]], [True, True]),
    ]
    ds = Dataset.from_dict({"dataset": ["x"] * 6, "sequence": [r[0] for r in rows],
                            "frame_paths": [r[1] for r in rows], "boxes": [r[2] for r in rows],
                            "visible": [r[3] for r in rows], "width": [W] * 6, "height": [H] * 6},
                           features=MANIFEST_FEATURES)
    out, warns = _build(validate_manifest, ds)
    assert out["sequence"] == ["ok", "zero_w"] and out[1]["visible"] == [False, True]
    assert len(warns) == 1
    for key in ("missing_frames=1", "box_count_mismatch=1", "empty_sequence=1", "nan_boxes=1"):
        assert key in warns[0]
    clean, warns = _build(validate_manifest, out)
    assert clean is out and warns == []


def test_build_manifest_cache(tmp_path, monkeypatch):
    root = tmp_path / "data"
    _custom(root)
    calls = []
    real = sources.BUILDERS["folder"]
    monkeypatch.setitem(sources.BUILDERS, "folder", lambda *a, **k: calls.append(k) or real(*a, **k))
    cache = tmp_path / "cache"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ManifestWarning)
        first = build_manifest("custom", root, cache_dir=cache)
        second = build_manifest("folder", str(root), cache_dir=cache)
        assert len(calls) == 1 and second.to_dict() == first.to_dict()
        assert len([p for p in cache.iterdir() if p.name.startswith("folder-")]) == 1
        build_manifest("folder", root, cache_dir=cache, rebuild=True)
        assert len(calls) == 2
        build_manifest("folder", root, cache_dir=cache, name="other")  # new kwargs: new entry
        assert len(calls) == 3 and len(list(cache.glob("folder-*"))) == 2
        _jpgs(root / "new", ["1.jpg"])                                  # root changed: rebuilt
        _gt(root / "new" / "groundtruth.txt", 1)
        assert len(build_manifest("folder", root, cache_dir=cache)) == 3 and len(calls) == 4
    assert not list(cache.glob(".*tmp*"))


def test_parse_and_load_sources(tmp_path):
    specs = parse_sources("got10k:/a/b, lasot:/c:2,coco17:/d:0.5,got10k:C:\\x")
    assert [(s.kind, s.root, s.ratio, s.name) for s in specs] == [
        ("got10k", "/a/b", 1.0, "got10k"), ("lasot", "/c", 2.0, "lasot"),
        ("coco", "/d", 0.5, "coco"), ("got10k", "C:\\x", 1.0, "got10k_2")]
    assert source_ratios("folder:/x:3") == {"folder": 3.0}
    for bad in ("imagenet:/x", "got10k", "", "lasot:/c:0"):
        with pytest.raises(ValueError):
            parse_sources(bad)
    write_got10k_dataset(tmp_path / "got", num_sequences=2, num_frames=4, size=(32, 32), seed=0)
    _custom(tmp_path / "mine")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ManifestWarning)
        out = load_sources(f"got10k:{tmp_path / 'got'},custom:{tmp_path / 'mine'}:2", cache_dir=tmp_path / "c")
    assert list(out) == ["got10k", "folder"] and len(out["got10k"]) == 2 and len(out["folder"]) == 2
    both = concatenate_manifests(out)
    assert len(both) == 4 and set(both["dataset"]) == {"got10k", "custom"}


def _lasot_sequence(root: Path, name: str, frames: int = 2) -> None:
    seq = root / name.rsplit("-", 1)[0] / name
    _jpgs(seq / "img", [f"{j:08d}.jpg" for j in range(1, frames + 1)])
    _gt(seq / "groundtruth.txt", frames)
    (seq / "full_occlusion.txt").write_text(",".join("0" * frames))
    (seq / "out_of_view.txt").write_text(",".join("0" * frames))


def test_data_entries_name_their_split(tmp_path):
    specs = parse_sources("got10k:/g:vottrain,lasot:/l:train:2,got10k_vottrain:/h,lasot:/m,got10k:/k:train:0.5")
    assert [(s.kind, s.root, s.split, s.ratio) for s in specs] == [
        ("got10k", "/g", "vottrain", 1.0), ("lasot", "/l", "train", 2.0), ("got10k", "/h", "vottrain", 1.0),
        ("lasot", "/m", None, 1.0), ("got10k", "/k", "train", 0.5)]
    for bad, message in (("lasot:/l:test", r"'lasot:/l:test': lasot has no split 'test' \(choices: train\)"),
                         ("got10k:/g:vot", r"got10k has no split 'vot' \(choices: train, vottrain, votval\)"),
                         ("lasott:/l", r"'lasott:/l': unknown dataset kind 'lasott'; choices: coco, folder")):
        with pytest.raises(ValueError, match=message):
            parse_sources(f"got10k:/g,{bad}")


def test_lasot_default_split_leaves_the_test_set_out_and_reports_it(tmp_path, caplog):
    from simtrack_hf.data.splits import read_split_file

    train = read_split_file("lasot_train_split.txt")
    root = tmp_path / "lasot"
    for name in (*train[:3], "airplane-1", "cat-3"):  # airplane-1 and cat-3 are LaSOT test sequences
        _lasot_sequence(root, name)
    with caplog.at_level("INFO", logger=sources.__name__):
        out = load_sources(f"lasot:{root}", cache_dir=tmp_path / "cache")
    assert sorted(out["lasot"]["sequence"]) == sorted(train[:3])
    line = next(r for r in caplog.records if r.getMessage().startswith("lasot (split train"))
    assert line.levelname == "WARNING"  # the split names 1117 sequences the folder lacks
    assert line.getMessage() == (
        f"lasot (split train (the default)) from {root}: kept 3 of 5; dropped not_in_split=2; 1117 sequences of "
        f"the split are missing from the folder ({', '.join(train[3:8])}, ...)")
    caplog.clear()
    with caplog.at_level("INFO", logger=sources.__name__):  # from the cache: the same line
        load_sources(f"lasot:{root}:train", cache_dir=tmp_path / "cache")
    assert "split train) from" in caplog.records[-1].getMessage() and "kept 3 of 5" in caplog.records[-1].getMessage()


def test_every_entry_is_checked_before_any_source_is_read(tmp_path):
    write_got10k_dataset(tmp_path / "got", num_sequences=2, num_frames=4, size=(32, 32), seed=0)
    with pytest.raises(ValueError, match=r"'got10k:.*:vottrain': split vottrain indexes sequence 9331 .* holds 2"):
        load_sources(f"got10k:{tmp_path / 'got'},got10k:{tmp_path / 'got'}:vottrain", cache_dir=tmp_path / "c")
    assert not (tmp_path / "c").exists()  # the first, valid, source was not built either


@pytest.mark.slow
def test_paper_command_trains_no_lasot_test_and_only_vottrain_got10k(tmp_path):
    """The README's paper command on a folder with the full download layout (every LaSOT sequence, the 280 test
    ones included; all 9335 GOT-10k train/ sequences; TrackingNet TRAIN_0 and TEST; COCO train2017 and val2017),
    one frame each: its training data holds the 1120 LaSOT training sequences and exactly GOT10K_vottrain."""
    import os
    import re

    from simtrack_hf.data.splits import read_split_file

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    spec = re.search(r"scripts/train\.py \\\n    --variant sim-b16 .*?--data (\S+)", readme, re.S).group(1)
    frame = tmp_path / "frame.jpg"
    Image.new("RGB", (W, H)).save(frame)

    def sequence(folder: Path, frame_dir: str = "", **labels: str) -> None:
        """One sequence of one (hard-linked) frame, `groundtruth.txt` and the label files."""
        (folder / frame_dir).mkdir(parents=True)
        os.link(frame, folder / frame_dir / "00000001.jpg")
        for name, text in {"groundtruth.txt": "1,2,5,4\n", **labels}.items():
            (folder / name).write_text(text)

    train = read_split_file("lasot_train_split.txt")
    classes = sorted({name.rsplit("-", 1)[0] for name in train})
    test = sorted({f"{c}-{k}" for c in classes for k in range(1, 21)} - set(train))  # the rest of the download
    lasot = tmp_path / "lasot"
    for name in train + test:
        sequence(lasot / name.rsplit("-", 1)[0] / name, "img", **{"full_occlusion.txt": "0", "out_of_view.txt": "0"})
    got10k = tmp_path / "got10k"
    all_got = [f"GOT-10k_Train_{i:06d}" for i in range(1, 9336)]
    for name in all_got:
        sequence(got10k / "train" / name, **{"absence.label": "0\n", "cover.label": "8\n"})
    (got10k / "train" / "list.txt").write_text("\n".join(all_got) + "\n")
    sequence(got10k / "val" / "GOT-10k_Val_000001", **{"absence.label": "0\n", "cover.label": "8\n"})
    trackingnet = tmp_path / "trackingnet"
    for chunk in ("TRAIN_0", "TEST"):
        (trackingnet / chunk / "anno").mkdir(parents=True)
        (trackingnet / chunk / "anno" / f"{chunk}_a.txt").write_text("1,2,5,4\n")
        (trackingnet / chunk / "frames" / f"{chunk}_a").mkdir(parents=True)
        os.link(frame, trackingnet / chunk / "frames" / f"{chunk}_a" / "0.jpg")
    coco = tmp_path / "coco"
    for split in ("train2017", "val2017"):
        (coco / "annotations").mkdir(parents=True, exist_ok=True)
        (coco / split).mkdir()
        os.link(frame, coco / split / "1.jpg")
        (coco / "annotations" / f"instances_{split}.json").write_text(json.dumps({
            "images": [{"id": 1, "file_name": "1.jpg", "width": W, "height": H}],
            "annotations": [{"id": 7 if split == "train2017" else 8, "image_id": 1, "bbox": [1, 2, 5, 4],
                             "iscrowd": 0}]}))
    for source, folder in (("got10k", got10k), ("lasot", lasot), ("coco", coco), ("trackingnet", trackingnet)):
        spec = spec.replace(f"/data/{source}", str(folder))
    assert spec.count(str(tmp_path)) == 4

    out = load_sources(spec, cache_dir=tmp_path / "cache")
    assert len(set(test)) == 280 and sorted(out["lasot"]["sequence"]) == sorted(train)  # no test sequence
    vottrain = {all_got[int(i)] for i in read_split_file("got10k_vot_train_split.txt")}
    assert len(out["got10k"]) == 7086 and set(out["got10k"]["sequence"]) == vottrain  # nothing else of GOT-10k
    assert out["trackingnet"]["sequence"] == ["TRAIN_0/TRAIN_0_a"] and out["coco"]["sequence"] == ["7"]
