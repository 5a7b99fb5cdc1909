"""How a network's layers are made: the layer factory and its kits.

Weight-carrying layers are created through a `LayerFactory`, which returns
the same layer object when asked twice for one scope. That is the Keras
analogue of the original's `reuse=tf.AUTO_REUSE`: the multi-scale graph calls
one set of weights at several input sizes. Its kit says what a convolution
is: slim's conv, BatchNorm and activation as separate layers (`FloatKit`,
training and checkpoints), or one folded layer each (`FoldedKit`,
inference).
"""
import copy

import keras

from deeplab.core import folding
from deeplab.core import layers
from deeplab.core import names
from deeplab.core import quantize


class FloatKit:
  """What a `LayerFactory` builds convolutions with: slim's layers, as the
  original (conv, BatchNorm and activation as separate Keras layers; the
  weights carry the original names). Used for training and checkpoints."""

  fuses_activations = False

  def conv(self, f, x, filters, kernel_size, scope, stride, rate, activation,
           batch_norm, use_bias, explicit_padding):
    x, padding = self._pad(f, x, kernel_size, scope, stride, rate,
                           explicit_padding)
    layer = f.get(scope, lambda name: keras.layers.Conv2D(
        filters, kernel_size, strides=stride, dilation_rate=rate,
        padding=padding, use_bias=use_bias, name=name, **f.dtype_kwargs))
    return self._finish(f, layer(x), scope, activation, batch_norm)

  def depthwise(self, f, x, kernel_size, scope, stride, rate, activation,
                batch_norm, explicit_padding):
    x, padding = self._pad(f, x, kernel_size, scope, stride, rate,
                           explicit_padding)
    layer = f.get(scope, lambda name: keras.layers.DepthwiseConv2D(
        kernel_size, strides=stride, dilation_rate=rate, padding=padding,
        use_bias=False, name=name, **f.dtype_kwargs))
    return self._finish(f, layer(x), scope, activation, batch_norm)

  @staticmethod
  def _pad(f, x, kernel_size, scope, stride, rate, explicit_padding):
    """(input, Keras padding): the original's fixed padding, then 'valid',
    for a strided `conv2d_same`; else 'same'."""
    if explicit_padding and stride > 1:
      return f.layer(layers.FixedPadding, scope + '/fixed_padding',
                     kernel_size, rate)(x), 'valid'
    return x, 'same'

  @staticmethod
  def _finish(f, x, scope, activation, batch_norm):
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
        padded_dilation=self.dilated_depthwise == 'padded',
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
    inference_precision: The `--inference_precision` the layers are built
      in: None or 'float32' (Keras' current dtype policy), or 'bfloat16':
      weights and activations in bfloat16 up to the logits, and the logits
      and everything after them (their upsampling, softmax, argmax) in
      float32.
    quantize_delay_step: With a value >= 0, every conv output and residual
      sum passes a `quantize.FakeQuant` that quantizes from this training
      step on (quantization-aware training); None or < 0: none.
  """

  def __init__(self, bn_epsilon, bn_decay, fine_tune_batch_norm=False,
               layer_table=None, sync_batch_norm=False, dropout_keep_prob=0.9,
               kit=None, inference_precision=None, quantize_delay_step=None):
    self.bn_epsilon = bn_epsilon
    self.bn_decay = bn_decay
    self.fine_tune_batch_norm = fine_tune_batch_norm
    self.sync_batch_norm = sync_batch_norm
    self.dropout_keep_prob = dropout_keep_prob
    self.kit = kit or FloatKit()
    low = inference_precision not in (None, 'float32')
    # Keras' dtype policies of the body and of the logits (None: Keras'
    # current policy).
    self.dtype = inference_precision if low else None
    self.logits_dtype = 'float32' if low else None
    self.quantize_delay_step = (
        None if quantize_delay_step is None or quantize_delay_step < 0
        else int(quantize_delay_step))
    # End points whose raw (pre-activation) values the model reads; a kit
    # that fuses activations fuses them into every other conv.
    self.raw_end_points = frozenset()
    # Shared between factories of one model (backbone and head differ in
    # BatchNorm epsilon but live in one namespace).
    self.layer_table = layer_table if layer_table is not None else {}
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
    """A factory sharing this one's layers that builds the logits and what
    follows them (float32 in a bfloat16 graph)."""
    if self.logits_dtype == self.dtype:
      return self
    other = copy.copy(self)
    other.dtype = self.logits_dtype
    return other

  def get(self, scope, make):
    """The weight layer of `scope`, made by `make(name)` the first time."""
    name = names.keras_name(scope)
    if name not in self.layer_table:
      self.layer_table[name] = make(name)
    return self.layer_table[name]

  def unique(self, base):
    """A fresh name for a weightless layer (pads, activations, resizes)."""
    n = self._counter.get(base, 0)
    self._counter[base] = n + 1
    return names.keras_name(base if n == 0 else '%s_%d' % (base, n))

  def layer(self, cls, scope, *args, **kwargs):
    """A new weightless layer `cls(*args, **kwargs)` named after `scope`
    (made unique), in this factory's dtype."""
    return cls(*args, name=self.unique(scope), **self.dtype_kwargs, **kwargs)

  def batch_norm(self, x, scope):
    bn = self.get(scope + '/BatchNorm', lambda name: layers.BatchNorm(
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
    return self.layer(layers.Activation, '%s/%s' % (scope, activation),
                      activation)(x)

  def squeeze_excite(self, x, scope, squeeze_channels):
    """slim's `squeeze_excite` (MobileNetV3): the mean over height and
    width, a 1x1 conv with biases and ReLU to `squeeze_channels`, a 1x1 conv
    with biases and the q-sigmoid back to the channels, times `x`."""
    pooled = self.layer(layers.ImagePooling, scope + '/pool')(x)
    squeezed = self.conv(pooled, squeeze_channels, 1, scope + '/Conv',
                         batch_norm=False, use_bias=True)
    gate = self.conv(squeezed, x.shape[-1], 1, scope + '/Conv_1',
                     activation='q_sigmoid', batch_norm=False, use_bias=True)
    return self.gate(x, gate, scope + '/mul')

  def gate(self, x, gate, scope):
    """`x` times a gate broadcast over height and width."""
    return self.layer(layers.Gate, scope)([x, gate])

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
