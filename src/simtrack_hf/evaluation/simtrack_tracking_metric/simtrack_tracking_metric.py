"""SimTrack tracking metric for the ``evaluate`` library: success AUC, precision, normalised
precision, AO and SR over whole sequences of xywh boxes.

Load it with ``evaluate.load(FOLDER)`` (with simtrack_hf: ``simtrack_hf.evaluation.METRIC_PATH``), or from the Hub
once this folder is uploaded; it needs only ``evaluate`` and numpy. One example is one sequence: ``predictions``
and ``references`` are lists of (N_i, 4) xywh box lists. It wraps ``evaluate_sequences`` of the sibling
``tracking_metrics.py``; keyword arguments of ``compute``:
``visibility`` (one list of N_i bools per sequence, or None), ``convention`` ("pytracking" default,
"got10k", "otb"), ``dataset`` (pytracking dataset rule, one string or one per sequence),
``image_sizes`` (got10k: (W, H) per sequence), ``names``.
"""

import datasets
import evaluate

from .tracking_metrics import evaluate_sequences

_DESCRIPTION = __doc__

_CITATION = """\
@inproceedings{chen2022simtrack,
  title={Backbone is All Your Need: A Simplified Architecture for Visual Object Tracking},
  author={Chen, Boyu and Li, Peixia and Bai, Lei and Qiao, Lei and Shen, Qiuhong and Li, Bo and Gan, Weihao and Wu, Wei and Ouyang, Wanli},
  booktitle={ECCV},
  year={2022}
}
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of sequences, each a list of [x, y, w, h] predicted boxes.
    references: list of sequences, each a list of [x, y, w, h] ground-truth boxes (NaN = unannotated).
    visibility: optional list (one per sequence) of per-frame bools, or None entries.
    convention: "pytracking" (default), "got10k" or "otb".
    dataset: pytracking dataset rule ("lasot", "uav", ...), one string or one per sequence.
    image_sizes: optional (W, H) per sequence, got10k convention only.
    names: optional sequence names used in error messages.
Returns:
    dict with "auc", "precision" (@20 px), "norm_precision" (@0.20), "ao", "sr50", "sr75", in percent.
Example:
    >>> metric = evaluate.load(METRIC_PATH)
    >>> metric.compute(predictions=[[[0, 0, 10, 10], [1, 1, 10, 10]]], references=[[[0, 0, 10, 10], [0, 0, 10, 10]]])
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SimtrackTrackingMetric(evaluate.Metric):
    def _info(self):
        boxes = datasets.Sequence(datasets.Sequence(datasets.Value("float64")))
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": boxes, "references": boxes}),
        )

    def _compute(self, predictions, references, visibility=None, convention="pytracking", dataset=None,
                 image_sizes=None, names=None):
        scores = evaluate_sequences(
            predictions,
            references,
            visibility,
            names=names,
            convention=convention,
            dataset=dataset,
            image_sizes=image_sizes,
        )
        return scores.to_dict()
