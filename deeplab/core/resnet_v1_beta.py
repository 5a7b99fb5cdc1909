"""ResNet-v1-50/101 and their "beta" variants (three 3x3 convs as the stem).

As the original's `core/resnet_v1_beta.py`: the stride of each block sits in
its last unit, the fourth block has stride 1 and takes `multi_grid` as unit
rates, and atrous convolution replaces striding once the output stride is
reached.
"""
import keras

# (scope, bottleneck depth, number of units, stride) per block.
_BLOCKS = {
    50: [('block1', 64, 3, 2), ('block2', 128, 4, 2), ('block3', 256, 6, 2)],
    101: [('block1', 64, 3, 2), ('block2', 128, 4, 2), ('block3', 256, 23, 2)],
}

VARIANTS = {
    # variant: (depth, beta stem, scope)
    'resnet_v1_50': (50, False, 'resnet_v1_50'),
    'resnet_v1_50_beta': (50, True, 'resnet_v1_50'),
    'resnet_v1_101': (101, False, 'resnet_v1_101'),
    'resnet_v1_101_beta': (101, True, 'resnet_v1_101'),
}

# BatchNorm settings DeepLab passes to the ResNet arg scope.
BATCH_NORM_EPSILON = 1e-5
BATCH_NORM_DECAY = 0.95


def _bottleneck(factory, x, scope, depth, depth_bottleneck, stride, rate,
                end_points):
  """Bottleneck unit with BN after each conv and ReLU after the sum."""
  unit = scope + '/bottleneck_v1'
  depth_in = x.shape[-1]
  if depth == depth_in:
    if stride == 1:
      shortcut = x
    else:
      # The original's `subsample`: a 1x1 max pool with the stride.
      shortcut = factory.layer(keras.layers.MaxPooling2D, unit + '/shortcut',
                               1, strides=stride, padding='same')(x)
  else:
    shortcut = factory.conv(x, depth, 1, unit + '/shortcut', stride=stride,
                      activation=None)
  residual = factory.conv(x, depth_bottleneck, 1, unit + '/conv1')
  residual = factory.conv(residual, depth_bottleneck, 3, unit + '/conv2',
                    stride=stride, rate=rate, explicit_padding=True)
  residual = factory.conv(residual, depth, 1, unit + '/conv3', activation=None)
  end_points[unit + '/conv3'] = residual
  out = factory.add([shortcut, residual], unit + '/add')
  out = factory.layer(keras.layers.ReLU, unit + '/Relu')(out)
  end_points[unit] = out
  return out


def resnet_v1_beta(factory, images, variant, output_stride=None,
                   multi_grid=None):
  """Builds a ResNet-v1 (plain or beta) on normalised `images`.

  Args:
    factory: The `LayerFactory` creating (and naming) the layers.
    images: Normalised input tensor [batch, height, width, 3].
    variant: One of `VARIANTS`.
    output_stride: 4 to 32 (multiple of 4), or None for the nominal 32.
    multi_grid: Three unit rates of block4 (default 1, 1, 1).

  Returns:
    (features, end_points), end points keyed by their original scope, e.g.
    'resnet_v1_101/block1/unit_2/bottleneck_v1/conv3'.
  """
  if variant not in VARIANTS:
    raise ValueError('Unknown ResNet variant %r.' % variant)
  num_layers, beta, scope = VARIANTS[variant]
  if multi_grid is None:
    multi_grid = (1, 1, 1)
  if len(multi_grid) != 3:
    raise ValueError('Expect multi_grid to have length 3.')
  if output_stride is not None and output_stride % 4:
    raise ValueError('The output_stride needs to be a multiple of 4.')
  end_points = {}
  if beta:
    net = factory.conv(images, 64, 3, scope + '/conv1_1', stride=2,
                 explicit_padding=True)
    net = factory.conv(net, 64, 3, scope + '/conv1_2')
    net = factory.conv(net, 128, 3, scope + '/conv1_3')
  else:
    net = factory.conv(images, 64, 7, scope + '/conv1', stride=2,
                 explicit_padding=True)
  net = factory.layer(keras.layers.MaxPooling2D, scope + '/pool1', 3,
                      strides=2, padding='same')(net)
  units = []
  for block, base, num_units, stride in _BLOCKS[num_layers]:
    for i in range(num_units):
      units.append((block, i, base, stride if i == num_units - 1 else 1, 1))
  for i, unit_rate in enumerate(multi_grid):
    units.append(('block4', i, 512, 1, unit_rate))

  current_stride, rate = 4, 1
  for block, i, base, stride, unit_rate in units:
    unit_scope = '%s/%s/unit_%d' % (scope, block, i + 1)
    if output_stride is not None and current_stride == output_stride:
      net = _bottleneck(factory, net, unit_scope, base * 4, base, 1,
                        rate * unit_rate, end_points)
      rate *= stride
    else:
      net = _bottleneck(factory, net, unit_scope, base * 4, base, stride,
                        unit_rate, end_points)
      current_stride *= stride
      if output_stride is not None and current_stride > output_stride:
        raise ValueError('The target output_stride cannot be reached.')
    end_points['%s/%s' % (scope, block)] = net
  if output_stride is not None and current_stride != output_stride:
    raise ValueError('The target output_stride cannot be reached.')
  return net, end_points
