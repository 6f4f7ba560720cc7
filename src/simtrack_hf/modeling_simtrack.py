"""SimTrack: one-branch ViT tracker ("Backbone is All Your Need", ECCV 2022).

Data flow (Sim-B/16 shapes, B = batch, C = 768):
    template (B,3,112,112) -> patch tokens (B,49,C)  + pos_fc([R', cx, cy]) embedding
    foveal window of the template (B,3,64,64) -> (B,16,C) + average of two diagonal template embeddings
    search (B,3,224,224) -> [cls] + patch tokens (B,197,C) + CLIP position table (bilinear resize)
    sequence [template | cls + search | foveal] (B,262,C) -> pre-LN -> CLIP encoder -> post-LN
    drop foveal -> bottleneck Linear -> search tokens as (B,256,14,14) -> corner head -> soft-argmax -> box
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.models.clip.modeling_clip import CLIPAttention, CLIPEncoder, CLIPEncoderLayer
from transformers.utils import ModelOutput
from transformers.utils.generic import merge_with_config_defaults
from transformers.utils.output_capturing import capture_outputs

from .configuration_simtrack import SimTrackConfig


@dataclass
class SimTrackOutput(ModelOutput):
    r"""
    loss (`torch.FloatTensor` of shape `()`, *optional*): giou_weight·GIoU + l1_weight·L1 when `labels` are given.
    loss_dict (`dict[str, torch.FloatTensor]`, *optional*): the detached terms of `loss` for logging: `giou_loss`,
        `l1_loss`, `mean_iou` (over the non-degenerate predictions) and `num_degenerate` (an integer count), each
        of shape `()`.
    pred_boxes (`torch.FloatTensor` of shape `(B, 4)`): box as normalised (cx, cy, w, h) in the search crop.
    scores (`torch.FloatTensor` of shape `(B,)`): confidence in [0, 1]: sqrt(max p_tl · max p_br), the geometric
        mean of the peak probabilities of the two softmax-normalised corner heatmaps (1 = both corners certain).
    corner_logits (`torch.FloatTensor` of shape `(B, 2, H, W)`): top-left / bottom-right heatmap logits, H = W = S/P.
    last_hidden_state (`torch.FloatTensor` of shape `(B, N, C)`): post-LN tokens `[template | cls + search]`.
    hidden_states (`tuple(torch.FloatTensor)`, *optional*): encoder input and every layer's output, (B, N + fz², C).
    attentions (`tuple(torch.FloatTensor)`, *optional*): per-layer attention weights (B, heads, L, L) (eager only).
    """

    loss: torch.FloatTensor | None = None
    loss_dict: dict[str, torch.FloatTensor] | None = None
    pred_boxes: torch.FloatTensor | None = None
    scores: torch.FloatTensor | None = None
    corner_logits: torch.FloatTensor | None = None
    last_hidden_state: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


def box_cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) cxcywh -> (..., 4) xyxy."""
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack((cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h), dim=-1)


def box_xyxy_to_cxcywh(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) xyxy -> (..., 4) cxcywh."""
    x0, y0, x1, y1 = boxes.unbind(-1)
    return torch.stack(((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0), dim=-1)


def patch_geometry(grid: int, patch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised boxes (grid², 4) xyxy and centres (grid², 2) of a row-major patch grid."""
    rows, cols = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    rows, cols = rows.reshape(-1).float(), cols.reshape(-1).float()
    side = float(patch_size * grid)
    boxes = torch.stack((cols * patch_size, rows * patch_size, (cols + 1) * patch_size, (rows + 1) * patch_size), -1)
    centres = torch.stack(((cols + 0.5) / grid, (rows + 0.5) / grid), -1)
    return boxes / side, centres


def soft_argmax_coordinates(grid: int, stride: int) -> torch.Tensor:
    """(2, grid²) x and y of each heatmap cell's top-left corner (no +0.5 offset, as STARK-S)."""
    index = torch.arange(grid, dtype=torch.float32) * stride
    return torch.stack((index.repeat(grid), index.repeat_interleave(grid)))


def soft_argmax(probs: torch.Tensor, coordinates: torch.Tensor, size: float) -> torch.Tensor:
    """(B, 2, G²) corner probabilities -> (B, 4) expected top-left / bottom-right corners, xyxy in [0, 1] of the
    crop (`coordinates` from `soft_argmax_coordinates`, `size` the crop side in pixels)."""
    return (probs[:, :, None, :] * coordinates.float()).sum(-1).flatten(1) / size


def resize_patch_positions(table: torch.Tensor, grid: int) -> torch.Tensor:
    """(g², C) row-major position table -> (grid², C), bilinear (align_corners=False, no antialias) as the original."""
    old = int(round(table.shape[0] ** 0.5))
    if old == grid:
        return table
    table = table.reshape(1, old, old, -1).permute(0, 3, 1, 2)
    table = F.interpolate(table, size=(grid, grid), mode="bilinear", align_corners=False)
    return table.flatten(2)[0].transpose(0, 1)


def validate_boxes(boxes: torch.Tensor, name: str, batch_size: int, check_values: bool = True) -> None:
    """Raise `ValueError` unless `boxes` is (B, 4) and, with `check_values` (a host sync), finite with positive
    width and height."""
    if boxes.shape != (batch_size, 4):
        raise ValueError(f"{name} must have shape ({batch_size}, 4), got {tuple(boxes.shape)}")
    if not check_values:
        return
    if not torch.isfinite(boxes).all():
        raise ValueError(f"{name} contains NaN or infinite values: {boxes.tolist()}")
    if (boxes[:, 2:] <= 0).any():
        raise ValueError(f"{name} needs positive width and height (normalised xywh / cxcywh), got {boxes.tolist()}")


class SimTrackFixedBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d that always normalises with its stored statistics, in training too: a pretrained CNN stem keeps
    the (ImageNet) statistics it was trained with whatever the tracking batch holds. Affine weights stay trainable."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(features, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)


class SimTrackMBConvBlock(nn.Module):
    """EfficientNet-Lite inverted residual (no squeeze-excitation, ReLU6): [1x1 expand] -> kxk depthwise (stride)
    -> 1x1 project, residual when stride 1 and widths match. (B,Cin,H,W) -> (B,Cout,H/stride,W/stride)."""

    def __init__(self, in_channels: int, expand_ratio: int, kernel: int, stride: int, out_channels: int) -> None:
        super().__init__()
        hidden = in_channels * expand_ratio
        if expand_ratio != 1:
            self.expand_conv = nn.Conv2d(in_channels, hidden, 1, bias=False)
            self.bn0 = SimTrackFixedBatchNorm(hidden, eps=1e-3)
        self.depthwise_conv = nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False)
        self.bn1 = SimTrackFixedBatchNorm(hidden, eps=1e-3)
        self.project_conv = nn.Conv2d(hidden, out_channels, 1, bias=False)
        self.bn2 = SimTrackFixedBatchNorm(out_channels, eps=1e-3)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        hidden = F.relu6(self.bn0(self.expand_conv(features))) if hasattr(self, "expand_conv") else features
        hidden = self.bn2(self.project_conv(F.relu6(self.bn1(self.depthwise_conv(hidden)))))
        return features + hidden if self.residual else hidden


class SimTrackHybridPatchEmbedding(nn.Module):
    """The ViT "hybrid" input: an EfficientNet-Lite stem (3x3 conv stride 2, MBConv blocks) to stride s, then a
    conv of kernel = stride = P / s to the hidden size. (B,3,H,W) -> (B,C,H/P,W/P), as the single patch conv."""

    def __init__(self, config: SimTrackConfig) -> None:
        super().__init__()
        channels = config.hybrid_stem_channels
        self.stem = nn.Conv2d(3, channels, 3, 2, 1, bias=False)
        self.stem_norm = SimTrackFixedBatchNorm(channels, eps=1e-3)
        blocks = []
        for expand_ratio, kernel, stride, out_channels in config.hybrid_blocks:
            blocks.append(SimTrackMBConvBlock(channels, expand_ratio, kernel, stride, out_channels))
            channels = out_channels
        self.blocks = nn.ModuleList(blocks)
        k = config.patch_size // config.hybrid_stride
        self.projection = nn.Conv2d(channels, config.hidden_size, k, k)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        features = F.relu6(self.stem_norm(self.stem(pixel_values)))
        for block in self.blocks:
            features = block(features)
        return self.projection(features)


class SimTrackEmbeddings(nn.Module):
    """Patch embedding shared by template, foveal and search crops (the paper's single conv, or with
    `config.hybrid_blocks` a CNN stem), and their three position embeddings. A hybrid stem runs on the foveal
    window's own pixels, as the patch conv does, so its tokens keep the window's offset in the template.

    Every use of the weights goes through `forward` (and its submodules' calls), so module hooks that load weights
    on call (accelerate's CPU / disk offload, DeepSpeed ZeRO-3) see them.
    """

    def __init__(self, config: SimTrackConfig) -> None:
        super().__init__()
        self.config = config
        c, p = config.hidden_size, config.patch_size
        if config.is_hybrid:
            self.patch_embedding = SimTrackHybridPatchEmbedding(config)
        else:
            self.patch_embedding = nn.Conv2d(3, c, kernel_size=p, stride=p, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(c))
        num_positions = (config.pretrained_image_size // p) ** 2 + 1
        self.position_embedding = nn.Embedding(num_positions, c)
        self.register_buffer("position_ids", torch.arange(num_positions), persistent=False)
        self.pos_fc = nn.Sequential(
            nn.Linear(3, config.pos_embed_hidden_size), nn.ReLU(), nn.Linear(config.pos_embed_hidden_size, c), nn.Sigmoid()
        )
        boxes, centres = patch_geometry(config.template_grid, p)
        self.register_buffer("patch_boxes", boxes, persistent=False)
        self.register_buffer("patch_centres", centres, persistent=False)

    def patchify(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) -> (B, (H/P)·(W/P), C) row-major."""
        return self.patch_embedding(pixel_values).flatten(2).transpose(1, 2)

    def pos_fc_inputs(self, template_boxes: torch.Tensor) -> torch.Tensor:
        """(B,4) normalised xywh -> (B, tz², 3) rows [R', cx, cy]; R = share of each patch covered by the box."""
        xy, wh = template_boxes[:, :2], template_boxes[:, 2:]
        box = torch.cat((xy, xy + wh), -1).clamp(0.0, 1.0)[:, None]
        patch = self.patch_boxes[None]
        overlap = (torch.minimum(box[..., 2:], patch[..., 2:]) - torch.maximum(box[..., :2], patch[..., :2])).clamp(min=0)
        patch_area = (patch[..., 2] - patch[..., 0]) * (patch[..., 3] - patch[..., 1])
        ratio = overlap[..., 0] * overlap[..., 1] / patch_area
        centres = self.patch_centres[None].expand(ratio.shape[0], -1, -1)
        return torch.cat(((ratio[..., None] + 1) / 2, centres), -1)

    def embed_template(
        self, template_pixel_values: torch.Tensor, template_boxes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """-> template tokens (B, tz², C) + pos_fc embedding, and foveal tokens (B, fz², C) + averaged embedding.

        Both depend on the template only, so a tracker computes them once per target (exact reuse).
        """
        config = self.config
        batch = template_pixel_values.shape[0]
        geometry = self.pos_fc_inputs(template_boxes).to(self.class_embedding.dtype)  # buffers may be float32
        template_pos = 2 * self.pos_fc(geometry) - 1  # (B, tz², C), in (-1, 1)
        template = self.patchify(template_pixel_values) + template_pos

        o, f = config.foveal_window_offset, config.foveal_size
        foveal = self.patchify(template_pixel_values[:, :, o : o + f, o : o + f])
        tz, fz = config.template_grid, config.foveal_grid
        q = (tz - fz) // 2 + 1
        grid = template_pos.reshape(batch, tz, tz, -1)
        foveal_pos = 0.5 * (grid[:, q : q + fz, q : q + fz] + grid[:, q - 1 : q - 1 + fz, q - 1 : q - 1 + fz])
        return template, foveal + foveal_pos.reshape(batch, fz * fz, -1)

    def forward(
        self,
        search_pixel_values: torch.Tensor | None = None,
        template_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        template_pixel_values: torch.Tensor | None = None,
        template_boxes: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Template inputs -> `embed_template`'s (template, foveal) tokens; or search crops and those tokens ->
        (B, tz² + 1 + sz² + fz², C) tokens in the order [template | cls + search | foveal]."""
        if template_pixel_values is not None:
            return self.embed_template(template_pixel_values, template_boxes)
        template, foveal = template_embeddings
        positions = self.position_embedding(self.position_ids)  # (1 + g², C): [cls] then the pretrained patch grid
        cls = (self.class_embedding + positions[0]).expand(search_pixel_values.shape[0], 1, -1)
        search = self.patchify(search_pixel_values) + resize_patch_positions(positions[1:], self.config.search_grid)
        return torch.cat((template, cls, search, foveal), dim=1)


class SimTrackCornerHead(nn.Module):
    """STARK-S corner predictor: two conv towers -> (B,2,H,W) heatmap logits -> soft-argmax corners."""

    def __init__(self, config: SimTrackConfig) -> None:
        super().__init__()
        ch = config.head_channels
        widths = [config.head_hidden_size, ch, ch // 2, ch // 4, ch // 8]
        for corner in ("tl", "br"):
            for i in range(4):
                block = nn.Sequential(
                    nn.Conv2d(widths[i], widths[i + 1], 3, padding=1), nn.BatchNorm2d(widths[i + 1]), nn.ReLU()
                )
                setattr(self, f"conv{i + 1}_{corner}", block)
            setattr(self, f"conv5_{corner}", nn.Conv2d(ch // 8, 1, 1))
        self.image_size = float(config.search_grid * config.patch_size)
        self.register_buffer("coordinates", soft_argmax_coordinates(config.search_grid, config.patch_size), persistent=False)

    def tower(self, features: torch.Tensor, corner: str) -> torch.Tensor:
        for i in range(1, 5):
            features = getattr(self, f"conv{i}_{corner}")(features)
        return getattr(self, f"conv5_{corner}")(features)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B,D,H,W) -> logits (B,2,H,W), xyxy boxes (B,4) in [0,1] of the search crop, probabilities (B,2,H·W).

        The softmax and soft-argmax run in float32 whatever the model's dtype (a no-op for a float32 model).
        """
        logits = torch.cat((self.tower(features, "tl"), self.tower(features, "br")), dim=1)
        probs = logits.flatten(2).float().softmax(-1)
        return logits, soft_argmax(probs, self.coordinates, self.image_size), probs


def generalized_box_iou(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row GIoU and IoU of (B,4) xyxy boxes."""
    area_p = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
    area_t = (target[:, 2] - target[:, 0]) * (target[:, 3] - target[:, 1])
    wh = (torch.minimum(pred[:, 2:], target[:, 2:]) - torch.maximum(pred[:, :2], target[:, :2])).clamp(min=0)
    inter = wh[:, 0] * wh[:, 1]
    union = area_p + area_t - inter
    iou = inter / union.clamp(min=1e-12)
    hull = (torch.maximum(pred[:, 2:], target[:, 2:]) - torch.minimum(pred[:, :2], target[:, :2])).clamp(min=0)
    hull_area = (hull[:, 0] * hull[:, 1]).clamp(min=1e-12)
    return iou - (hull_area - union) / hull_area, iou


def simtrack_loss(pred_boxes: torch.Tensor, labels: torch.Tensor, config: SimTrackConfig) -> dict[str, torch.Tensor]:
    """Loss of STARK-S stage 1 on (B,4) normalised cxcywh boxes: giou_w·(1 − GIoU) + l1_w·L1 on xyxy.

    The target is clamped to [0, 1] (as the original). A *degenerate* prediction (x2 < x1 or y2 < y1) has no
    meaningful GIoU: the original zeroes the GIoU term of the whole batch. Here only that sample leaves the
    GIoU mean (which averages over the non-degenerate samples; 0 if none); its L1 term still trains it.
    No data-dependent shapes or checks (no host sync): degenerate rows are replaced by their target before the
    GIoU, so they carry neither a term nor a gradient.
    Returns `loss`, `giou_loss`, `l1_loss`, `mean_iou` (over non-degenerate samples) and `num_degenerate`.
    """
    pred = box_cxcywh_to_xyxy(pred_boxes)
    target = box_cxcywh_to_xyxy(labels).clamp(0.0, 1.0)
    valid = (pred[:, 2:] >= pred[:, :2]).all(-1)
    giou, iou = generalized_box_iou(torch.where(valid[:, None], pred, target), target)
    weights = valid.to(giou.dtype)
    count = weights.sum().clamp(min=1)
    giou_loss = ((1 - giou) * weights).sum() / count
    l1_loss = F.l1_loss(pred, target)
    loss = config.giou_loss_weight * giou_loss + config.l1_loss_weight * l1_loss
    return {
        "loss": loss,
        "giou_loss": giou_loss.detach(),
        "l1_loss": l1_loss.detach(),
        "mean_iou": ((iou * weights).sum() / count).detach(),
        "num_degenerate": (~valid).sum(),
    }


def torch_default_init(layer: nn.Linear | nn.Conv2d) -> None:
    """PyTorch's own initialisation of a Linear / Conv2d (its `reset_parameters`: weight kaiming-uniform with
    a=sqrt(5), bias uniform in ±1/sqrt(fan_in)), through transformers' init functions (loaded weights are kept)."""
    init.kaiming_uniform_(layer.weight, a=math.sqrt(5))
    if layer.bias is not None:
        bound = 1 / math.sqrt(layer.weight[0].numel())
        init.uniform_(layer.bias, -bound, bound)


class SimTrackPreTrainedModel(PreTrainedModel):
    config_class = SimTrackConfig
    config: SimTrackConfig
    base_model_prefix = "simtrack"
    main_input_name = "search_pixel_values"
    input_modalities = ("image",)
    supports_gradient_checkpointing = True
    _no_split_modules = ["CLIPEncoderLayer"]
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    _can_record_outputs = {"hidden_states": CLIPEncoderLayer, "attentions": CLIPAttention}

    def _init_weights(self, module: nn.Module) -> None:
        """transformers' defaults (normal(0, initializer_range) Linear / Conv2d, zero biases), except, with
        `new_layer_init` = "pytorch", PyTorch's default for the layers CLIP does not provide (`new_layers`)."""
        if self.config.new_layer_init == "pytorch" and isinstance(module, (nn.Linear, nn.Conv2d)) and any(
            module is layer for layer in self.new_layers()
        ):
            torch_default_init(module)
            return
        super()._init_weights(module)
        if isinstance(module, SimTrackEmbeddings):
            # CLIP's std for the published variants (their class embedding comes from CLIP); the presets' own
            std = module.config.hidden_size**-0.5 if self.config.new_layer_init == "pytorch" else (
                self.config.initializer_range)
            init.normal_(module.class_embedding, mean=0.0, std=std)
            init.copy_(module.position_ids, torch.arange(module.position_ids.shape[0]))
            boxes, centres = patch_geometry(module.config.template_grid, module.config.patch_size)
            init.copy_(module.patch_boxes, boxes)
            init.copy_(module.patch_centres, centres)
        elif isinstance(module, SimTrackCornerHead):
            init.copy_(module.coordinates, soft_argmax_coordinates(self.config.search_grid, self.config.patch_size))

    def get_input_embeddings(self) -> nn.Module:
        """The patch embedding shared by template, foveal and search crops (a Conv2d, or the hybrid CNN stem), as
        ViT / CLIP return theirs."""
        return self.embeddings.patch_embedding

    def new_layers(self) -> list[nn.Module]:
        """The modules SimTrack adds to the CLIP backbone: `pos_fc`, the bottleneck and the corner head."""
        return [*self.embeddings.pos_fc.modules(), self.bottleneck, *self.box_head.modules()]


class SimTrackModel(SimTrackPreTrainedModel):
    """SimTrack: template, foveal and search tokens through one CLIP ViT, then a STARK-S corner head."""

    accepts_loss_kwargs = False

    def __init__(self, config: SimTrackConfig) -> None:
        super().__init__(config)
        self.embeddings = SimTrackEmbeddings(config)
        self.pre_layrnorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.encoder = CLIPEncoder(config)
        self.post_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.bottleneck = nn.Linear(config.hidden_size, config.head_hidden_size)
        self.box_head = SimTrackCornerHead(config)
        self.post_init()

    @property
    def _check_values(self) -> bool:
        """Whether inputs get data-dependent checks: outside training and outside `torch.compile` tracing."""
        return not self.training and not torch.compiler.is_compiling()

    def _check_pixels(self, name: str, pixels: torch.Tensor, size: int) -> None:
        if pixels.ndim != 4 or pixels.shape[1:] != (3, size, size):
            raise ValueError(f"{name} must have shape (B, 3, {size}, {size}) for this config, got {tuple(pixels.shape)}")

    def embed_template(
        self, template_pixel_values: torch.Tensor, template_boxes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Template and foveal tokens ((B, tz², C), (B, fz², C)) to pass as `template_embeddings` on later frames.

        Every layer mixes template and search tokens, so only this pre-encoder part can be reused; reusing it
        gives bit-identical outputs. Box values are checked outside training (in training the data pipeline
        guarantees them, and a check would cost a host sync per step).
        """
        self._check_pixels("template_pixel_values", template_pixel_values, self.config.template_size)
        if template_boxes.ndim == 1:
            template_boxes = template_boxes.expand(template_pixel_values.shape[0], 4)
        validate_boxes(template_boxes, "template_boxes", template_pixel_values.shape[0], self._check_values)
        dtype = self.embeddings.class_embedding.dtype  # inputs follow the weights (e.g. loaded in bf16)
        return self.embeddings(template_pixel_values=template_pixel_values.to(dtype),
                               template_boxes=template_boxes.to(dtype))

    @merge_with_config_defaults
    @capture_outputs(tie_last_hidden_states=False)
    def forward(
        self,
        search_pixel_values: torch.Tensor | None = None,
        template_pixel_values: torch.Tensor | None = None,
        template_boxes: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        template_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        **kwargs,
    ) -> SimTrackOutput:
        r"""
        search_pixel_values (`(B, 3, S, S)`): normalised search crops (`main_input_name`: the per-frame input).
        template_pixel_values (`(B, 3, T, T)`): normalised template crops.
        template_boxes (`(B, 4)`): target box in the template crop, normalised (x, y, w, h).
        Pixel values and boxes are cast to the weights' dtype (a model loaded with `dtype=torch.bfloat16` takes
        the processor's float32 outputs).
        labels (`(B, 4)`, *optional*): target box in the search crop, normalised (cx, cy, w, h).
        template_embeddings (*optional*): `embed_template(template_pixel_values, template_boxes)` computed once,
            instead of the template inputs (what a tracker does on every frame after the first).
        """
        if search_pixel_values is None:
            raise ValueError("search_pixel_values is required")
        self._check_pixels("search_pixel_values", search_pixel_values, self.config.search_size)
        if template_embeddings is None:
            if template_pixel_values is None or template_boxes is None:
                raise ValueError("give template_pixel_values and template_boxes, or template_embeddings")
            template_embeddings = self.embed_template(template_pixel_values, template_boxes)
        if template_embeddings[0].shape[0] != search_pixel_values.shape[0]:
            raise ValueError(
                f"batch sizes differ: template {template_embeddings[0].shape[0]} vs search {search_pixel_values.shape[0]}"
            )
        if kwargs.get("output_attentions") and self.config._attn_implementation != "eager":
            raise ValueError("output_attentions needs eager attention: load with attn_implementation='eager'")

        search_pixel_values = search_pixel_values.to(self.embeddings.class_embedding.dtype)
        hidden = self.pre_layrnorm(self.embeddings(search_pixel_values, template_embeddings))
        for layer in self.encoder.layers:
            hidden = layer(hidden, None, **kwargs)
        num_foveal = self.config.foveal_grid**2
        last_hidden_state = self.post_layernorm(hidden)[:, :-num_foveal]

        grid = self.config.search_grid
        search = self.bottleneck(last_hidden_state[:, -grid * grid :])
        corner_logits, boxes_xyxy, probs = self.box_head(search.transpose(1, 2).reshape(search.shape[0], -1, grid, grid))
        pred_boxes = box_xyxy_to_cxcywh(boxes_xyxy)
        scores = probs.amax(-1).prod(-1).sqrt()

        loss = loss_dict = None
        if labels is not None:
            validate_boxes(labels, "labels", pred_boxes.shape[0], self._check_values)
            terms = simtrack_loss(pred_boxes, labels, self.config)
            loss = terms["loss"]
            loss_dict = {name: terms[name] for name in ("giou_loss", "l1_loss", "mean_iou", "num_degenerate")}
        return SimTrackOutput(
            loss=loss, loss_dict=loss_dict, pred_boxes=pred_boxes, scores=scores, corner_logits=corner_logits,
            last_hidden_state=last_hidden_state,
        )


__all__ = ["SimTrackHybridPatchEmbedding", "SimTrackModel", "SimTrackOutput", "SimTrackPreTrainedModel", "simtrack_loss"]
