"""A training work folder: datasets rendered once (atomically, resumable) and the newest complete checkpoint.

`ensure_synthetic_got10k` / `ensure_photo_got10k` render a GOT-10k-layout train split under a folder exactly once
(a ``.complete`` marker records the parameters); `last_complete_checkpoint` finds where to resume a killed run.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

__all__ = [
    "ensure_photo_benchmark", "ensure_photo_got10k", "ensure_synthetic_benchmark", "ensure_synthetic_got10k",
    "last_complete_checkpoint",
]

logger = logging.getLogger(__name__)


def _ensure_rendered(root: str | os.PathLike, params: dict[str, Any], write: Callable[[Path], Any]) -> Path:
    """Render a dataset once under ``root``: ``write(tmp)`` fills a temporary sibling folder that is renamed to
    ``root`` with a ``.complete`` marker recording ``params``. A folder this package rendered with other params
    is replaced; a non-empty folder without the marker is someone else's and is never touched (ValueError)."""
    root = Path(root)
    marker = root / ".complete"
    if marker.is_file():
        if json.loads(marker.read_text()) == params:
            return root
        shutil.rmtree(root)  # ours (the marker says so), rendered with other arguments
    elif root.exists() and any(root.iterdir()):
        raise ValueError(
            f"{root} is not empty and was not rendered by simtrack_hf (no .complete marker); "
            "choose an empty or new folder"
        )
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        write(tmp)
        (tmp / ".complete").write_text(json.dumps(params))
        if root.exists():
            root.rmdir()
        tmp.rename(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def ensure_synthetic_got10k(
    root: str | os.PathLike, num_sequences: int = 60, num_frames: int = 40, size: tuple[int, int] = (240, 320),
    seed: int = 0,
) -> Path:
    """Write (once) a deterministic synthetic GOT-10k train split under ``root``; returns ``root``.

    Rendered atomically (see ``_ensure_rendered``): an interrupted run leaves nothing that looks complete.
    """
    from ..data.synthetic import write_got10k_dataset

    params = {"num_sequences": num_sequences, "num_frames": num_frames, "size": list(size), "seed": seed}
    return _ensure_rendered(root, params, lambda tmp: write_got10k_dataset(
        tmp, num_sequences=num_sequences, num_frames=num_frames, size=tuple(size), seed=seed))


def ensure_photo_got10k(
    root: str | os.PathLike, photo_paths: list[Path], num_sequences: int = 100, num_frames: int = 40,
    size: tuple[int, int] = (240, 320), seed: int = 0,
) -> Path:
    """Write (once) videos rendered from ``photo_paths`` as a GOT-10k train split under ``root``; returns ``root``."""
    from ..data.photos import load_photos, write_photo_dataset

    params = {"photos": [str(p) for p in photo_paths], "num_sequences": num_sequences, "num_frames": num_frames,
              "size": list(size), "seed": seed, "kind": "photos"}
    return _ensure_rendered(root, params, lambda tmp: write_photo_dataset(
        load_photos(photo_paths), tmp, num_sequences=num_sequences, num_frames=num_frames, size=size, seed=seed))


def _ensure_benchmark(root: Path, params: dict[str, Any], write_split: Any) -> Path:
    """Render (once, atomically) a GOT-10k-layout folder of sequences at ``root`` with
    ``write_split(tmp, split_name) -> split folder``; the sequences are moved up to sit directly in ``root``."""
    def write(tmp: Path) -> None:
        split = write_split(tmp, root.name)
        for child in split.iterdir():
            child.rename(tmp / child.name)
        split.rmdir()

    return _ensure_rendered(root, params, write)


def ensure_synthetic_benchmark(root: str | os.PathLike, num_sequences: int, num_frames: int, seed: int = 1000
                               ) -> Path:
    """Write (once, atomically) synthetic clips as a GOT-10k-layout folder of sequences at ``root`` (a benchmark
    root: the sequences sit directly in it, named ``GOT-10k_<Root>_%06d`` after the folder); returns ``root``."""
    from ..data.synthetic import write_got10k_dataset

    params = {"num_sequences": num_sequences, "num_frames": num_frames, "seed": seed, "kind": "benchmark"}
    return _ensure_benchmark(Path(root), params, lambda tmp, split: write_got10k_dataset(
        tmp, num_sequences, num_frames, seed=seed, split=split))


def ensure_photo_benchmark(root: str | os.PathLike, photo_dir: str | os.PathLike, num_sequences: int,
                           num_frames: int, size: tuple[int, int] = (360, 640), seed: int = 2000) -> Path:
    """Write (once, atomically) videos rendered from the photos of ``photo_dir`` as a benchmark at ``root`` (same
    layout as :func:`ensure_synthetic_benchmark`); returns ``root``."""
    from ..data.photos import list_photos, load_photos, write_photo_dataset

    paths = list_photos(photo_dir)
    params = {"photos": [str(p) for p in paths], "num_sequences": num_sequences, "num_frames": num_frames,
              "size": list(size), "seed": seed, "kind": "photo_benchmark"}
    return _ensure_benchmark(Path(root), params, lambda tmp, split: write_photo_dataset(
        load_photos(paths, max_side=1024), tmp, num_sequences, num_frames, size=size, seed=seed, split=split))


_CHECKPOINT_FILES = ("trainer_state.json", "model.safetensors", "optimizer.pt", "scheduler.pt")


def last_complete_checkpoint(output_dir: str | os.PathLike) -> Path | None:
    """The newest ``checkpoint-<step>`` folder holding every file a resume needs, or None.

    Incomplete folders (a run killed while saving) are skipped with a warning naming them.
    """
    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    steps = sorted(
        (int(p.name.split("-")[1]), p) for p in folder.glob("checkpoint-*") if p.name.split("-")[1].isdigit()
    )
    for _, path in reversed(steps):
        missing = [name for name in _CHECKPOINT_FILES if not (path / name).is_file()]
        if not missing:
            try:
                json.loads((path / "trainer_state.json").read_text())
                return path
            except ValueError:
                missing = ["trainer_state.json (unreadable)"]
        logger.warning("skipping incomplete checkpoint %s (missing %s)", path, ", ".join(missing))
    return None
