"""MobileNetV2 with a depth multiplier, as DeepLab builds it from slim.

Up to the original's final end point `layer_18` (expanded_conv_16; the 1x1
conv to 1280 channels is not part of the DeepLab feature extractor). Padding
is TF 'SAME' throughout (the original does not use explicit padding here);
once the output stride is reached, strides become atrous rates.
"""

# (expansion factor or None for "expand by 1, no expand conv", output
# channels, stride) of each expanded_conv, from slim's V2_DEF.
_SPEC = [
    (1, 16, 1),
    (6, 24, 2), (6, 24, 1),
    (6, 32, 2), (6, 32, 1), (6, 32, 1),
    (6, 64, 2), (6, 64, 1), (6, 64, 1), (6, 64, 1),
    (6, 96, 1), (6, 96, 1), (6, 96, 1),
    (6, 160, 2), (6, 160, 1), (6, 160, 1),
    (6, 320, 1),
]

SCOPE = 'MobilenetV2'
# slim's mobilenet training_scope: decay 0.997, default epsilon 1e-3.
BATCH_NORM_EPSILON = 1e-3
BATCH_NORM_DECAY = 0.997


def make_divisible(value, divisor, min_value=None):
  """slim's `_make_divisible`: round to a multiple, never down by over 10%."""
  if min_value is None:
    min_value = divisor
  new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
  if new_value < 0.9 * value:
    new_value += divisor
  return int(new_value)


class AtrousSchedule:
  """`mobilenet_base`'s rule: once the output stride is reached, a layer's
  stride becomes a dilation of the layers after it. Called with each
  layer's stride, gives the (stride, rate) the layer runs with."""

  def __init__(self, output_stride=None):
    self.output_stride = output_stride
    self.current_stride, self.rate = 1, 1

  def __call__(self, stride):
    if self.output_stride is not None and (
        self.current_stride == self.output_stride):
      layer_rate = self.rate
      self.rate *= stride
      return 1, layer_rate
    self.current_stride *= stride
    return stride, 1

  def check_reached(self):
    if self.output_stride is not None and (
        self.current_stride != self.output_stride):
      raise ValueError('The target output_stride cannot be reached.')


def mobilenet_v2(factory, images, output_stride=None, depth_multiplier=1.0,
                 divisible_by=None):
  """Builds MobileNetV2 on normalised `images`.

  Args:
    factory: The `LayerFactory` creating (and naming) the layers.
    images: Normalised input tensor [batch, height, width, 3].
    output_stride: Target stride (power of two up to 32) or None.
    depth_multiplier: Channel multiplier (1.0, 0.5, ...).
    divisible_by: Channel rounding; None uses the original's rule (8 at
      multiplier 1.0, else 1).

  Returns:
    (features, end_points); end points include 'layer_N/depthwise_output',
    'layer_N/expansion_output' and 'layer_N/output' (one-based, the stem
    conv being layer_1), the names the original's decoder table uses.
  """
  if divisible_by is None:
    divisible_by = 8 if depth_multiplier == 1.0 else 1
  min_depth = 8 if depth_multiplier == 1.0 else 1

  def depth(d):
    return make_divisible(d * depth_multiplier, divisible_by, min_depth)

  end_points = {}
  next_stride_and_rate = AtrousSchedule(output_stride)

  stride, layer_rate = next_stride_and_rate(2)
  net = factory.conv(images, depth(32), 3, SCOPE + '/Conv', stride=stride,
               rate=layer_rate, activation='relu6')
  end_points['layer_1'] = net
  for i, (factor, outputs, unit_stride) in enumerate(_SPEC):
    layer = 'layer_%d' % (i + 2)
    scope = SCOPE + '/expanded_conv' + ('_%d' % i if i else '')
    stride, layer_rate = next_stride_and_rate(unit_stride)
    inputs = net
    depth_in = net.shape[-1]
    # The expansion is always rounded to multiples of 8 (slim's
    # expand_input_by_factor), the first unit expands by 1 (no expand conv).
    inner = depth_in if i == 0 else make_divisible(depth_in * factor, 8)
    if inner > depth_in:
      net = factory.conv(net, inner, 1, scope + '/expand', activation='relu6')
      end_points[layer + '/expansion_output'] = net
    net = factory.depthwise(net, 3, scope + '/depthwise', stride=stride,
                      rate=layer_rate, activation='relu6')
    end_points[layer + '/depthwise_output'] = net
    net = factory.conv(net, depth(outputs), 1, scope + '/project',
                       activation=None)
    if stride == 1 and net.shape[-1] == depth_in:
      net = factory.add([net, inputs], scope + '/add')
    end_points[layer + '/output'] = net
    end_points[layer] = net
  next_stride_and_rate.check_reached()
  return net, end_points
