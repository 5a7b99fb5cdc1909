"""The original's names: TF1 variable scopes, and the map to Keras weights.

Keras 3 forbids '/' in layer names, so every layer is named after the
original TF1 variable scope with '/' written as '.'
(`xception_65.entry_flow.conv1_1`, its BatchNorm `...conv1_1.BatchNorm`).
`tf1_variable_map` turns a model's weights back into the original names
(`xception_65/entry_flow/conv1_1/weights`, `.../BatchNorm/moving_mean`), which
is how checkpoints of the original map onto this implementation: by name,
never by order.
"""
import keras

from deeplab.core import folding
from deeplab.core import layers
from deeplab.core import quantize

NAME_SEP = '.'

# The head's scopes, as the original's `model.py` names them.
LOGITS_SCOPE_NAME = 'logits'
MERGED_LOGITS_SCOPE = 'merged_logits'
IMAGE_POOLING_SCOPE = 'image_pooling'
ASPP_SCOPE = 'aspp'
CONCAT_PROJECTION_SCOPE = 'concat_projection'
DECODER_SCOPE = 'decoder'
DENSE_PREDICTION_CELL_SCOPE = 'meta_architecture'


def keras_name(scope: str) -> str:
  """Keras layer name of a TF1 variable scope."""
  return scope.replace('/', NAME_SEP)


def tf1_scope(layer_name: str) -> str:
  """TF1 variable scope of a Keras layer name (inverse of `keras_name`)."""
  return layer_name.replace(NAME_SEP, '/')


def get_extra_layer_scopes(last_layers_contain_logits_only=False):
  """Scopes of the "last layers" (not restored with initialize_last_layer)."""
  if last_layers_contain_logits_only:
    return [LOGITS_SCOPE_NAME]
  return [LOGITS_SCOPE_NAME, IMAGE_POOLING_SCOPE, ASPP_SCOPE,
          CONCAT_PROJECTION_SCOPE, DECODER_SCOPE, DENSE_PREDICTION_CELL_SCOPE]


def tf1_variable_map(model):
  """Maps the original TF1 variable names to this model's Keras variables.

  Returns:
    dict: name such as `xception_65/entry_flow/conv1_1/weights` -> variable.
  """
  mapping = {}
  for layer in _weight_layers(model):
    scope = tf1_scope(layer.name)
    if isinstance(layer, folding.FOLDED_TYPES):
      raise ValueError(
          'Model %s has BatchNorm folded into its convolutions (layer %s), so '
          'its variables are not the original ones. Load checkpoints into '
          'the unfolded model, then fold it (deeplab.runtime.fold, as '
          '--fold_batch_norm does).'
          % (model.name, layer.name))
    if isinstance(layer, keras.layers.DepthwiseConv2D):
      names = {'kernel': 'depthwise_weights', 'bias': 'biases'}
    elif isinstance(layer, keras.layers.Conv2D):
      names = {'kernel': 'weights', 'bias': 'biases'}
    elif isinstance(layer, keras.layers.BatchNormalization):
      names = {n: n for n in ('gamma', 'beta', 'moving_mean',
                              'moving_variance')}
    elif isinstance(layer, quantize.FakeQuant):
      names = {'min': 'min', 'max': 'max'}
    else:
      raise TypeError('Layer %s of type %s has weights but no TF1 name rule.'
                      % (layer.name, type(layer).__name__))
    for var in layer.weights:
      leaf = var.path.split('/')[-1]
      mapping['%s/%s' % (scope, names[leaf])] = var
  return mapping


def _weight_layers(model):
  return [l for l in layers.leaf_layers(model) if l.weights]
