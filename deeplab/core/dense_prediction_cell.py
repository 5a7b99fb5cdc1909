"""The Dense Prediction Cell (Chen et al., NeurIPS 2018), as the original.

A cell is a JSON list of operations, each reading the backbone's features
(`"input": -1`) or an earlier operation's output: a 1x1 conv, a separable
kxk conv with a (possibly rectangular) atrous rate, or pyramid pooling over
a grid. The outputs of every operation are concatenated, dropped out in
training (keep 0.9) and projected to 256 channels, all under the scope
`meta_architecture` (`branch<i>`, `concat_projection`) with the head's
BatchNorm (epsilon 1e-5) and ReLU. Rates are multiplied by
`16 // output_stride`. The original's searched Cityscapes cell ships with
the package (`dense_prediction_cell_branch5_top1_cityscapes.json` here;
`common.load_dense_prediction_cell` reads cells).
"""
import keras

from deeplab.core import layers
from deeplab.core import names
from deeplab.core import ops

SCOPE = names.DENSE_PREDICTION_CELL_SCOPE

# The original's hyper-parameters of the cell.
REDUCTION_SIZE = 256
CONCAT_CHANNELS = 256
DROPOUT_KEEP_PROB = 0.9


def _pair(value):
  return tuple(value) if isinstance(value, (list, tuple)) else (value, value)


def build_cell(factory, features, options, geometry):
  """The cell of `options.dense_prediction_cell_config` on `features`."""
  config = options.dense_prediction_cell_config  # Loaded by ModelOptions.
  multiplier = 16 // options.output_stride
  branches = []
  for i, op in enumerate(config):
    scope = '%s/branch%d' % (SCOPE, i)
    inputs = features if op['input'] < 0 else branches[op['input']]
    if op['op'] == 'conv':
      kernel = _pair(op['kernel'])
      if kernel == (1, 1):
        branches.append(factory.conv(inputs, REDUCTION_SIZE, 1, scope))
      else:
        rate = tuple(r * multiplier for r in _pair(op.get('rate', 1)))
        branches.append(factory.split_separable_conv(
            inputs, REDUCTION_SIZE, scope, kernel_size=kernel[0], rate=rate))
    else:  # Pyramid pooling over a grid of the (image pooling) crop.
      crop = options.image_pooling_crop_size or options.crop_size
      grid = _pair(op['grid_size'])
      pool = None if crop is None else tuple(
          ops.scale_dimension(c, 1. / (options.output_stride * g))
          for c, g in zip(crop, grid))
      pooled = factory.layer(layers.ImagePooling, scope + '/pool', pool,
                             (1, 1))(inputs)
      pooled = factory.conv(pooled, REDUCTION_SIZE, 1, scope)
      if geometry.crop_size is not None:
        pooled = geometry.resize(factory, pooled, 1. / options.output_stride,
                                 scope + '/resize')
      else:
        pooled = factory.layer(layers.ResizeBilinear, scope + '/resize')(
            [pooled, features])
      branches.append(pooled)
  net = factory.layer(keras.layers.Concatenate, SCOPE + '/concat')(branches)
  if factory.dropout_keep_prob < 1.0:
    net = factory.layer(keras.layers.Dropout,
                        SCOPE + '/concat_projection_dropout',
                        1.0 - DROPOUT_KEEP_PROB)(net)
  return factory.conv(net, CONCAT_CHANNELS, 1, SCOPE + '/concat_projection')
