"""DeepLabv3+ for TensorFlow 2 / Keras 3.

A reimplementation of the original TF1 DeepLab (tensorflow/models,
research/deeplab) whose layer and weight names follow the original variable
scopes, so the original checkpoints map onto it by name.

    import deeplab
    model = deeplab.from_preset('mobilenetv2_coco_voc_trainaug')
    labels = model.segment(image)  # uint8 [H, W, 3] -> int32 [H, W]

Importing the package loads no TensorFlow; the names below are loaded when
first used.
"""
from deeplab import console as _console

__version__ = '0.1.0'

_console.install()

__all__ = ['DeepLab', 'InferenceOptions', 'ModelOptions', 'Segmenter',
           'build_model', 'from_preset']


def __getattr__(name):
  """The public names, each imported from its module when first used."""
  # pylint: disable=g-import-not-at-top
  if name == 'from_preset':
    from deeplab import presets as module
  elif name == 'Segmenter':
    from deeplab import segmenter as module
  elif name in ('DeepLab', 'build_model'):
    from deeplab import model as module
  elif name in ('ModelOptions', 'InferenceOptions'):
    from deeplab import common as module
  else:
    raise AttributeError('module %r has no attribute %r' % (__name__, name))
  value = getattr(module, name)
  globals()[name] = value
  return value


def __dir__():
  return sorted(set(globals()) | set(__all__))
