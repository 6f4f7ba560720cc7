"""Benchmark readers (simtrack_hf.data.benchmarks) and result writers on tiny fake benchmark folders."""

import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from simtrack_hf.data.benchmarks import (
    BENCHMARKS,
    read_benchmark,
    read_got10k,
    read_lasot,
    read_otb,
    read_synthetic,
    read_tnl2k,
    read_trackingnet,
    read_uav123,
)
from simtrack_hf.data.layouts import list_frames
from simtrack_hf.evaluation import write_got10k_submission, write_trackingnet_submission
from simtrack_hf.io.boxes import read_box_file, read_results, write_results

_JPG = cv2.imencode(".jpg", np.full((8, 8, 3), 127, np.uint8))[1].tobytes()
_PNG = cv2.imencode(".png", np.full((8, 8, 3), 127, np.uint8))[1].tobytes()


def _frames(folder: Path, names) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / n).write_bytes(_PNG if n.endswith(".png") else _JPG)


def _boxes(n: int, offset: float = 0.0) -> np.ndarray:
    return np.array([[1 + i + offset, 2.5, 3, 4] for i in range(n)], float)


def _box_text(boxes, sep=",") -> str:
    return "".join(sep.join(f"{v:g}" for v in b) + "\n" for b in boxes)


# ------------------------------------------------------------------ readers
@pytest.fixture
def lasot(tmp_path):
    root = tmp_path / "LaSOT"
    for name, n in (("cat-2", 3), ("cat-10", 4), ("dog-1", 2)):
        d = root / name.split("-")[0] / name
        _frames(d / "img", [f"{i:08d}.jpg" for i in range(1, n + 1)])
        (d / "groundtruth.txt").write_text(_box_text(_boxes(n)))
        occ, oov = ["0"] * n, ["0"] * n
        occ[1] = "1"
        (d / "full_occlusion.txt").write_text(",".join(occ))
        (d / "out_of_view.txt").write_text(",".join(oov))
        (d / "nlp.txt").write_text(f"the {name}\n")
    return root


def test_lasot(lasot):
    seqs = read_lasot(lasot)
    assert [s.name for s in seqs] == ["cat-2", "cat-10", "dog-1"]  # natural order
    s = seqs[1]
    assert len(s) == 4 and s.frames[0].endswith("cat/cat-10/img/00000001.jpg")
    np.testing.assert_array_equal(s.ground_truth, _boxes(4))
    assert s.visible.tolist() == [True, False, True, True]
    assert s.language == "the cat-10" and s.dataset == "lasot" and s.fully_annotated
    (lasot / "testing_set.txt").write_text("dog-1\ncat-2\n")
    assert [s.name for s in read_lasot(lasot)] == ["dog-1", "cat-2"]
    assert [s.name for s in read_benchmark("lasot", lasot)] == ["dog-1", "cat-2"]


def test_lasot_bad_data(lasot):
    d = lasot / "cat" / "cat-2"
    (d / "out_of_view.txt").write_text("0,0")
    with pytest.raises(ValueError, match=r"out_of_view.txt: 2 values for 3 frames"):
        read_lasot(lasot, ["cat-2"])
    (d / "groundtruth.txt").write_text("1,2,3,4\n1,2,3\n1,2,3,4\n")
    with pytest.raises(ValueError, match=r"cat-2.groundtruth.txt, line 2: expected 4 values"):
        read_lasot(lasot, ["cat-2"])
    (d / "groundtruth.txt").write_text("1,2,3,4\n1,2,3,4\n")
    with pytest.raises(ValueError, match=r"2 boxes but 3 frames"):
        read_lasot(lasot, ["cat-2"])
    with pytest.raises(ValueError, match=r"sequence folder not found: .*cow-1"):
        read_lasot(lasot, ["cow-1"])
    with pytest.raises(ValueError, match="benchmark folder not found"):
        read_lasot(lasot / "missing")


def _got_folder(folder: Path, names, n=3, full=True):
    folder.mkdir(parents=True)
    (folder / "list.txt").write_text("\n".join(names) + "\n")
    for name in names:
        _frames(folder / name, [f"{i:08d}.jpg" for i in range(1, n + 1)])
        gt = _boxes(n if full else 1)
        (folder / name / "groundtruth.txt").write_text(_box_text(gt))
        if full:
            (folder / name / "absence.label").write_text("0\n0\n1\n")
            (folder / name / "cover.label").write_text("8\n0\n5\n")


def test_got10k_val_test_and_synthetic(tmp_path):
    _got_folder(tmp_path / "GOT10k" / "val", ["GOT-10k_Val_000002", "GOT-10k_Val_000001"])
    _got_folder(tmp_path / "GOT10k" / "test", ["GOT-10k_Test_000001"], full=False)
    val = read_got10k(tmp_path / "GOT10k", "val")
    assert [s.name for s in val] == ["GOT-10k_Val_000002", "GOT-10k_Val_000001"]  # list.txt order
    assert val[0].visible.tolist() == [True, False, False] and val[0].ground_truth.shape == (3, 4)
    test = read_got10k(tmp_path / "GOT10k", "test")
    assert test[0].ground_truth.shape == (1, 4) and len(test[0]) == 3 and test[0].visible is None
    assert not test[0].fully_annotated
    np.testing.assert_array_equal(test[0].init_box, [1, 2.5, 3, 4])
    _got_folder(tmp_path / "synth", ["seq_a"], n=3)
    syn = read_synthetic(tmp_path / "synth")
    assert syn[0].dataset == "synthetic" and len(syn[0]) == 3
    assert read_benchmark("synthetic", tmp_path / "synth")[0].name == "seq_a"
    with pytest.raises(ValueError, match="split must be"):
        read_got10k(tmp_path / "GOT10k", "train")


def test_got10k_bad_data(tmp_path):
    _got_folder(tmp_path / "val", ["a"])
    (tmp_path / "val" / "a" / "cover.label").write_text("8\nx\n8\n")
    with pytest.raises(ValueError, match=r"cover.label, line 2: not an integer"):
        read_synthetic(tmp_path / "val")
    (tmp_path / "val" / "a" / "cover.label").write_text("8\n8\n8\n")
    (tmp_path / "val" / "a" / "groundtruth.txt").write_text("1,2,3,4\nnan,2,3,4\n1,2,3,4\n")
    with pytest.raises(ValueError, match=r"groundtruth.txt, line 2: NaN is not allowed"):
        read_synthetic(tmp_path / "val")
    (tmp_path / "val" / "a" / "groundtruth.txt").write_text("1,2,3,4\n1,2,a,4\n1,2,3,4\n")
    with pytest.raises(ValueError, match=r"groundtruth.txt, line 2: not a number"):
        read_synthetic(tmp_path / "val")
    (tmp_path / "val" / "a" / "groundtruth.txt").write_text("1,2,3,4\n1,2,3,4\n1,2,3,4\n")
    (tmp_path / "val" / "list.txt").write_text("a\nb\n")
    with pytest.raises(ValueError, match=r"sequence folder not found: .*val.b"):
        read_synthetic(tmp_path / "val")
    with pytest.raises(ValueError, match="benchmark folder not found"):
        read_got10k(tmp_path, "test")


def test_trackingnet(tmp_path):
    test = tmp_path / "TrackingNet" / "TEST"
    _frames(test / "frames" / "seqB", [f"{i}.jpg" for i in range(12)])
    (test / "anno").mkdir(parents=True)
    (test / "anno" / "seqB.txt").write_text("1,2,3,4\n")
    seqs = read_trackingnet(tmp_path / "TrackingNet")
    assert [Path(f).name for f in seqs[0].frames] == [f"{i}.jpg" for i in range(12)]  # natural, 0-based
    assert seqs[0].ground_truth.shape == (1, 4) and seqs[0].dataset == "trackingnet"
    (test / "anno" / "seqC.txt").write_text("1,2,3,4\n")
    with pytest.raises(ValueError, match=r"frame folder not found: .*frames.seqC"):
        read_trackingnet(tmp_path / "TrackingNet")


def test_otb_separators(tmp_path):
    root = tmp_path / "OTB"
    for name, sep in (("Basketball", ","), ("Biker", "\t"), ("Car4", " ")):
        _frames(root / name / "img", [f"{i:04d}.jpg" for i in range(1, 4)])
        (root / name / "groundtruth_rect.txt").write_text(_box_text(_boxes(3), sep))
    seqs = read_otb(root)
    assert [s.name for s in seqs] == ["Basketball", "Biker", "Car4"]
    for s in seqs:
        np.testing.assert_array_equal(s.ground_truth, _boxes(3))
    (root / "list.txt").write_text("Car4\n")
    assert [s.name for s in read_otb(root)] == ["Car4"]
    (root / "Car4" / "groundtruth_rect.txt").write_text("1 2 3 4\n1 2 3 4 5\n1 2 3 4\n")
    with pytest.raises(ValueError, match=r"groundtruth_rect.txt, line 2: expected 4 values .* got 5"):
        read_otb(root)


def test_uav123_allows_nan(tmp_path):
    root = tmp_path / "UAV123"
    _frames(root / "data_seq" / "UAV123" / "bike1", [f"{i:06d}.jpg" for i in range(1, 4)])
    (root / "anno" / "UAV123").mkdir(parents=True)
    (root / "anno" / "UAV123" / "bike1.txt").write_text("1,2,3,4\nNaN,NaN,NaN,NaN\n1,2,3,4\n")
    s = read_uav123(root)[0]
    assert np.isnan(s.ground_truth[1]).all() and s.dataset == "uav" and len(s) == 3
    (root / "anno" / "UAV123" / "bike1.txt").write_text("NaN,NaN,NaN,NaN\n1,2,3,4\n1,2,3,4\n")
    with pytest.raises(ValueError, match=r"bike1.txt, line 1: the first box must not be NaN"):
        read_uav123(root)


def test_tnl2k(tmp_path):
    root = tmp_path / "TNL2K"
    _frames(root / "advSamp_Baseball_game_002-Done" / "imgs", ["00001.png", "00002.png"])
    (root / "advSamp_Baseball_game_002-Done" / "groundtruth.txt").write_text(_box_text(_boxes(2)))
    (root / "advSamp_Baseball_game_002-Done" / "language.txt").write_text("the white baseball\n")
    s = read_tnl2k(root)[0]
    assert s.language == "the white baseball" and len(s) == 2 and s.dataset == "tnl2k"
    (root / "empty").mkdir()
    (root / "empty" / "groundtruth.txt").write_text("1,2,3,4\n")
    with pytest.raises(ValueError, match=r"frame folder not found: .*empty.imgs"):
        read_tnl2k(root)


def test_list_frames_and_registry(tmp_path):
    _frames(tmp_path / "f", ["img10.jpg", "img2.JPG", "img1.png", "notes.txt"])
    assert [Path(f).name for f in list_frames(tmp_path / "f")] == ["img1.png", "img2.JPG", "img10.jpg"]
    (tmp_path / "e").mkdir()
    with pytest.raises(ValueError, match="no images"):
        list_frames(tmp_path / "e")
    assert set(BENCHMARKS) == {"lasot", "got10k_val", "got10k_test", "trackingnet", "otb", "uav123", "tnl2k", "synthetic",
                               "photos"}
    with pytest.raises(ValueError, match="unknown benchmark"):
        read_benchmark("vot", tmp_path)


# ------------------------------------------------------------------ result files
def test_results_roundtrip_and_int_truncation(tmp_path):
    boxes = np.array([[10.75, 20.5, 30.25, 40.9], [-1.5, 2.0, 3.999, 4.0]])
    p = write_results(tmp_path / "out" / "seq.txt", boxes)
    np.testing.assert_allclose(read_results(p, num_frames=2), boxes, atol=1e-4)
    p = write_results(tmp_path / "seq_int.txt", boxes, integer=True)
    assert p.read_text() == "10,20,30,40\n-1,2,3,4\n"  # truncation toward zero, like astype(int)
    (tmp_path / "tab.txt").write_text("1\t2\t3\t4\n\n5\t6\t7\t8\n")
    assert read_results(tmp_path / "tab.txt").shape == (2, 4)


def test_read_results_errors(tmp_path):
    p = tmp_path / "r.txt"
    p.write_text("1,2,3,4\n1,2,3,4\n")
    with pytest.raises(ValueError, match=r"r.txt: 2 boxes, expected 3"):
        read_results(p, num_frames=3)
    p.write_text("1,2,3,4\n1,nan,3,4\n")
    with pytest.raises(ValueError, match=r"r.txt, line 2: NaN"):
        read_results(p)
    p.write_text("")
    with pytest.raises(ValueError, match="no boxes"):
        read_results(p)
    with pytest.raises(ValueError, match="file not found"):
        read_results(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="NaN or inf at frame 1"):
        write_results(p, [[1, 2, 3, 4], [np.nan, 2, 3, 4]])
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        write_results(p, [[1, 2, 3]])
    p.write_text("1,2,3,4\nNaN,NaN,NaN,NaN\n")
    assert np.isnan(read_box_file(p, allow_nan=True)[1]).all()


def test_got10k_submission(tmp_path):
    res = {"GOT-10k_Test_000001": _boxes(3), "GOT-10k_Test_000002": _boxes(2)}
    times = {"GOT-10k_Test_000001": [0.01, 0.02, 0.03], "GOT-10k_Test_000002": [0.01, 0.01]}
    out = write_got10k_submission(tmp_path / "sub", res, times, zip_path=tmp_path / "sub.zip")
    d = out / "GOT-10k_Test_000001"
    np.testing.assert_allclose(read_results(d / "GOT-10k_Test_000001_001.txt", 3), _boxes(3))
    assert (d / "GOT-10k_Test_000001_time.txt").read_text().splitlines()[1] == "0.02000000"
    with zipfile.ZipFile(tmp_path / "sub.zip") as zf:
        assert sorted(zf.namelist()) == [
            "GOT-10k_Test_000001/GOT-10k_Test_000001_001.txt", "GOT-10k_Test_000001/GOT-10k_Test_000001_time.txt",
            "GOT-10k_Test_000002/GOT-10k_Test_000002_001.txt", "GOT-10k_Test_000002/GOT-10k_Test_000002_time.txt",
        ]
    with pytest.raises(ValueError, match="2 times for 3 boxes"):
        write_got10k_submission(tmp_path / "bad", {"a": _boxes(3)}, {"a": [0.1, 0.1]})


def test_trackingnet_submission(tmp_path):
    zp = write_trackingnet_submission(tmp_path / "tn" / "sub.zip", {"seqA": _boxes(2), "seqB": _boxes(1)})
    with zipfile.ZipFile(zp) as zf:
        assert sorted(zf.namelist()) == ["seqA.txt", "seqB.txt"]
        text = zf.read("seqA.txt").decode()
    assert text == "1.0000,2.5000,3.0000,4.0000\n2.0000,2.5000,3.0000,4.0000\n"
