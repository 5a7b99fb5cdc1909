"""The training loss against NumPy: ignore pixels, class weights, top-k."""
import numpy as np
import pytest
import tensorflow as tf

from deeplab.training import losses


def _numpy_pixel_losses(logits, labels, num_classes, ignore, weights):
  flat_logits = logits.reshape(-1, num_classes).astype(np.float64)
  flat_labels = labels.reshape(-1)
  shifted = flat_logits - flat_logits.max(axis=1, keepdims=True)
  log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
  keep = flat_labels != ignore
  safe = np.where(keep, flat_labels, 0)
  pixel = -log_probs[np.arange(len(safe)), safe]
  w = np.ones(num_classes) if weights is None else np.asarray(weights)
  return pixel * w[safe] * keep, keep


def _case(rng, num_classes=4, shape=(2, 5, 6)):
  logits = rng.normal(size=shape + (num_classes,)).astype(np.float32) * 3
  labels = rng.randint(0, num_classes, size=shape + (1,))
  labels[0, :2, :3] = 255
  labels[1, 4, :] = 255
  return logits, labels.astype(np.int32)


def test_mean_over_non_ignored_pixels_with_class_weights(rng):
  logits, labels = _case(rng)
  weights = [0.5, 1.0, 2.0, 3.0]
  pixel, keep = _numpy_pixel_losses(logits, labels, 4, 255, weights)
  expected = pixel.sum() / keep.sum()
  got = losses.softmax_cross_entropy(tf.constant(logits), tf.constant(labels),
                                     4, 255, label_weights=weights)
  np.testing.assert_allclose(float(got), expected, rtol=1e-5)
  unweighted, _ = _numpy_pixel_losses(logits, labels, 4, 255, None)
  got = losses.softmax_cross_entropy(tf.constant(logits), tf.constant(labels),
                                     4, 255)
  np.testing.assert_allclose(float(got), unweighted.sum() / keep.sum(),
                             rtol=1e-5)


@pytest.mark.parametrize('step,mining_step', [(0, 0), (5, 10), (20, 10)])
def test_top_k_pixels_with_ramp(rng, step, mining_step):
  logits, labels = _case(rng)
  pixel, _ = _numpy_pixel_losses(logits, labels, 4, 255, [1, 2, 1, 1])
  fraction = 0.25 if mining_step == 0 else (
      min(1.0, step / mining_step) * 0.25 + 1 - min(1.0, step / mining_step))
  k = int(np.float32(fraction) * np.float32(pixel.size))
  top = np.sort(pixel)[::-1][:k]
  expected = top.sum() / np.count_nonzero(top)
  got = losses.softmax_cross_entropy(
      tf.constant(logits), tf.constant(labels), 4, 255,
      label_weights=[1, 2, 1, 1], top_k_percent_pixels=0.25,
      hard_example_mining_step=mining_step, step=step)
  np.testing.assert_allclose(float(got), expected, rtol=1e-5)


def test_all_ignored_gives_zero_not_nan():
  logits = tf.zeros([1, 3, 3, 2])
  labels = tf.fill([1, 3, 3, 1], 255)
  assert float(losses.softmax_cross_entropy(logits, labels, 2, 255)) == 0.0


def test_upsample_logits_or_downsample_labels(rng):
  logits = rng.normal(size=(1, 3, 3, 3)).astype(np.float32)
  labels = rng.randint(0, 3, size=(1, 5, 5, 1)).astype(np.int32)
  # Labels to logits: nearest with align corners picks rows/cols 0, 2, 4.
  small = labels[:, ::2, ::2]
  pixel, keep = _numpy_pixel_losses(logits, small, 3, 255, None)
  got = losses.softmax_cross_entropy(tf.constant(logits), tf.constant(labels),
                                     3, 255, upsample_logits=False)
  np.testing.assert_allclose(float(got), pixel.sum() / keep.sum(), rtol=1e-5)
  # Logits to labels: bilinear with align corners; at stride 2 the even
  # positions are the logits themselves, odd ones averages of neighbours.
  up = np.zeros((1, 5, 5, 3), np.float32)
  for i in range(5):
    for j in range(5):
      ys = [i // 2, (i + 1) // 2]
      xs = [j // 2, (j + 1) // 2]
      up[0, i, j] = np.mean([logits[0, y, x] for y in ys for x in xs], axis=0)
  pixel, keep = _numpy_pixel_losses(up, labels, 3, 255, None)
  got = losses.softmax_cross_entropy(tf.constant(logits), tf.constant(labels),
                                     3, 255, upsample_logits=True)
  np.testing.assert_allclose(float(got), pixel.sum() / keep.sum(), rtol=1e-5)


def test_label_weights_must_match_classes():
  with pytest.raises(ValueError, match='label_weights'):
    losses.label_weight_mask(tf.constant([0, 1]), 255, 3, [1.0, 2.0])


def test_weight_decay_is_slim_l2_on_conv_weights_only():
  from conftest import small_options  # pylint: disable=g-import-not-at-top
  from deeplab import model as model_lib  # pylint: disable=g-import-not-at-top
  model = model_lib.build_model(small_options('mobilenet_v2', crop=33,
                                              atrous_rates=None,
                                              decoder_output_stride=None))
  names = {v.path for v in losses.regularized_variables(model)}
  variables = model_lib.tf1_variable_map(model)
  regularized = [n for n, v in variables.items() if v.path in names]
  assert regularized and all(n.endswith('/weights') for n in regularized)
  assert 'logits/semantic/weights' in regularized
  assert not any('depthwise' in n or 'BatchNorm' in n or 'biases' in n
                 for n in regularized)
  expected = 4e-5 * sum(0.5 * np.sum(np.square(variables[n].numpy()))
                        for n in regularized)
  got = losses.weight_decay_loss(losses.regularized_variables(model), 4e-5)
  np.testing.assert_allclose(float(got), expected, rtol=1e-5)
