"""One table per backbone: builder, pixel normalisation, mean pixel, end points.

Mirrors the original's `core/feature_extractor.py`: which network a
`model_variant` builds, under which name scope, how pixels are normalised
inside the model, which mean pixel pads images (so padding becomes 0 after
normalisation), and which low-level end point the decoder taps per stride.
"""
import collections

from deeplab.core import layers
from deeplab.core import mobilenet_v2
from deeplab.core import mobilenet_v3
from deeplab.core import resnet_v1_beta
from deeplab.core import xception

# ImageNet mean pixel subtracted by the plain ResNets.
MEAN_RGB = (123.15, 115.90, 103.06)

Backbone = collections.namedtuple(
    'Backbone', ['scope', 'normalization', 'bn_epsilon', 'bn_decay',
                 'decoder_end_points'])


def _xception_end_points(variant, strides):
  return {s: '%s/%s/unit_1/xception_module/separable_conv2_pointwise'
             % (variant, block) for s, block in strides.items()}


def _resnet_end_points(scope, last_block3_unit):
  return {4: scope + '/block1/unit_2/bottleneck_v1/conv3',
          8: scope + '/block2/unit_3/bottleneck_v1/conv3',
          16: scope + '/block3/unit_%d/bottleneck_v1/conv3' % last_block3_unit}


_XCEPTION_41_65 = {4: 'entry_flow/block2', 8: 'entry_flow/block3',
                   16: 'exit_flow/block1'}

def _lite_end_points(scope):
  return {4: scope + '/block1/unit_1/lite_bottleneck_v1/conv2',
          8: scope + '/block2/unit_1/lite_bottleneck_v1/conv2',
          16: scope + '/block3/unit_1/lite_bottleneck_v1/conv2'}


BACKBONES = {
    'xception_41': Backbone('xception_41', 'unit_range',
                            xception.BATCH_NORM_EPSILON,
                            xception.BATCH_NORM_DECAY,
                            _xception_end_points('xception_41',
                                                 _XCEPTION_41_65)),
    'xception_65': Backbone('xception_65', 'unit_range',
                            xception.BATCH_NORM_EPSILON,
                            xception.BATCH_NORM_DECAY,
                            _xception_end_points('xception_65',
                                                 _XCEPTION_41_65)),
    'xception_71': Backbone('xception_71', 'unit_range',
                            xception.BATCH_NORM_EPSILON,
                            xception.BATCH_NORM_DECAY,
                            _xception_end_points(
                                'xception_71',
                                {4: 'entry_flow/block3', 8: 'entry_flow/block5',
                                 16: 'exit_flow/block1'})),
    'resnet_v1_18': Backbone('resnet_v1_18', 'imagenet_mean',
                             resnet_v1_beta.BATCH_NORM_EPSILON,
                             resnet_v1_beta.BATCH_NORM_DECAY,
                             _lite_end_points('resnet_v1_18')),
    'resnet_v1_18_beta': Backbone('resnet_v1_18', 'unit_range',
                                  resnet_v1_beta.BATCH_NORM_EPSILON,
                                  resnet_v1_beta.BATCH_NORM_DECAY,
                                  _lite_end_points('resnet_v1_18')),
    'resnet_v1_50': Backbone('resnet_v1_50', 'imagenet_mean',
                             resnet_v1_beta.BATCH_NORM_EPSILON,
                             resnet_v1_beta.BATCH_NORM_DECAY,
                             _resnet_end_points('resnet_v1_50', 5)),
    'resnet_v1_50_beta': Backbone('resnet_v1_50', 'unit_range',
                                  resnet_v1_beta.BATCH_NORM_EPSILON,
                                  resnet_v1_beta.BATCH_NORM_DECAY,
                                  _resnet_end_points('resnet_v1_50', 5)),
    'resnet_v1_101': Backbone('resnet_v1_101', 'imagenet_mean',
                              resnet_v1_beta.BATCH_NORM_EPSILON,
                              resnet_v1_beta.BATCH_NORM_DECAY,
                              _resnet_end_points('resnet_v1_101', 22)),
    'resnet_v1_101_beta': Backbone('resnet_v1_101', 'unit_range',
                                   resnet_v1_beta.BATCH_NORM_EPSILON,
                                   resnet_v1_beta.BATCH_NORM_DECAY,
                                   _resnet_end_points('resnet_v1_101', 22)),
    'mobilenet_v2': Backbone('MobilenetV2', 'unit_range',
                             mobilenet_v2.BATCH_NORM_EPSILON,
                             mobilenet_v2.BATCH_NORM_DECAY,
                             {4: 'layer_4/depthwise_output',
                              8: 'layer_7/depthwise_output',
                              16: 'layer_14/depthwise_output'}),
    'mobilenet_v3_large_seg': Backbone(mobilenet_v3.LARGE_SCOPE, 'unit_range',
                                       mobilenet_v3.BATCH_NORM_EPSILON,
                                       mobilenet_v3.BATCH_NORM_DECAY,
                                       {4: 'layer_4/depthwise_output',
                                        8: 'layer_7/depthwise_output',
                                        16: 'layer_13/depthwise_output'}),
    'mobilenet_v3_small_seg': Backbone(mobilenet_v3.LARGE_SCOPE, 'unit_range',
                                       mobilenet_v3.BATCH_NORM_EPSILON,
                                       mobilenet_v3.BATCH_NORM_DECAY,
                                       {4: 'layer_2/depthwise_output',
                                        8: 'layer_4/depthwise_output',
                                        16: 'layer_9/depthwise_output'}),
    # The original has no decoder end points for EdgeTPU-MobileNet.
    'mobilenet_edgetpu': Backbone(mobilenet_v3.EDGETPU_SCOPE, 'unit_range',
                                  mobilenet_v3.BATCH_NORM_EPSILON,
                                  mobilenet_v3.BATCH_NORM_DECAY, {}),
}


def get_backbone(model_variant):
  """The table entry of `model_variant`, with a clear error if unknown."""
  if model_variant not in BACKBONES:
    raise ValueError('Unsupported model_variant %r; choose one of %s.'
                     % (model_variant, ', '.join(sorted(BACKBONES))))
  return BACKBONES[model_variant]


def mean_pixel(model_variant=None):
  """The pixel images are padded with: the one that becomes 0 after the
  variant's normalisation, so padding is neutral for the network.

  As the original, ResNet-18 is the exception: it subtracts the ImageNet
  mean but is padded with 127.5 (the original's `mean_pixel` lists only
  ResNet-50 and -101).
  """
  if model_variant is None or (
      get_backbone(model_variant).normalization == 'imagenet_mean' and
      not model_variant.startswith('resnet_v1_18')):
    return MEAN_RGB
  return (127.5, 127.5, 127.5)


def normalization_layer(model_variant, factory):
  """The Keras layer normalising raw [0, 255] pixels for the variant."""
  backbone = get_backbone(model_variant)
  return factory.layer(layers.Normalize, backbone.scope + '/normalize',
                       backbone.normalization, MEAN_RGB)


def extract_features(factory, images, options):
  """Runs the backbone of `options.model_variant` on raw pixel `images`.

  Args:
    factory: `LayerFactory` of the model (shared across scales).
    images: Raw pixels [batch, height, width, 3] in [0, 255], padded with
      `mean_pixel`.
    options: `ModelOptions`.

  Returns:
    (features, end_points).
  """
  backbone = get_backbone(options.model_variant)
  factory = factory.with_batch_norm(
      backbone.bn_epsilon, backbone.bn_decay, raw_end_points=[
          decoder_end_point(options.model_variant, stride)
          for stride in options.decoder_output_stride or ()])
  x = normalization_layer(options.model_variant, factory)(images)
  variant = options.model_variant
  if variant.startswith('xception'):
    return xception.xception(factory, x, variant, options.output_stride,
                             options.multi_grid)
  if variant.startswith('resnet'):
    return resnet_v1_beta.resnet_v1_beta(factory, x, variant,
                                         options.output_stride,
                                         options.multi_grid)
  if variant in mobilenet_v3.VARIANTS:
    return mobilenet_v3.mobilenet_v3(factory, x, variant,
                                     options.output_stride,
                                     options.depth_multiplier)
  return mobilenet_v2.mobilenet_v2(factory, x, options.output_stride,
                                   options.depth_multiplier,
                                   options.divisible_by)


def decoder_end_point(model_variant, stride):
  """Name of the low-level feature the decoder taps at `stride`."""
  points = get_backbone(model_variant).decoder_end_points
  if stride not in points:
    raise ValueError('%s has no decoder end point at stride %d (has %s).'
                     % (model_variant, stride, sorted(points)))
  return points[stride]
