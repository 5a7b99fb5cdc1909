"""DeepLabv3+: ASPP, decoder, logits, and the multi-scale wrappers.

The paper's Figure 2: backbone -> ASPP (1x1, atrous 3x3 branches, image
pooling, concat projection) -> decoder (1x1 projection of a low-level feature
to 48 channels, concat, two 3x3 convs) -> 1x1 logits. Every resize is the
original's align-corners bilinear, to sizes `scale_dimension(crop, 1/stride)`.

Models take raw RGB pixels in [0, 255] (already padded to the crop with
`feature_extractor.mean_pixel`) and normalise them inside, as the original.

Builders:
  * `build_model`: logits at the model's output resolution, optionally for
    an image pyramid (merged by max or avg; per-scale outputs for training).
  * `build_inference_model`: the original's evaluation (eval scales, optional
    left-right flips, mean of softmaxes, argmax at the input resolution).
  * `fold_batch_norm`: an inference model's twin with BatchNorm folded into
    its convolutions (`core/folding.py`), the graph eval/vis/export run.
"""
import keras
import tensorflow as tf

from deeplab import common
from deeplab.core import feature_extractor
from deeplab.core import folding
from deeplab.core import layers
from deeplab.core import quantize

LOGITS_SCOPE_NAME = 'logits'
MERGED_LOGITS_SCOPE = 'merged_logits'
IMAGE_POOLING_SCOPE = 'image_pooling'
ASPP_SCOPE = 'aspp'
CONCAT_PROJECTION_SCOPE = 'concat_projection'
DECODER_SCOPE = 'decoder'

# BatchNorm epsilon of the head (ASPP and decoder) in the original.
HEAD_BATCH_NORM_EPSILON = 1e-5


def get_extra_layer_scopes(last_layers_contain_logits_only=False):
  """Scopes of the "last layers" (not restored with initialize_last_layer)."""
  if last_layers_contain_logits_only:
    return [LOGITS_SCOPE_NAME]
  return [LOGITS_SCOPE_NAME, IMAGE_POOLING_SCOPE, ASPP_SCOPE,
          CONCAT_PROJECTION_SCOPE, DECODER_SCOPE]


class _Geometry:
  """Static or dynamic sizes derived from the crop, as the original computes.

  With a known crop size every size is a Python int (`scale_dimension`);
  without one, sizes follow the input tensor at run time.
  """

  def __init__(self, images, crop_size):
    self.images = images
    self.crop_size = tuple(crop_size) if crop_size else None

  def size(self, scale):
    if self.crop_size is None:
      return None
    return (layers.scale_dimension(self.crop_size[0], scale),
            layers.scale_dimension(self.crop_size[1], scale))

  def resize(self, factory, x, scale, scope):
    """Resizes x to the crop scaled by `scale` (align corners)."""
    size = self.size(scale)
    if size is not None:
      return layers.ResizeBilinear(size=size, name=factory.unique(scope))(x)
    return layers.ResizeBilinear(scale=scale, name=factory.unique(scope))(
        [x, self.images])


def aspp(factory, features, options, geometry):
  """Atrous spatial pyramid pooling with image-level feature (DeepLabv3)."""
  depth = options.aspp_convs_filters
  branches = []
  if options.add_image_level_feature:
    pool_size = None
    if options.crop_size is not None:
      pool_crop = options.image_pooling_crop_size or options.crop_size
      pool_size = (
          layers.scale_dimension(pool_crop[0], 1. / options.output_stride),
          layers.scale_dimension(pool_crop[1], 1. / options.output_stride))
    pooled = layers.ImagePooling(
        pool_size, options.image_pooling_stride,
        name=factory.unique('image_pooling/pool'))(features)
    pooled = factory.conv(pooled, depth, 1, IMAGE_POOLING_SCOPE)
    if geometry.crop_size is not None:
      pooled = geometry.resize(factory, pooled, 1. / options.output_stride,
                               'image_pooling/resize')
    else:
      pooled = layers.ResizeBilinear(
          name=factory.unique('image_pooling/resize'))([pooled, features])
    branches.append(pooled)
  branches.append(factory.conv(features, depth, 1, ASPP_SCOPE + '0'))
  for i, rate in enumerate(options.atrous_rates or (), 1):
    scope = ASPP_SCOPE + str(i)
    if options.aspp_with_separable_conv:
      branches.append(factory.split_separable_conv(features, depth, scope,
                                             rate=rate))
    else:
      branches.append(factory.conv(features, depth, 3, scope, rate=rate))
  if len(branches) > 1:
    net = keras.layers.Concatenate(name=factory.unique('aspp/concat'))(branches)
  else:
    net = branches[0]
  if options.aspp_with_concat_projection:
    net = factory.conv(net, depth, 1, CONCAT_PROJECTION_SCOPE)
    # keep_prob 0.9 in the original; active only when training.
    if factory.dropout_keep_prob < 1.0:
      net = keras.layers.Dropout(
          1.0 - factory.dropout_keep_prob,
          name=factory.unique(CONCAT_PROJECTION_SCOPE + '_dropout'))(net)
  return net


def decoder(factory, features, end_points, options, geometry):
  """The DeepLabv3+ decoder (paper section 3.1, Fig. 2)."""
  depth = options.decoder_filters
  projected = depth if options.decoder_use_sum_merge else 48
  net = features
  for stage, stride in enumerate(options.decoder_output_stride):
    suffix = '_%d' % stage if stage else ''
    name = feature_extractor.decoder_end_point(options.model_variant, stride)
    low_level = end_points[name]
    i = 0  # One low-level feature per stage, as every original table has.
    projection = factory.conv(
        low_level, projected, 1,
        '%s/feature_projection%d%s' % (DECODER_SCOPE, i, suffix))
    merged = [geometry.resize(factory, t, 1. / stride,
                              DECODER_SCOPE + '/resize')
              for t in (net, projection)]
    if options.decoder_use_sum_merge:
      if options.decoder_use_separable_conv:
        net = factory.split_separable_conv(
            merged[0], depth,
            '%s/decoder_split_sep_conv0%s' % (DECODER_SCOPE, suffix))
      else:
        net = factory.conv(merged[0], depth, 3,
                     '%s/decoder_conv0%s' % (DECODER_SCOPE, suffix))
      net = factory.add([net, merged[1]], DECODER_SCOPE + '/sum')
      continue
    net = keras.layers.Concatenate(
        name=factory.unique(DECODER_SCOPE + '/concat'))(merged)
    if options.decoder_use_separable_conv:
      for j in range(2):
        net = factory.split_separable_conv(
            net, depth, '%s/decoder_conv%d%s' % (DECODER_SCOPE, j, suffix))
    else:
      # slim.repeat naming: decoder_conv0/decoder_conv0_1, ..._2.
      base = 'decoder_conv%d%s' % (i, suffix)
      for j in range(2):
        net = factory.conv(net, depth, 3,
                     '%s/%s/%s_%d' % (DECODER_SCOPE, base, base, j + 1))
  return net


def branch_logits(factory, features, options):
  """The 1x1 logits conv with biases (`logits/semantic`).

  Without ASPP (aspp_with_batch_norm False) and with atrous rates, the
  original sums one conv per rate (`semantic`, `semantic_1`, ...).
  """
  num_classes = options.num_classes
  rates = [1]
  kernel = options.logits_kernel_size
  if not options.aspp_with_batch_norm and options.atrous_rates:
    rates = list(options.atrous_rates)
  outs = []
  with layers.dtype_policy(factory.logits_policy):
    for i, rate in enumerate(rates):
      scope = '%s/%s%s' % (LOGITS_SCOPE_NAME, common.OUTPUT_TYPE,
                           '_%d' % i if i else '')
      outs.append(factory.conv(features, num_classes, kernel, scope,
                               rate=rate, activation=None, batch_norm=False,
                               use_bias=True))
    if len(outs) == 1:
      return outs[0]
    return factory.add(outs, LOGITS_SCOPE_NAME + '/add')


def get_logits(factory, images, options):
  """Logits of one scale: backbone, ASPP, decoder, logits."""
  geometry = _Geometry(images, options.crop_size)
  features, end_points = feature_extractor.extract_features(
      factory, images, options)
  head = factory.with_batch_norm(HEAD_BATCH_NORM_EPSILON,
                                 options.batch_norm_decay)
  if options.aspp_with_batch_norm:
    features = aspp(head, features, options, geometry)
  if options.decoder_output_stride:
    features = decoder(head, features, end_points, options, geometry)
  return branch_logits(head, features, options)


def multi_scale_logits(factory, images, options, image_pyramid=None):
  """Logits for an image pyramid, as the original's `multi_scale_logits`.

  Each scale's logits are resized to the logits size of the largest scale
  (at least 1.0) and merged with `options.merge_method`.

  Returns:
    dict with 'merged_logits' and, for several scales, 'logits_%.2f' each.
  """
  pyramid = list(image_pyramid) if image_pyramid else [1.0]
  crop = options.crop_size
  logits_scale = max(1.0, max(pyramid)) / options.logits_output_stride
  outputs = {}
  for scale in pyramid:
    if scale != 1.0:
      if crop is not None:
        scaled_crop = (layers.scale_dimension(crop[0], scale),
                       layers.scale_dimension(crop[1], scale))
        scaled = layers.ResizeBilinear(
            size=scaled_crop, name=factory.unique('scale_%.2f/resize' % scale))(
                images)
      else:
        scaled_crop = None
        scaled = layers.ResizeBilinear(
            scale=scale, name=factory.unique('scale_%.2f/resize' % scale))(
                [images, images])
      pool_crop = options.image_pooling_crop_size
      if pool_crop:
        pool_crop = (layers.scale_dimension(pool_crop[0], scale),
                     layers.scale_dimension(pool_crop[1], scale))
      scale_options = options.replace(crop_size=scaled_crop,
                                      image_pooling_crop_size=pool_crop)
    else:
      scaled, scale_options = images, options
    logits = get_logits(factory, scaled, scale_options)
    with layers.dtype_policy(factory.logits_policy):
      logits = _Geometry(images, crop).resize(factory, logits, logits_scale,
                                              'logits/resize')
    if len(pyramid) == 1:
      return {MERGED_LOGITS_SCOPE: logits}
    outputs['logits_%.2f' % scale] = logits
  stacked = list(outputs.values())
  with layers.dtype_policy(factory.logits_policy):
    if options.merge_method == 'max':
      merged = keras.layers.Maximum(name=factory.unique('merge_max'))(stacked)
    else:
      merged = keras.layers.Average(name=factory.unique('merge_avg'))(stacked)
  outputs[MERGED_LOGITS_SCOPE] = merged
  return outputs


@keras.saving.register_keras_serializable(package='deeplab')
class DeepLab(keras.Model):
  """A functional DeepLab graph that carries its `ModelOptions`.

  The options (and, for inference graphs, the eval scales, flips and whether
  BatchNorm is folded) are part of the Keras config, so `model.save(
  'x.keras')` / `keras.models.load_model('x.keras')` round-trip the model
  with what it was built from.
  """

  def __init__(self, inputs, outputs, name=None, **kwargs):
    options = kwargs.pop('model_options', None)
    if isinstance(options, dict):
      options = common.ModelOptions(**options)
    inference_args = kwargs.pop('inference_args', None)
    if inference_args and 'eval_scales' in inference_args:
      inference_args = dict(inference_args,
                            eval_scales=tuple(inference_args['eval_scales']))
    folded = kwargs.pop('folded', False)
    super().__init__(inputs, outputs, name=name, **kwargs)
    self.model_options = options
    self.inference_args = inference_args
    self.folded = folded

  def get_config(self):
    config = super().get_config()
    config.update(
        model_options=(self.model_options.to_dict()
                       if self.model_options is not None else None),
        inference_args=self.inference_args, folded=self.folded)
    return config

  @classmethod
  def from_config(cls, config, custom_objects=None):
    config = dict(config)
    extra = {k: config.pop(k, None)
             for k in ('model_options', 'inference_args', 'folded')}
    model = super().from_config(config, custom_objects)
    model.model_options = (common.ModelOptions(**extra['model_options'])
                           if extra['model_options'] else None)
    model.inference_args = extra['inference_args']
    if model.inference_args and 'eval_scales' in model.inference_args:
      model.inference_args['eval_scales'] = tuple(
          model.inference_args['eval_scales'])
    model.folded = bool(extra['folded'])
    return model


def _input(options, name='images'):
  shape = (tuple(options.crop_size) if options.crop_size else (None, None))
  return keras.Input(shape=shape + (3,), name=name)


def new_layer_factory(options, fine_tune_batch_norm=False, **kwargs):
  """The model's `LayerFactory` (kwargs: as `layers.LayerFactory`)."""
  return layers.LayerFactory(HEAD_BATCH_NORM_EPSILON, options.batch_norm_decay,
                             fine_tune_batch_norm,
                             quantize_delay_step=options.quantize_delay_step,
                             **kwargs)


def build_model(options, image_pyramid=None, fine_tune_batch_norm=False,
                per_scale_outputs=False, name=None, sync_batch_norm=False,
                dropout_keep_prob=0.9):
  """Builds DeepLab as a Keras functional model.

  Args:
    options: `common.ModelOptions`. With a crop size the input is fixed to
      it (the original builds one graph per crop); without, any size works.
    image_pyramid: Input scales (the original's `--image_pyramid`).
    fine_tune_batch_norm: Whether BatchNorm updates its statistics when the
      model is called with `training=True` (the original's flag).
    per_scale_outputs: Return a dict of every scale's logits plus
      'merged_logits' (for the per-scale training loss).
    name: Model name (default: the variant).
    sync_batch_norm: Batch statistics over all replicas when training under
      tf.distribute with `fine_tune_batch_norm`.
    dropout_keep_prob: Keep probability of the dropout after the ASPP
      projection (0.9 in the original; 1.0 removes it).

  Returns:
    keras.Model from raw pixels [B, H, W, 3] to logits [B, h, w, classes]
    at `scale_dimension(crop, 1 / logits_output_stride)`.
  """
  images = _input(options)
  factory = new_layer_factory(options, fine_tune_batch_norm,
                        sync_batch_norm=sync_batch_norm,
                        dropout_keep_prob=dropout_keep_prob)
  outputs = multi_scale_logits(factory, images, options, image_pyramid)
  if not per_scale_outputs:
    outputs = outputs[MERGED_LOGITS_SCOPE]
  model = DeepLab(images, outputs, name=name or options.model_variant,
                  model_options=options)
  return model


@keras.saving.register_keras_serializable(package='deeplab')
class ArgmaxUpsample(keras.layers.Layer):
  """Argmax of logits then nearest (align-corners) upsampling to `reference`.

  The original's `prediction_with_upsampled_logits=False` path.
  """

  def call(self, inputs):
    logits, reference = inputs
    labels = tf.argmax(logits, axis=3, output_type=tf.int32)[..., None]
    labels = layers.resize_nearest(labels, tf.shape(reference)[1:3])
    return labels[..., 0]


def build_inference_model(options, eval_scales=(1.0,), add_flipped_images=False,
                          name=None, fold_batch_norm=False,
                          dilated_depthwise='auto', precision='float32',
                          argmax_shortcut=True):
  """The original's evaluation graph (`predict_labels[_multi_scale]`).

  For each eval scale (and its left-right flip when asked), logits are
  resized to the input size with align corners, soft-maxed, averaged; the
  prediction is the argmax. With one scale and no flip the prediction is the
  argmax of the upsampled logits, as the original's `predict_labels`.

  Args:
    options: `common.ModelOptions`.
    eval_scales: Input scales whose softmaxes are averaged.
    add_flipped_images: Also average the left-right flipped passes.
    name: Model name.
    fold_batch_norm: Build the inference-only variant with BatchNorm folded
      into the convolutions (`core.folding`). Its weights come from an
      unfolded model through `fold_batch_norm`, never from a checkpoint.
    dilated_depthwise: With `fold_batch_norm`: 'auto', 'native' or
      'space_to_batch' (`folding.choose_dilated_depthwise`).
    precision: 'float32', or 'bfloat16' (with `fold_batch_norm`): weights
      and activations in bfloat16 up to the logits; the logits conv, their
      upsampling, softmax and argmax in float32.
    argmax_shortcut: With one pass, take the predictions through
      `layers.upsampled_argmax` (the same labels as the argmax of the
      upsampled logits, upsampling only near class boundaries); False
      computes them from the upsampled logits (e.g. for TFLite, whose
      builtin ops do not cover the shortcut).

  Returns:
    keras.Model from raw pixels [B, H, W, 3] to a dict with 'logits' (the
    merged logits of the scale-1.0 pass, or the first scale, unflipped, at
    the model's output resolution), 'probabilities' [B, H, W, C] and
    'predictions' [B, H, W] int32.
  """
  if precision not in layers.PRECISIONS:
    raise ValueError('--inference_precision must be one of %s, got %r.'
                     % (', '.join(layers.PRECISIONS), precision))
  if precision != 'float32' and not fold_batch_norm:
    raise ValueError('--inference_precision=%s runs the folded graph: it '
                     'needs --fold_batch_norm.' % precision)
  scales = list(eval_scales) if eval_scales else [1.0]
  images = _input(options)
  low_precision = precision != 'float32'
  factory = new_layer_factory(
      options, fold_batch_norm=fold_batch_norm,
      dilated_depthwise=dilated_depthwise,
      logits_policy='float32' if low_precision else None)
  with layers.dtype_policy(precision if low_precision else None):
    outputs = _evaluation_head(factory, images, options, scales,
                               add_flipped_images, argmax_shortcut)
  inference_args = dict(eval_scales=tuple(scales),
                        add_flipped_images=add_flipped_images)
  if not argmax_shortcut:
    inference_args['argmax_shortcut'] = False
  if low_precision:
    inference_args['precision'] = precision
  return DeepLab(images, outputs,
                 name=name or options.model_variant + '_inference',
                 model_options=options, inference_args=inference_args,
                 folded=fold_batch_norm)


def _evaluation_head(factory, images, options, scales, add_flipped_images,
                     argmax_shortcut=True):
  """The passes (scales, flips) and what follows the logits, as dict."""
  # 'logits' reports the unflipped scale-1.0 pass (else the first scale).
  logits_scale = 1.0 if 1.0 in scales else scales[0]
  upsampled_logits, first_logits = [], None
  flip = layers.Flip(name='flip_input')
  for scale in scales:
    passes = [False, True] if add_flipped_images else [False]
    for flipped in passes:
      inputs = flip(images) if flipped else images
      logits = multi_scale_logits(factory, inputs, options, [scale])[
          MERGED_LOGITS_SCOPE]
      if first_logits is None and not flipped and scale == logits_scale:
        first_logits = logits
      with layers.dtype_policy(factory.logits_policy):
        if flipped:
          logits = layers.Flip(name=factory.unique('flip_logits'))(logits)
        upsampled_logits.append(layers.ResizeBilinear(
            name=factory.unique('upsample_logits'))([logits, images]))
  with layers.dtype_policy(factory.logits_policy):
    probs = [keras.layers.Softmax(name=factory.unique('softmax'))(u)
             for u in upsampled_logits]
    if len(probs) > 1:
      probabilities = keras.layers.Average(name='mean_probabilities')(probs)
      predictions = layers.ChannelArgmax(name='predictions')(probabilities)
    else:
      probabilities = probs[0]
      if options.prediction_with_upsampled_logits:
        # Softmax is monotonic: the original takes the argmax of the logits,
        # and a caller fetching only predictions never computes the softmax.
        if argmax_shortcut:
          predictions = layers.UpsampledArgmax(name='predictions')(
              [first_logits, images])
        else:
          predictions = layers.ChannelArgmax(name='predictions')(
              upsampled_logits[0])
      else:
        predictions = ArgmaxUpsample(name='predictions')(
            [first_logits, images])
  return {'logits': first_logits, 'probabilities': probabilities,
          'predictions': predictions}


def fold_batch_norm(model, target=None, dilated_depthwise='auto',
                    precision='float32'):
  """The inference model `model` with BatchNorm folded into its convolutions.

  Args:
    model: An unfolded model from `build_inference_model`, weights loaded.
    target: A folded model of the same configuration to refill (e.g. for the
      next checkpoint of a continuous evaluation); built when None.
    dilated_depthwise: How dilated depthwise convs run in a new target.
    precision: 'float32' or 'bfloat16' (see `build_inference_model`) for a
      new target; the fold is computed in float64 and cast once.

  Returns:
    The folded model. Its outputs equal `model`'s up to float32 rounding
    (the fold is computed in float64).

  Raises:
    ValueError: If `model` is folded already, or `target` does not match it.
  """
  if getattr(model, 'folded', False):
    raise ValueError('Model %s is folded already.' % model.name)
  if target is None:
    target = build_inference_model(
        model.model_options, fold_batch_norm=True,
        dilated_depthwise=dilated_depthwise, name=model.name + '_folded',
        precision=precision, **model.inference_args)
  values = {name: var.numpy() for name, var in tf1_variable_map(model).items()}
  used = set()
  for layer in quantize.fake_quant_layers(target):
    # Fake-quant ranges carry over as they are (they follow the activation,
    # which folding does not change).
    scope = layers.tf1_scope(layer.name)
    for var in (layer.min, layer.max):
      name = '%s/%s' % (scope, var.path.split('/')[-1])
      if name not in values:
        raise ValueError('Cannot fold %s: the source model has no %s.'
                         % (layer.name, name))
      var.assign(values[name])
      used.add(name)
  for layer in folding.folded_layers(target):
    scope = layers.tf1_scope(layer.name)
    names = folding.source_names(scope, layer)
    missing = [n for n in names if n not in values]
    if missing:
      raise ValueError('Cannot fold %s: the source model has no %s.'
                       % (layer.name, ', '.join(missing)))
    kernel, bias = folding.fold(values, scope, layer)
    if tuple(layer.kernel.shape) != kernel.shape:
      raise ValueError('Cannot fold %s: kernel shape %s, folded model %s.'
                       % (layer.name, kernel.shape, tuple(layer.kernel.shape)))
    layer.kernel.assign(tf.cast(kernel, layer.kernel.dtype))
    layer.bias.assign(tf.cast(bias, layer.bias.dtype))
    used.update(names)
  unused = sorted(set(values) - used)
  if unused:
    raise ValueError('Folded model %s does not use %d source variables, e.g. '
                     '%s: the models differ.' % (target.name, len(unused),
                                                 unused[:5]))
  return target


def without_argmax_shortcut(model):
  """`model` with its predictions taken from the fully upsampled logits.

  For converters whose op sets do not cover `layers.upsampled_argmax` (the
  TFLite interpreter crashes on it): the same configuration rebuilt with
  `argmax_shortcut=False`, weights copied by original name. The labels are
  the same. Returns `model` itself when it has no shortcut.
  """
  if not any(isinstance(layer, layers.UpsampledArgmax)
             for layer in model.layers):
    return model
  args = dict(model.inference_args or {}, argmax_shortcut=False)
  target = build_inference_model(model.model_options, name=model.name,
                                 fold_batch_norm=bool(model.folded), **args)
  if not model.folded:
    transfer_weights(model, target)
    return target
  # Folded weights have no original names; the layer paths are the same.
  source = {var.path: var for var in model.weights}
  if set(source) != {var.path for var in target.weights}:
    raise ValueError('Cannot rebuild %s without the argmax shortcut: its '
                     'weights differ from the rebuilt model\'s.' % model.name)
  for var in target.weights:
    var.assign(source[var.path])
  return target


# Original variable name -> Keras variable (one implementation, in layers).
tf1_variable_map = layers.tf1_variable_map


def transfer_weights(source, target):
  """Copies every weight from `source` to `target` by original name.

  Used to rebuild a model at another output stride, crop or pyramid with the
  same weights (the paper trains at OS16 and evaluates at OS8).

  Raises:
    ValueError: naming the variables that do not correspond.
  """
  src = tf1_variable_map(source)
  dst = tf1_variable_map(target)
  missing = sorted(set(dst) - set(src))
  extra = sorted(set(src) - set(dst))
  if missing or extra:
    raise ValueError('Models do not have the same variables: missing in '
                     'source %s; not in target %s.'
                     % (missing[:10], extra[:10]))
  for key, var in dst.items():
    if tuple(var.shape) != tuple(src[key].shape):
      raise ValueError('Shape mismatch for %s: source %s, target %s.'
                       % (key, tuple(src[key].shape), tuple(var.shape)))
    var.assign(src[key])
