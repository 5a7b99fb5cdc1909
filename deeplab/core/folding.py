"""Inference-only layers with BatchNorm folded into the convolutions.

At inference BatchNorm is an affine map per channel,
`y = gamma * (x - mean) / sqrt(var + eps) + beta`, so it folds exactly into
the convolution before it: with `s = gamma / sqrt(var + eps)` the kernel's
output channel c is scaled by `s[c]` and the conv gains the bias
`beta - mean * s` (plus `s * b` when the conv had a bias `b`). A folded
network runs conv + bias (+ ReLU) per layer, which TensorFlow's CPU backend
(oneDNN) fuses into one kernel, instead of conv, then four element-wise
passes over every feature map.

Dilated depthwise convolutions are the other hot spot on CPU. TensorFlow
runs them either as one native kernel with dilations (oneDNN: fast for small
rates, a slow generic path from rate 8 on) or by `space_to_batch`, a native
undilated kernel, and `batch_to_space` (portable; a fixed overhead that pays
off at large rates). `choose_dilated_depthwise` picks per rate.

The folded layers keep the original scope as their name, so `fold` computes
each one's kernel and bias from the original variable names. Their variables
are not the original's: checkpoints load into the ordinary model, which is
then folded (`deeplab.runtime.fold`).
"""
import functools
import re

import numpy as np
import tensorflow as tf
import keras

from deeplab import common
from deeplab import console
from deeplab.core import layers
from deeplab.core import ops

# Dilation rates up to this run as one native kernel where the backend has
# one: oneDNN's native dilated kernel beats space_to_batch at small rates and
# falls to a slow generic path from rate 8 on (figures: docs/performance.md,
# "Fast inference", measured with benchmarks/inference.py).
MAX_NATIVE_DEPTHWISE_RATE = 6

# Up to this many input channels a float32 1x1 conv runs as oneDNN's conv,
# above it as a matmul: the conv wins on narrow inputs (MobileNetV2's
# expansions), the matmul on wide ones (see `FoldedConv2D.call`; figures in
# docs/performance.md, "Fast inference").
CONV_1X1_MAX_CHANNELS = 128


@functools.lru_cache(maxsize=None)
def native_dilated_depthwise_supported() -> bool:
  """Whether this machine's CPU kernel runs dilated depthwise convs natively.

  Stock TensorFlow CPU kernels refuse dilations ('Current kernel
  implementation does not support dilations'); oneDNN's accept them. Probed
  once on a tiny input rather than inferred from build flags, which change
  with TF_ENABLE_ONEDNN_OPTS.
  """
  # The refusal is also logged by the runtime as a warning; it is expected
  # here, so it is kept off the console.
  refusal = re.compile(r'does not support dilations|rendezvous is aborting')
  try:
    with console.filtered_stderr(refusal), tf.device('/CPU:0'):
      tf.raw_ops.DepthwiseConv2dNative(
          input=tf.zeros([1, 5, 5, 1]), filter=tf.zeros([3, 3, 1, 1]),
          strides=[1, 1, 1, 1], padding='SAME', dilations=[1, 2, 2, 1])
    return True
  except (tf.errors.OpError, ValueError):
    return False


def choose_dilated_depthwise(rate: int, choice: str = 'auto') -> str:
  """'native' or 'space_to_batch' for a depthwise conv at `rate`.

  Args:
    rate: Dilation rate.
    choice: 'auto' (native for rates up to `MAX_NATIVE_DEPTHWISE_RATE` where
      the CPU kernel supports it, else space_to_batch), or a forced choice.
      'space_to_batch' is portable: a graph exported with it runs on any
      TensorFlow build. 'padded' pads explicitly, then runs the native
      kernel without padding: converters write it as one dilated conv with
      pads, which ONNX Runtime and OpenVINO compile (space_to_batch's
      computed paddings defeat OpenVINO's shape inference; a dilated conv
      with 'SAME' padding is refused by ONNX Runtime).
  """
  if choice not in common.DILATED_DEPTHWISE_CHOICES:
    raise ValueError('dilated_depthwise must be one of %s, not %r.'
                     % (', '.join(common.DILATED_DEPTHWISE_CHOICES), choice))
  if rate == 1:
    return 'native'
  if choice != 'auto':
    return choice
  if rate <= MAX_NATIVE_DEPTHWISE_RATE and native_dilated_depthwise_supported():
    return 'native'
  return 'space_to_batch'


class _Folded(keras.layers.Layer):
  """Shared parts: kernel, bias, activation and what the fold reads.

  Args:
    kernel_size: Square kernel size.
    strides: Stride.
    rate: Dilation rate.
    fixed_padding: Pad as the original's `conv2d_same` /
      `separable_conv2d_same` when strided (`layers.FixedPadding`): where the
      input's static size makes that TF's 'SAME' padding (odd sizes, such as
      513, for 3x3 kernels), the conv pads itself and no Pad op runs.
    activation: None, 'relu' or 'relu6' (applied after the bias).
    bn_epsilon: Epsilon of the BatchNorm folded in; None when the original
      layer has no BatchNorm (e.g. `logits/semantic`).
    source_bias: Whether the original layer has its own `biases`.
  """

  def __init__(self, kernel_size, strides=1, rate=1, fixed_padding=False,
               activation=None, bn_epsilon=None, source_bias=False,
               **kwargs):
    super().__init__(**kwargs)
    if activation not in ops.ACTIVATIONS:
      raise ValueError('Unknown activation %r.' % activation)
    self.kernel_size = int(kernel_size)
    self.strides = int(strides)
    # A rate per axis: the Dense Prediction Cell's are rectangular.
    self.rates = ((int(rate[0]), int(rate[1])) if isinstance(
        rate, (list, tuple)) else (int(rate), int(rate)))
    self.rate = self.rates[0] if self.rates[0] == self.rates[1] else list(
        self.rates)
    self.fixed_padding = bool(fixed_padding)
    self.activation = activation
    self.bn_epsilon = bn_epsilon
    self.source_bias = bool(source_bias)

  def _add_weights(self, kernel_shape, channels):
    self.kernel = self.add_weight(name='kernel', shape=kernel_shape,
                                  initializer='glorot_uniform')
    self.bias = self.add_weight(name='bias', shape=(channels,),
                                initializer='zeros')

  def _pad(self, x):
    """(input, padding) realising this layer's padding for `x`."""
    if not self.fixed_padding or self.strides == 1:
      return x, 'SAME'
    k_eff = self.kernel_size + (self.kernel_size - 1) * (max(self.rates) - 1)
    fixed = ((k_eff - 1) // 2, k_eff - 1 - (k_eff - 1) // 2)
    if all(n is not None and _same_padding(n, k_eff, self.strides) == fixed
           for n in x.shape[1:3]):
      return x, 'SAME'
    return tf.pad(x, [[0, 0], fixed, fixed, [0, 0]]), 'VALID'

  def _finish(self, y):
    y = tf.nn.bias_add(y, tf.cast(self.bias, y.dtype))
    return ops.ACTIVATIONS[self.activation](y)

  def get_config(self):
    config = super().get_config()
    config.update(kernel_size=self.kernel_size, strides=self.strides,
                  rate=self.rate, fixed_padding=self.fixed_padding,
                  activation=self.activation, bn_epsilon=self.bn_epsilon,
                  source_bias=self.source_bias)
    return config


@keras.saving.register_keras_serializable(package='deeplab')
class FoldedConv2D(_Folded):
  """Conv2D + bias (+ activation), a `slim.conv2d` with its BatchNorm folded.

  Args:
    filters: Output channels.
    kernel_size: Square kernel size.
    padded_dilation: Run a dilated conv as an explicit pad and the native
      dilated kernel (as `dilated_depthwise='padded'`), not space_to_batch.
    **kwargs: As `_Folded`.
  """

  source_kernel = 'weights'
  channel_axis = 3

  def __init__(self, filters, kernel_size, padded_dilation=False, **kwargs):
    super().__init__(kernel_size, **kwargs)
    self.filters = int(filters)
    self.padded_dilation = bool(padded_dilation)

  def build(self, input_shape):
    k = self.kernel_size
    self._add_weights((k, k, int(input_shape[-1]), self.filters),
                      self.filters)

  def call(self, x):
    kernel = tf.cast(self.kernel, x.dtype)
    if self.kernel_size == 1 and self.strides == 1 and (
        x.dtype != tf.float32 or x.shape[-1] is None or
        x.shape[-1] > CONV_1X1_MAX_CHANNELS):
      # A 1x1 conv is a matmul over pixels; oneDNN's matmul runs wide
      # shapes faster than its 1x1 conv, and fuses bias + ReLU as well.
      shape = tf.shape(x)
      y = tf.matmul(tf.reshape(x, [-1, shape[3]]), kernel[0, 0])
      y = self._finish(y)
      return tf.reshape(y, tf.concat([shape[:3], [self.filters]], 0))
    x, padding = self._pad(x)
    if self.padded_dilation and max(self.rates) > 1 and padding == 'SAME':
      y = tf.raw_ops.Conv2D(
          input=_pad_same(x, self.kernel_size, self.rates), filter=kernel,
          strides=[1, self.strides, self.strides, 1], padding='VALID',
          dilations=[1, self.rates[0], self.rates[1], 1])
    else:
      # tf.nn.convolution wraps a rate > 1 in space_to_batch.
      y = tf.nn.convolution(x, kernel, strides=self.strides, padding=padding,
                            dilations=self.rates)
    return self._finish(y)

  def compute_output_shape(self, input_shape):
    return _output_shape(input_shape, self, self.filters)

  def get_config(self):
    config = super().get_config()
    config.update(filters=self.filters, padded_dilation=self.padded_dilation)
    return config


@keras.saving.register_keras_serializable(package='deeplab')
class FoldedDepthwiseConv2D(_Folded):
  """Depthwise conv (multiplier 1) + bias (+ activation), BatchNorm folded.

  Args:
    dilated_depthwise: How a dilated conv runs ('native' or
      'space_to_batch'; 'auto' is resolved by `choose_dilated_depthwise`).
    **kwargs: As `_Folded`.
  """

  source_kernel = 'depthwise_weights'
  channel_axis = 2

  def __init__(self, kernel_size, dilated_depthwise='auto', **kwargs):
    super().__init__(kernel_size, **kwargs)
    self.dilated_depthwise = choose_dilated_depthwise(max(self.rates),
                                                      dilated_depthwise)

  def build(self, input_shape):
    k, channels = self.kernel_size, int(input_shape[-1])
    self._add_weights((k, k, channels, 1), channels)

  def call(self, x):
    kernel = tf.cast(self.kernel, x.dtype)
    strides = [1, self.strides, self.strides, 1]
    x, padding = self._pad(x)
    if self.dilated_depthwise == 'padded' and padding == 'SAME':
      x, padding = _pad_same(x, self.kernel_size, self.rates), 'VALID'
    if self.dilated_depthwise in ('native', 'padded'):
      y = tf.raw_ops.DepthwiseConv2dNative(
          input=x, filter=kernel, strides=strides, padding=padding,
          dilations=[1, self.rates[0], self.rates[1], 1])
    else:
      # tf.nn.depthwise_conv2d wraps a rate > 1 in space_to_batch.
      y = tf.nn.depthwise_conv2d(x, kernel, strides, padding,
                                 dilations=list(self.rates))
    return self._finish(y)

  def compute_output_shape(self, input_shape):
    return _output_shape(input_shape, self, int(input_shape[-1]))

  def get_config(self):
    config = super().get_config()
    config.update(dilated_depthwise=self.dilated_depthwise)
    return config


@keras.saving.register_keras_serializable(package='deeplab')
class ReluAfterSum(keras.layers.Layer):
  """max(x, 0) for a ReLU whose input also feeds a residual sum.

  TensorFlow 2.21's grappler remapper fuses conv + bias + Add + ReLU even
  when the Add also feeds the next residual Add (Xception's middle flow),
  then fails ('Mutation::Apply error: fanout ... exist for missing node
  ...add') and drops every fusion of the graph, conv + bias + ReLU
  included. Written as Maximum, this ReLU is outside that pattern (it could
  not be fused anyway: the sum is needed without it), and the remapper's
  other fusions go through.
  """

  def call(self, x):
    return tf.maximum(x, tf.zeros([], x.dtype))


FOLDED_TYPES = (FoldedConv2D, FoldedDepthwiseConv2D)


def _pad_same(x, kernel_size, rates):
  """`x` padded as 'SAME' pads a stride-1 conv of `kernel_size` dilated by
  `rates` (more after than before where the total is odd)."""
  pads = [[0, 0]]
  for rate in rates:
    total = (kernel_size - 1) * rate
    pads.append([total // 2, total - total // 2])
  return tf.pad(x, pads + [[0, 0]])


def _same_padding(size, k_eff, stride):
  """(before, after) padding of TF's 'SAME' for one dimension."""
  total = max((-(-size // stride) - 1) * stride + k_eff - size, 0)
  return total // 2, total - total // 2


def _output_shape(input_shape, layer, channels):
  # 'SAME' and the original's fixed padding both give ceil(n / stride).
  dims = [None if n is None else -(-n // layer.strides)
          for n in input_shape[1:3]]
  return (input_shape[0], dims[0], dims[1], channels)


def folded_layers(model):
  """Every folded layer of `model` (depth first, each once)."""
  return [l for l in layers.leaf_layers(model)
          if isinstance(l, FOLDED_TYPES)]


def fold(values, scope, layer):
  """Folded (kernel, bias) of one layer from the original's variables.

  Args:
    values: Original variable name -> array (e.g.
      `aspp0/weights`, `aspp0/BatchNorm/gamma`).
    scope: The layer's original scope.
    layer: The folded layer (which variables it folds, and its epsilon).

  Returns:
    (kernel, bias) as float64 arrays.
  """
  kernel = np.asarray(values['%s/%s' % (scope, layer.source_kernel)],
                      np.float64)
  channels = kernel.shape[layer.channel_axis]
  bias = (np.asarray(values[scope + '/biases'], np.float64)
          if layer.source_bias else np.zeros(channels))
  if layer.bn_epsilon is not None:
    bn = {k: np.asarray(values['%s/BatchNorm/%s' % (scope, k)], np.float64)
          for k in ('gamma', 'beta', 'moving_mean', 'moving_variance')}
    scale = bn['gamma'] / np.sqrt(bn['moving_variance'] + layer.bn_epsilon)
    shape = [1] * kernel.ndim
    shape[layer.channel_axis] = channels
    kernel = kernel * scale.reshape(shape)
    bias = bn['beta'] + (bias - bn['moving_mean']) * scale
  return kernel, bias


def source_names(scope, layer):
  """The original variable names the fold of `layer` reads."""
  names = ['%s/%s' % (scope, layer.source_kernel)]
  if layer.source_bias:
    names.append(scope + '/biases')
  if layer.bn_epsilon is not None:
    names += ['%s/BatchNorm/%s' % (scope, k)
              for k in ('gamma', 'beta', 'moving_mean', 'moving_variance')]
  return names
