"""How the network runs at inference: the one place that builds it.

`common.InferenceOptions` says how a DeepLab runs (eval scales and flips,
BatchNorm folded or not, float32 or bfloat16, the dilated depthwise kernel,
the argmax shortcut); `common.ModelOptions` says what it is. From the two:

  * `build_graph` builds the original's evaluation graph
    (`predict_labels[_multi_scale]`: every pass's logits upsampled to the
    input, soft-maxed, averaged, arg-maxed) in the form the options ask for:
    folded layers, a bfloat16 body with float32 logits.
  * `load` is what every script, the exporter and the benchmarks call: it
    builds the ordinary graph, loads a checkpoint strictly by the original
    names (`checkpoints.load_weights`), checks what a checkpoint can get
    wrong for inference (unlearned quantization ranges, untrained BatchNorm
    statistics), and returns the graph that runs (`fold`ed when asked).
  * `fold` and `without_argmax_shortcut` take one graph's weights to the
    graph of other inference options.
"""
import keras
import tensorflow as tf
from absl import logging

from deeplab import checkpoints
from deeplab import common
from deeplab import console
from deeplab import model as model_lib
from deeplab import tiling
from deeplab.core import factory as factory_lib
from deeplab.core import folding
from deeplab.core import layers
from deeplab.core import names
from deeplab.core import quantize


def _factory(options, inference_options, layer_table=None):
  """The layer factory of an inference graph: its kit and precision (and the
  weight layers it reuses, by name)."""
  kit = (factory_lib.FoldedKit(inference_options.dilated_depthwise)
         if inference_options.fold_batch_norm else factory_lib.FloatKit())
  return model_lib.new_layer_factory(
      options, kit=kit,
      inference_precision=inference_options.inference_precision,
      layer_table=layer_table)


def build_graph(options, inference_options=None, name=None):
  """The original's evaluation graph (weights not loaded).

  For each eval scale (and its left-right flip when asked), logits are
  resized to the input size with align corners, soft-maxed, averaged; the
  prediction is the argmax. With one pass the prediction is the argmax of
  the upsampled logits, as the original's `predict_labels` (through
  `ops.upsampled_argmax` with `argmax_shortcut`).

  A folded graph (`inference_options.fold_batch_norm`) gets its weights from an
  unfolded one through `fold`, never from a checkpoint.

  Args:
    options: `common.ModelOptions`.
    inference_options: `common.InferenceOptions` (default: the defaults with
      BatchNorm not folded, the graph checkpoints load into).
    name: Model name.

  Returns:
    A `model.DeepLab` from raw pixels [B, H, W, 3] to a dict with 'logits'
    (the merged logits of the scale-1.0 pass, or the first scale, unflipped,
    at the model's output resolution), 'probabilities' [B, H, W, C] and
    'predictions' [B, H, W] int32.
  """
  inference_options = inference_options or common.InferenceOptions(
      fold_batch_norm=False)
  images = model_lib.new_input(options)
  factory = _factory(options, inference_options)
  outputs = _evaluation_head(factory, images, options, inference_options)
  return model_lib.DeepLab(images, outputs,
                           name=name or options.model_variant + '_inference',
                           model_options=options,
                           inference_options=inference_options)


def passes(inference_options):
  """The (scale, flipped) passes of an evaluation graph, in build order."""
  flips = [False, True] if inference_options.add_flipped_images else [False]
  return [(scale, flipped) for scale in inference_options.eval_scales
          for flipped in flips]


def _evaluation_head(factory, images, options, inference_options):
  """The passes (scales, flips) and what follows the logits, as dict."""
  scales = list(inference_options.eval_scales)
  # 'logits' reports the unflipped scale-1.0 pass (else the first scale).
  logits_scale = 1.0 if 1.0 in scales else scales[0]
  head = factory.for_logits()
  upsampled_logits, first_logits = [], None
  flip = factory.layer(layers.Flip, 'flip_input')
  for scale, flipped in passes(inference_options):
    inputs = flip(images) if flipped else images
    logits = model_lib.multi_scale_logits(factory, inputs, options, [scale])[
        names.MERGED_LOGITS_SCOPE]
    if first_logits is None and not flipped and scale == logits_scale:
      first_logits = logits
    if flipped:
      logits = head.layer(layers.Flip, 'flip_logits')(logits)
    upsampled_logits.append(head.layer(layers.ResizeBilinear,
                                       'upsample_logits')([logits, images]))
  probs = [head.layer(keras.layers.Softmax, 'softmax')(u)
           for u in upsampled_logits]
  if len(probs) > 1:
    probabilities = keras.layers.Average(
        name='mean_probabilities', **head.dtype_kwargs)(probs)
    predictions = layers.ChannelArgmax(name='predictions',
                                       **head.dtype_kwargs)(probabilities)
  else:
    probabilities = probs[0]
    if not options.prediction_with_upsampled_logits:
      predictions = layers.ArgmaxUpsample(
          name='predictions', **head.dtype_kwargs)([first_logits, images])
    elif inference_options.argmax_shortcut:
      # Softmax is monotonic: the original takes the argmax of the logits,
      # and a caller fetching only predictions never computes the softmax.
      predictions = layers.UpsampledArgmax(
          name='predictions', **head.dtype_kwargs)([first_logits, images])
    else:
      predictions = layers.ChannelArgmax(
          name='predictions', **head.dtype_kwargs)(upsampled_logits[0])
  return {'logits': first_logits, 'probabilities': probabilities,
          'predictions': predictions}


def image_pooling_graphs(model):
  """Two graphs sharing `model`'s layers (and weights) for tiled inference
  with the whole image's image-level feature.

  Returns:
    (features, pooled), or None when no pass of `model` pools globally
    (no image pooling, or a fixed window such as MobileNetV3's):
    `features` maps pixels [n, h, w, 3] to the list of each pass's feature
    map (in the order of `passes(model.inference_options)`);
    `pooled` maps [pixels, means [n, passes, channels]] to `model`'s
    outputs with each pass's image pooling replaced by the given mean.
  """
  options, inference_options = model.model_options, model.inference_options
  count = len(passes(inference_options))
  factory = _factory(options, inference_options, layer_table={
      layer.name: layer for layer in model.layers if layer.weights})
  taps = model_lib.ImagePoolingInputs(count)
  factory.image_pooling_inputs = taps
  images = model_lib.new_input(options)
  outputs = _evaluation_head(factory, images, options, inference_options)
  if not taps.features:
    return None
  if len(taps.features) != count:
    raise ValueError('%s: %d of its %d passes pool globally; tiles cannot '
                     'give the whole image\'s mean to some passes only.'
                     % (model.name, len(taps.features), count))
  pooled = model_lib.DeepLab([images, taps.input], outputs,
                             name=model.name + '_given_pooling',
                             model_options=options,
                             inference_options=inference_options)
  own = {id(v) for v in model.weights}
  new = [v.path for v in pooled.weights if id(v) not in own]
  if new:  # A layer the table missed would run with fresh weights.
    raise ValueError('Cannot share %s\'s weights with its tiled graph: %s '
                     'are new.' % (model.name, ', '.join(new[:5])))
  return keras.Model(images, taps.features), pooled


def fold(model, target=None, inference_options=None):
  """The inference graph `model` with BatchNorm folded into its convs.

  Args:
    model: An unfolded graph from `build_graph`, weights loaded.
    target: A folded graph of the same configuration to refill (e.g. for the
      next checkpoint of a continuous evaluation); built when None.
    inference_options: The `InferenceOptions` of a new target (default:
      `model`'s, folded); the fold is computed in float64 and cast once to
      its precision.

  Returns:
    The folded graph. Its outputs equal `model`'s up to float32 rounding.

  Raises:
    ValueError: If `model` is folded already, or `target` does not match it.
  """
  if model.folded:
    raise ValueError('Model %s is folded already.' % model.name)
  if target is None:
    inference_options = inference_options or model.inference_options.replace(
        fold_batch_norm=True)
    target = build_graph(model.model_options, inference_options,
                         name=model.name + '_folded')
  values = {name: var.numpy()
            for name, var in names.tf1_variable_map(model).items()}
  used = set()
  for layer in quantize.fake_quant_layers(target):
    # Fake-quant ranges carry over as they are (they follow the activation,
    # which folding does not change).
    scope = names.tf1_scope(layer.name)
    for var in (layer.min, layer.max):
      name = '%s/%s' % (scope, var.path.split('/')[-1])
      if name not in values:
        raise ValueError('Cannot fold %s: the source model has no %s.'
                         % (layer.name, name))
      var.assign(values[name])
      used.add(name)
  for layer in folding.folded_layers(target):
    scope = names.tf1_scope(layer.name)
    sources = folding.source_names(scope, layer)
    missing = [n for n in sources if n not in values]
    if missing:
      raise ValueError('Cannot fold %s: the source model has no %s.'
                       % (layer.name, ', '.join(missing)))
    kernel, bias = folding.fold(values, scope, layer)
    if tuple(layer.kernel.shape) != kernel.shape:
      raise ValueError('Cannot fold %s: kernel shape %s, folded model %s.'
                       % (layer.name, kernel.shape, tuple(layer.kernel.shape)))
    layer.kernel.assign(tf.cast(kernel, layer.kernel.dtype))
    layer.bias.assign(tf.cast(bias, layer.bias.dtype))
    used.update(sources)
  unused = sorted(set(values) - used)
  if unused:
    raise ValueError('Folded model %s does not use %d source variables, e.g. '
                     '%s: the models differ.' % (target.name, len(unused),
                                                 unused[:5]))
  return target


def without_argmax_shortcut(model):
  """`model` with its predictions taken from the fully upsampled logits.

  For converters whose op sets do not cover `ops.upsampled_argmax` (the
  TFLite interpreter crashes on it): the same configuration rebuilt with
  `argmax_shortcut=False`, weights copied by original name (folded weights,
  which have no original names, by layer path). The labels are the same.
  Returns `model` itself when it has no shortcut.
  """
  if not any(isinstance(layer, layers.UpsampledArgmax)
             for layer in model.layers):
    return model
  target = build_graph(model.model_options,
                       model.inference_options.replace(argmax_shortcut=False),
                       name=model.name)
  if not model.folded:
    model_lib.transfer_weights(model, target)
    return target
  source = {var.path: var for var in model.weights}
  if set(source) != {var.path for var in target.weights}:
    raise ValueError('Cannot rebuild %s without the argmax shortcut: its '
                     'weights differ from the rebuilt model\'s.' % model.name)
  for var in target.weights:
    var.assign(source[var.path])
  return target


def load(options, checkpoint, inference_options=None, cache=None):
  """The graph that runs `inference_options` with `checkpoint`'s weights.

  Weights load strictly by the original names into the ordinary graph
  (float32, BatchNorm unfolded), which is then folded and cast when the
  inference options ask for it.

  Args:
    options: `common.ModelOptions`.
    checkpoint: A checkpoint prefix or folder (as `checkpoints.load_weights`).
    inference_options: `common.InferenceOptions` (default: the defaults).
    cache: A dict kept by a caller that loads several checkpoints into the
      same graphs (continuous evaluation): they are built once and refilled.

  Returns:
    (the model to run, `checkpoints.LoadReport`).

  Raises:
    checkpoints.CheckpointMismatchError: The checkpoint does not fit, or its
      quantization ranges were never learned.
  """
  inference_options = inference_options or common.InferenceOptions()
  tiling.check(options, inference_options)
  console.quiet_int32_notice()
  cache = {} if cache is None else cache
  if 'source' not in cache:
    cache['source'] = build_graph(options, inference_options.replace(
        fold_batch_norm=False, inference_precision='float32'))
  source = cache['source']
  report = checkpoints.load_weights(source, checkpoint)
  empty = quantize.uncalibrated(source)
  if empty:
    raise checkpoints.CheckpointMismatchError(
        'Checkpoint %s has no learned quantization ranges for %d of the '
        'fake-quant ops (e.g. %s): it was written before training reached '
        '--quantize_delay_step=%d. Use a later checkpoint, or run the float '
        'model with --quantize_delay_step=-1.' % (
            report.checkpoint, len(empty), empty[0],
            options.quantize_delay_step))
  untouched = checkpoints.untouched_batch_norm(source)
  if untouched:
    logging.warning('%d BatchNorm layers of %s (e.g. %s) still hold their '
                    'initial moving statistics (mean 0, variance 1): expect '
                    'degenerate predictions.%s', len(untouched),
                    report.checkpoint, untouched[0],
                    checkpoints.DEGENERATE_ADVICE)
  logging.info('%s', report.summary())
  if not inference_options.fold_batch_norm:
    return source, report
  cache['target'] = fold(source, cache.get('target'), inference_options)
  return cache['target'], report
