"""Building blocks shared by the backbones and the DeepLab head.

Names: Keras 3 forbids '/' in layer names, so every layer is named after the
original TF1 variable scope with '/' written as '.'
(`xception_65.entry_flow.conv1_1`, its BatchNorm `...conv1_1.BatchNorm`).
`tf1_variable_map` turns a model's weights back into the original names
(`xception_65/entry_flow/conv1_1/weights`, `.../BatchNorm/moving_mean`), which
is how checkpoints of the original map onto this implementation: by name,
never by order.

Weight-carrying layers are created through a `LayerFactory`, which returns
the same layer object when asked twice for one scope. That is the Keras
analogue of the original's `reuse=tf.AUTO_REUSE`: the multi-scale graph calls
one set of weights at several input sizes.
"""
import copy

import tensorflow as tf
import keras

from deeplab.core import folding
from deeplab.core import quantize

NAME_SEP = '.'


def keras_name(scope: str) -> str:
  """Keras layer name of a TF1 variable scope."""
  return scope.replace('/', NAME_SEP)


def tf1_scope(layer_name: str) -> str:
  """TF1 variable scope of a Keras layer name (inverse of `keras_name`)."""
  return layer_name.replace(NAME_SEP, '/')


def scale_dimension(dim, scale):
  """The original's `scale_dimension`: int((dim - 1) * scale + 1).

  Python numbers are computed in double precision, tensors in float32, as the
  original does; both truncate towards zero.
  """
  if isinstance(dim, (int, float)):
    return int((float(dim) - 1.0) * scale + 1.0)
  return tf.cast((tf.cast(dim, tf.float32) - 1.0) * scale + 1.0, tf.int32)


def resize_bilinear(images, size):
  """Bilinear resize with align_corners=True, TF1's geometry.

  The original resizes with `align_corners=True` everywhere (sizes are
  `(n - 1) * s + 1`), which maps corner pixels onto corner pixels; TF2's
  `tf.image.resize` uses half-pixel centres and would shift every feature.
  """
  out = tf.raw_ops.ResizeBilinear(images=images, size=tf.cast(size, tf.int32),
                                  align_corners=True, half_pixel_centers=False)
  return tf.cast(out, images.dtype)


def resize_nearest(images, size):
  """Nearest-neighbour resize with align_corners=True (TF1's geometry), for
  label maps [B, H, W, C] of any dtype."""
  return tf.raw_ops.ResizeNearestNeighbor(
      images=images, size=tf.cast(size, tf.int32), align_corners=True,
      half_pixel_centers=False)


def channel_argmax(x):
  """Index of the largest channel, int32 (first one on ties, as tf.argmax).

  Computed as top-1 of `tf.math.top_k`, which returns the same index (it
  breaks ties towards the lower index too) and runs about twice as fast as
  TF's ArgMax over a short last axis on CPU.
  """
  return tf.math.top_k(x, 1).indices[..., 0]


def _block_factor(in_size, out_size):
  """f where `out_size - 1 == f * (in_size - 1)` and f is a power of two
  (then align-corners positions are exactly i + a / f), else 0."""
  factor = (out_size - 1) // tf.maximum(in_size - 1, 1)
  exact = tf.logical_and(
      tf.logical_and(in_size > 1, factor > 0),
      tf.logical_and(tf.equal(factor * (in_size - 1), out_size - 1),
                     tf.equal(tf.bitwise.bitwise_and(factor, factor - 1), 0)))
  return tf.where(exact, factor, 0)


def upsampled_argmax(logits, size, max_boundary_share=0.5):
  """`channel_argmax(resize_bilinear(logits, size))` without upsampling the
  logits where their argmax is known.

  Bilinear interpolation makes each output pixel a convex combination of
  the four corners of its low-resolution cell. Where the four agree on the
  argmax c, c is strictly above every lower channel and not below any
  higher one in each of them, so also in the combination: its argmax (first
  index on ties) is c. Only cells with disagreeing corners (class
  boundaries, a small share in a real segmentation) are interpolated, with
  the kernel's weights and formula (order of operations included), so the
  labels equal the full computation's.

  That needs each output pixel to sit at an exact position i + a / f inside
  a cell, i.e. `size - 1 == f * (input size - 1)` with f a power of two (513
  from 33 or 129, 257 from 17 or 65, ...). Other sizes, and label maps
  where more than `max_boundary_share` of the cells are boundary cells, run
  the full resize and argmax.

  Args:
    logits: float32 [B, h, w, C].
    size: (H, W) output size.
    max_boundary_share: Above this share of boundary cells the full
      computation runs.

  Returns:
    int32 [B, H, W] labels.
  """
  logits = tf.convert_to_tensor(logits)
  size = tf.cast(size, tf.int32)
  shape = tf.shape(logits)
  batch, height, width = shape[0], shape[1], shape[2]
  f_y = _block_factor(height, size[0])
  f_x = _block_factor(width, size[1])
  labels = channel_argmax(logits)
  # Cell (i, j) has corners i..i+1, j..j+1, clamped at the last row and
  # column (whose cells only reach the output's last row or column).
  right = tf.concat([labels[:, :, 1:], labels[:, :, -1:]], 2)
  down = tf.concat([labels[:, 1:], labels[:, -1:]], 1)
  diagonal = tf.concat([right[:, 1:], right[:, -1:]], 1)
  boundary = tf.logical_not(tf.logical_and(
      tf.equal(labels, right),
      tf.logical_and(tf.equal(labels, down), tf.equal(labels, diagonal))))
  cells = tf.where(boundary)
  few = (tf.cast(tf.shape(cells)[0], tf.float32) <=
         max_boundary_share * tf.cast(tf.size(labels), tf.float32))

  def by_cells():
    # [B, h, w, f_y, f_x] blocks of each cell's label, the boundary cells
    # interpolated as ResizeBilinear does at positions a / f.
    blocks = tf.broadcast_to(labels[:, :, :, None, None],
                             [batch, height, width, f_y, f_x])
    lerp_y = tf.cast(tf.range(f_y), tf.float32) / tf.cast(f_y, tf.float32)
    lerp_x = tf.cast(tf.range(f_x), tf.float32) / tf.cast(f_x, tf.float32)
    index = tf.cast(cells, tf.int32)
    b, i, j = index[:, 0], index[:, 1], index[:, 2]
    i1 = tf.minimum(i + 1, height - 1)
    j1 = tf.minimum(j + 1, width - 1)

    def corner(rows, cols):  # [n, 1, 1, C]
      return tf.gather_nd(logits, tf.stack([b, rows, cols], 1))[:, None,
                                                                  None]

    x_w = lerp_x[None, None, :, None]
    top_left, top_right = corner(i, j), corner(i, j1)
    bottom_left, bottom_right = corner(i1, j), corner(i1, j1)
    top = top_left + (top_right - top_left) * x_w
    bottom = bottom_left + (bottom_right - bottom_left) * x_w
    values = top + (bottom - top) * lerp_y[None, :, None, None]
    blocks = tf.tensor_scatter_nd_update(blocks, index,
                                         channel_argmax(values))
    out = tf.reshape(tf.transpose(blocks, [0, 1, 3, 2, 4]),
                     [batch, height * f_y, width * f_x])
    return out[:, :size[0], :size[1]]

  def everywhere():
    return channel_argmax(resize_bilinear(logits, size))

  return tf.cond(
      tf.logical_and(tf.logical_and(f_y > 0, f_x > 0), few), by_cells,
      everywhere)


@keras.saving.register_keras_serializable(package='deeplab')
class UpsampledArgmax(keras.layers.Layer):
  """`upsampled_argmax` as a layer: [logits, reference] -> int32 labels
  [B, H, W] at the reference's size (the argmax of the bilinearly upsampled
  logits, as `ResizeBilinear` then `ChannelArgmax`)."""

  def call(self, inputs):
    logits, reference = inputs
    return upsampled_argmax(tf.cast(logits, tf.float32),
                            tf.shape(reference)[1:3])

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[1][:-1])


@keras.saving.register_keras_serializable(package='deeplab')
class Flip(keras.layers.Layer):
  """Left-right flip of [B, H, W, C] (the original's flipped passes)."""

  def call(self, x):
    return tf.reverse(x, [2])


@keras.saving.register_keras_serializable(package='deeplab')
class ChannelArgmax(keras.layers.Layer):
  """`channel_argmax` as a layer: int32 labels [B, H, W]."""

  def call(self, x):
    return channel_argmax(x)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1])


@keras.saving.register_keras_serializable(package='deeplab')
class BatchNorm(keras.layers.BatchNormalization):
  """BatchNorm whose statistics update only when `fine_tune` is set.

  The original builds every BatchNorm with
  `is_training = is_training and fine_tune_batch_norm`: without fine-tuning,
  training still learns gamma and beta but normalises with the frozen moving
  statistics. Keras' `trainable=False` would freeze gamma and beta too, so the
  switch lives here.

  In training it normalises with the batch's (biased) variance but, as the
  original's fused `slim.batch_norm` (TF's FusedBatchNorm), moves
  `moving_variance` towards the unbiased one (Bessel's correction, n / (n - 1)
  over the n values per channel); Keras would use the biased one.
  """

  def __init__(self, fine_tune=True, **kwargs):
    super().__init__(**kwargs)
    self.fine_tune = fine_tune

  def call(self, inputs, training=None, mask=None):
    if not (training and self.fine_tune and self.trainable) or (
        mask is not None or self.renorm):
      return super().call(inputs, training=training and self.fine_tune,
                          mask=mask)
    x = tf.cast(inputs, tf.float32)  # Statistics in float32 (as Keras').
    mean, variance = self._moments(x, None)
    count = tf.cast(tf.size(x) // tf.shape(x)[-1], tf.float32)
    context = tf.distribute.get_replica_context()
    if self.synchronized and context is not None:
      count *= context.num_replicas_in_sync  # Moments over every replica.
    unbiased = variance * count / tf.maximum(count - 1.0, 1.0)
    momentum = tf.cast(self.momentum, tf.float32)
    self.moving_mean.assign(self.moving_mean * momentum +
                            mean * (1.0 - momentum))
    self.moving_variance.assign(self.moving_variance * momentum +
                                unbiased * (1.0 - momentum))
    beta = tf.cast(self.beta, tf.float32) if self.center else None
    gamma = tf.cast(self.gamma, tf.float32) if self.scale else None
    outputs = tf.nn.batch_normalization(x, mean, variance, beta, gamma,
                                        self.epsilon)
    return tf.cast(outputs, self.compute_dtype)

  def get_config(self):
    config = super().get_config()
    config['fine_tune'] = self.fine_tune
    return config


@keras.saving.register_keras_serializable(package='deeplab')
class ResizeBilinear(keras.layers.Layer):
  """Align-corners bilinear resize to a static size or to another tensor's.

  With `size` it resizes to that (height, width). Otherwise it is called on
  `[x, reference]` and resizes to `scale_dimension(shape(reference), scale)`
  (scale 1: the reference's own spatial size), which keeps models built for
  any input size (crop_size None) exact.
  """

  def __init__(self, size=None, scale=1.0, **kwargs):
    super().__init__(**kwargs)
    self.size = tuple(int(s) for s in size) if size is not None else None
    self.scale = float(scale)

  def call(self, inputs):
    if self.size is not None:
      x = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
      if tuple(x.shape[1:3]) == self.size:
        return x  # Identity: align-corners resize to the same size is a copy.
      return resize_bilinear(x, self.size)
    x, reference = inputs
    if self.scale == 1.0:
      size = tf.shape(reference)[1:3]
    else:
      size = scale_dimension(tf.shape(reference)[1:3], self.scale)
    return resize_bilinear(x, size)

  def compute_output_shape(self, input_shape):
    if self.size is not None:
      shape = input_shape[0] if isinstance(input_shape, list) else input_shape
      return (shape[0],) + self.size + (shape[-1],)
    x_shape, ref_shape = input_shape
    if self.scale == 1.0:
      return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[-1])
    return (x_shape[0], None, None, x_shape[-1])

  def get_config(self):
    config = super().get_config()
    config.update(size=self.size, scale=self.scale)
    return config


@keras.saving.register_keras_serializable(package='deeplab')
class ImagePooling(keras.layers.Layer):
  """The ASPP image-level pooling: average over the crop's feature window.

  The original average-pools with a window of
  `scale_dimension(image_pooling_crop_size, 1 / output_stride)` (VALID, with
  `image_pooling_stride`). When the window covers the whole feature map, as it
  does by default, that is the global mean; with no crop size known it is the
  global mean too.
  """

  def __init__(self, pool_size=None, strides=(1, 1), **kwargs):
    super().__init__(**kwargs)
    self.pool_size = tuple(pool_size) if pool_size is not None else None
    self.strides = tuple(strides)

  def call(self, features):
    if self.pool_size is None or tuple(features.shape[1:3]) == self.pool_size:
      return tf.reduce_mean(features, axis=[1, 2], keepdims=True)
    return tf.nn.avg_pool2d(features, self.pool_size, self.strides, 'VALID')

  def compute_output_shape(self, input_shape):
    if self.pool_size is None or tuple(input_shape[1:3]) == self.pool_size:
      return (input_shape[0], 1, 1, input_shape[-1])
    dims = []
    for n, k, s in zip(input_shape[1:3], self.pool_size, self.strides):
      dims.append(None if n is None else (n - k) // s + 1)
    return (input_shape[0], dims[0], dims[1], input_shape[-1])

  def get_config(self):
    config = super().get_config()
    config.update(pool_size=self.pool_size, strides=self.strides)
    return config


@keras.saving.register_keras_serializable(package='deeplab')
class GivenImagePooling(keras.layers.Layer):
  """The image-level mean of pass `index` taken from an input [B, K, C]
  instead of from the features (tiled inference: the whole image's mean,
  which no single tile sees)."""

  def __init__(self, index, **kwargs):
    super().__init__(**kwargs)
    self.index = int(index)

  def call(self, means):
    return tf.cast(means[:, self.index, None, None, :], self.compute_dtype)

  def compute_output_shape(self, input_shape):
    return (input_shape[0], 1, 1, input_shape[-1])

  def get_config(self):
    config = super().get_config()
    config.update(index=self.index)
    return config


@keras.saving.register_keras_serializable(package='deeplab')
class Activation(keras.layers.Layer):
  """One of the original's activations by name (`folding.ACTIVATIONS`):
  hard-swish and the q-sigmoid with the original's own constants."""

  def __init__(self, kind, **kwargs):
    super().__init__(**kwargs)
    if kind not in folding.ACTIVATIONS:
      raise ValueError('Unknown activation %r.' % kind)
    self.kind = kind

  def call(self, x):
    return folding.ACTIVATIONS[self.kind](x)

  def get_config(self):
    config = super().get_config()
    config['kind'] = self.kind
    return config


@keras.saving.register_keras_serializable(package='deeplab')
class Gate(keras.layers.Layer):
  """`x * gate` with the gate broadcast over height and width (squeeze-and-
  excitation, and the gated ASPP of MobileNetV3)."""

  def call(self, inputs):
    x, gate = inputs
    return x * tf.cast(gate, x.dtype)

  def compute_output_shape(self, input_shape):
    return input_shape[0]


@keras.saving.register_keras_serializable(package='deeplab')
class FixedPadding(keras.layers.Layer):
  """Pads spatially as the original's `fixed_padding` (independent of size).

  Strided convs pad `(k_eff - 1) // 2` before and the rest after, then run
  VALID: unlike TF 'SAME', the result does not depend on whether the input
  size is even, which keeps features aligned (see the original's
  `conv2d_same` / `separable_conv2d_same`).
  """

  def __init__(self, kernel_size, rate=1, **kwargs):
    super().__init__(**kwargs)
    self.kernel_size = int(kernel_size)
    self.rate = int(rate)
    k_eff = self.kernel_size + (self.kernel_size - 1) * (self.rate - 1)
    self.pad_beg = (k_eff - 1) // 2
    self.pad_end = k_eff - 1 - self.pad_beg

  def call(self, x):
    p = [[0, 0], [self.pad_beg, self.pad_end], [self.pad_beg, self.pad_end],
         [0, 0]]
    return tf.pad(x, p)

  def compute_output_shape(self, input_shape):
    add = self.pad_beg + self.pad_end
    dims = [None if n is None else n + add for n in input_shape[1:3]]
    return (input_shape[0], dims[0], dims[1], input_shape[-1])

  def get_config(self):
    config = super().get_config()
    config.update(kernel_size=self.kernel_size, rate=self.rate)
    return config


@keras.saving.register_keras_serializable(package='deeplab')
class Normalize(keras.layers.Layer):
  """Pixel normalisation inside the model, as the original's feature extractor.

  'unit_range' maps [0, 255] to [-1, 1] (2/255 x - 1); 'imagenet_mean'
  subtracts the ImageNet mean pixel. Padding with `mean_pixel` maps to 0.
  """

  def __init__(self, method, mean_rgb=(123.15, 115.90, 103.06), **kwargs):
    super().__init__(**kwargs)
    if method not in ('unit_range', 'imagenet_mean'):
      raise ValueError('Unknown normalisation %r.' % method)
    self.method = method
    self.mean_rgb = tuple(float(v) for v in mean_rgb)

  def call(self, images):
    x = tf.cast(images, tf.float32)
    if self.method == 'unit_range':
      x = (2.0 / 255.0) * x - 1.0
    else:
      x = x - tf.constant(self.mean_rgb, tf.float32)
    return tf.cast(x, self.compute_dtype)

  def get_config(self):
    config = super().get_config()
    config.update(method=self.method, mean_rgb=self.mean_rgb)
    return config


class FloatKit:
  """What a `LayerFactory` builds convolutions with: slim's layers, as the
  original (conv, BatchNorm and activation as separate Keras layers; the
  weights carry the original names). Used for training and checkpoints."""

  fuses_activations = False

  def conv(self, f, x, filters, kernel_size, scope, stride, rate, activation,
           batch_norm, use_bias, explicit_padding):
    padding = 'same'
    if explicit_padding and stride > 1:
      x = f.layer(FixedPadding, scope + '/fixed_padding', kernel_size, rate)(x)
      padding = 'valid'
    layer = f.get(scope, lambda name: keras.layers.Conv2D(
        filters, kernel_size, strides=stride, dilation_rate=rate,
        padding=padding, use_bias=use_bias, name=name, **f.dtype_kwargs))
    x = layer(x)
    if batch_norm:
      x = f.batch_norm(x, scope)
    return f.activation(x, activation, scope)

  def depthwise(self, f, x, kernel_size, scope, stride, rate, activation,
                batch_norm, explicit_padding):
    padding = 'same'
    if explicit_padding and stride > 1:
      x = f.layer(FixedPadding, scope + '/fixed_padding', kernel_size, rate)(x)
      padding = 'valid'
    layer = f.get(scope, lambda name: keras.layers.DepthwiseConv2D(
        kernel_size, strides=stride, dilation_rate=rate, padding=padding,
        use_bias=False, name=name, **f.dtype_kwargs))
    x = layer(x)
    if batch_norm:
      x = f.batch_norm(x, scope)
    return f.activation(x, activation, scope)

  def relu_after_sum(self, f, x, scope):
    return f.layer(keras.layers.ReLU, scope)(x)


class FoldedKit:
  """Inference-only convolutions with BatchNorm folded in: each conv with
  its BatchNorm (and activation) is one `folding.FoldedConv2D` /
  `FoldedDepthwiseConv2D`, filled from an unfolded model by
  `runtime.fold`.

  Args:
    dilated_depthwise: How dilated depthwise convs run
      (`folding.choose_dilated_depthwise`).
  """

  # One oneDNN kernel runs conv, bias and ReLU, so a ReLU that follows a
  # conv runs inside it where nothing reads the raw output.
  fuses_activations = True

  def __init__(self, dilated_depthwise='auto'):
    folding.choose_dilated_depthwise(1, dilated_depthwise)  # Validates.
    self.dilated_depthwise = dilated_depthwise

  def conv(self, f, x, filters, kernel_size, scope, stride, rate, activation,
           batch_norm, use_bias, explicit_padding):
    return f.get(scope, lambda name: folding.FoldedConv2D(
        filters, kernel_size, strides=stride, rate=rate,
        fixed_padding=explicit_padding, activation=activation,
        source_bias=use_bias, name=name,
        bn_epsilon=f.bn_epsilon if batch_norm else None,
        **f.dtype_kwargs))(x)

  def depthwise(self, f, x, kernel_size, scope, stride, rate, activation,
                batch_norm, explicit_padding):
    return f.get(scope, lambda name: folding.FoldedDepthwiseConv2D(
        kernel_size, strides=stride, rate=rate,
        fixed_padding=explicit_padding, activation=activation, name=name,
        dilated_depthwise=self.dilated_depthwise,
        bn_epsilon=f.bn_epsilon if batch_norm else None,
        **f.dtype_kwargs))(x)

  def relu_after_sum(self, f, x, scope):
    # See `folding.ReluAfterSum`.
    return f.layer(folding.ReluAfterSum, scope)(x)


class LayerFactory:
  """Creates the layers of one network, reusing weight layers by scope.

  Args:
    bn_epsilon: BatchNorm epsilon of the layers this factory creates.
    bn_decay: BatchNorm moving-average decay (Keras `momentum`).
    fine_tune_batch_norm: Whether BatchNorm updates statistics in training.
    sync_batch_norm: Whether training batch statistics are computed over all
      replicas of a tf.distribute strategy (else per replica, as the
      original's clones did).
    dropout_keep_prob: Keep probability of the dropout after the ASPP
      projection (training only).
    kit: What convolutions are built with: `FloatKit()` (the default; the
      original's layers) or `FoldedKit(...)` (inference only).
    dtype: Keras dtype policy of every layer built (None: Keras' current
      one), e.g. 'bfloat16' for a bfloat16 inference graph.
    logits_dtype: Dtype policy of the logits and everything after them (None:
      `dtype`); 'float32' in a bfloat16 graph keeps the class scores, their
      upsampling and the argmax in float32.
    quantize_delay_step: With a value >= 0, every conv output and residual
      sum passes a `quantize.FakeQuant` that quantizes from this training
      step on (quantization-aware training); None or < 0: none.
  """

  def __init__(self, bn_epsilon, bn_decay, fine_tune_batch_norm=False,
               layers=None, sync_batch_norm=False, dropout_keep_prob=0.9,
               kit=None, dtype=None, logits_dtype=None,
               quantize_delay_step=None):
    self.bn_epsilon = bn_epsilon
    self.bn_decay = bn_decay
    self.fine_tune_batch_norm = fine_tune_batch_norm
    self.sync_batch_norm = sync_batch_norm
    self.dropout_keep_prob = dropout_keep_prob
    self.kit = kit or FloatKit()
    self.dtype = dtype
    self.logits_dtype = logits_dtype or dtype
    self.quantize_delay_step = (
        None if quantize_delay_step is None or quantize_delay_step < 0
        else int(quantize_delay_step))
    # End points whose raw (pre-activation) values the model reads; a kit
    # that fuses activations fuses them into every other conv.
    self.raw_end_points = frozenset()
    # Shared between factories of one model (backbone and head differ in
    # BatchNorm epsilon but live in one namespace).
    self.layers = layers if layers is not None else {}
    self._counter = {}
    # `model.ImagePoolingInputs` while building a graph whose global image
    # pooling is an input (tiled inference), else None.
    self.image_pooling_inputs = None

  @property
  def dtype_kwargs(self):
    """`dtype=` for the layers built (nothing when Keras' policy applies)."""
    return {'dtype': self.dtype} if self.dtype else {}

  def with_batch_norm(self, bn_epsilon, bn_decay, raw_end_points=()):
    """A factory sharing this one's layers, with other BatchNorm settings.

    Args:
      bn_epsilon: BatchNorm epsilon.
      bn_decay: BatchNorm moving-average decay.
      raw_end_points: Scopes whose raw (pre-activation) outputs the model
        reads elsewhere (decoder taps), so no activation may be fused in.
    """
    # A shallow copy shares the layer table and the weightless-layer names.
    other = copy.copy(self)
    other.bn_epsilon = bn_epsilon
    other.bn_decay = bn_decay
    other.raw_end_points = frozenset(raw_end_points)
    return other

  def for_logits(self):
    """A factory sharing this one's layers that builds in `logits_dtype`."""
    if self.logits_dtype == self.dtype:
      return self
    other = copy.copy(self)
    other.dtype = self.logits_dtype
    return other

  def get(self, scope, make):
    """The weight layer of `scope`, made by `make(name)` the first time."""
    name = keras_name(scope)
    if name not in self.layers:
      self.layers[name] = make(name)
    return self.layers[name]

  def unique(self, base):
    """A fresh name for a weightless layer (pads, activations, resizes)."""
    n = self._counter.get(base, 0)
    self._counter[base] = n + 1
    return keras_name(base if n == 0 else '%s_%d' % (base, n))

  def layer(self, cls, scope, *args, **kwargs):
    """A new weightless layer `cls(*args, **kwargs)` named after `scope`
    (made unique), in this factory's dtype."""
    return cls(*args, name=self.unique(scope), **self.dtype_kwargs, **kwargs)

  def batch_norm(self, x, scope):
    bn = self.get(scope + '/BatchNorm', lambda name: BatchNorm(
        fine_tune=self.fine_tune_batch_norm, momentum=self.bn_decay,
        epsilon=self.bn_epsilon, synchronized=self.sync_batch_norm,
        name=name, **self.dtype_kwargs))
    return bn(x)

  def fake_quant(self, x, scope):
    """`x` through the fake-quant op `<scope>/act_quant` when quantizing
    (one layer per scope, shared by the scales of a multi-scale graph)."""
    if self.quantize_delay_step is None:
      return x
    return self.get(scope + '/' + quantize.SCOPE, lambda name:
                    quantize.FakeQuant(self.quantize_delay_step, name=name,
                                       **self.dtype_kwargs))(x)

  def add(self, inputs, scope):
    """Element-wise sum of `inputs` (residual connections)."""
    return self.fake_quant(self.layer(keras.layers.Add, scope)(inputs), scope)

  def relu(self, x, scope, after_sum=False):
    """A standalone ReLU; `after_sum` when `x` also feeds a residual sum."""
    if after_sum:
      return self.kit.relu_after_sum(self, x, scope)
    return self.layer(keras.layers.ReLU, scope)(x)

  def activation(self, x, activation, scope):
    if activation is None:
      return x
    if activation == 'relu':
      return self.layer(keras.layers.ReLU, scope + '/Relu')(x)
    if activation == 'relu6':
      return self.layer(keras.layers.ReLU, scope + '/Relu6', max_value=6.0)(x)
    return self.layer(Activation, '%s/%s' % (scope, activation), activation)(x)

  def squeeze_excite(self, x, scope, squeeze_channels):
    """slim's `squeeze_excite` (MobileNetV3): the mean over height and
    width, a 1x1 conv with biases and ReLU to `squeeze_channels`, a 1x1 conv
    with biases and the q-sigmoid back to the channels, times `x`."""
    pooled = self.layer(ImagePooling, scope + '/pool')(x)
    squeezed = self.conv(pooled, squeeze_channels, 1, scope + '/Conv',
                         batch_norm=False, use_bias=True)
    gate = self.conv(squeezed, x.shape[-1], 1, scope + '/Conv_1',
                     activation='q_sigmoid', batch_norm=False, use_bias=True)
    return self.gate(x, gate, scope + '/mul')

  def gate(self, x, gate, scope):
    """`x` times a gate broadcast over height and width."""
    return self.layer(Gate, scope)([x, gate])

  def conv(self, x, filters, kernel_size, scope, stride=1, rate=1,
           activation='relu', batch_norm=True, use_bias=False,
           explicit_padding=False):
    """slim.conv2d (+ BatchNorm + activation); `explicit_padding` for the
    original's `conv2d_same` (fixed padding + VALID when strided)."""
    return self.fake_quant(self.kit.conv(
        self, x, filters, kernel_size, scope, stride, rate, activation,
        batch_norm, use_bias, explicit_padding), scope)

  def conv_then_relu(self, x, filters, scope, relu_scope):
    """A linear 1x1 conv (+ BatchNorm) followed by a standalone ReLU (the
    next conv's pre-activation, as in Xception).

    Returns:
      (raw, activated): the conv's output and the ReLU's. A kit that fuses
      activations runs the ReLU inside the conv (one kernel) unless the raw
      output is read elsewhere (`raw_end_points`) or fake-quantized; raw is
      None then.
    """
    if (self.kit.fuses_activations and self.quantize_delay_step is None and
        scope not in self.raw_end_points):
      return None, self.conv(x, filters, 1, scope, activation='relu')
    raw = self.conv(x, filters, 1, scope, activation=None)
    return raw, self.relu(raw, relu_scope)

  def depthwise(self, x, kernel_size, scope, stride=1, rate=1,
                activation='relu', batch_norm=True, explicit_padding=False):
    """slim.separable_conv2d with num_outputs=None (depthwise only)."""
    return self.fake_quant(self.kit.depthwise(
        self, x, kernel_size, scope, stride, rate, activation, batch_norm,
        explicit_padding), scope)

  def split_separable_conv(self, x, filters, scope, kernel_size=3, stride=1,
                           rate=1, activation='relu', explicit_padding=False):
    """Depthwise (BN, activation) then pointwise (BN, activation).

    The original splits separable convs into `<scope>_depthwise` and
    `<scope>_pointwise` so that BatchNorm (and, where asked, the activation)
    sits between them.
    """
    x = self.depthwise(x, kernel_size, scope + '_depthwise', stride=stride,
                       rate=rate, activation=activation,
                       explicit_padding=explicit_padding)
    return self.conv(x, filters, 1, scope + '_pointwise',
                     activation=activation)


def tf1_variable_map(model):
  """Maps the original TF1 variable names to this model's Keras variables.

  Returns:
    dict: name such as `xception_65/entry_flow/conv1_1/weights` -> variable.
  """
  mapping = {}
  for layer in _weight_layers(model):
    scope = tf1_scope(layer.name)
    if isinstance(layer, folding.FOLDED_TYPES):
      raise ValueError(
          'Model %s has BatchNorm folded into its convolutions (layer %s), so '
          'its variables are not the original ones. Load checkpoints into '
          'the unfolded model, then fold it (deeplab.runtime.fold, as '
          '--fold_batch_norm does).'
          % (model.name, layer.name))
    if isinstance(layer, keras.layers.DepthwiseConv2D):
      names = {'kernel': 'depthwise_weights', 'bias': 'biases'}
    elif isinstance(layer, keras.layers.Conv2D):
      names = {'kernel': 'weights', 'bias': 'biases'}
    elif isinstance(layer, keras.layers.BatchNormalization):
      names = {n: n for n in ('gamma', 'beta', 'moving_mean',
                              'moving_variance')}
    elif isinstance(layer, quantize.FakeQuant):
      names = {'min': 'min', 'max': 'max'}
    else:
      raise TypeError('Layer %s of type %s has weights but no TF1 name rule.'
                      % (layer.name, type(layer).__name__))
    for var in layer.weights:
      leaf = var.path.split('/')[-1]
      mapping['%s/%s' % (scope, names[leaf])] = var
  return mapping


def _weight_layers(model):
  return [l for l in folding.leaf_layers(model) if l.weights]
