"""What produced a results folder, and one writer at a time.

A tracker's results folder (``<results-dir>/<name>/``) holds ``run.json``: the dataset it was tracked on and what
tracked it (`tracker_record`: backend, dtype, a SHA-256 of the weights, the model and processor configs, the
tracking options; or the baseline's name). `claim_results_dir` refuses to resume a folder whose record differs
(one line naming the first difference) or that holds results without a record, and refuses a second process
while one is writing (an OS lock, ``fcntl.flock`` on ``.lock``: released when its process ends, even by kill -9).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .results import write_atomic

__all__ = ["RECORD_FILE", "claim_results_dir", "tracker_record"]

RECORD_FILE = "run.json"
_LOCK_FILE = ".lock"


def _weights_digest(model: Any) -> str:
    """SHA-256 of a `SimTrackModel`'s tensors (names, dtypes, bytes) or of an ONNX runner's files."""
    import torch

    digest = hashlib.sha256()
    if isinstance(model, torch.nn.Module):
        for name, tensor in sorted(model.state_dict().items()):
            digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
            digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    else:
        for path in sorted(Path(model.path).parent.glob(f"{Path(model.path).name}*")):  # model.onnx (+ .data)
            digest.update(path.read_bytes())
    return f"sha256:{digest.hexdigest()}"


def _settings(values: dict[str, Any]) -> dict[str, Any]:
    """A config's fields without bookkeeping (library version, origin, load dtype)."""
    skip = {"transformers_version", "torch_dtype", "dtype", "architectures", "auto_map"}
    return {key: value for key, value in values.items() if key not in skip and not key.startswith("_")}


def tracker_record(tracker: Any) -> dict[str, Any]:
    """What a `SimTrackTracker` tracks with: backend, dtype, weights digest, model and processor configs and the
    tracking options in effect."""
    import torch

    return {
        "backend": "torch" if isinstance(tracker.model, torch.nn.Module) else "onnxruntime",
        "dtype": str(tracker.dtype).removeprefix("torch."),
        "weights": _weights_digest(tracker.model),
        "config": _settings(tracker.model.config.to_dict()) if tracker.model.config is not None else None,
        "processor": _settings(tracker.processor.to_dict()),
        "tracking_options": dataclasses.asdict(tracker.options),
    }


def _first_difference(stored: Any, current: Any, path: str = "") -> str | None:
    """The first field where two records differ, as ``field: X there, Y here`` (None when equal)."""
    if isinstance(stored, dict) and isinstance(current, dict):
        for key in sorted(set(stored) | set(current), key=str):
            found = _first_difference(stored.get(key), current.get(key), f"{path}.{key}" if path else str(key))
            if found:
                return found
        return None
    if stored == current:
        return None
    return f"{path or 'record'}: {_short(stored)} there, {_short(current)} here"


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else f"{text[:77]}..."


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with open(folder / _LOCK_FILE, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ValueError(f"{folder} is being written by another process (it holds {folder / _LOCK_FILE}): "
                             "wait for it to end, or give another --name / --results-dir") from None
        yield


@contextlib.contextmanager
def claim_results_dir(folder: str | Path, record: dict[str, Any], names: Sequence[str], *, resume: bool,
                      lock: bool = True, clear_all: bool = True) -> Iterator[None]:
    """Hold ``folder`` for one run described by ``record`` (JSON values) of the sequences ``names``.

    ``resume``: keep the folder's results when its ``run.json`` equals ``record``; ValueError naming the first
    difference when it does not, or when results are there without a record. ``resume=False``: delete the results
    (every ``*.txt`` with ``clear_all``, else those of ``names``) and start the record afresh. ``lock``: hold the
    folder's OS lock meanwhile (ValueError when another process holds it; under a launcher only rank 0 locks).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    record = json.loads(json.dumps(record, default=str))  # tuples -> lists, as read back
    with _locked(folder) if lock else contextlib.nullcontext():
        path = folder / RECORD_FILE
        if resume and path.is_file():
            try:
                stored = json.loads(path.read_text())
            except ValueError:
                stored = None
            difference = _first_difference(stored, record)
            if difference:
                raise ValueError(f"{folder} holds the results of another run ({difference}): --no-resume tracks "
                                 "again there, or give another --name / --results-dir")
        elif resume:
            found = next((name for name in names if (folder / f"{name}.txt").is_file()), None)
            if found is not None:
                raise ValueError(f"{folder} holds results ({found}.txt) but no {RECORD_FILE} saying what produced "
                                 "them: --no-resume tracks again there, or give another --name / --results-dir")
        if not resume:
            own = [folder / f"{name}{suffix}" for name in names for suffix in (".txt", "_time.txt")]
            for file in list(folder.glob("*.txt")) if clear_all else own:
                file.unlink(missing_ok=True)
        write_atomic(path, lambda tmp: tmp.write_text(json.dumps(record, indent=2, sort_keys=True)))
        yield
