"""Training: template/search pairs (`pairs`), the Trainer with SimTrack's recipe (`trainer`) and the work folder
helpers that render datasets once and find the checkpoint to resume (`workspace`). The command is `simtrack train`.
"""

from .pairs import *  # noqa: F401,F403
from .pairs import __all__ as _pairs_all
from .trainer import *  # noqa: F401,F403
from .trainer import __all__ as _trainer_all
from .workspace import *  # noqa: F401,F403
from .workspace import __all__ as _workspace_all

__all__ = [*_pairs_all, *_trainer_all, *_workspace_all]
