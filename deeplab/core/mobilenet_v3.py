"""MobileNetV3 (large, small) and EdgeTPU-MobileNet, as DeepLab builds them.

The original builds these with slim's `nets/mobilenet` (`mobilenet_v3.py`
conv defs, `conv_blocks.expanded_conv`) inside DeepLab's
`feature_extractor` (`mobilenet_v3_large_seg`, `mobilenet_v3_small_seg`,
`mobilenet_edgetpu`):

  * a stem conv, then expanded convs: a 1x1 expansion (when it widens the
    input), a depthwise conv, an optional squeeze-and-excitation of the
    depthwise output, a linear 1x1 projection, and a residual sum when the
    stride is 1 and the depth is kept. EdgeTPU's first blocks are "fused": a
    full kxk expansion conv carrying the block's stride replaces the
    expansion and the depthwise conv.
  * ReLU everywhere except where the conv defs name hard-swish (the V3 conv
    defs' defaults override the MobileNetV2 arg scope's ReLU6), BatchNorm
    epsilon 1e-3, TF 'SAME' padding.
  * The segmentation versions of V3 halve the last blocks' outputs (large:
    expanded_conv_12..14 to 80 with expansions 336, 480, 480, and Conv_1 to
    480; small: expanded_conv_8..10 to 48 with 144, 288, 288, Conv_1 to 288)
    and stop at Conv_1 (large `layer_17`, small `layer_13`); EdgeTPU stops at
    its Conv_1 (`layer_24`).
  * Output strides below the network's 32 become atrous rates, as
    `mobilenet_base` does.
"""
from deeplab.core import mobilenet_v2

BATCH_NORM_EPSILON = 1e-3
BATCH_NORM_DECAY = 0.997

LARGE_SCOPE = 'MobilenetV3'
EDGETPU_SCOPE = 'MobilenetEdgeTPU'


def _conv(n, k=1, s=1, act='relu'):
  return dict(kind='conv', n=n, k=k, s=s, act=act)


def _block(ef, n, k, s=1, act='relu', se=False, residual=True, fused=False):
  return dict(kind='block', ef=ef, n=n, k=k, s=s, act=act, se=se,
              residual=residual, fused=fused)


_HS = 'hard_swish'

# slim's V3_LARGE up to Conv_1, with DeepLab's halved last blocks.
V3_LARGE_SEG = [
    _conv(16, 3, 2, _HS),
    _block(1, 16, 3),
    _block(4, 24, 3, 2),
    _block(3, 24, 3),
    _block(3, 40, 5, 2, se=True),
    _block(3, 40, 5, se=True),
    _block(3, 40, 5, se=True),
    _block(6, 80, 3, 2, _HS),
    _block(2.5, 80, 3, 1, _HS),
    _block(184 / 80., 80, 3, 1, _HS),
    _block(184 / 80., 80, 3, 1, _HS),
    _block(6, 112, 3, 1, _HS, se=True),
    _block(6, 112, 3, 1, _HS, se=True),
    _block(336 / 112., 80, 5, 2, _HS, se=True),
    _block(480 / 80., 80, 5, 1, _HS, se=True),
    _block(480 / 80., 80, 5, 1, _HS, se=True),
    _conv(480, act=_HS),
]

# slim's V3_SMALL up to Conv_1, with DeepLab's halved last blocks.
V3_SMALL_SEG = [
    _conv(16, 3, 2, _HS),
    _block(1, 16, 3, 2, se=True),
    _block(72 / 16., 24, 3, 2),
    _block(88 / 24., 24, 3),
    _block(4, 40, 5, 2, _HS, se=True),
    _block(6, 40, 5, 1, _HS, se=True),
    _block(6, 40, 5, 1, _HS, se=True),
    _block(3, 48, 5, 1, _HS, se=True),
    _block(3, 48, 5, 1, _HS, se=True),
    _block(144 / 48., 48, 5, 2, _HS, se=True),
    _block(288 / 48., 48, 5, 1, _HS, se=True),
    _block(288 / 48., 48, 5, 1, _HS, se=True),
    _conv(288, act=_HS),
]

# slim's V3_EDGETPU.
V3_EDGETPU = (
    [_conv(32, 3, 2),
     _block(1, 16, 3, fused=True),
     _block(8, 32, 3, 2, fused=True)] +
    [_block(4, 32, 3, fused=True)] * 3 +
    [_block(8, 48, 3, 2, fused=True)] +
    [_block(4, 48, 3, fused=True)] * 3 +
    [_block(8, 96, 3, 2)] + [_block(4, 96, 3)] * 3 +
    [_block(8, 96, 3, residual=False)] + [_block(4, 96, 3)] * 3 +
    [_block(8, 160, 5, 2)] + [_block(4, 160, 5)] * 3 +
    [_block(8, 192, 3), _conv(1280)])

VARIANTS = {
    'mobilenet_v3_large_seg': (LARGE_SCOPE, V3_LARGE_SEG),
    'mobilenet_v3_small_seg': (LARGE_SCOPE, V3_SMALL_SEG),
    'mobilenet_edgetpu': (EDGETPU_SCOPE, V3_EDGETPU),
}


def mobilenet_v3(factory, images, variant, output_stride=None,
                 depth_multiplier=1.0):
  """Builds MobileNetV3 large/small (segmentation) or EdgeTPU-MobileNet.

  Args:
    factory: The `LayerFactory` creating (and naming) the layers.
    images: Normalised input tensor [batch, height, width, 3].
    variant: A key of `VARIANTS`.
    output_stride: Target stride (power of two up to 32) or None.
    depth_multiplier: Channel multiplier of every layer's outputs (slim's
      `depth_multiplier`: rounded to multiples of 8, at least 8).

  Returns:
    (features, end_points); end points 'layer_N' (one-based, the stem conv
    being layer_1), 'layer_N/depthwise_output' (before the block's
    squeeze-and-excitation) and 'layer_N/expansion_output'.
  """
  scope, spec = VARIANTS[variant]
  end_points = {}
  schedule = mobilenet_v2.AtrousSchedule(output_stride)
  net = images
  block_index = 0
  conv_index = 0
  for i, op in enumerate(spec):
    layer_stride, layer_rate = schedule(op['s'])
    layer = 'layer_%d' % (i + 1)
    outputs = mobilenet_v2.make_divisible(op['n'] * depth_multiplier, 8)
    if op['kind'] == 'conv':
      name = '%s/Conv%s' % (scope, '_%d' % conv_index if conv_index else '')
      conv_index += 1
      net = factory.conv(net, outputs, op['k'], name, stride=layer_stride,
                         rate=layer_rate, activation=op['act'])
    else:
      name = '%s/expanded_conv%s' % (
          scope, '_%d' % block_index if block_index else '')
      block_index += 1
      net = _expanded_conv(factory, net, op, outputs, name, layer_stride,
                           layer_rate, layer, end_points)
    end_points[layer] = net
  schedule.check_reached()
  return net, end_points


def _expanded_conv(factory, x, op, outputs, scope, stride, rate, layer,
                   end_points):
  """slim's `expanded_conv` (and its fused form)."""
  depth_in = x.shape[-1]
  inner = mobilenet_v2.make_divisible(depth_in * op['ef'], 8)
  net = x
  if op['fused']:
    # The expansion is a full conv with the block's kernel and stride; no
    # depthwise conv (slim's `mbv3_fused`).
    if inner > depth_in:
      net = factory.conv(net, inner, op['k'], scope + '/expand',
                         stride=stride, rate=rate, activation=op['act'])
      end_points[layer + '/expansion_output'] = net
  else:
    if inner > depth_in:
      net = factory.conv(net, inner, 1, scope + '/expand',
                         activation=op['act'])
      end_points[layer + '/expansion_output'] = net
    net = factory.depthwise(net, op['k'], scope + '/depthwise', stride=stride,
                            rate=rate, activation=op['act'])
    end_points[layer + '/depthwise_output'] = net
  if op['se']:
    # slim's squeeze factor 4, rounded to multiples of 8.
    net = factory.squeeze_excite(
        net, scope + '/squeeze_excite',
        mobilenet_v2.make_divisible(net.shape[-1] / 4., 8))
  net = factory.conv(net, outputs, 1, scope + '/project', activation=None)
  # As slim: the residual needs the block's (atrous-adjusted) stride 1.
  if op['residual'] and stride == 1 and outputs == depth_in:
    net = factory.add([net, x], scope + '/add')
  return net
