"""The one dataset-layout reader (simtrack_hf.data.layouts.read_sequence): strict for benchmarks, lenient for
training manifests, the same frames, boxes and visibility where the data are good."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from simtrack_hf.data import layouts
from simtrack_hf.io.boxes import read_box_file

_JPG = cv2.imencode(".jpg", np.full((8, 8, 3), 127, np.uint8))[1].tobytes()


def _sequence(folder: Path, num_frames: int, boxes: str, absence: str | None = "0\n1\n0\n") -> layouts.SequenceFiles:
    folder.mkdir(parents=True)
    for i in range(1, num_frames + 1):
        (folder / f"{i:08d}.jpg").write_bytes(_JPG)
    (folder / "groundtruth.txt").write_text(boxes)
    if absence is not None:
        (folder / "absence.label").write_text(absence)
    return layouts.got10k_sequence(folder.parent, folder.name)


def test_good_sequence_reads_the_same_both_ways(tmp_path):
    files = _sequence(tmp_path / "good", 3, "1,2,3,4\n2,2,3,4\n3,2,3,4\n")
    strict = layouts.read_sequence(files, strict=True)
    lenient = layouts.read_sequence(files, strict=False)
    assert strict.frames == lenient.frames == [str(tmp_path / "good" / f"{i:08d}.jpg") for i in (1, 2, 3)]
    np.testing.assert_array_equal(strict.boxes, lenient.boxes)
    assert strict.visible.tolist() == lenient.visible.tolist() == [True, False, True]
    assert strict.missing_labels == lenient.missing_labels == 1 and lenient.problem is None  # no cover.label


@pytest.mark.parametrize(
    ("name", "num_frames", "boxes", "absence", "strict_error", "problem"),
    [
        ("missing_frame", 2, "1,2,3,4\n1,2,3,4\n1,2,3,4\n", None, r"3 boxes but 2 frames", "missing_frames"),
        ("extra_frame", 4, "1,2,3,4\n1,2,3,4\n1,2,3,4\n", None, r"3 boxes but 4 frames", "box_count_mismatch"),
        ("bad_line", 3, "1,2,3,4\n1,2,x,4\n1,2,3,4\n", None, r"groundtruth.txt, line 2: not a number", None),
        ("short_labels", 3, "1,2,3,4\n1,2,3,4\n1,2,3,4\n", "0\n0\n", r"absence.label: 2 values for 3 frames", None),
    ],
)
def test_strict_raises_where_lenient_reports(tmp_path, name, num_frames, boxes, absence, strict_error, problem):
    files = _sequence(tmp_path / name, num_frames, boxes, absence)
    with pytest.raises(ValueError, match=strict_error):
        layouts.read_sequence(files, strict=True)
    record = layouts.read_sequence(files, strict=False)
    assert record.problem == problem
    if name == "bad_line":
        assert np.isnan(record.boxes[1]).all() and not np.isnan(record.boxes[[0, 2]]).any()
    if name == "short_labels":  # left for the manifest's label_count_mismatch check
        assert [len(part) for part in record.visible_parts] == [2]


def test_missing_files(tmp_path):
    files = layouts.got10k_sequence(tmp_path, "absent")
    with pytest.raises(ValueError, match="sequence folder not found"):
        layouts.read_sequence(files, strict=True)
    assert layouts.read_sequence(files, strict=False).problem == "missing_groundtruth"
    assert layouts.read_flags(tmp_path / "none.label", strict=False) is None
    with pytest.raises(ValueError, match="file not found"):
        layouts.read_flags(tmp_path / "none.label", 3, strict=True)


def test_box_file_switch(tmp_path):
    path = tmp_path / "boxes.txt"
    path.write_text("1;2;3;4\n\n5 6 7 8 9\n1,2\n")
    lenient = read_box_file(path, strict=False)
    assert lenient.dtype == np.float32 and lenient.shape == (3, 4)
    np.testing.assert_array_equal(lenient[:2], [[1, 2, 3, 4], [5, 6, 7, 8]])
    assert np.isnan(lenient[2]).all()
    with pytest.raises(ValueError, match=r"boxes.txt, line 3: expected 4 values .* got 5"):
        read_box_file(path)
    np.testing.assert_array_equal(read_box_file(path, first_only=True), [[1, 2, 3, 4]])
