"""Output paths that never touch inputs: the check every writing command runs before any work.

`check_outputs` refuses an output that is an input (the same file, through any path, symlink or hard link), an
output inside an input folder, two outputs that are the same file, and an output that is a named pipe.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping

__all__ = ["check_outputs"]


def _real(path: str | os.PathLike) -> str:
    return os.path.normcase(os.path.realpath(os.path.abspath(os.fspath(path))))


def _same(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` name one file or folder (hard links and symlinks included)."""
    if _real(a) == _real(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def _inside(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    path, folder = _real(path), _real(folder)
    return path != folder and os.path.commonpath([path, folder]) == folder


def check_outputs(inputs: Mapping[str, str | os.PathLike | None],
                  outputs: Mapping[str, str | os.PathLike | None]) -> None:
    """Raise ValueError (one line naming both) when an output is an input, lies inside an input folder, is the
    same file as another output, or is a named pipe (opening it would wait for a reader).

    ``inputs`` / ``outputs``: ``{what: path}`` (e.g. ``{"--output": "v.mp4"}``); None and inputs that are not local
    paths (Hub ids, camera indices) are skipped. Nothing is created."""
    sources = {name: path for name, path in inputs.items() if path is not None and os.path.exists(path)}
    targets = [(name, path) for name, path in outputs.items() if path is not None]
    for out_name, out in targets:
        if os.path.exists(out) and stat.S_ISFIFO(os.stat(out).st_mode):
            raise ValueError(f"{out_name} {out} is a named pipe: writing it waits for a reader, maybe forever; "
                             "choose a file")
        for in_name, source in sources.items():
            if _same(out, source):
                raise ValueError(f"{out_name} {out} is the {in_name} ({source}): an output never overwrites an "
                                 "input; choose another path")
            if os.path.isdir(source) and _inside(out, source):
                raise ValueError(f"{out_name} {out} lies inside the {in_name} folder {source}: outputs never go "
                                 "into an input folder; choose another path")
    for i, (first_name, first) in enumerate(targets):
        for second_name, second in targets[i + 1:]:
            if _same(first, second):
                raise ValueError(f"{first_name} and {second_name} are the same file ({second}): give each output "
                                 "its own path")
