"""Writing exports: a SavedModel folder or an export file appears whole or
not at all, and replaces only what this project wrote before.

A SavedModel is written in a staging folder and swapped in
(`files.replace_folder`); a killed swap is rolled back by the next export
(`recover_export`). A frozen graph or ONNX file is written under a
temporary name and renamed (`replace_file`). A path that holds anything this
project did not write is never replaced.
"""
import os

import tensorflow as tf

from deeplab import files
from deeplab import rundir
from deeplab.export import serving

INFERENCE_GRAPH_TEXT = 'inference_graph.pbtxt'


# What a SavedModel export of this project holds (and may hold beside it):
# an existing folder is replaced only when it holds nothing else.
EXPORT_ENTRIES = frozenset([
    'saved_model.pb', 'variables', 'assets', 'fingerprint.pb',
    rundir.OPTIONS_FILE, rundir.DATASET_FILE, 'model.tflite',
    'model_int8.tflite', 'tflite_report.json'])


def is_export(path):
  """Whether the folder `path` is a SavedModel export this project wrote
  (`saved_model.pb`, `model_options.json`, and only what an export holds)."""
  if not os.path.isdir(path):
    return False
  names = set(os.listdir(path))
  return ({'saved_model.pb', rundir.OPTIONS_FILE} <= names and
          names <= EXPORT_ENTRIES)


def is_frozen_graph(path):
  """Whether the file `path` is a frozen inference graph of this project's
  (or the original's) contract: a GraphDef with ImageTensor and
  SemanticPredictions nodes."""
  try:
    graph_def = tf.compat.v1.GraphDef()
    with open(path, 'rb') as f:
      graph_def.ParseFromString(f.read())
  except Exception:  # pylint: disable=broad-except
    return False  # Anything unreadable as a GraphDef is not ours.
  names = {node.name for node in graph_def.node}
  return serving.INPUT_NAME in names and serving.OUTPUT_NAME in names


def _is_graph_text(path):
  try:
    with open(path, encoding='utf-8') as f:
      head = f.read(1 << 20)
  except (OSError, UnicodeDecodeError):
    return False
  return 'node {' in head and serving.INPUT_NAME in head


def recover_export(export_dir):
  """Repairs what a killed export left: a swap interrupted between its two
  renames is rolled back (the previous export returns to `export_dir`), and
  its leftovers are removed (`files.recover_folder`; only exports of ours).

  Returns:
    The folder restored to `export_dir`, or None.
  """
  return files.recover_folder(export_dir, is_export)


def replace_file(path, data, is_ours, flag='export_path'):
  """Writes `data` to `path` atomically, refusing to replace a file this
  project did not write."""
  if os.path.lexists(path) and not (os.path.isfile(path) and is_ours(path)):
    raise files.NotOursError(
        '--%s=%s exists and is not %s written by this project; it is left '
        'untouched. Choose a new path.' % (
            flag, path, 'a folder' if os.path.isdir(path) else 'a file'))
  return files.write_bytes(path, data)


def export_saved_model(module, export_dir, dataset=None):
  """Saves `module` as a SavedModel with the serving signature.

  Also writes `model_options.json` beside it, and `dataset.json` (the
  description of `dataset`, a `DatasetDescriptor`: classes, names, colours)
  when the checkpoint's run knew it. The folder appears complete or not at
  all.

  Returns:
    `export_dir`.
  """

  def write(path):
    tf.saved_model.save(module, path, signatures={
        'serving_default': module.serve.get_concrete_function(),
        serving.PROBABILITIES_SIGNATURE:
            module.serve_with_probabilities.get_concrete_function(),
        serving.TILED_SIGNATURE: module.serve_tiled.get_concrete_function()})
    rundir.write_options(path, module.options)
    if dataset is not None:
      rundir.write_dataset(path, dataset)

  return files.replace_folder(export_dir, write, is_export, 'export_path')


def export_frozen_graph(module, path, save_inference_graph=False):
  """Writes the frozen GraphDef (atomically) and, when asked, its text form
  `inference_graph.pbtxt` beside it, as the original.

  Returns:
    `path`.
  """
  text_path = os.path.join(os.path.dirname(os.path.abspath(path)),
                           INFERENCE_GRAPH_TEXT)
  for target, is_ours in ((path, is_frozen_graph),
                          (text_path if save_inference_graph else None,
                           _is_graph_text)):
    if target and os.path.lexists(target) and not (
        os.path.isfile(target) and is_ours(target)):
      raise files.NotOursError(
          '%s exists and is not a frozen inference graph written by this '
          'project; it is left untouched. Choose another --export_path.'
          % target)
  graph_def = module.frozen_graph_def()
  replace_file(path, graph_def.SerializeToString(), is_frozen_graph)
  if save_inference_graph:
    files.write_atomically(text_path, lambda tmp: tf.io.write_graph(
        graph_def, os.path.dirname(tmp), os.path.basename(tmp),
        as_text=True))
  return path


def folder_size(path):
  """Bytes of every file under `path`."""
  return sum(os.path.getsize(os.path.join(root, name))
             for root, _, names in os.walk(path) for name in names)
