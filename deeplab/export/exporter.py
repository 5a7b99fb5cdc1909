"""The export job: the original's export_model.py, and the formats beyond it.

`run(config, options)` writes what `--export_path` names: a SavedModel
folder (with TFLite files when asked), the original's frozen graph (a .pb
path), an ONNX model (a .onnx path, with its int8 twin when asked; every
shape static with `--onnx_input_size`) or an OpenVINO model (a .xml path
and its .bin), after checking that the path holds nothing this project did
not write.
"""
import os

import numpy as np

from deeplab import files
from deeplab import imageio
from deeplab import rundir
from deeplab.core import folding
from deeplab.export import folders
from deeplab.export import onnx as onnx_lib
from deeplab.export import openvino as openvino_lib
from deeplab.export import serving
from deeplab.export import tflite


def _dataset_line(dataset, export_path, where=None):
  """What the export says of its classes (`where`: `dataset.json` in the
  export folder by default)."""
  where = where or os.path.join(export_path, rundir.DATASET_FILE)
  if dataset is None:
    return ('classes: by id only (the checkpoint brings no dataset '
            'description: none in %s)' % where)
  names = dataset.class_names or []
  shown = ', '.join(names[:6]) + (', ...' if len(names) > 6 else '')
  return 'dataset: %s, %d classes%s (%s)' % (
      dataset.name, dataset.num_classes, ' (%s)' % shown if shown else '',
      where)


def run(config, options):
  """The original's export_model.py: a SavedModel folder, the frozen graph
  (.pb), an ONNX (.onnx) or OpenVINO (.xml) model; TFLite files when asked.

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
  if config.openvino:
    openvino_lib.openvino_package()  # A missing extra, before building.
    openvino_lib.check_replaceable(config.export_path)
  elif not (config.frozen_graph or config.onnx):
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
  if config.onnx or config.openvino:
    return _portable(config, options, calibration)
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


def _portable_module(config, options):
  """The serving module converters read: labels from the full upsampling
  (converters have no bitwise ops), dilated convs as one padded kernel
  (what ONNX Runtime and OpenVINO compile; `folding.choose_dilated_depthwise`).
  """
  return serving.DeepLabServing(
      options, config.checkpoint_path, config.crop_size, config.resize,
      config.inference.replace(argmax_shortcut=False,
                               dilated_depthwise='padded'))


def _reference_module(config, options, module):
  """The TensorFlow graph an export is checked against: `module` itself
  where this TensorFlow runs dilated kernels natively, else its
  space_to_batch twin (the same numbers)."""
  if folding.native_dilated_depthwise_supported():
    return module
  return serving.DeepLabServing(
      options, config.checkpoint_path, config.crop_size, config.resize,
      config.inference.replace(argmax_shortcut=False,
                               dilated_depthwise='space_to_batch'))


def _contract_line(kind, path, detail, config):
  size = config.onnx_input_size
  shape = ('1, %d, %d' % size) if size else 'batch, height, width'
  return '%s: %s (%s): %s uint8 [%s, 3] -> %s int32 [%s]%s' % (
      kind, path, detail, serving.INPUT_NAME, shape, serving.OUTPUT_NAME,
      shape, ', %s float32' % serving.PROBABILITIES_NAME
      if config.onnx_probabilities else '')


def _portable(config, options, calibration):
  """The ONNX (.onnx) or OpenVINO (.xml) export, checked against the
  TensorFlow graph on two random images. Returns its lines."""
  dataset = rundir.description_of(config.checkpoint_path)
  if config.onnx:
    onnx_lib.onnx_packages()  # Before building: a missing extra, at once.
    int8_path = onnx_lib.int8_onnx_path(config.export_path)
    if config.onnx_quantize == 'int8' and os.path.lexists(int8_path) and not (
        os.path.isfile(int8_path) and onnx_lib.is_onnx_export(int8_path)):
      raise files.NotOursError(
          '%s exists and is not an ONNX model written by this project; it '
          'is left untouched. Choose another --export_path.' % int8_path)
  module = _portable_module(config, options)
  size = config.onnx_input_size
  check = np.random.RandomState(0).randint(
      0, 256, (1,) + tuple(size) + (3,) if size else (2, 71, 93, 3)).astype(
          np.uint8)
  checked = '%s %dx%d' % ('one random' if size else 'two random',
                           check.shape[1], check.shape[2])
  reference = _reference_module(config, options, module)
  if config.openvino:
    openvino_lib.export_openvino(module, config.export_path,
                                 config.onnx_probabilities, dataset)
    agreement = openvino_lib.openvino_agreement(config.export_path,
                                                reference, check)
    size_mb = sum(os.path.getsize(p) for p in (
        config.export_path,
        openvino_lib.weights_path(config.export_path))) / 1e6
    return [
        _contract_line('OpenVINO', config.export_path,
                       '%.1f MB with %s' % (size_mb, os.path.basename(
                           openvino_lib.weights_path(config.export_path))),
                       config),
        '  labels of OpenVINO equal TensorFlow\'s on %.2f%% of the pixels of '
        '%s images' % (100 * agreement, checked),
        _dataset_line(dataset, config.export_path,
                      '%s, runtime information %s' % (
                          config.export_path, openvino_lib.OPENVINO_DATASET))]
  onnx_lib.export_onnx(module, config.export_path, config.onnx_probabilities,
                       dataset, size)
  agreement = onnx_lib.onnx_agreement(config.export_path, reference, check)
  lines = [
      _contract_line('ONNX', config.export_path, '%.1f MB, opset %d%s' % (
          os.path.getsize(config.export_path) / 1e6, onnx_lib.ONNX_OPSET,
          ', every shape static' if size else ''), config),
      '  labels of ONNX Runtime equal TensorFlow\'s on %.2f%% of the '
      'pixels of %s images' % (100 * agreement, checked)]
  if config.onnx_quantize == 'int8':
    images = calibration
    if size:
      images = [imageio.resize_image(image, size) for image in images]
    onnx_lib.quantize_onnx(config.export_path, int8_path, images)
    agree = onnx_lib.onnx_label_agreement(config.export_path, int8_path,
                                          images)
    lines.append('ONNX int8: %s (%.1f MB); labels equal the float ONNX '
                 'model\'s on %.2f%% of the pixels of the %d '
                 'representative images' % (
                     int8_path, os.path.getsize(int8_path) / 1e6,
                     100 * agree, len(images)))
  return lines
