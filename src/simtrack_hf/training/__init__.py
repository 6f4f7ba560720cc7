"""Training: template/search pairs (`pairs`), the Trainer with SimTrack's recipe (`trainer`), the checkpoint to
resume from (`workspace`) and the training entry (`run`: `train`, `build_dataset`, `SimTrackArguments`). The
command is `simtrack train`; the datasets it renders come from `simtrack_hf.data.rendering`.
"""

from .pairs import *  # noqa: F401,F403
from .pairs import __all__ as _pairs_all
from .run import *  # noqa: F401,F403
from .run import __all__ as _run_all
from .trainer import *  # noqa: F401,F403
from .trainer import __all__ as _trainer_all
from .workspace import *  # noqa: F401,F403
from .workspace import __all__ as _workspace_all

__all__ = [*_pairs_all, *_run_all, *_trainer_all, *_workspace_all]
