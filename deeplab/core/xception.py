"""Modified aligned Xception-41/65/71 (paper section 3.2).

Max pooling is replaced by strided separable convolutions, so any output
stride is reached with atrous convolution; BatchNorm follows every depthwise
and pointwise convolution. Unit structure, skip types, ReLU placement and the
fixed padding of strided convs follow the original's `core/xception.py`.
"""
import collections


# One block: scope, depth_list of its units, skip type, whether the ReLU sits
# inside the separable convs (after BN) instead of before them, number of
# units, stride of the block (applied in the last separable conv).
Block = collections.namedtuple(
    'Block', ['scope', 'depth_list', 'skip', 'activation_in_separable',
              'num_units', 'stride'])

_ENTRY_41_65 = [
    Block('entry_flow/block1', (128, 128, 128), 'conv', False, 1, 2),
    Block('entry_flow/block2', (256, 256, 256), 'conv', False, 1, 2),
    Block('entry_flow/block3', (728, 728, 728), 'conv', False, 1, 2),
]
_ENTRY_71 = [
    Block('entry_flow/block1', (128, 128, 128), 'conv', False, 1, 2),
    Block('entry_flow/block2', (256, 256, 256), 'conv', False, 1, 1),
    Block('entry_flow/block3', (256, 256, 256), 'conv', False, 1, 2),
    Block('entry_flow/block4', (728, 728, 728), 'conv', False, 1, 1),
    Block('entry_flow/block5', (728, 728, 728), 'conv', False, 1, 2),
]
_EXIT = [
    Block('exit_flow/block1', (728, 1024, 1024), 'conv', False, 1, 2),
    Block('exit_flow/block2', (1536, 1536, 2048), 'none', True, 1, 1),
]


def _middle(num_units):
  return [Block('middle_flow/block1', (728, 728, 728), 'sum', False,
                num_units, 1)]


BLOCKS = {
    'xception_41': _ENTRY_41_65 + _middle(8) + _EXIT,
    'xception_65': _ENTRY_41_65 + _middle(16) + _EXIT,
    'xception_71': _ENTRY_71 + _middle(16) + _EXIT,
}

# BatchNorm settings of the original's xception_arg_scope as DeepLab uses it.
BATCH_NORM_EPSILON = 1e-3
BATCH_NORM_DECAY = 0.9997


def _xception_module(factory, x, scope, depth_list, skip,
                     activation_in_separable, stride, rate, unit_rate_list,
                     end_points):
  """One Xception unit: three separable convs and a shortcut."""
  module = scope + '/xception_module'
  residual = x
  activated = None  # The next conv's pre-ReLU, when a conv produced it.
  for i in range(3):
    conv_scope = '%s/separable_conv%d' % (module, i + 1)
    pointwise = conv_scope + '_pointwise'
    if activation_in_separable:
      activation, inputs = 'relu', residual
    else:
      # Original design: ReLU before each separable conv, none after.
      activation = None
      inputs = activated if activated is not None else factory.relu(
          residual, conv_scope + '/pre_relu', after_sum=i == 0)
    inputs = factory.depthwise(inputs, 3, conv_scope + '_depthwise',
                               stride=stride if i == 2 else 1,
                               rate=rate * unit_rate_list[i],
                               activation=activation, explicit_padding=True)
    if not activation_in_separable and i < 2:
      # The next conv's pre-ReLU follows: the factory may run it inside
      # this conv (raw is then None).
      residual, activated = factory.conv_then_relu(
          inputs, depth_list[i], pointwise,
          '%s/separable_conv%d/pre_relu' % (module, i + 2))
    else:
      residual = factory.conv(inputs, depth_list[i], 1, pointwise,
                              activation=activation)
    if residual is not None:
      end_points[pointwise] = residual
  if skip == 'conv':
    shortcut = factory.conv(x, depth_list[-1], 1, module + '/shortcut',
                      stride=stride, activation=None)
    out = factory.add([residual, shortcut], module + '/add')
  elif skip == 'sum':
    out = factory.add([residual, x], module + '/add')
  elif skip == 'none':
    out = residual
  else:
    raise ValueError('Unsupported skip connection type %r.' % skip)
  end_points[module] = out
  return out


def xception(factory, images, variant, output_stride=None, multi_grid=None):
  """Builds an aligned Xception on normalised `images`.

  Args:
    factory: The `LayerFactory` creating (and naming) the layers.
    images: Normalised input tensor [batch, height, width, 3].
    variant: 'xception_41', 'xception_65' or 'xception_71' (also the scope).
    output_stride: 2 to 32, or None for the nominal stride 32.
    multi_grid: Unit rates of the last block (default 1, 1, 1).

  Returns:
    (features, end_points) with end points keyed by their full original scope,
    e.g. 'xception_65/entry_flow/block2/unit_1/xception_module/'
    'separable_conv2_pointwise'.

  Raises:
    ValueError: If the output stride cannot be reached.
  """
  if variant not in BLOCKS:
    raise ValueError('Unknown Xception variant %r.' % variant)
  if output_stride is not None and output_stride % 2:
    raise ValueError('The output_stride needs to be a multiple of 2.')
  unit_rates = tuple(multi_grid) if multi_grid else (1, 1, 1)
  end_points = {}
  net = factory.conv(images, 32, 3, variant + '/entry_flow/conv1_1', stride=2,
               explicit_padding=True)
  net = factory.conv(net, 64, 3, variant + '/entry_flow/conv1_2')
  current_stride, rate = 2, 1
  for block in BLOCKS[variant]:
    block_scope = '%s/%s' % (variant, block.scope)
    for i in range(block.num_units):
      if output_stride is not None and current_stride > output_stride:
        raise ValueError('The target output_stride cannot be reached.')
      stride = block.stride if i == block.num_units - 1 else 1
      # Only the last block takes multi_grid (the original's unit_rate_list).
      rates = unit_rates if block.scope == 'exit_flow/block2' else (1, 1, 1)
      unit_scope = '%s/unit_%d' % (block_scope, i + 1)
      if output_stride is not None and current_stride == output_stride:
        # Target reached: atrous instead of striding from here on.
        net = _xception_module(factory, net, unit_scope, block.depth_list,
                               block.skip, block.activation_in_separable, 1,
                               rate, rates, end_points)
        rate *= stride
      else:
        net = _xception_module(factory, net, unit_scope, block.depth_list,
                               block.skip, block.activation_in_separable,
                               stride, 1, rates, end_points)
        current_stride *= stride
    end_points[block_scope] = net
  if output_stride is not None and current_stride != output_stride:
    raise ValueError('The target output_stride cannot be reached.')
  return net, end_points
