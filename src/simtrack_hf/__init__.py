"""simtrack_hf: SimTrack single-object tracking, Hugging Face native.

Importing the package registers `model_type="simtrack"` with the transformers Auto classes and the
`pipeline("visual-object-tracking")` task. Imported before torch, it makes idle OpenMP threads sleep instead of
spin (``OMP_WAIT_POLICY=PASSIVE`` unless set: spinning threads collapse under a competing process), and it applies
``SIMTRACK_NUM_THREADS`` (see `simtrack_hf.inference.runtime`).
"""

import os
import sys

if "torch" not in sys.modules:  # OpenMP reads its wait policy once, when torch loads it (see inference.runtime)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from transformers import AutoConfig, AutoImageProcessor, AutoModel  # noqa: E402
from transformers.pipelines import PIPELINE_REGISTRY  # noqa: E402

from .configuration_simtrack import SIMTRACK_VARIANTS, SimTrackConfig  # noqa: E402
from .image_processing_simtrack import SimTrackImageProcessor  # noqa: E402
from .inference.runtime import set_threads  # noqa: E402
from .inference.tracker import SimTrackTracker  # noqa: E402
from .loading import DEFAULT_MODEL  # noqa: E402
from .modeling_simtrack import SimTrackModel, SimTrackOutput, SimTrackPreTrainedModel  # noqa: E402
from .pipeline_simtrack import TASK, VisualObjectTrackingPipeline  # noqa: E402
from .tracking_simtrack import SimTrackSession, TrackingOptions, TrackingResult, track_many  # noqa: E402

set_threads()  # SIMTRACK_NUM_THREADS, when set
AutoConfig.register("simtrack", SimTrackConfig, exist_ok=True)
AutoModel.register(SimTrackConfig, SimTrackModel, exist_ok=True)
AutoImageProcessor.register(SimTrackConfig, image_processor_classes={"pil": SimTrackImageProcessor}, exist_ok=True)
PIPELINE_REGISTRY.register_pipeline(TASK, pipeline_class=VisualObjectTrackingPipeline, pt_model=AutoModel, type="image")

__all__ = [
    "DEFAULT_MODEL",
    "SIMTRACK_VARIANTS",
    "SimTrackConfig",
    "SimTrackImageProcessor",
    "SimTrackModel",
    "SimTrackOutput",
    "SimTrackPreTrainedModel",
    "SimTrackSession",
    "SimTrackTracker",
    "TrackingOptions",
    "TrackingResult",
    "VisualObjectTrackingPipeline",
    "track_many",
]
