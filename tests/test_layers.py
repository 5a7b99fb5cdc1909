"""Tests of deeplab.core.layers against NumPy references."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from deeplab.core import layers
from deeplab.core import factory
from deeplab.core import names
from deeplab.core import ops
import reference


@pytest.mark.parametrize('dim, scale, expected', [
    (513, 1 / 16, 33), (513, 1 / 4, 129), (512, 1 / 16, 32), (514, 1 / 16, 33),
    (513, 0.5, 257), (513, 1.75, 897), (129, 1 / 8, 17)])
def test_scale_dimension_static_and_dynamic(dim, scale, expected):
  assert ops.scale_dimension(dim, scale) == expected
  assert int(ops.scale_dimension(tf.constant(dim), scale)) == expected


@pytest.mark.parametrize('size', [(9, 9), (33, 17), (5, 40)])
def test_resize_bilinear_is_align_corners(rng, size):
  x = rng.randn(1, 5, 7, 3).astype(np.float32)
  got = ops.resize_bilinear(tf.constant(x), size).numpy()[0]
  want = reference.upsample_align_corners(x, size)
  np.testing.assert_allclose(got, want, atol=1e-5)
  # Corners map onto corners: the property half-pixel resizing lacks.
  np.testing.assert_allclose(got[-1, -1], x[0, -1, -1], atol=1e-6)


def test_resize_layer_static_dynamic_and_identity(rng):
  x = rng.randn(2, 9, 9, 4).astype(np.float32)
  ref = np.zeros((2, 33, 33, 1), np.float32)
  static = layers.ResizeBilinear(size=(33, 33))(x)
  dynamic = layers.ResizeBilinear()([x, ref])
  scaled = layers.ResizeBilinear(scale=0.25)([x, np.zeros((2, 129, 129, 1))])
  np.testing.assert_allclose(static, dynamic, atol=1e-6)
  assert scaled.shape == (2, 33, 33, 4)
  np.testing.assert_array_equal(layers.ResizeBilinear(size=(9, 9))(x), x)


def _scene_logits(rng, batch, h, w, classes=6):
  """Logits of a few square objects: regions with boundaries, as a trained
  model predicts, plus noise so that no two channels tie."""
  labels = np.zeros((batch, h, w), np.int64)
  for b in range(batch):
    for _ in range(3):
      y, x, r = rng.randint(0, h), rng.randint(0, w), rng.randint(1, h // 2)
      labels[b, max(0, y - r):y + r, max(0, x - r):x + r] = rng.randint(
          1, classes)
  return (3 * np.eye(classes)[labels] +
          rng.normal(0, 0.5, labels.shape + (classes,))).astype(np.float32)


@pytest.mark.parametrize('low, size, shortcut', [
    ((9, 9), (129, 129), True),      # OS16 at 129: blocks of 16
    ((33, 33), (129, 129), True),    # decoder OS4 at 129: blocks of 4
    ((9, 17), (65, 129), True),      # unequal sides, blocks of 8
    ((10, 10), (100, 100), False),   # 99/9 = 11 is not a power of two
    ((9, 9), (120, 129), False),     # 119 is no multiple of 8
])
def test_upsampled_argmax_equals_argmax_of_upsampled_logits(
    rng, monkeypatch, low, size, shortcut):
  full_resizes = []
  resize = ops.resize_bilinear
  monkeypatch.setattr(ops, 'resize_bilinear',
                      lambda *a: full_resizes.append(1) or resize(*a))
  logits = _scene_logits(rng, 2, *low)
  want = ops.channel_argmax(resize(logits, size)).numpy()
  # Eager: tf.cond runs only the branch it takes.
  got = ops.upsampled_argmax(logits, size).numpy()
  np.testing.assert_array_equal(got, want)
  assert got.dtype == np.int32 and got.shape == (2,) + size
  assert bool(full_resizes) != shortcut


def test_upsampled_argmax_ties_noise_and_graph_mode(rng, monkeypatch):
  size = tf.constant([129, 129])
  # Exact ties between channels inside and across regions (first index
  # wins in both computations).
  ties = np.tile(np.float32([1, 0, 1, 1, 0]), (1, 9, 9, 1))
  ties[:, 2:7, 2:7] = [0, 2, 2, 1, 2]
  noise = rng.normal(size=(1, 9, 9, 21)).astype(np.float32)
  graph = tf.function(ops.upsampled_argmax)
  for logits in (ties, noise):
    want = ops.channel_argmax(ops.resize_bilinear(logits, size))
    np.testing.assert_array_equal(graph(logits, size), want)
  full_resizes = []
  resize = ops.resize_bilinear
  monkeypatch.setattr(ops, 'resize_bilinear',
                      lambda *a: full_resizes.append(1) or resize(*a))
  ops.upsampled_argmax(ties, size)
  assert not full_resizes  # Ties took the shortcut...
  ops.upsampled_argmax(noise, size)
  assert full_resizes  # ...noise, nearly all boundary cells, the full path.


@pytest.mark.parametrize('kernel, rate, beg, end', [
    (3, 1, 1, 1), (7, 1, 3, 3), (3, 2, 2, 2), (1, 1, 0, 0), (4, 1, 1, 2)])
def test_fixed_padding_is_independent_of_input_size(kernel, rate, beg, end):
  pad = layers.FixedPadding(kernel, rate)
  for n in (8, 9):
    out = pad(np.ones((1, n, n, 1), np.float32))
    assert out.shape[1] == n + beg + end
    assert float(out[0, beg, beg, 0]) == 1.0
    if beg:
      assert float(out[0, beg - 1, beg, 0]) == 0.0


def test_normalize_maps_mean_pixel_to_zero():
  unit = layers.Normalize('unit_range')
  mean = layers.Normalize('imagenet_mean')
  x = np.array([[[[0., 127.5, 255.]]]], np.float32)
  np.testing.assert_allclose(unit(x), [[[[-1., 0., 1.]]]], atol=1e-6)
  pix = np.array([[[[123.15, 115.90, 103.06]]]], np.float32)
  np.testing.assert_allclose(mean(pix), np.zeros((1, 1, 1, 3)), atol=1e-5)


def test_frozen_batch_norm_keeps_statistics_but_trains_gamma(rng):
  x = rng.randn(4, 6, 6, 3).astype(np.float32) * 3 + 1
  for fine_tune in (False, True):
    bn = layers.BatchNorm(fine_tune=fine_tune, momentum=0.9)
    bn.build(x.shape)
    before = bn.moving_mean.numpy().copy()
    with tf.GradientTape() as tape:
      y = bn(x, training=True)
      loss = tf.reduce_sum(y * y)
    grad = tape.gradient(loss, bn.gamma)
    changed = not np.allclose(bn.moving_mean.numpy(), before)
    assert changed == fine_tune
    assert grad is not None and np.abs(grad.numpy()).sum() > 0
    if not fine_tune:  # Inference normalisation with the moving statistics.
      np.testing.assert_allclose(y, x / np.sqrt(1 + bn.epsilon), rtol=1e-5)


def test_image_pooling_window_and_global_mean(rng):
  x = rng.randn(1, 9, 9, 2).astype(np.float32)
  np.testing.assert_allclose(layers.ImagePooling()(x),
                             x.mean(axis=(1, 2), keepdims=True), atol=1e-6)
  np.testing.assert_allclose(layers.ImagePooling((9, 9))(x),
                             x.mean(axis=(1, 2), keepdims=True), atol=1e-6)
  window = layers.ImagePooling((5, 5))(x).numpy()
  assert window.shape == (1, 5, 5, 2)
  np.testing.assert_allclose(window[0, 2, 3], x[0, 2:7, 3:8].mean((0, 1)),
                             atol=1e-6)


def test_tf1_names_of_factory_layers():
  f = factory.LayerFactory(1e-5, 0.9997)
  inp = keras.Input((9, 9, 4))
  x = f.split_separable_conv(inp, 8, 'aspp1', rate=2)
  x = f.conv(x, 3, 1, 'logits/semantic', activation=None, batch_norm=False,
             use_bias=True)
  again = f.conv(inp, 8, 1, 'aspp0')
  f.conv(inp, 8, 1, 'aspp0')  # The same scope reuses the same layer.
  assert len([k for k in f.layer_table if k.startswith('aspp0')]) == 2
  model = keras.Model(inp, [x, again])
  shapes = {k: tuple(v.shape) for k, v in names.tf1_variable_map(model).items()}
  assert shapes == {
      'aspp1_depthwise/depthwise_weights': (3, 3, 4, 1),
      'aspp1_depthwise/BatchNorm/gamma': (4,),
      'aspp1_depthwise/BatchNorm/beta': (4,),
      'aspp1_depthwise/BatchNorm/moving_mean': (4,),
      'aspp1_depthwise/BatchNorm/moving_variance': (4,),
      'aspp1_pointwise/weights': (1, 1, 4, 8),
      'aspp1_pointwise/BatchNorm/gamma': (8,),
      'aspp1_pointwise/BatchNorm/beta': (8,),
      'aspp1_pointwise/BatchNorm/moving_mean': (8,),
      'aspp1_pointwise/BatchNorm/moving_variance': (8,),
      'logits/semantic/weights': (1, 1, 8, 3),
      'logits/semantic/biases': (3,),
      'aspp0/weights': (1, 1, 4, 8),
      'aspp0/BatchNorm/gamma': (8,), 'aspp0/BatchNorm/beta': (8,),
      'aspp0/BatchNorm/moving_mean': (8,),
      'aspp0/BatchNorm/moving_variance': (8,),
  }


def test_fine_tuned_batch_norm_moves_statistics_as_the_original():
  """Training normalises with the batch's biased variance and moves
  moving_variance towards the unbiased one, as TF's FusedBatchNorm (the
  original's slim.batch_norm) does; frozen BatchNorm uses the moving ones."""
  rng = np.random.RandomState(0)
  x = rng.randn(2, 5, 3, 4).astype(np.float32) * 2 + 1
  bn = layers.BatchNorm(fine_tune=True, momentum=0.9, epsilon=1e-3)
  bn.build(x.shape)
  bn.gamma.assign(rng.uniform(0.5, 1.5, 4))
  bn.beta.assign(rng.uniform(-0.1, 0.1, 4))
  m0, v0 = rng.uniform(-0.1, 0.1, 4), rng.uniform(0.5, 1.5, 4)
  bn.moving_mean.assign(m0)
  bn.moving_variance.assign(v0)
  y = bn(x, training=True).numpy()
  flat = x.reshape(-1, 4).astype(np.float64)
  mean, biased = flat.mean(0), flat.var(0)
  expected = ((x - mean) / np.sqrt(biased + 1e-3) * bn.gamma.numpy() +
              bn.beta.numpy())
  np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(bn.moving_mean.numpy(), 0.9 * m0 + 0.1 * mean,
                             rtol=1e-6)
  np.testing.assert_allclose(bn.moving_variance.numpy(),
                             0.9 * v0 + 0.1 * flat.var(0, ddof=1), rtol=1e-6)
  frozen = layers.BatchNorm(fine_tune=False, momentum=0.9, epsilon=1e-3)
  frozen.build(x.shape)
  frozen.moving_mean.assign(m0)
  frozen.moving_variance.assign(v0)
  out = frozen(x, training=True).numpy()
  np.testing.assert_allclose(out, (x - m0) / np.sqrt(v0 + 1e-3), rtol=1e-5,
                             atol=1e-5)
  np.testing.assert_array_equal(frozen.moving_mean.numpy(),
                                m0.astype(np.float32))
