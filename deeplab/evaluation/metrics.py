"""Segmentation metrics from a streaming confusion matrix.

`mean_iou` reproduces TF1's `tf.metrics.mean_iou` (what the original eval.py
reports): IoU_c = tp / (tp + fp + fn), averaged over the classes whose
denominator is non-zero (a class never labelled but predicted counts with
IoU 0). `per_class_iou` follows the original's per-class metric: NaN where
the class has no ground-truth pixel (tp + fn = 0).

Rows of the confusion matrix are ground truth, columns predictions; pixels
labelled `ignore_label` are not counted.
"""
import numpy as np


class ConfusionMatrix:
  """Accumulates a [num_classes, num_classes] int64 confusion matrix."""

  def __init__(self, num_classes, ignore_label=255):
    self.num_classes = int(num_classes)
    self.ignore_label = ignore_label
    self.matrix = np.zeros((self.num_classes, self.num_classes), np.int64)

  def update(self, labels, predictions, mask=None, name=None):
    """Adds one batch.

    Args:
      labels: Integer ground truth, any shape.
      predictions: Integer predictions, same shape.
      mask: Optional boolean array; only True pixels count.
      name: Names the image in errors.

    Raises:
      ValueError: On shape mismatch, or a label that is neither a class nor
        the ignore label (naming `name`).
    """
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    predictions = np.asarray(predictions).reshape(-1).astype(np.int64)
    if labels.shape != predictions.shape:
      raise ValueError('Labels (%d pixels) and predictions (%d) differ in '
                       'size%s.' % (labels.size, predictions.size,
                                    ' for %s' % name if name else ''))
    keep = labels != self.ignore_label
    if mask is not None:
      keep &= np.asarray(mask).reshape(-1)
    labels, predictions = labels[keep], predictions[keep]
    if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
      bad = labels[(labels < 0) | (labels >= self.num_classes)][0]
      raise ValueError('Label %d%s is outside [0, %d) and is not the ignore '
                       'label %d.' % (bad, ' in %s' % name if name else '',
                                      self.num_classes, self.ignore_label))
    if predictions.size and (predictions.min() < 0 or
                             predictions.max() >= self.num_classes):
      raise ValueError('Prediction outside [0, %d)%s.' % (
          self.num_classes, ' for %s' % name if name else ''))
    self.matrix += np.bincount(
        labels * self.num_classes + predictions,
        minlength=self.num_classes ** 2).reshape(self.num_classes,
                                                 self.num_classes)

  def merge(self, other):
    self.matrix += other.matrix
    return self


def _parts(matrix):
  matrix = np.asarray(matrix, np.float64)
  tp = np.diag(matrix)
  gt = matrix.sum(axis=1)
  pred = matrix.sum(axis=0)
  return tp, gt, pred


def mean_iou(matrix):
  """`tf.metrics.mean_iou` on the same pixels (0 when nothing counted)."""
  tp, gt, pred = _parts(matrix)
  denominator = gt + pred - tp
  valid = denominator > 0
  if not valid.any():
    return 0.0
  iou = np.where(valid, tp / np.where(valid, denominator, 1), 0.0)
  return float(iou.sum() / valid.sum())


def per_class_iou(matrix):
  """IoU per class; NaN for classes without ground-truth pixels."""
  tp, gt, pred = _parts(matrix)
  denominator = gt + pred - tp
  with np.errstate(invalid='ignore', divide='ignore'):
    return np.where(gt > 0, tp / np.maximum(denominator, 1), np.nan)


def pixel_accuracy(matrix):
  tp, gt, _ = _parts(matrix)
  total = gt.sum()
  return float(tp.sum() / total) if total else 0.0


def mean_class_accuracy(matrix):
  """Mean over classes with ground truth of tp / (tp + fn)."""
  tp, gt, _ = _parts(matrix)
  present = gt > 0
  return float(np.mean(tp[present] / gt[present])) if present.any() else 0.0


def frequency_weighted_iou(matrix):
  """Sum over classes of (share of ground-truth pixels) x IoU."""
  _, gt, _ = _parts(matrix)
  total = gt.sum()
  if not total:
    return 0.0
  iou = np.nan_to_num(per_class_iou(matrix))
  return float(np.sum(gt / total * iou))


def summarize(matrix):
  """Every metric of a confusion matrix as a JSON-friendly dict."""
  iou = per_class_iou(matrix)
  return {
      'miou': mean_iou(matrix),
      'per_class_iou': [None if np.isnan(v) else float(v) for v in iou],
      'pixel_accuracy': pixel_accuracy(matrix),
      'mean_class_accuracy': mean_class_accuracy(matrix),
      'frequency_weighted_iou': frequency_weighted_iou(matrix),
      'num_pixels': int(np.asarray(matrix).sum()),
  }


def _dilate(mask, width):
  """Binary dilation by a (2w+1)x(2w+1) square: separable running max."""
  out = mask.copy()
  for axis in (0, 1):
    grown = out.copy()
    for shift in range(1, width + 1):
      grown[tuple(slice(shift, None) if a == axis else slice(None)
                  for a in range(2))] |= out[tuple(
                      slice(None, -shift) if a == axis else slice(None)
                      for a in range(2))]
      grown[tuple(slice(None, -shift) if a == axis else slice(None)
                  for a in range(2))] |= out[tuple(
                      slice(shift, None) if a == axis else slice(None)
                      for a in range(2))]
    out = grown
  return out


def trimap_band(label, width, ignore_label=255):
  """Pixels within `width` of a 'void' pixel (the paper's trimap, Fig. 5).

  PASCAL VOC marks object boundaries with a void band; the trimap is the
  band of `width` pixels (Chebyshev distance) around it. Void pixels
  themselves are ignored by the metric anyway.

  Args:
    label: [H, W] integer ground truth.
    width: Band width in pixels.
    ignore_label: The void label.

  Returns:
    [H, W] boolean mask.
  """
  label = np.asarray(label)
  if label.ndim == 3:
    label = label[..., 0]
  void = label == ignore_label
  if width <= 0:
    return np.zeros_like(void)
  return _dilate(void, int(width)) & ~void
