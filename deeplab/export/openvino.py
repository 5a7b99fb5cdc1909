"""OpenVINO export: the serving contract in OpenVINO's own format (IR).

`export_openvino` converts the serving contract (`ImageTensor` uint8 of any
size in, `SemanticPredictions` int32 out, `SemanticProbabilities` where
asked) with OpenVINO's TensorFlow front end and writes `<name>.xml` (the
graph) and `<name>.bin` (float32 weights) beside it. OpenVINO also reads the
`.onnx` export; its own format loads without a conversion at start-up and
carries this project's mark (the model options) and the dataset's
description in its runtime information, so only files this project wrote
are replaced. The package comes with the `openvino` extra
(`pip install -e ".[openvino]"`).
"""
import json
import os
import tempfile
import xml.etree.ElementTree as ElementTree

import numpy as np

from deeplab import errors
from deeplab import files
from deeplab.export import serving

# The runtime-information entries (OpenVINO's `rt_info`) this project
# writes: the model options (its mark), and the dataset's description where
# the checkpoint's run knew it.
OPENVINO_MARK = 'deeplab_model_options'
OPENVINO_DATASET = 'deeplab_dataset'


def openvino_package():
  """The `openvino` module, or MissingExtraError saying how to install it."""
  try:
    import openvino  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise errors.MissingExtraError(
        'OpenVINO export needs the optional package of the openvino extra: '
        'pip install -e ".[openvino]"; %s.' % e) from None
  return openvino


def weights_path(path):
  """The weights file OpenVINO reads beside the graph `path` (x.xml ->
  x.bin)."""
  return os.path.splitext(path)[0] + '.bin'


def is_openvino_export(path):
  """Whether the file `path` is an OpenVINO graph (.xml) this project
  wrote: its runtime information holds our mark."""
  try:
    for _, element in ElementTree.iterparse(path):
      if element.tag == OPENVINO_MARK:
        return True
  except (ElementTree.ParseError, OSError):
    return False  # Anything unreadable as XML is not ours.
  return False


def check_replaceable(path, flag='export_path'):
  """NotOursError unless `path` and the weights beside it are absent or an
  OpenVINO export this project wrote."""
  ours = os.path.isfile(path) and is_openvino_export(path)
  for target in (path, weights_path(path)):
    if os.path.lexists(target) and not (ours and os.path.isfile(target)):
      raise files.NotOursError(
          '%s exists and is not part of an OpenVINO model written by this '
          'project (--%s=%s); it is left untouched. Choose a new path.'
          % (target, flag, path))


def export_openvino(module, path, probabilities=False, dataset=None):
  """Writes the OpenVINO model of `module`: `path` (.xml) and its weights
  beside it (.bin), float32, each file atomically (the weights first), with
  the model options and `dataset`'s description (a `DatasetDescriptor`) in
  its runtime information. A file this project did not write is never
  replaced. Returns `path`."""
  ov = openvino_package()
  check_replaceable(path)
  model = ov.convert_model(module.contract_function(probabilities))
  model.set_rt_info(json.dumps(module.options.to_dict(), sort_keys=True),
                    OPENVINO_MARK)
  if dataset is not None:
    model.set_rt_info(json.dumps(dataset.to_dict()), OPENVINO_DATASET)
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  # Staged beside the target (one file system), under a hidden name.
  with tempfile.TemporaryDirectory(
      dir=folder, prefix='.%s.tmp-' % os.path.basename(path)) as tmp:
    staged = os.path.join(tmp, 'model.xml')
    # Weights stay float32: the default would halve them to float16.
    ov.save_model(model, staged, compress_to_fp16=False)
    for source, target in ((weights_path(staged), weights_path(path)),
                           (staged, path)):
      with open(source, 'rb') as f:
        files.write_bytes(target, f.read())
  return path


def compiled_model(path, precision='f32', threads=None):
  """An OpenVINO CPU model of an export (.xml or .onnx) compiled with the
  inference precision `precision` ('f32', or 'bf16' where the CPU has it)
  on at most `threads` threads."""
  ov = openvino_package()
  config = {'INFERENCE_PRECISION_HINT': precision}
  if threads:
    config['INFERENCE_NUM_THREADS'] = int(threads)
  core = ov.Core()
  return core.compile_model(core.read_model(path), 'CPU', config)


def openvino_labels(compiled, images):
  """`SemanticPredictions` of an OpenVINO compiled model for uint8 images
  [batch, height, width, 3]."""
  return np.asarray(compiled(images)[serving.OUTPUT_NAME])


def openvino_agreement(path, module, images):
  """Share of pixels whose OpenVINO label equals the TensorFlow serving
  graph's, on uint8 `images` [batch, height, width, 3]."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  labels = openvino_labels(compiled_model(path), images)
  want = module.serve(tf.constant(images))[serving.OUTPUT_NAME].numpy()
  return float(np.mean(labels == want))
