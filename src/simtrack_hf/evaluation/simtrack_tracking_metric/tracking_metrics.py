"""One-pass (OPE) tracking metrics on xywh boxes, vectorised with numpy.

Three conventions (``convention=``):

* ``"pytracking"`` -- what SimTrack, STARK and OSTrack report (``lib/test/analysis``):
  inclusive-pixel IoU, centre ``x + (w - 1) / 2``, frame 0 forced to the ground truth,
  zero-size predictions replaced by the previous box, a frame is *valid* when the target is
  visible and the GT has ``w > 0`` and ``h > 0``; invalid frames get IoU -1 (always a failure)
  and centre error +inf (-1, i.e. a hit, with ``dataset="uav"``), normalised centre error -1
  (+inf on invisible frames with ``dataset="lasot"``). Denominators are all frames, sequences
  are weighted equally, success grid ``0, 0.05, ..., 1`` with strict ``>``, AUC = mean of the grid.
  NaN ground truth raises except with ``dataset="uav"``.
* ``"got10k"`` -- the GOT-10k toolkit: continuous IoU (optionally clipped to the image,
  ``image_size=(W, H)``), frame 0 and invisible (``cover == 0``) frames excluded, frames pooled
  over all sequences for AO / SR0.5 / SR0.75, a 101-bin success curve.
* ``"otb"`` -- the got10k toolkit's OTB experiment: continuous IoU, frame 0 forced to the GT,
  frames with NaN GT (UAV123 rule) or not visible dropped, ``linspace(0, 1, 21)`` success grid,
  centre-error grid 0..50 px, sequences weighted equally.

All conventions: precision = fraction of frames with centre error ``<= t`` (score at 20 px),
normalised precision on ``0, 0.01, ..., 0.5`` (score at 0.20). NaN predictions raise a
``ValueError`` naming the sequence and frame. Scores are reported in percent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

__all__ = [
    "CONVENTIONS",
    "PYTRACKING_OVERLAP_THRESHOLDS",
    "OTB_OVERLAP_THRESHOLDS",
    "GOT10K_OVERLAP_THRESHOLDS",
    "CENTER_THRESHOLDS",
    "NORM_CENTER_THRESHOLDS",
    "box_iou",
    "center_error",
    "normalized_center_error",
    "success_curve",
    "precision_curve",
    "SequenceResult",
    "TrackingScores",
    "evaluate_sequence",
    "aggregate_results",
    "evaluate_sequences",
    "score_separation",
]

CONVENTIONS = ("pytracking", "got10k", "otb")

# torch.arange(0.0, 1.05, 0.05, dtype=torch.float64) as pytracking builds it; it differs from
# np.arange at 0.65 and 0.75 (last bit), so the grid is spelled out.
PYTRACKING_OVERLAP_THRESHOLDS = np.array(
    [0.0, 0.05, 0.1, 0.15000000000000002, 0.2, 0.25, 0.30000000000000004, 0.35000000000000003,
     0.4, 0.45, 0.5, 0.55, 0.6000000000000001, 0.6500000000000001, 0.7000000000000001,
     0.7500000000000001, 0.8, 0.8500000000000001, 0.9, 0.9500000000000001, 1.0]
)
OTB_OVERLAP_THRESHOLDS = np.linspace(0.0, 1.0, 21)
GOT10K_OVERLAP_THRESHOLDS = np.linspace(0.0, 1.0, 101)
CENTER_THRESHOLDS = np.arange(0, 51, dtype=np.float64)  # pixels; the score is read at 20
NORM_CENTER_THRESHOLDS = np.arange(0, 51, dtype=np.float64) / 100.0  # score read at 0.20

_OVERLAP_THRESHOLDS = {
    "pytracking": PYTRACKING_OVERLAP_THRESHOLDS,
    "otb": OTB_OVERLAP_THRESHOLDS,
    "got10k": GOT10K_OVERLAP_THRESHOLDS,
}
_PRECISION_INDEX = 20  # CENTER_THRESHOLDS[20] == 20 px, NORM_CENTER_THRESHOLDS[20] == 0.2


# ----------------------------------------------------------------------------- per-frame measures
def box_iou(pred: np.ndarray, gt: np.ndarray, inclusive: bool = False) -> np.ndarray:
    """IoU of matching rows of two (N, 4) xywh arrays -> (N,).

    ``inclusive=True`` is pytracking's pixel-inclusive rule (a box covers pixels
    ``x .. x + w - 1``; intersection side ``min(br) - max(tl) + 1`` clamped at 0, union from
    ``w * h``); no clipping, NaN where the union is 0. ``inclusive=False`` is the got10k
    toolkit's continuous IoU (``inter / (union + eps)`` clipped to [0, 1]).
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    off = 1.0 if inclusive else 0.0
    tl = np.maximum(pred[:, :2], gt[:, :2])
    br = np.minimum(pred[:, :2] + pred[:, 2:] - off, gt[:, :2] + gt[:, 2:] - off)
    inter = np.prod(np.maximum(br - tl + off, 0.0), axis=1)
    union = np.prod(pred[:, 2:], axis=1) + np.prod(gt[:, 2:], axis=1) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        if inclusive:
            return inter / union
        return np.clip(inter / (union + np.finfo(float).eps), 0.0, 1.0)


def _centers(boxes: np.ndarray) -> np.ndarray:
    return boxes[:, :2] + 0.5 * (boxes[:, 2:] - 1.0)


def center_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Euclidean distance (pixels) between centres ``x + (w - 1) / 2`` of (N, 4) xywh rows -> (N,)."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    return np.sqrt(np.sum((_centers(pred) - _centers(gt)) ** 2, axis=1))


def normalized_center_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Centre distance after dividing both centres per axis by the GT (w, h) -> (N,)."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = _centers(pred) / gt[:, 2:] - _centers(gt) / gt[:, 2:]
    return np.sqrt(np.sum(diff**2, axis=1))


def success_curve(iou: np.ndarray, thresholds: np.ndarray, denominator: int | None = None) -> np.ndarray:
    """Fraction of frames with IoU strictly above each threshold -> (T,); NaN if no frames."""
    iou = np.asarray(iou, np.float64)
    n = iou.size if denominator is None else denominator
    if n == 0:
        return np.full(len(thresholds), np.nan)
    return np.count_nonzero(iou[:, None] > np.asarray(thresholds)[None, :], axis=0) / n


def precision_curve(err: np.ndarray, thresholds: np.ndarray, denominator: int | None = None) -> np.ndarray:
    """Fraction of frames with error ``<=`` each threshold -> (T,); NaN if no frames."""
    err = np.asarray(err, np.float64)
    n = err.size if denominator is None else denominator
    if n == 0:
        return np.full(len(thresholds), np.nan)
    return np.count_nonzero(err[:, None] <= np.asarray(thresholds)[None, :], axis=0) / n


# ----------------------------------------------------------------------------- results
@dataclass
class SequenceResult:
    """Per-frame measures and curves of one sequence (N = number of GT frames).

    ``iou``, ``center_error``, ``norm_center_error``: (N,) after the convention's clean-up
    (pytracking: -1 / inf markers on invalid frames). ``valid``: (N,) GT usable (visible, w, h > 0,
    no NaN). ``counted``: (N,) frames that enter the curves (pytracking: all frames, invalid ones
    count as failures). Curves are fractions in [0, 1]; ``ao`` is the mean IoU over valid counted
    frames (pytracking's ``AO_valid_frames_mean``), a fraction.
    """

    name: str
    convention: str
    iou: np.ndarray
    center_error: np.ndarray
    norm_center_error: np.ndarray
    valid: np.ndarray
    counted: np.ndarray
    success_curve: np.ndarray
    precision_curve: np.ndarray
    norm_precision_curve: np.ndarray
    ao: float

    @property
    def auc(self) -> float:
        """Success AUC (mean of the success curve), percent."""
        return float(np.mean(self.success_curve) * 100.0)

    @property
    def precision(self) -> float:
        """Precision at 20 px, percent."""
        return float(self.precision_curve[_PRECISION_INDEX] * 100.0)

    @property
    def norm_precision(self) -> float:
        """Normalised precision at 0.20, percent."""
        return float(self.norm_precision_curve[_PRECISION_INDEX] * 100.0)


@dataclass
class TrackingScores:
    """Scores over a set of sequences, in percent.

    ``auc``: mean of the success curve. ``precision`` / ``norm_precision``: curves read at 20 px / 0.20.
    ``ao``: got10k -- frame-pooled mean IoU; pytracking / otb -- mean over sequences of each
    sequence's valid-frame mean IoU. ``sr50`` / ``sr75``: success curve at 0.5 / 0.75 (pytracking's
    OP50 / OP75; got10k's SR, pooled). Curves (fractions) and their thresholds are kept.
    """

    convention: str
    num_sequences: int
    num_frames: int
    auc: float
    precision: float
    norm_precision: float
    ao: float
    sr50: float
    sr75: float
    success_curve: np.ndarray
    precision_curve: np.ndarray
    norm_precision_curve: np.ndarray
    overlap_thresholds: np.ndarray
    center_thresholds: np.ndarray = field(default_factory=lambda: CENTER_THRESHOLDS.copy())
    norm_center_thresholds: np.ndarray = field(default_factory=lambda: NORM_CENTER_THRESHOLDS.copy())
    per_sequence: list[SequenceResult] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, float]:
        """The scalar scores as plain floats (percent)."""
        keys = ("auc", "precision", "norm_precision", "ao", "sr50", "sr75")
        return {k: float(getattr(self, k)) for k in keys}


# ----------------------------------------------------------------------------- per sequence
def _as_boxes(x, what: str, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"sequence {name!r}: {what} must have shape (N, 4), got {arr.shape}")
    return arr


def _check_pred(pred: np.ndarray, name: str, no_negative: bool) -> None:
    bad = np.isnan(pred).any(axis=1)
    if bad.any():
        raise ValueError(f"sequence {name!r}: predicted box at frame {int(np.argmax(bad))} contains NaN")
    if no_negative:
        neg = (pred[:, 2:] < 0).any(axis=1)
        if neg.any():
            raise ValueError(f"sequence {name!r}: predicted box at frame {int(np.argmax(neg))} has negative size")


def _pytracking(pred, gt, visible, name, dataset):
    _check_pred(pred, name, no_negative=True)
    gt_nan = np.isnan(gt).any(axis=1)
    if gt_nan.any() and dataset != "uav":
        raise ValueError(
            f"sequence {name!r}: ground truth at frame {int(np.argmax(gt_nan))} is NaN "
            "(only dataset='uav' allows NaN ground truth in the pytracking convention)"
        )
    n_gt = len(gt)
    # zero-size predictions take the previous (already replaced) box, unless the GT row is NaN
    nan_ext = np.zeros(len(pred), bool)
    nan_ext[: min(n_gt, len(pred))] = gt_nan[: len(pred)]
    replace = ((pred[:, 2] == 0) | (pred[:, 3] == 0)) & ~nan_ext
    if len(pred):
        replace[0] = False
    src = np.maximum.accumulate(np.where(replace, 0, np.arange(len(pred))))
    pred = pred[src]
    if len(pred) > n_gt:
        pred = pred[:n_gt]
    elif len(pred) < n_gt:
        if dataset == "lasot":
            raise ValueError(f"sequence {name!r}: {len(pred)} predicted boxes for {n_gt} ground-truth frames")
        pred = np.concatenate([pred, np.zeros((n_gt - len(pred), 4))])
    pred[0] = gt[0]

    vis = np.ones(n_gt, bool) if visible is None else visible
    with np.errstate(invalid="ignore"):
        valid = (gt[:, 2] > 0) & (gt[:, 3] > 0) & vis
    iou = box_iou(pred, gt, inclusive=True)
    ce = center_error(pred, gt)
    nce = normalized_center_error(pred, gt)
    iou[~valid] = -1.0
    ce[~valid] = -1.0 if dataset == "uav" else np.inf
    nce[~valid] = -1.0
    if dataset == "lasot":
        nce[~vis] = np.inf
        ce[~vis] = np.inf
    if np.isnan(iou).any():
        raise ValueError(f"sequence {name!r}: NaN IoU at frame {int(np.argmax(np.isnan(iou)))}")
    return iou, ce, nce, valid, np.ones(n_gt, bool)


def _toolkit(pred, gt, visible, name, convention, image_size):
    _check_pred(pred, name, no_negative=False)
    if len(pred) != len(gt):
        raise ValueError(f"sequence {name!r}: {len(pred)} predicted boxes for {len(gt)} ground-truth frames")
    pred = pred.copy()
    gt_ok = ~np.isnan(gt).any(axis=1)
    vis = np.ones(len(gt), bool) if visible is None else visible
    if convention == "otb":
        pred[0] = gt[0]
    if convention == "got10k" and image_size is not None:  # IoU on boxes clipped to the image
        iou = box_iou(_clip_to_image(pred, image_size), _clip_to_image(gt, image_size))
    else:
        iou = box_iou(pred, gt, inclusive=False)
    ce = center_error(pred, gt)
    nce = normalized_center_error(pred, gt)
    valid = gt_ok & vis
    counted = valid.copy()
    if convention == "got10k" and len(counted):
        counted[0] = False
    return iou, ce, nce, valid, counted


def _clip_to_image(boxes: np.ndarray, image_size) -> np.ndarray:
    w_img, h_img = float(image_size[0]), float(image_size[1])
    out = boxes.copy()
    out[:, 0] = np.clip(out[:, 0], 0, w_img)
    out[:, 1] = np.clip(out[:, 1], 0, h_img)
    out[:, 2] = np.clip(out[:, 2], 0, w_img - out[:, 0])
    out[:, 3] = np.clip(out[:, 3], 0, h_img - out[:, 1])
    return out


def evaluate_sequence(
    pred,
    gt,
    visible=None,
    *,
    convention: str = "pytracking",
    name: str = "sequence",
    dataset: str | None = None,
    image_size: tuple[float, float] | None = None,
) -> SequenceResult:
    """Score one sequence.

    Args:
        pred: (M, 4) predicted xywh boxes (pytracking truncates / zero-pads M to N; others need M == N).
        gt: (N, 4) ground-truth xywh boxes (NaN rows = unannotated, see the module docstring).
        visible: optional (N,) bool, False where the target is absent / fully occluded.
        convention: ``"pytracking"``, ``"got10k"`` or ``"otb"``.
        name: used in error messages.
        dataset: pytracking's dataset rule: ``"lasot"`` or ``"uav"`` change the invalid-frame
            markers (module docstring); anything else uses the default rule.
        image_size: (W, H), got10k only: clip boxes to the image like the GOT-10k val evaluation.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; expected one of {CONVENTIONS}")
    pred, gt = _as_boxes(pred, "predictions", name), _as_boxes(gt, "ground truth", name)
    if len(gt) == 0:
        raise ValueError(f"sequence {name!r}: empty ground truth")
    if visible is not None:
        visible = np.asarray(visible).astype(bool).reshape(-1)
        if len(visible) != len(gt):
            raise ValueError(f"sequence {name!r}: {len(visible)} visibility flags for {len(gt)} frames")
    if convention == "pytracking":
        iou, ce, nce, valid, counted = _pytracking(pred, gt, visible, name, dataset)
        denom = len(gt)  # all frames; invalid ones carry failure markers
        ious, ces, nces = iou, ce, nce
    else:
        iou, ce, nce, valid, counted = _toolkit(pred, gt, visible, name, convention, image_size)
        denom = int(counted.sum())
        ious, ces, nces = iou[counted], ce[counted], nce[counted]
    ao_frames = iou[valid & counted]
    return SequenceResult(
        name=name,
        convention=convention,
        iou=iou,
        center_error=ce,
        norm_center_error=nce,
        valid=valid,
        counted=counted,
        success_curve=success_curve(ious, _OVERLAP_THRESHOLDS[convention], denom),
        precision_curve=precision_curve(ces, CENTER_THRESHOLDS, denom),
        norm_precision_curve=precision_curve(nces, NORM_CENTER_THRESHOLDS, denom),
        ao=float(ao_frames.mean()) if ao_frames.size else float("nan"),
    )


# ----------------------------------------------------------------------------- many sequences
def _threshold_index(thresholds: np.ndarray, value: float) -> int:
    return int(np.argmin(np.abs(thresholds - value)))


def aggregate_results(results: Sequence[SequenceResult]) -> TrackingScores:
    """Combine per-sequence results: equal weight per sequence (pytracking, otb) or frames
    pooled over all sequences (got10k)."""
    if not results:
        raise ValueError("no sequences to aggregate")
    conventions = {r.convention for r in results}
    if len(conventions) != 1:
        raise ValueError(f"cannot aggregate results of different conventions: {sorted(conventions)}")
    convention = conventions.pop()
    thr = _OVERLAP_THRESHOLDS[convention]
    if convention == "got10k":
        iou = np.concatenate([r.iou[r.counted] for r in results])
        ce = np.concatenate([r.center_error[r.counted] for r in results])
        nce = np.concatenate([r.norm_center_error[r.counted] for r in results])
        succ = success_curve(iou, thr)
        prec = precision_curve(ce, CENTER_THRESHOLDS)
        nprec = precision_curve(nce, NORM_CENTER_THRESHOLDS)
        ao = float(iou.mean()) if iou.size else float("nan")
        sr50 = float(np.mean(iou > 0.5)) if iou.size else float("nan")
        sr75 = float(np.mean(iou > 0.75)) if iou.size else float("nan")
        num_frames = int(iou.size)
    else:
        succ = np.mean([r.success_curve for r in results], axis=0)
        prec = np.mean([r.precision_curve for r in results], axis=0)
        nprec = np.mean([r.norm_precision_curve for r in results], axis=0)
        ao = float(np.mean([r.ao for r in results]))
        sr50 = float(succ[_threshold_index(thr, 0.5)])
        sr75 = float(succ[_threshold_index(thr, 0.75)])
        num_frames = int(sum(r.counted.sum() for r in results))
    return TrackingScores(
        convention=convention,
        num_sequences=len(results),
        num_frames=num_frames,
        auc=float(np.mean(succ) * 100.0),
        precision=float(prec[_PRECISION_INDEX] * 100.0),
        norm_precision=float(nprec[_PRECISION_INDEX] * 100.0),
        ao=ao * 100.0,
        sr50=sr50 * 100.0,
        sr75=sr75 * 100.0,
        success_curve=succ,
        precision_curve=prec,
        norm_precision_curve=nprec,
        overlap_thresholds=thr.copy(),
        per_sequence=list(results),
    )


def evaluate_sequences(
    preds: Iterable,
    gts: Iterable,
    visibles: Iterable | None = None,
    *,
    names: Sequence[str] | None = None,
    convention: str = "pytracking",
    dataset: str | Sequence[str | None] | None = None,
    image_sizes: Sequence[tuple[float, float] | None] | None = None,
) -> TrackingScores:
    """Score many sequences: ``evaluate_sequence`` on each, then ``aggregate_results``.

    ``preds`` / ``gts``: iterables of (M_i, 4) / (N_i, 4) xywh arrays; ``visibles``: iterable of
    (N_i,) bool or None entries; ``dataset``: one pytracking dataset rule or one per sequence;
    ``image_sizes``: per-sequence (W, H) or None (got10k only).
    """
    preds, gts = list(preds), list(gts)
    if len(preds) != len(gts):
        raise ValueError(f"{len(preds)} prediction sequences for {len(gts)} ground-truth sequences")
    k = len(gts)
    visibles = [None] * k if visibles is None else list(visibles)
    names = [f"sequence_{i}" for i in range(k)] if names is None else list(names)
    datasets = list(dataset) if isinstance(dataset, (list, tuple)) else [dataset] * k
    image_sizes = [None] * k if image_sizes is None else list(image_sizes)
    for what, lst in (("visibility", visibles), ("name", names), ("dataset", datasets), ("image size", image_sizes)):
        if len(lst) != k:
            raise ValueError(f"{len(lst)} {what} entries for {k} sequences")
    results = [
        evaluate_sequence(p, g, v, convention=convention, name=n, dataset=d, image_size=s)
        for p, g, v, n, d, s in zip(preds, gts, visibles, names, datasets, image_sizes)
    ]
    return aggregate_results(results)


def score_separation(scores: np.ndarray, ious: np.ndarray, lost_below: float = 0.1, found_from: float = 0.5
                     ) -> tuple[float, float]:
    """How well tracker scores tell found frames from lost ones, for calibrating a ``lost`` flag.

    Positives are frames with IoU >= ``found_from``, negatives frames with IoU < ``lost_below`` (frames in between
    are ambiguous and left out). Returns ``(roc_auc, threshold)``: the ROC AUC (probability that a random found
    frame scores higher than a random lost one; ties count half) and the score threshold maximising Youden's J
    (true-negative + true-positive rate - 1) for ``lost = score < threshold``.

    Raises:
        ValueError: when either class is empty (nothing to separate).
    """
    scores, ious = np.asarray(scores, np.float64).ravel(), np.asarray(ious, np.float64).ravel()
    if scores.shape != ious.shape:
        raise ValueError(f"got {scores.size} scores for {ious.size} IoUs")
    found, lost = scores[ious >= found_from], scores[ious < lost_below]
    if found.size == 0 or lost.size == 0:
        raise ValueError(f"need frames with IoU >= {found_from} ({found.size}) and with IoU < {lost_below} "
                         f"({lost.size}) to calibrate a lost threshold")
    ranks = np.concatenate([found, lost]).argsort(kind="stable").argsort().astype(np.float64)
    values = np.concatenate([found, lost])
    for value in np.unique(values):  # average ranks of ties
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    auc = (ranks[: found.size].sum() - found.size * (found.size - 1) / 2) / (found.size * lost.size)
    candidates = np.unique(values)
    youden = [(found >= t).mean() + (lost < t).mean() - 1 for t in candidates]
    return float(auc), float(candidates[int(np.argmax(youden))])
