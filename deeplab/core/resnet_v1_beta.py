"""ResNet-v1-18/50/101 and their "beta" variants (three 3x3 convs as the stem).

As the original's `core/resnet_v1_beta.py`: the stride of each block sits in
its last unit, the fourth block has stride 1 and takes `multi_grid` as unit
rates, and atrous convolution replaces striding once the output stride is
reached. ResNet-18 has "lite" units (two 3x3 convs, the second strided),
two per block, a fourth block of two units (`multi_grid` of two rates) and,
in its beta variant, a stem of a quarter of the width (16, 16, 32).
"""
import keras

# (scope, bottleneck depth, number of units, stride) per block.
_BLOCKS = {
    18: [('block1', 64, 2, 2), ('block2', 128, 2, 2), ('block3', 256, 2, 2)],
    50: [('block1', 64, 3, 2), ('block2', 128, 4, 2), ('block3', 256, 6, 2)],
    101: [('block1', 64, 3, 2), ('block2', 128, 4, 2), ('block3', 256, 23, 2)],
}

VARIANTS = {
    # variant: (depth, beta stem, scope)
    'resnet_v1_18': (18, False, 'resnet_v1_18'),
    'resnet_v1_18_beta': (18, True, 'resnet_v1_18'),
    'resnet_v1_50': (50, False, 'resnet_v1_50'),
    'resnet_v1_50_beta': (50, True, 'resnet_v1_50'),
    'resnet_v1_101': (101, False, 'resnet_v1_101'),
    'resnet_v1_101_beta': (101, True, 'resnet_v1_101'),
}

# BatchNorm settings DeepLab passes to the ResNet arg scope.
BATCH_NORM_EPSILON = 1e-5
BATCH_NORM_DECAY = 0.95


def _shortcut(factory, x, unit, depth, stride):
  """A unit's shortcut: the input, subsampled when strided (the original's
  `subsample`, a 1x1 max pool), or a 1x1 projection to a new depth."""
  if depth != x.shape[-1]:
    return factory.conv(x, depth, 1, unit + '/shortcut', stride=stride,
                        activation=None)
  if stride == 1:
    return x
  return factory.layer(keras.layers.MaxPooling2D, unit + '/shortcut', 1,
                       strides=stride, padding='same')(x)


def _bottleneck(factory, x, scope, depth, depth_bottleneck, stride, rate,
                end_points):
  """Bottleneck unit with BN after each conv and ReLU after the sum."""
  unit = scope + '/bottleneck_v1'
  shortcut = _shortcut(factory, x, unit, depth, stride)
  residual = factory.conv(x, depth_bottleneck, 1, unit + '/conv1')
  residual = factory.conv(residual, depth_bottleneck, 3, unit + '/conv2',
                    stride=stride, rate=rate, explicit_padding=True)
  residual = factory.conv(residual, depth, 1, unit + '/conv3', activation=None)
  end_points[unit + '/conv3'] = residual
  out = factory.add([shortcut, residual], unit + '/add')
  out = factory.layer(keras.layers.ReLU, unit + '/Relu')(out)
  end_points[unit] = out
  return out


def _lite_bottleneck(factory, x, scope, depth, stride, rate, end_points):
  """ResNet-18's unit: two 3x3 convs (the second strided, no activation),
  the shortcut, and ReLU after the sum."""
  unit = scope + '/lite_bottleneck_v1'
  shortcut = _shortcut(factory, x, unit, depth, stride)
  residual = factory.conv(x, depth, 3, unit + '/conv1', rate=rate,
                          explicit_padding=True)
  residual = factory.conv(residual, depth, 3, unit + '/conv2', stride=stride,
                          rate=rate, activation=None, explicit_padding=True)
  end_points[unit + '/conv2'] = residual
  out = factory.add([shortcut, residual], unit + '/add')
  out = factory.layer(keras.layers.ReLU, unit + '/Relu')(out)
  end_points[unit] = out
  return out


def _unit(factory, x, scope, num_layers, base, stride, rate, end_points):
  if num_layers == 18:
    return _lite_bottleneck(factory, x, scope, base, stride, rate, end_points)
  return _bottleneck(factory, x, scope, base * 4, base, stride, rate,
                     end_points)


def resnet_v1_beta(factory, images, variant, output_stride=None,
                   multi_grid=None):
  """Builds a ResNet-v1 (plain or beta) on normalised `images`.

  Args:
    factory: The `LayerFactory` creating (and naming) the layers.
    images: Normalised input tensor [batch, height, width, 3].
    variant: One of `VARIANTS`.
    output_stride: 4 to 32 (multiple of 4), or None for the nominal 32.
    multi_grid: Unit rates of block4: three (default 1, 1, 1), two for
      ResNet-18 (default 1, 1).

  Returns:
    (features, end_points), end points keyed by their original scope, e.g.
    'resnet_v1_101/block1/unit_2/bottleneck_v1/conv3'.
  """
  if variant not in VARIANTS:
    raise ValueError('Unknown ResNet variant %r.' % variant)
  num_layers, beta, scope = VARIANTS[variant]
  units_in_block4 = 2 if num_layers == 18 else 3
  if multi_grid is None:
    multi_grid = (1,) * units_in_block4
  if len(multi_grid) != units_in_block4:
    raise ValueError('Expect multi_grid to have length %d.' % units_in_block4)
  if output_stride is not None and output_stride % 4:
    raise ValueError('The output_stride needs to be a multiple of 4.')
  end_points = {}
  if beta:
    # ResNet-18's beta stem is a quarter as wide (root_depth_multiplier).
    width = 0.25 if num_layers == 18 else 1.0
    net = factory.conv(images, int(64 * width), 3, scope + '/conv1_1',
                       stride=2, explicit_padding=True)
    net = factory.conv(net, int(64 * width), 3, scope + '/conv1_2')
    net = factory.conv(net, int(128 * width), 3, scope + '/conv1_3')
  else:
    net = factory.conv(images, 64, 7, scope + '/conv1', stride=2,
                 explicit_padding=True)
  net = factory.layer(keras.layers.MaxPooling2D, scope + '/pool1', 3,
                      strides=2, padding='same')(net)
  units = []
  for block, base, num_units, stride in _BLOCKS[num_layers]:
    for i in range(num_units):
      units.append((block, i, base, stride if i == num_units - 1 else 1, 1))
  block4_base = 512
  for i, unit_rate in enumerate(multi_grid):
    units.append(('block4', i, block4_base, 1, unit_rate))

  current_stride, rate = 4, 1
  for block, i, base, stride, unit_rate in units:
    unit_scope = '%s/%s/unit_%d' % (scope, block, i + 1)
    if output_stride is not None and current_stride == output_stride:
      net = _unit(factory, net, unit_scope, num_layers, base, 1,
                  rate * unit_rate, end_points)
      rate *= stride
    else:
      net = _unit(factory, net, unit_scope, num_layers, base, stride,
                  unit_rate, end_points)
      current_stride *= stride
      if output_stride is not None and current_stride > output_stride:
        raise ValueError('The target output_stride cannot be reached.')
    end_points['%s/%s' % (scope, block)] = net
  if output_stride is not None and current_stride != output_stride:
    raise ValueError('The target output_stride cannot be reached.')
  return net, end_points
