"""BatchNorm folding and the per-rate dilated depthwise choice (core/folding)."""
import numpy as np
import pytest
import tensorflow as tf

import conftest
from deeplab import common
from deeplab import model as model_lib
from deeplab import runtime
from deeplab.core import folding
from deeplab.core import names


@pytest.mark.parametrize('variant,crop', [
    ('xception_41', 65),   # Odd: strided fixed padding is TF's SAME.
    ('xception_41', 64),   # Even: it is not; the folded conv pads itself.
    ('mobilenet_v2', 65),
    ('resnet_v1_50_beta', 66),
])
def test_folded_model_equals_the_original_graph(variant, crop):
  options = conftest.small_options(variant, crop=crop)
  plain, folded = conftest.folded_pair(options)
  conftest.assert_same_outputs(plain, folded, conftest.random_images(2, crop, crop))


def test_folding_multi_scale_flipped_and_any_size():
  # Eval scales and flips fold like one scale; without a crop any size runs.
  options = conftest.small_options('xception_41', atrous_rates=(6, 12, 18)
                                   ).replace(crop_size=None)
  plain, folded = conftest.folded_pair(options, eval_scales=(0.75, 1.0),
                        add_flipped_images=True)
  for h, w in ((49, 66), (57, 57)):
    conftest.assert_same_outputs(plain, folded, conftest.random_images(1, h, w))


def test_folded_model_removes_batch_norm_and_keeps_original_scopes():
  options = conftest.small_options('xception_41', crop=33)
  plain, folded = conftest.folded_pair(options)
  kinds = {type(l).__name__ for l in folded.layers}
  assert not any('BatchNorm' in k for k in kinds)
  folded_scopes = {names.tf1_scope(l.name)
                   for l in folding.folded_layers(folded)}
  kernels = {n.rsplit('/', 1)[0] for n in model_lib.tf1_variable_map(plain)
             if n.endswith(('/weights', '/depthwise_weights'))}
  assert folded_scopes == kernels
  # Each folded layer: kernel + bias; each original: kernel + 4 BN (+ bias).
  assert len(folded.weights) == 2 * len(folded_scopes)
  assert len(folded.weights) < len(plain.weights)


def test_fold_matches_batch_norm_arithmetic():
  # One conv + BN by hand: kernel * s, beta - mean * s with
  # s = gamma / sqrt(var + eps), per output channel (axis 2 for depthwise).
  rng = np.random.RandomState(0)
  layer = folding.FoldedDepthwiseConv2D(3, bn_epsilon=1e-3, name='dw')
  values = {'dw/depthwise_weights': rng.randn(3, 3, 4, 1),
            'dw/BatchNorm/gamma': rng.uniform(0.5, 2, 4),
            'dw/BatchNorm/beta': rng.randn(4),
            'dw/BatchNorm/moving_mean': rng.randn(4),
            'dw/BatchNorm/moving_variance': rng.uniform(0.1, 3, 4)}
  kernel, bias = folding.fold(values, 'dw', layer)
  s = values['dw/BatchNorm/gamma'] / np.sqrt(
      values['dw/BatchNorm/moving_variance'] + 1e-3)
  np.testing.assert_allclose(kernel[:, :, :, 0],
                             values['dw/depthwise_weights'][..., 0] * s)
  np.testing.assert_allclose(
      bias, values['dw/BatchNorm/beta'] - values['dw/BatchNorm/moving_mean'] * s)
  # A conv with its own biases and no BatchNorm (logits) is copied.
  logits = folding.FoldedConv2D(3, 1, source_bias=True, name='l')
  w, b = rng.randn(1, 1, 8, 3), rng.randn(3)
  kernel, bias = folding.fold({'l/weights': w, 'l/biases': b}, 'l', logits)
  np.testing.assert_array_equal(kernel, w)
  np.testing.assert_array_equal(bias, b)


def test_folded_model_refuses_checkpoints_and_refolding():
  options = conftest.small_options('mobilenet_v2', crop=33)
  plain, folded = conftest.folded_pair(options)
  with pytest.raises(ValueError, match='fold_batch_norm'):
    model_lib.tf1_variable_map(folded)
  with pytest.raises(ValueError, match='folded already'):
    runtime.fold(folded)
  other = runtime.build_graph(options.replace(model_variant='xception_41'),
                              common.InferenceOptions())
  with pytest.raises(ValueError, match='Cannot fold'):
    runtime.fold(plain, target=other)


def test_choose_dilated_depthwise():
  assert folding.choose_dilated_depthwise(1, 'space_to_batch') == 'native'
  assert folding.choose_dilated_depthwise(2, 'space_to_batch') == (
      'space_to_batch')
  assert folding.choose_dilated_depthwise(12, 'native') == 'native'
  # Large rates take space_to_batch: oneDNN's native kernel has a slow
  # generic path from rate 8 on.
  assert folding.choose_dilated_depthwise(
      folding.MAX_NATIVE_DEPTHWISE_RATE + 2) == 'space_to_batch'
  small = folding.choose_dilated_depthwise(2)
  assert small == ('native' if folding.native_dilated_depthwise_supported()
                   else 'space_to_batch')
  with pytest.raises(ValueError, match='dilated_depthwise'):
    folding.choose_dilated_depthwise(2, 'im2col')


@pytest.mark.parametrize('rate', [2, 6, 12])
def test_dilated_depthwise_implementations_agree(rate):
  rng = np.random.RandomState(rate)
  x = tf.constant(rng.randn(1, 33, 35, 3).astype(np.float32))
  kernel = rng.randn(3, 3, 3, 1).astype(np.float32)
  bias = rng.randn(3).astype(np.float32)
  expected = tf.nn.relu(tf.nn.depthwise_conv2d(
      x, kernel, [1, 1, 1, 1], 'SAME', dilations=[rate, rate]) + bias)
  choices = ['space_to_batch']
  if folding.native_dilated_depthwise_supported():
    choices += ['native', 'padded']
  else:
    # This build refuses the native kernel, which is why 'auto' avoids it.
    with pytest.raises(tf.errors.OpError):
      tf.raw_ops.DepthwiseConv2dNative(
          input=x, filter=kernel, strides=[1, 1, 1, 1], padding='SAME',
          dilations=[1, rate, rate, 1])
  for choice in choices:
    layer = folding.FoldedDepthwiseConv2D(3, rate=rate, activation='relu',
                                          dilated_depthwise=choice)
    layer.build(x.shape)
    layer.kernel.assign(kernel)
    layer.bias.assign(bias)
    np.testing.assert_allclose(layer(x).numpy(), expected.numpy(), atol=1e-5,
                               err_msg=choice)


@pytest.mark.skipif(not folding.native_dilated_depthwise_supported(),
                    reason='this TensorFlow build has no native dilated '
                    'kernels; padded convs are checked by the ONNX exports')
def test_padded_dilated_conv_equals_space_to_batch():
  """A dilated plain conv with `padded_dilation` (one padded dilated
  kernel, what ONNX and OpenVINO exports run) equals TensorFlow's
  space_to_batch form, for square and rectangular rates."""
  rng = np.random.RandomState(0)
  x = tf.constant(rng.randn(1, 29, 34, 5).astype(np.float32))
  for rate in (2, (3, 1)):
    outputs = []
    for padded in (False, True):
      layer = folding.FoldedConv2D(4, 3, rate=rate, padded_dilation=padded)
      layer.build(x.shape)
      layer.kernel.assign(rng.randn(3, 3, 5, 4).astype(np.float32)
                          if not outputs else outputs[0][1])
      outputs.append((layer(x).numpy(), layer.kernel.numpy()))
    np.testing.assert_allclose(outputs[1][0], outputs[0][0], atol=1e-4)
  assert folding.FoldedConv2D.from_config(
      layer.get_config()).padded_dilation


def test_folded_inference_model_keras_file_round_trip(tmp_path):
  """The folded multi-scale inference graph saves and loads as .keras with
  its options, scales, flips and folded flag."""
  import keras  # pylint: disable=g-import-not-at-top
  options = conftest.small_options('xception_41').replace(crop_size=None)
  plain = runtime.build_graph(options, conftest.inference(
      eval_scales=(0.75, 1.0), add_flipped_images=True))
  conftest.assign_recipe_values(plain)
  folded = conftest.fold(plain, dilated_depthwise='space_to_batch')
  path = str(tmp_path / 'folded.keras')
  folded.save(path)
  loaded = keras.models.load_model(path)
  assert loaded.folded and loaded.model_options == options
  assert loaded.inference_options == common.InferenceOptions(
      eval_scales=(0.75, 1.0), add_flipped_images=True,
      dilated_depthwise='space_to_batch')
  images = conftest.random_images(1, 41, 37)
  want, got = folded(images), loaded(images)
  for key in ('logits', 'probabilities', 'predictions'):
    np.testing.assert_array_equal(got[key].numpy(), want[key].numpy())
