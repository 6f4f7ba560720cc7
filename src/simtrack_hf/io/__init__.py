"""Frames in and out: frame sources (`frames`: files, folders, lists, generators, cameras -> RGB uint8),
writers (`writers`: boxes drawn on frames, annotated videos, attention-map grids), the browser-playable
encoder they use (`encoding`: H.264 / VP9 through PyAV), box files (`boxes`: one x,y,w,h per line) and the
output-path guard of every writing command (`paths`)."""

from .boxes import *  # noqa: F401,F403
from .boxes import __all__ as _boxes_all
from .encoding import *  # noqa: F401,F403
from .encoding import __all__ as _encoding_all
from .frames import *  # noqa: F401,F403
from .frames import __all__ as _frames_all
from .paths import *  # noqa: F401,F403
from .paths import __all__ as _paths_all
from .writers import *  # noqa: F401,F403
from .writers import __all__ as _writers_all

__all__ = [*_boxes_all, *_encoding_all, *_frames_all, *_paths_all, *_writers_all]
