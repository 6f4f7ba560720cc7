"""Image processor for SimTrack: square crops around target boxes, normalisation, and box mapping.

Reproduces the original SimTrack / STARK inference pre- and post-processing bit for bit:
`sample_target` (square crop, black padding, bilinear resize), ImageNet normalisation, the centred template
box, `map_box_back` and `clip_box`.

Conventions:
    * Images are **RGB**. OpenCV (`cv2.imread`, `cv2.VideoCapture`) returns BGR: convert first with
      `cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)`.
    * Accepted image types: `np.ndarray` (H, W, 3) uint8, `PIL.Image.Image`, `torch.Tensor` uint8 in (H, W, 3) or
      (3, H, W) layout; a list of those, or one (N, H, W, 3) / (N, 3, H, W) array. 2-D (grayscale) and
      single-channel images are repeated to 3 channels; a 4th (alpha) channel is dropped; PIL images in other
      8-bit modes (L, P, RGBA, CMYK, ...) are converted with `Image.convert("RGB")`. Any other dtype
      (uint16, float, bool) raises a `ValueError` that says how to convert.
    * Boxes at the user boundary are `[x, y, w, h]` in image pixels. `template_boxes` are normalised xywh in
      the template crop; model predictions are normalised cxcywh in the search crop.

This file imports nothing from `simtrack_hf`, so it also works as Hub remote code.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, Literal

import cv2
import numpy as np
import torch
from transformers.image_processing_utils import BaseImageProcessor, BatchFeature
from transformers.processing_utils import ImagesKwargs

try:  # Pillow is optional for this file: only needed to accept PIL images.
    from PIL import Image as _PILImage
except ImportError:  # pragma: no cover
    _PILImage = None

__all__ = ["SimTrackImageProcessor", "to_rgb_uint8"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_MAX_BOX_SCALE = 8  # a box wider / taller than this many image sides is refused (its crop would not fit memory)

_CONVERT_HINT = (
    "SimTrackImageProcessor expects 8-bit RGB images (uint8). Convert first, e.g. float in [0, 1]: "
    "`(img * 255).round().clip(0, 255).astype(np.uint8)`; uint16: `(img // 257).astype(np.uint8)`."
)


def to_rgb_uint8(image: Any) -> np.ndarray:
    """One RGB image -> C-contiguous (H, W, 3) uint8 array (see the module docstring for what is accepted)."""
    if _PILImage is not None and isinstance(image, _PILImage.Image):
        if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
            raise ValueError(f"PIL image mode {image.mode!r} is not 8-bit. {_CONVERT_HINT}")
        return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu()
        if image.ndim == 3 and image.shape[-1] not in (1, 3, 4) and image.shape[0] in (1, 3, 4):
            image = image.permute(1, 2, 0)  # CHW -> HWC
        image = image.numpy()
    elif not isinstance(image, np.ndarray):
        kind = type(image).__name__
        raise ValueError(f"Unsupported image type {kind}: use a numpy array, PIL image or torch tensor.")
    elif image.ndim == 3 and image.shape[-1] not in (1, 3, 4) and image.shape[0] in (1, 3, 4):
        image = image.transpose(1, 2, 0)  # CHW numpy -> HWC
    if image.ndim == 3 and image.shape[0] in (1, 3, 4) and image.shape[-1] in (1, 4):
        raise ValueError(
            f"Ambiguous image shape {tuple(image.shape)}: it reads as channels-first and as channels-last. "
            "Pass (H, W, 3) RGB."
        )
    if image.dtype != np.uint8:
        raise ValueError(f"Image dtype {image.dtype} is not supported. {_CONVERT_HINT}")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3, 4):
        raise ValueError(f"Expected an (H, W, 3) RGB image, got shape {tuple(image.shape)}.")
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)  # grayscale -> RGB
    elif image.shape[-1] == 4:
        image = image[..., :3]  # RGBA -> RGB (alpha dropped)
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise ValueError(f"Image of shape {tuple(image.shape)} is too small (need at least 2x2 pixels).")
    return np.ascontiguousarray(image)


def _finite_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


class SimTrackImageProcessorKwargs(ImagesKwargs, total=False):
    template_size: int
    search_size: int
    template_factor: float
    search_factor: float


class SimTrackImageProcessor(BaseImageProcessor):
    r"""Crops, normalises and maps boxes back for [`SimTrackModel`].

    Args:
        template_size (`int`, defaults to 112): side T of the template crop.
        search_size (`int`, defaults to 224): side S of the search crop.
        template_factor (`float`, defaults to 2.0): template crop side = ceil(sqrt(w*h) * factor).
        search_factor (`float`, defaults to 4.0): same for the search crop (centred on the previous box).
        image_mean, image_std (`tuple[float]`): per-channel normalisation (ImageNet, as in the original code,
            not CLIP's).
    """

    model_input_names = ["template_pixel_values", "search_pixel_values", "template_boxes"]
    valid_kwargs = SimTrackImageProcessorKwargs

    def __init__(
        self,
        template_size: int = 112,
        search_size: int = 224,
        template_factor: float = 2.0,
        search_factor: float = 4.0,
        image_mean: Sequence[float] = IMAGENET_MEAN,
        image_std: Sequence[float] = IMAGENET_STD,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (("template_size", template_size), ("search_size", search_size)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"SimTrackImageProcessor.{name} must be a positive integer, got {value!r}")
        for name, value in (("template_factor", template_factor), ("search_factor", search_factor)):
            if not _finite_number(value) or value <= 0:
                raise ValueError(f"SimTrackImageProcessor.{name} must be a finite number > 0, got {value!r}")
        for name, values in (("image_mean", image_mean), ("image_std", image_std)):
            if (isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)) or len(values) != 3
                    or not all(_finite_number(v) for v in values) or (name == "image_std" and min(values) <= 0)):
                raise ValueError(f"SimTrackImageProcessor.{name} must be 3 finite numbers (R, G, B"
                                 f"{', each > 0' if name == 'image_std' else ''}), got {values!r}")
        self.template_size = int(template_size)
        self.search_size = int(search_size)
        self.template_factor = float(template_factor)
        self.search_factor = float(search_factor)
        self.image_mean = [float(v) for v in image_mean]
        self.image_std = [float(v) for v in image_std]

    @classmethod
    def from_model_config(cls, config: Any, **kwargs: Any) -> SimTrackImageProcessor:
        """Build the processor matching a `SimTrackConfig` (crop sizes and factors)."""
        names = ("template_size", "search_size", "template_factor", "search_factor")
        return cls(**{name: getattr(config, name) for name in names}, **kwargs)

    # ------------------------------------------------------------------------------------------------ inputs
    def _pair_inputs(self, images: Any, boxes: Any) -> tuple[list[np.ndarray], np.ndarray]:
        """Convert images and (N, 4) xywh boxes; return one image per box and the float64 boxes.

        `images` is one image (shared by all N boxes), or a list / 4-D batch with one image per box.
        """
        if isinstance(images, (list, tuple)):
            image_list = list(images)
        elif isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim == 4:
            image_list = list(images)
        else:
            image_list = [images]
        if len(image_list) == 0:
            raise ValueError("No images given.")
        frames = [to_rgb_uint8(image) for image in image_list]

        if isinstance(boxes, torch.Tensor):
            boxes = boxes.detach().cpu()
            boxes = boxes.numpy() if boxes.dtype == torch.bool else boxes.double().numpy()
        try:
            values = np.array(boxes, dtype=object).reshape(-1)
            boxes = np.array(boxes, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"Boxes must be numbers [x, y, w, h] or an (N, 4) array, got {boxes!r}.") from err
        if any(isinstance(v, (bool, np.bool_)) for v in values):
            raise ValueError(f"Boxes must be numbers [x, y, w, h], got booleans: {values.tolist()}.")
        if boxes.ndim == 1:
            boxes = boxes[None]
        if boxes.ndim != 2 or boxes.shape[1] != 4 or boxes.shape[0] == 0:
            raise ValueError(f"Boxes must have shape (4,) or (N, 4) as [x, y, w, h] pixels, got {boxes.shape}.")
        if len(frames) == 1:
            frames = frames * len(boxes)
        elif len(frames) != len(boxes):
            raise ValueError(
                f"Got {len(frames)} images and {len(boxes)} boxes: give one image per box, "
                "or a single image with N boxes (N targets in the same frame)."
            )
        for i, (frame, box) in enumerate(zip(frames, boxes)):
            height, width = frame.shape[:2]
            x, y, w, h = box
            if not np.isfinite(box).all():
                raise ValueError(f"Box {i} {box.tolist()} contains NaN or inf.")
            if w < 1 or h < 1:  # zero, negative or sub-pixel: no target to crop
                raise ValueError(f"Box {i} {box.tolist()} must have positive width and height of at least 1 pixel "
                                 "([x, y, w, h] format).")
            if x >= width or y >= height or x + w <= 0 or y + h <= 0:
                raise ValueError(f"Box {i} {box.tolist()} lies fully outside the {width}x{height} image.")
            if w > _MAX_BOX_SCALE * width or h > _MAX_BOX_SCALE * height:
                raise ValueError(
                    f"Box {i} {box.tolist()} is over {_MAX_BOX_SCALE}x the {width}x{height} image: not a target box."
                )
        return frames, boxes

    # ------------------------------------------------------------------------------------------------ crops
    @staticmethod
    def sample_target(
        image: np.ndarray, box: np.ndarray, factor: float, output_size: int
    ) -> tuple[np.ndarray, float]:
        """One crop as the original `sample_target`: square crop of side ceil(sqrt(w*h)*factor), zero padding, INTER_LINEAR."""
        x, y, w, h = (float(v) for v in box)
        crop_sz = math.ceil(math.sqrt(w * h) * factor)
        if crop_sz < 1:
            raise ValueError(f"Box {[x, y, w, h]} is too small: crop side {crop_sz} < 1.")
        x1 = round(x + 0.5 * w - crop_sz * 0.5)  # Python round: half to even, as in the original
        y1 = round(y + 0.5 * h - crop_sz * 0.5)
        x2, y2 = x1 + crop_sz, y1 + crop_sz
        height, width = image.shape[:2]
        # The original pads one extra column / row when the crop reaches the right / bottom border (+1 quirk).
        left, right = max(0, -x1), max(x2 - width + 1, 0)
        top, bottom = max(0, -y1), max(y2 - height + 1, 0)
        if x2 - right <= x1 + left or y2 - bottom <= y1 + top:
            raise ValueError(f"The crop around box {[x, y, w, h]} (side {crop_sz}) does not overlap the image.")
        patch = image[y1 + top : y2 - bottom, x1 + left : x2 - right]
        if left or right or top or bottom:
            patch = cv2.copyMakeBorder(patch, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        crop = cv2.resize(patch, (output_size, output_size), interpolation=cv2.INTER_LINEAR)
        return crop, output_size / crop_sz

    def crop_around_boxes(
        self, images: Any, boxes_xywh: Any, factor: float, output_size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Square crops centred on each box, exactly as the original `sample_target`.

        Args:
            images: one RGB image shared by all boxes, or one image per box.
            boxes_xywh: (4,) or (N, 4) `[x, y, w, h]` pixels.
            factor: crop side = ceil(sqrt(w*h) * factor).
            output_size: side of the returned crops.

        Returns:
            crops `(N, output_size, output_size, 3)` uint8 RGB, and resize_factors `(N,)` float64
            (= output_size / crop side).
        """
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError(f"factor must be a positive number, got {factor}.")
        if int(output_size) != output_size or output_size < 1:
            raise ValueError(f"output_size must be a positive integer, got {output_size}.")
        frames, boxes = self._pair_inputs(images, boxes_xywh)
        results = [self.sample_target(f, b, float(factor), int(output_size)) for f, b in zip(frames, boxes)]
        crops = np.stack([crop for crop, _ in results])
        return crops, np.array([rz for _, rz in results], dtype=np.float64)

    def normalize_crops(self, crops: np.ndarray | torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3) uint8 -> (B, 3, H, W) float32: x / 255, minus mean, divided by std (original op order)."""
        crops = torch.as_tensor(crops)
        mean = torch.tensor(self.image_mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(self.image_std, dtype=torch.float32).view(1, 3, 1, 1)
        pixel_values = (crops.permute(0, 3, 1, 2).float() / 255.0 - mean) / std
        return pixel_values.contiguous()

    def preprocess(
        self,
        images: Any,
        boxes: Any,
        crop: Literal["template", "search"],
        return_tensors: str | None = "pt",
    ) -> BatchFeature:
        """Crop and normalise a template or a search region around each box.

        Args:
            images: one RGB image (shared by all boxes: N targets in one frame), or one image per box.
            boxes: (4,) or (B, 4) `[x, y, w, h]` pixels: the target box for a template, the previous box for a
                search region.
            crop: `"template"` (factor `template_factor`, side T) or `"search"` (`search_factor`, side S).
            return_tensors: `"pt"` (default) for torch tensors, `"np"` or `None` for numpy arrays.

        Returns:
            `BatchFeature` keyed by the model's argument names, so `model(**template, **search)` works (the
            model ignores the geometry keys). Templates: `template_pixel_values` (B, 3, T, T) float32 and
            `template_boxes` (B, 4) float32, the box in the template crop, normalised xywh, with the original
            inference convention (centred, x and y truncated to int pixels). Search regions:
            `search_pixel_values` (B, 3, S, S) float32, and what `post_process_box_predictions` needs:
            `resize_factors` (B,) float64 (crop pixels per image pixel) and `image_sizes` (B, 2) int64 as (H, W).
        """
        if crop == "template":
            factor, size = self.template_factor, self.template_size
        elif crop == "search":
            factor, size = self.search_factor, self.search_size
        else:
            raise ValueError(f'crop must be "template" or "search", got {crop!r}.')
        if return_tensors not in ("pt", "np", None):
            raise ValueError(f'return_tensors must be "pt", "np" or None, got {return_tensors!r}.')
        frames, boxes = self._pair_inputs(images, boxes)
        results = [self.sample_target(f, b, factor, size) for f, b in zip(frames, boxes)]
        resize_factors = torch.tensor([rz for _, rz in results], dtype=torch.float64)
        data = {f"{crop}_pixel_values": self.normalize_crops(np.stack([c for c, _ in results]))}
        if crop == "search":
            data["resize_factors"] = resize_factors
            data["image_sizes"] = torch.tensor([f.shape[:2] for f in frames], dtype=torch.int64)
        else:
            # Original `initialize`: float32 box, w' = w * rz, x = int(T/2 - w'/2) (truncation), all / T.
            wh = torch.tensor(boxes[:, 2:], dtype=torch.float32) * resize_factors.float()[:, None]
            xy = (size / 2 - wh / 2).int().float()
            data["template_boxes"] = torch.cat([xy, wh], dim=1) / size
        if return_tensors != "pt":
            data = {key: value.numpy() for key, value in data.items()}
        return BatchFeature(data=data)

    # ------------------------------------------------------------------------------------------ post-process
    @staticmethod
    def clip_boxes(boxes_xywh: Any, image_sizes: Any, margin: float = 10) -> torch.Tensor:
        """The original `clip_box`: keep >= `margin` px of each box inside the image, size >= `margin`.

        Args:
            boxes_xywh: (B, 4) `[x, y, w, h]` pixels.
            image_sizes: (B, 2) or (2,) as (H, W).

        Returns:
            (B, 4) float64 tensor. x2 is computed from the unclipped x1, as in the original.
        """
        boxes = torch.as_tensor(boxes_xywh, dtype=torch.float64).reshape(-1, 4)
        sizes = torch.as_tensor(np.asarray(image_sizes, dtype=np.float64)).reshape(-1, 2)
        if len(sizes) not in (1, len(boxes)):
            raise ValueError(f"Got {len(sizes)} image sizes for {len(boxes)} boxes: give (B, 2) or (2,) as (H, W).")
        sizes = sizes.expand(len(boxes), 2)
        height, width = sizes[:, 0], sizes[:, 1]
        x1, y1, w, h = boxes.unbind(-1)
        x2 = torch.minimum((x1 + w).clamp(min=margin), width)
        y2 = torch.minimum((y1 + h).clamp(min=margin), height)
        x1 = torch.minimum(x1.clamp(min=0), width - margin)
        y1 = torch.minimum(y1.clamp(min=0), height - margin)
        return torch.stack([x1, y1, (x2 - x1).clamp(min=margin), (y2 - y1).clamp(min=margin)], dim=-1)

    def post_process_box_predictions(
        self,
        pred_boxes: Any,
        previous_boxes: Any,
        resize_factors: Any,
        image_sizes: Any,
        clip: bool = True,
        margin: float = 10,
    ) -> torch.Tensor:
        """Map predicted boxes from the search crop back to image pixels (`map_box_back` + `clip_box`).

        Args:
            pred_boxes: (B, 4) normalised cxcywh in the search crop (`SimTrackOutput.pred_boxes`); (B, Q, 4) is
                averaged over Q. Computed in its own float dtype up to pixels (float32 for model outputs,
                as in the original); Python lists are read as float64.
            previous_boxes: (B, 4) `[x, y, w, h]` pixels the search crops were centred on.
            resize_factors: (B,) from `preprocess(..., crop="search")`.
            image_sizes: (B, 2) or (2,) as (H, W).
            clip: apply `clip_box` (margin `margin`, min size `margin`).

        Returns:
            (B, 4) float64 tensor of `[x, y, w, h]` pixels. The crop centre is taken as the previous box
            centre (the original ignores the rounding of the crop origin).
        """
        if isinstance(pred_boxes, torch.Tensor):
            pred = pred_boxes.detach().cpu()
        else:
            pred = torch.as_tensor(np.asarray(pred_boxes))
        if not pred.is_floating_point():
            pred = pred.double()
        elif pred.dtype in (torch.float16, torch.bfloat16):
            pred = pred.float()
        if not torch.isfinite(pred).all():
            raise ValueError(
                "the model output pred_boxes contains NaN or inf: the model is broken (NaN weights or an invalid "
                "config such as layer_norm_eps <= 0), not the input box"
            )
        if pred.ndim == 3:
            pred = pred.mean(dim=1)
        pred = pred.reshape(-1, 4) if pred.ndim == 1 else pred
        previous = torch.as_tensor(np.asarray(previous_boxes, dtype=np.float64)).reshape(-1, 4)
        rz = torch.as_tensor(np.asarray(resize_factors, dtype=np.float64)).reshape(-1)
        if pred.ndim != 2 or pred.shape[1] != 4 or not (len(pred) == len(previous) == len(rz)):
            raise ValueError(
                f"Expected pred_boxes (B, 4), previous_boxes (B, 4) and resize_factors (B,), got "
                f"{tuple(pred.shape)}, {tuple(previous.shape)} and {tuple(rz.shape)}."
            )
        # Original: (pred * search_size / resize_factor) in the prediction's dtype, the rest in float64.
        pred_px = (pred * self.search_size / rz.to(pred.dtype)[:, None]).double()
        half = 0.5 * self.search_size / rz
        cx = pred_px[:, 0] + (previous[:, 0] + 0.5 * previous[:, 2] - half)
        cy = pred_px[:, 1] + (previous[:, 1] + 0.5 * previous[:, 3] - half)
        w, h = pred_px[:, 2], pred_px[:, 3]
        boxes = torch.stack([cx - 0.5 * w, cy - 0.5 * h, w, h], dim=-1)
        return self.clip_boxes(boxes, image_sizes, margin) if clip else boxes
