"""SimTrack configuration: `SimTrackConfig`, the four published variants and small from-scratch presets."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

from transformers import PretrainedConfig

# The paper's four models. Width / layers / heads follow the CLIP backbone (Sim-B/16* keeps 8 of its 12 blocks);
# crop sizes, foveal window and crop factors are those of the released SimTrack configurations.
SIMTRACK_VARIANTS: dict[str, dict[str, Any]] = {
    "sim-b32": dict(
        hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
        patch_size=32, template_size=128, search_size=320, foveal_size=64, foveal_shift=True,
        template_factor=2.0, search_factor=5.0, pos_embed_hidden_size=384,
    ),
    "sim-b16": dict(
        hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
        patch_size=16, template_size=112, search_size=224, foveal_size=64, foveal_shift=False,
        template_factor=2.0, search_factor=4.0, pos_embed_hidden_size=384,
    ),
    "sim-b16star": dict(
        hidden_size=768, num_hidden_layers=8, num_attention_heads=12, intermediate_size=3072,
        patch_size=16, template_size=112, search_size=224, foveal_size=64, foveal_shift=False,
        template_factor=2.0, search_factor=4.0, pos_embed_hidden_size=384,
    ),
    "sim-l14": dict(
        hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
        patch_size=14, template_size=84, search_size=224, foveal_size=42, foveal_shift=False,
        template_factor=1.5, search_factor=4.0, pos_embed_hidden_size=512,
    ),
}


# The first five MBConv blocks of EfficientNet-Lite0 ([expand_ratio, kernel, stride, out_channels]): with its
# stride-2 stem conv (32 channels), features at stride 8.
EFFICIENTNET_LITE0_STRIDE8 = [[1, 3, 1, 16], [6, 3, 2, 24], [6, 3, 1, 24], [6, 5, 2, 40], [6, 5, 1, 40]]

# Small from-scratch configurations (not published variants): "tiny" and "tiny-hybrid" for tests, "small" (the
# earlier default model, patch embedding), "compact", and "hybrid" (the shipped default model: an ImageNet
# EfficientNet-Lite0 stem to stride 8 under the "small" encoder; trained by scripts/make_demo_model.py). They start
# their new layers from normal(0, initializer_range) (what they were tuned with); the variants keep the original's.
SIMTRACK_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, patch_size=16,
        pretrained_image_size=128, template_size=64, search_size=128, foveal_size=32, head_hidden_size=16,
        head_channels=16, pos_embed_hidden_size=16, new_layer_init="normal",
    ),
    "small": dict(
        hidden_size=128, num_hidden_layers=4, num_attention_heads=4, intermediate_size=512, patch_size=16,
        pretrained_image_size=128, template_size=64, search_size=128, foveal_size=32, head_hidden_size=64,
        head_channels=64, pos_embed_hidden_size=64, new_layer_init="normal",
    ),
    "tiny-hybrid": dict(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, patch_size=8,
        pretrained_image_size=64, template_size=32, search_size=64, foveal_size=16, head_hidden_size=16,
        head_channels=16, pos_embed_hidden_size=16, hybrid_stem_channels=8, hybrid_blocks=[[1, 3, 1, 8], [2, 3, 2, 12]],
        new_layer_init="normal",
    ),
    "hybrid": dict(
        hidden_size=128, num_hidden_layers=4, num_attention_heads=4, intermediate_size=512, patch_size=8,
        pretrained_image_size=128, template_size=64, search_size=128, foveal_size=40, head_hidden_size=64,
        head_channels=64, pos_embed_hidden_size=64, hybrid_stem_channels=32, hybrid_blocks=EFFICIENTNET_LITE0_STRIDE8,
        hybrid_source="efficientnet-lite0", new_layer_init="normal",
    ),
    "compact": dict(
        hidden_size=192, num_hidden_layers=6, num_attention_heads=3, intermediate_size=768, patch_size=16,
        pretrained_image_size=128, template_size=64, search_size=128, foveal_size=32, head_hidden_size=96,
        head_channels=96, pos_embed_hidden_size=96, new_layer_init="normal",
    ),
}


_POSITIVE_INTS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "patch_size",
                  "pretrained_image_size", "template_size", "search_size", "foveal_size", "head_hidden_size",
                  "head_channels", "pos_embed_hidden_size")
_POSITIVE_FLOATS = ("layer_norm_eps", "template_factor", "search_factor", "initializer_range")
_NON_NEGATIVE_FLOATS = ("attention_dropout", "giou_loss_weight", "l1_loss_weight")
NEW_LAYER_INITS = ("pytorch", "normal")
# The largest value a real model has room for (ViT-22B: width 6144, MLP 24576, 48 layers); beyond it, a typo.
_UPPER_BOUNDS = {
    "hidden_size": 16384, "num_hidden_layers": 256, "num_attention_heads": 256, "intermediate_size": 65536,
    "patch_size": 64, "pretrained_image_size": 2048, "template_size": 2048, "search_size": 2048,
    "foveal_size": 2048, "head_hidden_size": 16384, "head_channels": 16384, "pos_embed_hidden_size": 16384,
}


def machine_memory() -> int | None:
    """Bytes of physical memory of this machine (None where the system does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


class SimTrackConfig(PretrainedConfig):
    r"""Configuration of a [`SimTrackModel`]. Defaults reproduce Sim-B/16.

    Args:
        hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, hidden_act, layer_norm_eps:
            The CLIP ViT backbone (QuickGELU, pre-norm blocks).
        patch_size: Patch side P (pixels) of the shared patch embedding.
        pretrained_image_size: Input size the backbone was pretrained at; the stored position table has
            `(pretrained_image_size / P)^2 + 1` rows and is resized bilinearly to the search grid.
        template_size, search_size, foveal_size: Crop sides T, S, F in pixels (multiples of P).
        foveal_shift: `True` shifts the foveal window by half a patch towards the bottom-right (Sim-B/32),
            `False` takes the centred crop (Sim-B/16, Sim-L/14).
        template_factor, search_factor: Crop side = sqrt(w*h) * factor around the target box.
        head_hidden_size: Width of the bottleneck Linear feeding the corner head.
        head_channels: Channels of the first corner-head conv (then /2, /4, /8).
        pos_embed_hidden_size: Hidden width of the template position MLP `pos_fc`.
        giou_loss_weight, l1_loss_weight: Loss weights (2 and 5 in the paper).
        initializer_range: Std of the normal initialisation.
        new_layer_init: How the layers CLIP does not provide (`pos_fc`, bottleneck, corner head) start:
            "pytorch" (PyTorch's default Linear / Conv2d initialisation, as the original SimTrack trains the
            published variants from CLIP) or "normal" (normal(0, initializer_range) weights, zero biases; the
            from-scratch presets).
        hybrid_stem_channels, hybrid_blocks: `None` (the published variants) gives the paper's single patch-embedding
            convolution. Set, the tokens of template, foveal window and search come from a small CNN instead (the ViT
            paper's "hybrid" input): an EfficientNet-Lite stem (3x3 conv, stride 2, `hybrid_stem_channels` wide)
            and its first MBConv blocks, one `[expand_ratio, kernel, stride, out_channels]` row each, then a
            convolution of kernel = stride = `patch_size / hybrid_stride` to `hidden_size`. Tokens stay on the
            `patch_size` grid, so everything after the embedding is unchanged.
        hybrid_source: Where the hybrid stem's initial weights came from (e.g. "efficientnet-lite0", ImageNet);
            informational, for model cards.
        tracking_options: Tracker post-processing stored with the model (`simtrack_hf.inference.TrackingOptions`
            fields, e.g. `{"lost_threshold": 0.3}`); None (the published variants) = the paper's tracker.
    """

    model_type = "simtrack"

    def __init__(
        self,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        hidden_act: str = "quick_gelu",
        layer_norm_eps: float = 1e-5,
        attention_dropout: float = 0.0,
        patch_size: int = 16,
        pretrained_image_size: int = 224,
        template_size: int = 112,
        search_size: int = 224,
        foveal_size: int = 64,
        foveal_shift: bool = False,
        template_factor: float = 2.0,
        search_factor: float = 4.0,
        head_hidden_size: int = 256,
        head_channels: int = 256,
        pos_embed_hidden_size: int = 384,
        giou_loss_weight: float = 2.0,
        l1_loss_weight: float = 5.0,
        initializer_range: float = 0.02,
        hybrid_stem_channels: int | None = None,
        hybrid_blocks: list[list[int]] | None = None,
        hybrid_source: str | None = None,
        tracking_options: dict[str, Any] | None = None,
        new_layer_init: str = "pytorch",
        **kwargs: Any,
    ) -> None:
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.attention_dropout = attention_dropout
        self.patch_size = patch_size
        self.pretrained_image_size = pretrained_image_size
        self.template_size = template_size
        self.search_size = search_size
        self.foveal_size = foveal_size
        self.foveal_shift = foveal_shift
        self.template_factor = template_factor
        self.search_factor = search_factor
        self.head_hidden_size = head_hidden_size
        self.head_channels = head_channels
        self.pos_embed_hidden_size = pos_embed_hidden_size
        self.giou_loss_weight = giou_loss_weight
        self.l1_loss_weight = l1_loss_weight
        self.initializer_range = initializer_range
        self.hybrid_stem_channels = hybrid_stem_channels
        self.hybrid_blocks = (
            [list(b) if isinstance(b, (list, tuple)) else b for b in hybrid_blocks]
            if isinstance(hybrid_blocks, (list, tuple)) else hybrid_blocks
        )
        self.hybrid_source = hybrid_source
        self.tracking_options = (dict(tracking_options) if isinstance(tracking_options, Mapping)
                                 else tracking_options) or None
        self.new_layer_init = new_layer_init
        super().__init__(**kwargs)
        self.check_values()

    def check_values(self) -> None:
        """Raise `ValueError` naming the field when a value is of the wrong kind or out of range, or when the crop
        sizes cannot form SimTrack's token grids."""
        from transformers.activations import ACT2FN

        for name in _POSITIVE_INTS:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"SimTrackConfig.{name} must be a positive integer, got {value!r}")
            if value > _UPPER_BOUNDS[name]:
                raise ValueError(f"SimTrackConfig.{name}={value} is beyond any real model (at most "
                                 f"{_UPPER_BOUNDS[name]})")
        for name in (*_POSITIVE_FLOATS, *_NON_NEGATIVE_FLOATS):
            value, positive = getattr(self, name), name in _POSITIVE_FLOATS
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"SimTrackConfig.{name} must be a finite number, got {value!r}")
            if value < 0 or (positive and value == 0):
                raise ValueError(f"SimTrackConfig.{name} must be {'> 0' if positive else '>= 0'}, got {value!r}")
        if not 0 <= self.attention_dropout < 1:
            raise ValueError(f"SimTrackConfig.attention_dropout must be in [0, 1), got {self.attention_dropout!r}")
        if not isinstance(self.foveal_shift, bool):
            raise ValueError(f"SimTrackConfig.foveal_shift must be true or false, got {self.foveal_shift!r}")
        if self.new_layer_init not in NEW_LAYER_INITS:
            raise ValueError(f"SimTrackConfig.new_layer_init must be one of {NEW_LAYER_INITS}, got {self.new_layer_init!r}")
        if self.hidden_act not in ACT2FN:
            raise ValueError(f"SimTrackConfig.hidden_act {self.hidden_act!r} is not a transformers activation")
        self._check_hybrid()
        p = self.patch_size
        for name in ("template_size", "search_size", "foveal_size", "pretrained_image_size"):
            if getattr(self, name) % p:
                raise ValueError(f"SimTrackConfig.{name}={getattr(self, name)} is not a multiple of patch_size={p}")
        if self.foveal_size > self.template_size:
            raise ValueError(f"foveal_size={self.foveal_size} exceeds template_size={self.template_size}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not divisible by num_attention_heads={self.num_attention_heads}"
            )
        if self.head_channels % 8:
            raise ValueError(f"head_channels={self.head_channels} must be divisible by 8 (the head halves it 3 times)")
        if self.foveal_window_offset + self.foveal_size > self.template_size:
            raise ValueError("the shifted foveal window does not fit in the template; use foveal_shift=False")
        if self.tracking_options is not None and not isinstance(self.tracking_options, Mapping):
            raise ValueError("SimTrackConfig.tracking_options must be a JSON object of TrackingOptions fields, got "
                             f"{self.tracking_options!r}")
        memory = machine_memory()
        if memory is not None and self.encoder_weight_bytes > memory:
            raise ValueError(
                f"this SimTrackConfig needs at least {self.encoder_weight_bytes / 2**30:.1f} GiB for its encoder "
                f"weights (num_hidden_layers={self.num_hidden_layers}, hidden_size={self.hidden_size}, "
                f"intermediate_size={self.intermediate_size}); this machine has {memory / 2**30:.1f} GiB"
            )

    @property
    def encoder_weight_bytes(self) -> int:
        """Bytes of the encoder's float32 attention and MLP matrices (a lower bound of the model's size)."""
        h, i = self.hidden_size, self.intermediate_size
        return 4 * self.num_hidden_layers * (4 * h * h + 2 * h * i)

    def _check_hybrid(self) -> None:
        if self.hybrid_blocks is None and self.hybrid_stem_channels is None:
            return
        channels = self.hybrid_stem_channels
        if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
            raise ValueError(f"SimTrackConfig.hybrid_stem_channels must be a positive integer, got {channels!r}")
        blocks = self.hybrid_blocks
        if not isinstance(blocks, list) or not blocks:
            raise ValueError(f"SimTrackConfig.hybrid_blocks must be a non-empty list of blocks, got {blocks!r}")
        if not isinstance(self.hybrid_source, (str, type(None))):
            raise ValueError(f"SimTrackConfig.hybrid_source must be a string, got {self.hybrid_source!r}")
        for i, block in enumerate(blocks):
            valid = isinstance(block, list) and len(block) == 4 and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in block)
            if not valid or block[1] % 2 == 0 or block[2] not in (1, 2):
                raise ValueError(
                    f"SimTrackConfig.hybrid_blocks[{i}] must be [expand_ratio, odd kernel, stride 1|2, out_channels] "
                    f"(positive integers), got {block!r}"
                )
        if self.patch_size % self.hybrid_stride:
            raise ValueError(
                f"patch_size={self.patch_size} is not a multiple of the hybrid stem's stride {self.hybrid_stride}"
            )

    @property
    def is_hybrid(self) -> bool:
        """Whether tokens come from a CNN stem (`hybrid_blocks`) instead of the single patch convolution."""
        return self.hybrid_blocks is not None

    @property
    def hybrid_stride(self) -> int:
        """Pixels per feature of the hybrid CNN stem: 2 (its first conv) times the blocks' strides."""
        return 2 * math.prod(block[2] for block in self.hybrid_blocks or [])

    @property
    def template_grid(self) -> int:
        """tz = T / P, template tokens per side."""
        return self.template_size // self.patch_size

    @property
    def search_grid(self) -> int:
        """sz = S / P, search tokens per side (also the corner-head grid)."""
        return self.search_size // self.patch_size

    @property
    def foveal_grid(self) -> int:
        """fz = F / P, foveal tokens per side."""
        return self.foveal_size // self.patch_size

    @property
    def num_tokens(self) -> int:
        """Encoder sequence length: template + cls + search + foveal tokens."""
        return self.template_grid**2 + 1 + self.search_grid**2 + self.foveal_grid**2

    @property
    def foveal_window_offset(self) -> int:
        """Top-left pixel of the foveal window in the template crop: the centred fz x fz patch block, or (with
        `foveal_shift`) the block starting at patch (tz - fz) // 2 moved by half a patch down and right."""
        p = self.patch_size
        if self.foveal_shift:
            return ((self.template_grid - self.foveal_grid) // 2) * p + p // 2
        return ((self.template_grid - self.foveal_grid) * p) // 2

    @classmethod
    def from_variant(cls, name: str, **overrides: Any) -> "SimTrackConfig":
        """Config of a published variant ("sim-b32", "sim-b16", "sim-b16star", "sim-l14"; spellings such as
        "Sim-B/16*" work) or of a from-scratch preset ("tiny", "tiny-hybrid", "small", "compact", "hybrid")."""
        key = name.lower().replace("/", "").replace("_", "-").replace("*", "star")
        named = {**SIMTRACK_VARIANTS, **SIMTRACK_PRESETS}
        if key not in named:
            raise ValueError(f"unknown SimTrack variant {name!r}; choose from {sorted(named)}")
        return cls(**{**named[key], **overrides})


__all__ = ["EFFICIENTNET_LITE0_STRIDE8", "SIMTRACK_PRESETS", "SIMTRACK_VARIANTS", "SimTrackConfig"]
