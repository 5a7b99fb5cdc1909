"""Metrics against TF1's tf.metrics.mean_iou and hand computations."""
import numpy as np
import pytest
import tensorflow as tf

from deeplab.evaluation import metrics


def _tf1_mean_iou(labels, predictions, num_classes, ignore_label):
  """What the original eval.py computes, run in a TF1 graph."""
  with tf.Graph().as_default():
    lab = tf.constant(labels.reshape(-1))
    pred = tf.constant(predictions.reshape(-1))
    weights = tf.cast(tf.not_equal(lab, ignore_label), tf.float32)
    lab = tf.where(tf.equal(lab, ignore_label), tf.zeros_like(lab), lab)
    miou, update = tf.compat.v1.metrics.mean_iou(lab, pred, num_classes,
                                                 weights=weights)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.local_variables_initializer())
      sess.run(update)
      return float(sess.run(miou))


def test_mean_iou_equals_tf1_with_ignore_and_absent_classes(rng):
  num_classes = 6
  labels = rng.randint(0, 4, size=(3, 33, 41))  # Classes 4, 5 never labelled.
  labels[rng.rand(*labels.shape) < 0.1] = 255
  predictions = np.where(rng.rand(*labels.shape) < 0.7,
                         np.where(labels == 255, 0, labels),
                         rng.randint(0, 6, size=labels.shape))
  predictions[0, 0, :5] = 5  # Predicted but never labelled: counts as IoU 0.
  cm = metrics.ConfusionMatrix(num_classes, 255)
  for lab, pred in zip(labels, predictions):  # Streaming, image by image.
    cm.update(lab, pred)
  expected = _tf1_mean_iou(labels.astype(np.int64),
                           predictions.astype(np.int64), num_classes, 255)
  assert metrics.mean_iou(cm.matrix) == pytest.approx(expected, abs=1e-6)
  iou = metrics.per_class_iou(cm.matrix)
  assert np.isnan(iou[4]) and np.isnan(iou[5])  # No ground truth: NaN.
  assert cm.matrix.sum() == np.sum(labels != 255)


def test_hand_made_matrix():
  #            pred 0  1  2
  matrix = np.array([[3, 1, 0],   # label 0
                     [0, 2, 2],   # label 1
                     [0, 0, 0]])  # label 2 absent but predicted
  summary = metrics.summarize(matrix)
  assert summary['per_class_iou'][0] == pytest.approx(3 / 4)
  assert summary['per_class_iou'][1] == pytest.approx(2 / 5)
  assert summary['per_class_iou'][2] is None
  # As tf.metrics.mean_iou: a predicted-but-absent class counts with IoU 0.
  assert summary['miou'] == pytest.approx((3 / 4 + 2 / 5 + 0) / 3)
  assert summary['pixel_accuracy'] == pytest.approx(5 / 8)
  assert summary['mean_class_accuracy'] == pytest.approx((3 / 4 + 2 / 4) / 2)
  assert summary['frequency_weighted_iou'] == pytest.approx(
      4 / 8 * 3 / 4 + 4 / 8 * 2 / 5)


def test_bad_labels_name_the_image():
  cm = metrics.ConfusionMatrix(3, 255)
  with pytest.raises(ValueError, match='Label 7 in img_004'):
    cm.update(np.array([0, 7, 255]), np.array([0, 1, 2]), name='img_004')
  with pytest.raises(ValueError, match='differ in size'):
    cm.update(np.zeros(3), np.zeros(4))


def test_trimap_band_on_a_hand_made_label():
  label = np.zeros((9, 9), np.int64)
  label[:, 4] = 255  # A vertical void boundary.
  label[:, 5:] = 1
  band1 = metrics.trimap_band(label, 1)
  expected = np.zeros((9, 9), bool)
  expected[:, 3] = expected[:, 5] = True
  np.testing.assert_array_equal(band1, expected)
  band2 = metrics.trimap_band(label, 2)
  expected[:, 2] = expected[:, 6] = True
  np.testing.assert_array_equal(band2, expected)
  # A point of void grows a square (Chebyshev distance), minus itself.
  point = np.zeros((7, 7), np.int64)
  point[3, 3] = 255
  band = metrics.trimap_band(point, 1)
  assert band.sum() == 8 and band[2:5, 2:5].sum() == 8
  # mIoU restricted to the band.
  pred = np.where(label == 255, 0, label)
  pred[:, 3] = 1  # Wrong only next to the boundary.
  cm = metrics.ConfusionMatrix(2, 255)
  cm.update(label, pred, mask=band1)
  assert metrics.pixel_accuracy(cm.matrix) == pytest.approx(0.5)
  full = metrics.ConfusionMatrix(2, 255)
  full.update(label, pred)
  assert metrics.pixel_accuracy(full.matrix) == pytest.approx(63 / 72)
