"""Datasets rendered once: a folder filled atomically and marked complete with the parameters that made it.

`render_once` is the rule (a ``.complete`` marker records the parameters; a folder the package did not render is
never touched). `ensure_synthetic_got10k` / `ensure_photo_got10k` render GOT-10k-layout train splits (what
`simtrack train` and `scripts/make_demo_model.py` train on); `ensure_synthetic_benchmark` / `ensure_photo_benchmark`
render held-out evaluation benchmarks (what `simtrack evaluate --dataset-format synthetic|photos` scores).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

__all__ = [
    "ensure_photo_benchmark", "ensure_photo_got10k", "ensure_synthetic_benchmark", "ensure_synthetic_got10k",
    "render_once",
]


def render_once(root: str | os.PathLike, params: dict[str, Any], write: Callable[[Path], Any]) -> Path:
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

    Rendered atomically (see ``render_once``): an interrupted run leaves nothing that looks complete.
    """
    from .synthetic import write_got10k_dataset

    params = {"num_sequences": num_sequences, "num_frames": num_frames, "size": list(size), "seed": seed}
    return render_once(root, params, lambda tmp: write_got10k_dataset(
        tmp, num_sequences=num_sequences, num_frames=num_frames, size=tuple(size), seed=seed))


def ensure_photo_got10k(
    root: str | os.PathLike, photo_paths: list[Path], num_sequences: int = 100, num_frames: int = 40,
    size: tuple[int, int] = (240, 320), seed: int = 0,
) -> Path:
    """Write (once) videos rendered from ``photo_paths`` as a GOT-10k train split under ``root``; returns ``root``."""
    from .photos import load_photos, write_photo_dataset

    params = {"photos": [str(p) for p in photo_paths], "num_sequences": num_sequences, "num_frames": num_frames,
              "size": list(size), "seed": seed, "kind": "photos"}
    return render_once(root, params, lambda tmp: write_photo_dataset(
        load_photos(photo_paths), tmp, num_sequences=num_sequences, num_frames=num_frames, size=size, seed=seed))


def _ensure_benchmark(root: Path, params: dict[str, Any], write_split: Any) -> Path:
    """Render (once, atomically) a GOT-10k-layout folder of sequences at ``root`` with
    ``write_split(tmp, split_name) -> split folder``; the sequences are moved up to sit directly in ``root``.
    ValueError for fewer than 1 sequence or 2 frames (one frame holds only the given box: nothing to score)."""
    if params["num_sequences"] < 1 or params["num_frames"] < 2:
        raise ValueError(f"a generated benchmark needs at least 1 sequence of 2 frames or more, got "
                         f"{params['num_sequences']} sequence(s) of {params['num_frames']} frame(s)")

    def write(tmp: Path) -> None:
        split = write_split(tmp, root.name)
        for child in split.iterdir():
            child.rename(tmp / child.name)
        split.rmdir()

    return render_once(root, params, write)


def ensure_synthetic_benchmark(root: str | os.PathLike, num_sequences: int, num_frames: int, seed: int = 1000
                               ) -> Path:
    """Write (once, atomically) synthetic clips as a GOT-10k-layout folder of sequences at ``root`` (a benchmark
    root: the sequences sit directly in it, named ``GOT-10k_<Root>_%06d`` after the folder); returns ``root``."""
    from .synthetic import write_got10k_dataset

    params = {"num_sequences": num_sequences, "num_frames": num_frames, "seed": seed, "kind": "benchmark"}
    return _ensure_benchmark(Path(root), params, lambda tmp, split: write_got10k_dataset(
        tmp, num_sequences, num_frames, seed=seed, split=split))


def ensure_photo_benchmark(root: str | os.PathLike, photo_dir: str | os.PathLike, num_sequences: int,
                           num_frames: int, size: tuple[int, int] = (360, 640), seed: int = 2000) -> Path:
    """Write (once, atomically) videos rendered from the photos of ``photo_dir`` as a benchmark at ``root`` (same
    layout as :func:`ensure_synthetic_benchmark`); returns ``root``."""
    from .photos import list_photos, load_photos, write_photo_dataset

    paths = list_photos(photo_dir)
    params = {"photos": [str(p) for p in paths], "num_sequences": num_sequences, "num_frames": num_frames,
              "size": list(size), "seed": seed, "kind": "photo_benchmark"}
    return _ensure_benchmark(Path(root), params, lambda tmp, split: write_photo_dataset(
        load_photos(paths, max_side=1024), tmp, num_sequences, num_frames, size=size, seed=seed, split=split))
