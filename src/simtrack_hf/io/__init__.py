"""Frames in and out: frame sources (`frames`: files, folders, lists, generators, cameras -> RGB uint8) and
writers (`writers`: boxes drawn on frames, annotated videos, attention-map grids)."""

from .frames import *  # noqa: F401,F403
from .frames import __all__ as _frames_all
from .writers import *  # noqa: F401,F403
from .writers import __all__ as _writers_all

__all__ = [*_frames_all, *_writers_all]
