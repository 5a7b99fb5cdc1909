"""The Keras layers of the network that Keras does not have.

The original's numerics as layers (align-corners resizes, the upsampled
argmax, frozen-statistics BatchNorm with Bessel's correction, fixed
padding, in-model pixel normalisation, image pooling over the crop's
window, gates and activations by name), each registered so that a model
saved as `.keras` loads back (`keras.models.load_model`). The layer factory
(`factory.py`) creates them under the original's scopes.
"""
import tensorflow as tf
import keras

from deeplab.core import ops


@keras.saving.register_keras_serializable(package='deeplab')
class UpsampledArgmax(keras.layers.Layer):
  """`upsampled_argmax` as a layer: [logits, reference] -> int32 labels
  [B, H, W] at the reference's size (the argmax of the bilinearly upsampled
  logits, as `ResizeBilinear` then `ChannelArgmax`)."""

  def call(self, inputs):
    logits, reference = inputs
    return ops.upsampled_argmax(tf.cast(logits, tf.float32),
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
    return ops.channel_argmax(x)

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
      return ops.resize_bilinear(x, self.size)
    x, reference = inputs
    if self.scale == 1.0:
      size = tf.shape(reference)[1:3]
    else:
      size = ops.scale_dimension(tf.shape(reference)[1:3], self.scale)
    return ops.resize_bilinear(x, size)

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
  """One of the original's activations by name (`ops.ACTIVATIONS`):
  hard-swish and the q-sigmoid with the original's own constants."""

  def __init__(self, kind, **kwargs):
    super().__init__(**kwargs)
    if kind not in ops.ACTIVATIONS:
      raise ValueError('Unknown activation %r.' % kind)
    self.kind = kind

  def call(self, x):
    return ops.ACTIVATIONS[self.kind](x)

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


@keras.saving.register_keras_serializable(package='deeplab')
class ArgmaxUpsample(keras.layers.Layer):
  """Argmax of logits then nearest (align-corners) upsampling to `reference`.

  The original's `prediction_with_upsampled_logits=False` path.
  """

  def call(self, inputs):
    logits, reference = inputs
    labels = tf.argmax(logits, axis=3, output_type=tf.int32)[..., None]
    labels = ops.resize_nearest(labels, tf.shape(reference)[1:3])
    return labels[..., 0]


def leaf_layers(model):
  """Every layer of `model` that holds no layers itself, nested models
  included (depth first, each once)."""
  seen, stack = set(), list(model.layers)
  while stack:
    layer = stack.pop(0)
    if id(layer) in seen:
      continue
    seen.add(id(layer))
    if hasattr(layer, 'layers') and layer.layers:
      stack.extend(layer.layers)
    else:
      yield layer
