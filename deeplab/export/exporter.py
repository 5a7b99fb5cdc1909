"""The export job: the original's export_model.py, and the formats beyond it.

`run(config, options)` writes what `--export_path` names: a SavedModel
folder (with TFLite files when asked), the original's frozen graph (a .pb
path) or an ONNX model (a .onnx path, with its int8 twin when asked), after
checking that the path holds nothing this project did not write.
"""
import os

import numpy as np

from deeplab import files
from deeplab import rundir
from deeplab.export import folders
from deeplab.export import onnx as onnx_lib
from deeplab.export import serving
from deeplab.export import tflite


def _dataset_line(dataset, export_path):
  """What the export says of its classes (`dataset.json` beside it)."""
  if dataset is None:
    return ('classes: by id only (the checkpoint brings no dataset '
            'description: no dataset.json in %s)' % export_path)
  names = dataset.class_names or []
  shown = ', '.join(names[:6]) + (', ...' if len(names) > 6 else '')
  return 'dataset: %s, %d classes%s (%s)' % (
      dataset.name, dataset.num_classes, ' (%s)' % shown if shown else '',
      os.path.join(export_path, rundir.DATASET_FILE))


def run(config, options):
  """The original's export_model.py: a SavedModel folder, or the frozen
  graph when `export_path` ends in .pb; TFLite files when asked.

  Returns:
    Lines describing what was written.
  """
  config.validate()
  # Every input is read before anything is written: the representative
  # images of an int8 model (a missing or empty folder, an unreadable image).
  calibration = None
  if 'int8' in (config.onnx_quantize, config.tflite_quantize):
    calibration = onnx_lib.calibration_images(config)
  if config.tflite or config.tflite_quantize != 'none':
    tflite.litert()  # A missing extra, before anything is written.
  # Before anything is built: a path holding what this project did not
  # write is never replaced.
  restored = None
  if not (config.frozen_graph or config.onnx):
    restored = folders.recover_export(config.export_path)
    files.check_replaceable(config.export_path, folders.is_export,
                            'export_path')
  else:
    kind, is_ours = (
        ('an ONNX model', onnx_lib.is_onnx_export) if config.onnx else
        ('a frozen inference graph', folders.is_frozen_graph))
    if os.path.lexists(config.export_path) and not (
        os.path.isfile(config.export_path) and is_ours(config.export_path)):
      raise files.NotOursError(
          '--export_path=%s exists and is not %s written by this project; '
          'it is left untouched. Choose a new path.'
          % (config.export_path, kind))
  if config.onnx:
    onnx_lib.onnx_packages()  # Before building: a missing extra, at once.
    # Converters have no bitwise ops: labels from the full upsampling.
    module = serving.DeepLabServing(options, config.checkpoint_path,
                                    config.crop_size, config.resize,
                            config.inference.replace(argmax_shortcut=False))
    int8_path = onnx_lib.int8_onnx_path(config.export_path)
    if config.onnx_quantize == 'int8' and os.path.lexists(int8_path) and not (
        os.path.isfile(int8_path) and onnx_lib.is_onnx_export(int8_path)):
      raise files.NotOursError(
          '%s exists and is not an ONNX model written by this project; it '
          'is left untouched. Choose another --export_path.' % int8_path)
    onnx_lib.export_onnx(module, config.export_path, config.onnx_probabilities,
                         rundir.description_of(config.checkpoint_path))
    check = np.random.RandomState(0).randint(0, 256, (2, 71, 93, 3)).astype(
        np.uint8)
    agreement = onnx_lib.onnx_agreement(config.export_path, module, check)
    lines = [
        'ONNX: %s (%.1f MB, opset %d): %s uint8 [batch, height, width, 3] -> '
        '%s int32 [batch, height, width]%s' % (
            config.export_path, os.path.getsize(config.export_path) / 1e6,
            onnx_lib.ONNX_OPSET, serving.INPUT_NAME, serving.OUTPUT_NAME,
            ', %s float32' % serving.PROBABILITIES_NAME
            if config.onnx_probabilities else ''),
        '  labels of ONNX Runtime equal TensorFlow\'s on %.2f%% of the '
        'pixels of two random 71x93 images' % (100 * agreement)]
    if config.onnx_quantize == 'int8':
      images = calibration
      onnx_lib.quantize_onnx(config.export_path, int8_path, images)
      agree = onnx_lib.onnx_label_agreement(config.export_path, int8_path,
                                            images)
      lines.append('ONNX int8: %s (%.1f MB); labels equal the float ONNX '
                   'model\'s on %.2f%% of the pixels of the %d '
                   'representative images' % (
                       int8_path, os.path.getsize(int8_path) / 1e6,
                       100 * agree, len(images)))
    return lines
  module = serving.DeepLabServing.from_config(config, options)
  if config.frozen_graph:
    folders.export_frozen_graph(module, config.export_path,
                                config.save_inference_graph)
    return ['Frozen graph: %s (%.1f MB); %s:0 uint8 [1, height, width, 3] -> '
            '%s:0 int32 [1, height, width]' % (
                config.export_path, os.path.getsize(config.export_path) / 1e6,
                serving.INPUT_NAME, serving.OUTPUT_NAME)]
  dataset = rundir.description_of(config.checkpoint_path)
  folders.export_saved_model(module, config.export_path, dataset)
  lines = ['An earlier export to %s was interrupted mid-swap: its previous '
           'export was restored from %s, then replaced.' % (
               config.export_path, restored)] if restored else []
  lines += [
      'SavedModel: %s (%.1f MB), its signatures:' % (
          config.export_path, folders.folder_size(config.export_path) / 1e6),
      '  serving_default: %s uint8 [batch, height, width, 3] -> %s' % (
          serving.INPUT_NAME, serving.OUTPUT_NAME),
      '  %s: -> %s, %s' % (serving.PROBABILITIES_SIGNATURE,
                           serving.OUTPUT_NAME, serving.PROBABILITIES_NAME),
      '  %s: one image [1, height, width, 3] in %dx%d tiles overlapping by '
      '%dx%d (%s) -> %s' % (
          serving.TILED_SIGNATURE, module.tile_size[0], module.tile_size[1],
          module.tile_overlap_pixels[0], module.tile_overlap_pixels[1],
          module.tile_pooling, serving.OUTPUT_NAME)]
  lines.append(_dataset_line(dataset, config.export_path))
  if config.tflite or config.tflite_quantize != 'none':
    for name, entry in tflite.export_tflite(config, options).items():
      lines.append('%s: %.1f MB%s' % (
          os.path.join(config.export_path, name), entry['bytes'] / 1e6,
          ', labels agree with the float model on %.2f%% of pixels'
          % (100 * entry['label_agreement'])
          if 'label_agreement' in entry else ''))
  return lines
