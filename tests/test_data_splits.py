"""The shipped training splits and what a split takes from a folder (folder listings only)."""

from __future__ import annotations

import pytest

from simtrack_hf.data.splits import read_split_file, select_split

GOT10K_TRAIN = [f"GOT-10k_Train_{i:06d}" for i in range(1, 9336)]


def got10k_listing(root, names):
    """A GOT-10k root whose train/list.txt names `names` (enough for the split selection, which reads no data)."""
    (root / "train").mkdir(parents=True)
    (root / "train" / "list.txt").write_text("\n".join(names) + "\n")
    return root


def test_shipped_lists_are_the_original_splits():
    lasot = read_split_file("lasot_train_split.txt")
    vottrain = [int(i) for i in read_split_file("got10k_vot_train_split.txt")]
    votval = [int(i) for i in read_split_file("got10k_vot_val_split.txt")]
    assert (len(set(lasot)), len(set(vottrain)), len(set(votval))) == (1120, 7086, 1249)
    assert not set(vottrain) & set(votval) and max(vottrain + votval) < 9335
    assert len({name.rsplit("-", 1)[0] for name in lasot}) == 70  # 16 training sequences of each of 70 classes


def test_lasot_train_is_the_default_and_missing_sequences_are_counted(tmp_path):
    train = read_split_file("lasot_train_split.txt")
    test_names = ["airplane-1", "airplane-9", "zebra-10"]
    assert not set(test_names) & set(train)
    for name in [*train[:5], *test_names]:
        (tmp_path / name.rsplit("-", 1)[0] / name).mkdir(parents=True)
    selection = select_split("lasot", tmp_path, None, "lasot:X")
    assert (selection.split, selection.default, selection.describe()) == ("train", True, "split train (the default)")
    assert selection.builder_kwargs == {"sequences": train[:5]}
    assert (selection.in_folder, selection.not_in_split) == (8, 3)
    assert selection.missing == tuple(train[5:])  # named by the split, absent from the folder: reported
    assert select_split("lasot", tmp_path, "train", "lasot:X:train").builder_kwargs == selection.builder_kwargs


def test_got10k_splits(tmp_path):
    root = got10k_listing(tmp_path, GOT10K_TRAIN)
    full = select_split("got10k", root, None, "got10k:X")
    assert (full.split, full.default, full.builder_kwargs) == ("train", True, {})  # every sequence of train/
    vottrain = select_split("got10k", root, "vottrain", "got10k:X:vottrain")
    names = vottrain.builder_kwargs["sequences"]
    assert len(names) == 7086 and names[0] == GOT10K_TRAIN[3784] and not vottrain.default
    assert (vottrain.in_folder, vottrain.not_in_split, vottrain.missing) == (9335, 9335 - 7086, ())
    votval = select_split("got10k", root / "train", "votval", "got10k:X:votval")  # the train/ folder itself
    assert len(votval.builder_kwargs["sequences"]) == 1249
    assert not set(votval.builder_kwargs["sequences"]) & set(names)


@pytest.mark.parametrize("kind, split, message", [
    ("lasot", "test", r"'lasot:X:test': lasot has no split 'test' \(choices: train\)"),
    ("got10k", "val", r"got10k has no split 'val' \(choices: train, vottrain, votval\)"),
    ("folder", "train", r"folder has no split 'train' \(choices: none: name no split\)"),
])
def test_unknown_split_names_the_entry_and_the_choices(tmp_path, kind, split, message):
    with pytest.raises(ValueError, match=message):
        select_split(kind, tmp_path, split, f"{kind}:X:{split}")


def test_got10k_index_beyond_the_folder_or_a_partial_folder_is_refused(tmp_path):
    short = got10k_listing(tmp_path / "short", GOT10K_TRAIN[:5000])
    with pytest.raises(ValueError, match=r"indexes sequence 9331 \(0-based\) but .* holds 5000"):
        select_split("got10k", short, "vottrain", "got10k:short:vottrain")
    gap = got10k_listing(tmp_path / "gap", GOT10K_TRAIN[:10] + GOT10K_TRAIN[11:])  # one sequence lost
    with pytest.raises(ValueError, match=r"'got10k:gap:vottrain': .* lists 9334 GOT-10k sequences; .* \(9335\)"):
        select_split("got10k", gap, "vottrain", "got10k:gap:vottrain")
    other = got10k_listing(tmp_path / "other", [f"clip{i}" for i in range(9334)])  # own names: indices only
    assert len(select_split("got10k", other, "vottrain", "got10k:other:vottrain").builder_kwargs["sequences"]) == 7086
