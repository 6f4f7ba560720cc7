"""simtrack_hf: SimTrack single-object tracking, Hugging Face native.

Importing the package registers `model_type="simtrack"` with the transformers Auto classes and the
`pipeline("visual-object-tracking")` task.
"""

from transformers import AutoConfig, AutoImageProcessor, AutoModel

from .configuration_simtrack import SIMTRACK_VARIANTS, SimTrackConfig
from .image_processing_simtrack import SimTrackImageProcessor
from .inference.pipeline import VisualObjectTrackingPipeline
from .inference.tracker import SimTrackTracker, TrackingResult
from .modeling_simtrack import SimTrackModel, SimTrackOutput, SimTrackPreTrainedModel

AutoConfig.register("simtrack", SimTrackConfig, exist_ok=True)
AutoModel.register(SimTrackConfig, SimTrackModel, exist_ok=True)
AutoImageProcessor.register(SimTrackConfig, image_processor_classes={"pil": SimTrackImageProcessor}, exist_ok=True)

__all__ = [
    "SIMTRACK_VARIANTS",
    "SimTrackConfig",
    "SimTrackImageProcessor",
    "SimTrackModel",
    "SimTrackOutput",
    "SimTrackPreTrainedModel",
    "SimTrackTracker",
    "TrackingResult",
    "VisualObjectTrackingPipeline",
]
