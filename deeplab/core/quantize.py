"""Quantization-aware training (the original's `--quantize_delay_step`).

The original rewrote its training graph with `tf.contrib.quantize`: every
convolution output (after its BatchNorm and activation) and every residual
sum passes through a fake-quant op whose range, `<scope>/act_quant/min` and
`.../max`, is a moving average of the batch's range; from
`quantize_delay_step` on, the forward pass rounds to those 8-bit grids and the
backward pass is the straight-through estimator, so the network learns
weights that survive int8 inference.

Here the same ops are a Keras layer, `FakeQuant`, placed by the
`LayerFactory` at the same points and named as the original's variables. The
inference graph (eval, vis, SavedModel) keeps them, as the original's
`create_eval_graph`, and TensorFlow Lite's converter reads their ranges
(`tf.quantization.fake_quant_with_min_max_vars`) when it writes the int8
model; tensors without a fake-quant op (resizes, concats, the input) get
their range from the calibration images.

Weights are not fake-quantized in training: the converter quantizes the
BatchNorm-folded kernels per output channel (TFLite's int8 scheme), which
loses far less than the per-tensor 8-bit activations do.
"""
import keras
import tensorflow as tf

from deeplab.core import layers

SCOPE = 'act_quant'
NUM_BITS = 8
# The original's moving-average decay of the ranges (contrib.quantize).
EMA_DECAY = 0.999


def ema_decay(steps_quantized, decay=EMA_DECAY):
  """Decay of the range average after `steps_quantized` quantized steps.

  As `tf.train.ExponentialMovingAverage` with `num_updates`: the first batch
  sets the range, then the average lengthens up to `decay`, so short
  fine-tuning runs do not keep the range of their first batch.
  """
  steps = tf.cast(steps_quantized, tf.float32)
  return tf.minimum(tf.constant(decay, tf.float32), steps / (steps + 10.0))


@keras.saving.register_keras_serializable(package='deeplab')
class FakeQuant(keras.layers.Layer):
  """8-bit fake quantization of activations with a learned range.

  Training (`training=True`): before `quant_delay` steps, the identity; from
  then on the range variables follow the batch's range (see `ema_decay`) and
  the output is `fake_quant_with_min_max_vars(x, min, max)`. The step comes
  from `attach_step`; without one the layer quantizes from its first call.

  Inference: always quantized with the stored range, which must have been
  learned (`uncalibrated` names layers whose range is still empty).

  Args:
    quant_delay: The training step from which the layer quantizes.
  """

  def __init__(self, quant_delay=0, **kwargs):
    super().__init__(**kwargs)
    self.quant_delay = int(quant_delay)
    # Not tracked: the trainer's global step, read in training calls.
    self._step_source = None

  def build(self, input_shape):
    self.min = self.add_weight(name='min', shape=(), initializer='zeros',
                               trainable=False, autocast=False)
    self.max = self.add_weight(name='max', shape=(), initializer='zeros',
                               trainable=False, autocast=False)

  def attach_step(self, step):
    object.__setattr__(self, '_step_source', step)

  def _quantize(self, x, low, high):
    return tf.quantization.fake_quant_with_min_max_vars(
        x, low, high, num_bits=NUM_BITS, narrow_range=False)

  def call(self, inputs, training=None):
    x = tf.cast(inputs, tf.float32)  # The fake-quant kernels are float32.
    if not training:
      return tf.cast(self._quantize(x, self.min.value, self.max.value),
                     inputs.dtype)
    if self._step_source is None:
      quantized_steps = tf.constant(1 << 30, tf.int64)
    else:
      quantized_steps = (tf.cast(self._step_source, tf.int64) -
                         self.quant_delay)

    def quantize():
      decay = ema_decay(quantized_steps)
      # The range always holds 0 (so zero padding is exact) and its
      # update does not backpropagate into the activations.
      low = tf.stop_gradient(tf.minimum(tf.reduce_min(x), 0.0))
      high = tf.stop_gradient(tf.maximum(tf.reduce_max(x), 0.0))
      new_min = self.min.value * decay + low * (1.0 - decay)
      new_max = self.max.value * decay + high * (1.0 - decay)
      self.min.assign(new_min)
      self.max.assign(new_max)
      return self._quantize(x, new_min, new_max)

    y = tf.cond(quantized_steps >= 0, quantize, lambda: tf.identity(x))
    return tf.cast(y, inputs.dtype)

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    config = super().get_config()
    config['quant_delay'] = self.quant_delay
    return config


def fake_quant_layers(model):
  """The `FakeQuant` layers of `model` (nested models included)."""
  return [l for l in layers.leaf_layers(model) if isinstance(l, FakeQuant)]


def attach_step(model, step):
  """Makes every `FakeQuant` layer of `model` follow `step` (a variable)."""
  for layer in fake_quant_layers(model):
    layer.attach_step(step)


def uncalibrated(model):
  """Names of `FakeQuant` layers whose range is still empty (never learned:
  the checkpoint was written before `quantize_delay_step`)."""
  return [layer.name for layer in fake_quant_layers(model)
          if float(layer.max.numpy()) <= float(layer.min.numpy())]
