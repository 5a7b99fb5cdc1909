"""DeepLabv3+: ASPP, decoder, logits, and the multi-scale wrappers.

The paper's Figure 2: backbone -> ASPP (1x1, atrous 3x3 branches, image
pooling, concat projection) -> decoder (1x1 projection of a low-level feature
to 48 channels, concat, two 3x3 convs) -> 1x1 logits. Every resize is the
original's align-corners bilinear, to sizes `scale_dimension(crop, 1/stride)`.

Models take raw RGB pixels in [0, 255] (already padded to the crop with
`feature_extractor.mean_pixel`) and normalise them inside, as the original.

`build_model` builds logits at the model's output resolution, optionally
for an image pyramid (merged by max or avg; per-scale outputs for
training). How the network runs at inference (the original's evaluation
head, folding, precision) is `deeplab.runtime`'s.
"""
import keras

from deeplab import common
from deeplab.core import dense_prediction_cell
from deeplab.core import factory as factory_lib
from deeplab.core import feature_extractor
from deeplab.core import layers
from deeplab.core import names
from deeplab.core import ops

# BatchNorm epsilon of the head (ASPP and decoder) in the original.
HEAD_BATCH_NORM_EPSILON = 1e-5


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
    return (ops.scale_dimension(self.crop_size[0], scale),
            ops.scale_dimension(self.crop_size[1], scale))

  def resize(self, factory, x, scale, scope):
    """Resizes x to the crop scaled by `scale` (align corners)."""
    size = self.size(scale)
    if size is not None:
      return factory.layer(layers.ResizeBilinear, scope, size=size)(x)
    return factory.layer(layers.ResizeBilinear, scope, scale=scale)(
        [x, self.images])


def image_pooling_window(options):
  """The window of the image-pooling average (None: the whole map): from
  `image_pooling_crop_size` where set (MobileNetV3's 769x769), else from the
  crop; None without either (any input size)."""
  pool_crop = options.image_pooling_crop_size or options.crop_size
  if pool_crop is None:
    return None
  return (ops.scale_dimension(pool_crop[0], 1. / options.output_stride),
          ops.scale_dimension(pool_crop[1], 1. / options.output_stride))


class ImagePoolingInputs:
  """Builds a graph whose global image pooling is an input.

  Set as `factory.image_pooling_inputs` while a graph is built: each pass
  (scale, flip) whose image pooling is the global mean takes it from one
  input `[batch, passes, channels]` (`GivenImagePooling`), and its feature
  map is kept in `features`, in the order the passes are built.
  """

  def __init__(self, passes):
    self.passes = passes
    self.features = []
    self.input = None

  def take(self, factory, features):
    """The given mean of the next pass, [B, 1, 1, C]."""
    if len(self.features) == self.passes:
      raise ValueError('More image-pooling passes than the %d expected.'
                       % self.passes)
    if self.input is None:
      self.input = keras.Input(shape=(self.passes, features.shape[-1]),
                               name='image_pooling_means')
    index = len(self.features)
    self.features.append(features)
    return factory.layer(layers.GivenImagePooling, 'image_pooling/given',
                         index)(self.input)


def aspp(factory, features, options, geometry):
  """Atrous spatial pyramid pooling with image-level feature (DeepLabv3).

  With `aspp_with_squeeze_and_excitation` (MobileNetV3) the image-level
  branch is a gate (a 1x1 conv with biases and a sigmoid or q-sigmoid, no
  BatchNorm) that multiplies ASPP's output instead of being concatenated.
  """
  depth = options.aspp_convs_filters
  branches = []
  gate = None
  if options.add_image_level_feature:
    window = image_pooling_window(options)
    if window is None and factory.image_pooling_inputs is not None:
      pooled = factory.image_pooling_inputs.take(factory, features)
    else:
      pooled = factory.layer(layers.ImagePooling, 'image_pooling/pool',
                             window, options.image_pooling_stride)(features)
    if options.aspp_with_squeeze_and_excitation:
      pooled = factory.conv(
          pooled, depth, 1, names.IMAGE_POOLING_SCOPE, batch_norm=False,
          use_bias=True, activation=('q_sigmoid' if
                                     options.image_se_uses_qsigmoid
                                     else 'sigmoid'))
    else:
      pooled = factory.conv(pooled, depth, 1, names.IMAGE_POOLING_SCOPE)
    if geometry.crop_size is not None:
      pooled = geometry.resize(factory, pooled, 1. / options.output_stride,
                               'image_pooling/resize')
    else:
      pooled = factory.layer(layers.ResizeBilinear, 'image_pooling/resize')(
          [pooled, features])
    if options.aspp_with_squeeze_and_excitation:
      gate = pooled
    else:
      branches.append(pooled)
  branches.append(factory.conv(features, depth, 1, names.ASPP_SCOPE + '0'))
  for i, rate in enumerate(options.atrous_rates or (), 1):
    scope = names.ASPP_SCOPE + str(i)
    if options.aspp_with_separable_conv:
      branches.append(factory.split_separable_conv(features, depth, scope,
                                                   rate=rate))
    else:
      branches.append(factory.conv(features, depth, 3, scope, rate=rate))
  if len(branches) > 1:
    net = factory.layer(keras.layers.Concatenate, 'aspp/concat')(branches)
  else:
    net = branches[0]
  if options.aspp_with_concat_projection:
    net = factory.conv(net, depth, 1, names.CONCAT_PROJECTION_SCOPE)
    # keep_prob 0.9 in the original; active only when training.
    if factory.dropout_keep_prob < 1.0:
      net = factory.layer(keras.layers.Dropout,
                          names.CONCAT_PROJECTION_SCOPE + '_dropout',
                          1.0 - factory.dropout_keep_prob)(net)
  if gate is not None:
    net = factory.gate(net, gate, names.ASPP_SCOPE + '/gate')
  return net


def decoder(factory, features, end_points, options, geometry):
  """The DeepLabv3+ decoder (paper section 3.1, Fig. 2).

  With `decoder_use_sum_merge` one conv on the (resized) features is added
  to the projected low-level features; with `decoder_output_is_logits`
  (MobileNetV3) both are 1x1 convs with biases and no BatchNorm or
  activation, and their sum is the logits.
  """
  depth = options.decoder_filters
  projected = depth if options.decoder_use_sum_merge else 48
  logits_out = options.decoder_output_is_logits
  if logits_out:  # The class scores: in the logits' dtype.
    factory = factory.for_logits()
  conv_kwargs = (dict(activation=None, batch_norm=False, use_bias=True)
                 if logits_out else {})
  net = features
  for stage, stride in enumerate(options.decoder_output_stride):
    suffix = '_%d' % stage if stage else ''
    name = feature_extractor.decoder_end_point(options.model_variant, stride)
    low_level = end_points[name]
    i = 0  # One low-level feature per stage, as every original table has.
    projection = factory.conv(
        low_level, projected, 1,
        '%s/feature_projection%d%s' % (names.DECODER_SCOPE, i, suffix),
        **conv_kwargs)
    merged = [geometry.resize(factory, t, 1. / stride,
                              names.DECODER_SCOPE + '/resize')
              for t in (net, projection)]
    if options.decoder_use_sum_merge:
      if options.decoder_use_separable_conv and not logits_out:
        net = factory.split_separable_conv(
            merged[0], depth,
            '%s/decoder_split_sep_conv0%s' % (names.DECODER_SCOPE, suffix))
      else:
        net = factory.conv(merged[0], depth, 1 if logits_out else 3,
                           '%s/decoder_conv0%s' % (names.DECODER_SCOPE, suffix),
                           **conv_kwargs)
      net = factory.add([net, merged[1]], names.DECODER_SCOPE + '/sum')
      continue
    net = factory.layer(keras.layers.Concatenate,
                        names.DECODER_SCOPE + '/concat')(merged)
    if options.decoder_use_separable_conv:
      for j in range(2):
        net = factory.split_separable_conv(
            net, depth,
            '%s/decoder_conv%d%s' % (names.DECODER_SCOPE, j, suffix))
    else:
      # slim.repeat naming: decoder_conv0/decoder_conv0_1, ..._2.
      base = 'decoder_conv%d%s' % (i, suffix)
      for j in range(2):
        net = factory.conv(
            net, depth, 3,
            '%s/%s/%s_%d' % (names.DECODER_SCOPE, base, base, j + 1),
            **conv_kwargs)
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
  factory = factory.for_logits()
  for i, rate in enumerate(rates):
    scope = '%s/%s%s' % (names.LOGITS_SCOPE_NAME, common.OUTPUT_TYPE,
                         '_%d' % i if i else '')
    outs.append(factory.conv(features, num_classes, kernel, scope,
                             rate=rate, activation=None, batch_norm=False,
                             use_bias=True))
  if len(outs) == 1:
    return outs[0]
  return factory.add(outs, names.LOGITS_SCOPE_NAME + '/add')


def get_logits(factory, images, options):
  """Logits of one scale: backbone, ASPP, decoder, logits."""
  geometry = _Geometry(images, options.crop_size)
  features, end_points = feature_extractor.extract_features(
      factory, images, options)
  head = factory.with_batch_norm(HEAD_BATCH_NORM_EPSILON,
                                 options.batch_norm_decay)
  if options.aspp_with_batch_norm:
    if options.dense_prediction_cell_config:
      features = dense_prediction_cell.build_cell(head, features, options,
                                                  geometry)
    else:
      features = aspp(head, features, options, geometry)
  if options.decoder_output_stride:
    features = decoder(head, features, end_points, options, geometry)
    if options.decoder_output_is_logits:
      return features
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
        scaled_crop = (ops.scale_dimension(crop[0], scale),
                       ops.scale_dimension(crop[1], scale))
        scaled = factory.layer(layers.ResizeBilinear,
                               'scale_%.2f/resize' % scale,
                               size=scaled_crop)(images)
      else:
        scaled_crop = None
        scaled = factory.layer(layers.ResizeBilinear,
                               'scale_%.2f/resize' % scale,
                               scale=scale)([images, images])
      pool_crop = options.image_pooling_crop_size
      if pool_crop:
        pool_crop = (ops.scale_dimension(pool_crop[0], scale),
                     ops.scale_dimension(pool_crop[1], scale))
      scale_options = options.replace(crop_size=scaled_crop,
                                      image_pooling_crop_size=pool_crop)
    else:
      scaled, scale_options = images, options
    logits = get_logits(factory, scaled, scale_options)
    logits = _Geometry(images, crop).resize(factory.for_logits(), logits,
                                            logits_scale, 'logits/resize')
    if len(pyramid) == 1:
      return {names.MERGED_LOGITS_SCOPE: logits}
    outputs['logits_%.2f' % scale] = logits
  stacked = list(outputs.values())
  if options.merge_method == 'max':
    merged = factory.for_logits().layer(keras.layers.Maximum, 'merge_max')(
        stacked)
  else:
    merged = factory.for_logits().layer(keras.layers.Average, 'merge_avg')(
        stacked)
  outputs[names.MERGED_LOGITS_SCOPE] = merged
  return outputs


@keras.saving.register_keras_serializable(package='deeplab')
class DeepLab(keras.Model):
  """A functional DeepLab graph that carries what it was built from.

  Its `ModelOptions` (what the network is) and, for inference graphs, its
  `InferenceOptions` (how it runs: scales, flips, folding, precision) are
  part of the Keras config, so `model.save('x.keras')` /
  `keras.models.load_model('x.keras')` round-trip the model with them.
  """

  def __init__(self, inputs, outputs, name=None, **kwargs):
    options = kwargs.pop('model_options', None)
    if isinstance(options, dict):
      options = common.ModelOptions(**options)
    inference = kwargs.pop('inference_options', None)
    if isinstance(inference, dict):
      inference = common.InferenceOptions.from_dict(inference)
    super().__init__(inputs, outputs, name=name, **kwargs)
    self.model_options = options
    self.inference_options = inference

  @property
  def folded(self):
    """Whether BatchNorm is folded into the convolutions (inference only)."""
    return bool(self.inference_options and
                self.inference_options.fold_batch_norm)

  def get_config(self):
    config = super().get_config()
    config.update(
        model_options=(self.model_options.to_dict()
                       if self.model_options is not None else None),
        inference_options=(self.inference_options.to_dict()
                           if self.inference_options is not None else None))
    return config

  @classmethod
  def from_config(cls, config, custom_objects=None):
    config = dict(config)
    extra = {k: config.pop(k, None)
             for k in ('model_options', 'inference_options')}
    model = super().from_config(config, custom_objects)
    model.model_options = (common.ModelOptions(**extra['model_options'])
                           if extra['model_options'] else None)
    model.inference_options = (
        common.InferenceOptions.from_dict(extra['inference_options'])
        if extra['inference_options'] else None)
    return model


def new_layer_factory(options, fine_tune_batch_norm=False, **kwargs):
  """The model's `LayerFactory` (kwargs: as `factory.LayerFactory`)."""
  return factory_lib.LayerFactory(
      HEAD_BATCH_NORM_EPSILON, options.batch_norm_decay, fine_tune_batch_norm,
      quantize_delay_step=options.quantize_delay_step, **kwargs)


def new_input(options, name='images'):
  """The model input: raw pixels [B, H, W, 3], the crop's size if any."""
  shape = (tuple(options.crop_size) if options.crop_size else (None, None))
  return keras.Input(shape=shape + (3,), name=name)


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
  images = new_input(options)
  factory = new_layer_factory(options, fine_tune_batch_norm,
                              sync_batch_norm=sync_batch_norm,
                              dropout_keep_prob=dropout_keep_prob)
  outputs = multi_scale_logits(factory, images, options, image_pyramid)
  if not per_scale_outputs:
    outputs = outputs[names.MERGED_LOGITS_SCOPE]
  model = DeepLab(images, outputs, name=name or options.model_variant,
                  model_options=options)
  return model


# Original variable name -> Keras variable (`core/names.py`); part of the
# documented Python API as `deeplab.model.tf1_variable_map`.
tf1_variable_map = names.tf1_variable_map


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
