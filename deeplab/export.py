"""SavedModel, frozen graph and TFLite export (the original's
export_model.py, and more).

The SavedModel's `serving_default` signature takes `ImageTensor`, a uint8
[batch, height, width, 3] tensor of any size, and returns
`SemanticPredictions` (int32 [batch, height, width], labels at the input
size); `serving_probabilities` also returns `SemanticProbabilities` (float32
[batch, height, width, classes]); `serving_tiled` takes one image
[1, height, width, 3] of any size and segments it in blended tiles of
`--tile_size` (default: the crop size) when it is larger than one, with
memory that follows the tile, not the image.
Inside, as the original: resize to range when asked, pad bottom/right with
the mean pixel to the crop size (or to the image when it is larger), the
evaluation graph (inference scales, flips), crop the valid region, and
resize back (labels nearest, probabilities bilinear, align corners): the
steps of `inference.segment`.

An `--export_path` ending in `.pb` gets the original's deliverable instead: a
frozen GraphDef (`frozen_inference_graph.pb`) with input `ImageTensor:0`
(uint8 [1, H, W, 3]) and output `SemanticPredictions:0` (int32 [1, H, W]),
which TF1-style code (the original's demo notebook) imports with
`tf.compat.v1.import_graph_def` and runs in a session.

TFLite models take float32 pixels [1, crop_h, crop_w, 3] already padded
(TFLite needs static shapes) and return labels and probabilities at that
size; `tflite_agreement` measures how often their labels match the float
Keras model. The int8 model is calibrated on representative images; a model
trained with `--quantize_delay_step` (quantization-aware training,
`core/quantize.py`) carries fake-quant ops whose learned ranges the converter
takes instead, calibrating only the tensors without one.
"""
import dataclasses
import json
import os
import tempfile
from typing import ClassVar, Dict, Optional, Tuple

import numpy as np
import tensorflow as tf
from absl import logging

from deeplab import checkpoints
from deeplab import common
from deeplab import files
from deeplab import inference
# The same module under a second name: `DeepLabServing.__init__` has an
# `inference` argument (its `InferenceOptions`).
from deeplab import inference as inference_lib
from deeplab import runtime
from deeplab import tiling
from deeplab.core import layers

INPUT_NAME = 'ImageTensor'
OUTPUT_NAME = 'SemanticPredictions'
PROBABILITIES_NAME = 'SemanticProbabilities'
PROBABILITIES_SIGNATURE = 'serving_probabilities'
TILED_SIGNATURE = 'serving_tiled'
FROZEN_GRAPH_SUFFIX = '.pb'
ONNX_SUFFIX = '.onnx'
# The ONNX opset written (ONNX Runtime 1.14 and later, TensorRT 8.6 and
# later, OpenVINO 2023 and later read it).
ONNX_OPSET = 17
# The metadata entry that marks an ONNX file as this project's (its model
# options, as JSON).
ONNX_MARK = 'deeplab.model_options'
INFERENCE_GRAPH_TEXT = 'inference_graph.pbtxt'


@dataclasses.dataclass
class ExportConfig:
  """The original export_model.py flags, plus TFLite."""
  checkpoint_path: Optional[str] = None
  export_path: Optional[str] = None
  num_classes: int = 21
  crop_size: Tuple[int, int] = (513, 513)
  save_inference_graph: bool = False
  # Beyond the original.
  tflite: bool = False
  tflite_quantize: str = 'none'
  onnx_probabilities: bool = False
  onnx_quantize: str = 'none'
  representative_images: Optional[str] = None
  num_representative_images: int = 16
  resize: common.ResizeOptions = dataclasses.field(
      default_factory=common.ResizeOptions)
  # The export runs on every TensorFlow build: 'auto' would bake in this
  # machine's native dilated kernel where it has one.
  inference: common.InferenceOptions = dataclasses.field(
      default_factory=lambda: common.InferenceOptions(
          dilated_depthwise='space_to_batch'))

  # The original's export names the scales --inference_scales.
  flag_aliases: ClassVar[Dict[str, str]] = {
      'inference.eval_scales': 'inference_scales'}

  def validate(self):
    if not self.checkpoint_path or not self.export_path:
      raise ValueError('--checkpoint_path and --export_path are required.')
    self.crop_size = common.parse_crop_size(self.crop_size, 'crop_size')
    if self.tflite_quantize not in ('none', 'int8'):
      raise ValueError('--tflite_quantize must be none or int8, got %r.'
                       % self.tflite_quantize)
    if self.tflite_quantize == 'int8' and not self.representative_images:
      raise ValueError('--tflite_quantize=int8 needs --representative_images '
                       '(an image folder or glob): they calibrate the '
                       'tensors without learned ranges, and measure the '
                       'agreement with the float model.')
    single_file = self.frozen_graph or self.onnx
    if single_file and (self.tflite or self.tflite_quantize != 'none'):
      raise ValueError('--tflite needs a folder as --export_path, not the '
                       'file %s.' % self.export_path)
    if self.onnx_quantize not in ('none', 'int8'):
      raise ValueError('--onnx_quantize must be none or int8, got %r.'
                       % self.onnx_quantize)
    if self.onnx_quantize == 'int8' and not self.onnx:
      raise ValueError('--onnx_quantize=int8 needs an --export_path ending '
                       'in %s.' % ONNX_SUFFIX)
    if self.onnx_quantize == 'int8' and not self.representative_images:
      raise ValueError('--onnx_quantize=int8 needs --representative_images '
                       '(an image folder or glob): they calibrate the '
                       'activations, and measure the agreement with the '
                       'float model.')
    if self.onnx_probabilities and not self.onnx:
      raise ValueError('--onnx_probabilities needs an --export_path ending '
                       'in %s.' % ONNX_SUFFIX)
    if self.onnx and self.inference.low_precision:
      raise ValueError('--export_path=%s: ONNX exports are float32 (add '
                       '--onnx_quantize=int8 for an int8 model beside it); '
                       '--inference_precision=%s is for TensorFlow graphs '
                       '(leave it out).' % (self.export_path,
                                            self.inference.inference_precision))
    return self

  @property
  def frozen_graph(self):
    """Whether the export is the original's frozen GraphDef (a .pb path)."""
    return self.export_path.endswith(FROZEN_GRAPH_SUFFIX)

  @property
  def onnx(self):
    """Whether the export is an ONNX model (a .onnx path)."""
    return self.export_path.endswith(ONNX_SUFFIX)


def checked_images(images):
  """`images` if they are [batch >= 1, height >= 1, width >= 1, 3], else an
  InvalidArgumentError saying what the input should be and what it is."""
  expected = ('%s must be uint8 [batch, height, width, 3] RGB images with a '
              'batch of at least one; got shape' % INPUT_NAME)
  shape = tf.shape(images)
  # Padded to four entries so that no slice can fail before the check says
  # what is wrong (one Assert: graph optimisations may reorder others).
  first4 = tf.concat([shape, tf.zeros([4], tf.int32)], 0)[:4]
  valid = tf.logical_and(
      tf.equal(tf.size(shape), 4),
      tf.logical_and(tf.equal(first4[3], 3), tf.reduce_all(first4[:3] > 0)))
  checked = tf.debugging.Assert(valid, [expected, shape], name='check_shape')
  with tf.control_dependencies([checked]):
    return tf.ensure_shape(tf.identity(images), [None, None, None, 3])


class DeepLabServing(tf.Module):
  """A tf.Module with the serving function (weights included).

  With `fold_batch_norm` (the default) the exported graph is the folded one
  (`core/folding.py`); `dilated_depthwise` defaults to 'space_to_batch' so
  that the SavedModel runs on any TensorFlow build.
  """

  def __init__(self, options, checkpoint, crop_size=None, resize=None,
               inference=None):
    super().__init__(name='deeplab')
    inference = inference or ExportConfig().inference
    # Any input size: the crop only sets the minimum padded size. Only the
    # model that runs is an attribute: the SavedModel holds one set of
    # weights.
    self.model, self.report = runtime.load(options.replace(crop_size=None),
                                           checkpoint, inference)
    self.crop_size = tuple(crop_size) if crop_size else None
    self.resize = resize or common.ResizeOptions()
    self.options = options
    # serving_tiled cuts images larger than a tile (--tile_size, else the
    # crop) into blended tiles.
    tiles = inference.replace(tile_size=inference.tile_size or
                              tiling.default_tile_size(options,
                                                       self.crop_size))
    tiling.check(options, tiles)
    self.tile_size = tiles.tile_size
    self.tile_overlap = tiles.tile_overlap_pixels(options.output_stride)
    self.tile_batch_size = tiles.tile_batch_size
    # Shares the model's weights (its first pass gives the tiles the whole
    # image's image-level feature with --tile_image_pooling=image).
    self._tile_runner = inference_lib.TileRunner(self.model)
    self.tile_pooling = (
        'two passes: the whole image\'s image pooling'
        if self._tile_runner.runs_per_tile == 2 else 'one pass')

  @classmethod
  def from_config(cls, config, options):
    return cls(options, config.checkpoint_path, config.crop_size,
               config.resize, config.inference)

  def _segment(self, images, probabilities):
    return inference.segment(self.model, images, self.options.model_variant,
                             self.crop_size, self.resize, probabilities)

  # Any shape is accepted at the signature so that a wrong one meets the
  # checks of `checked_images`, which say what is wrong, instead of
  # TensorFlow's shape-matching errors.
  @tf.function(input_signature=[
      tf.TensorSpec(None, tf.uint8, name=INPUT_NAME)])
  def serve(self, images):
    """uint8 images -> {SemanticPredictions}: labels only, so serving runs
    what in-process prediction runs (no softmax at full resolution)."""
    out = self._segment(checked_images(images), probabilities=False)
    return {OUTPUT_NAME: tf.identity(out['predictions'], name=OUTPUT_NAME)}

  @tf.function(input_signature=[
      tf.TensorSpec(None, tf.uint8, name=INPUT_NAME)])
  def serve_with_probabilities(self, images):
    """uint8 images -> {SemanticPredictions, SemanticProbabilities}."""
    out = self._segment(checked_images(images), probabilities=True)
    return {OUTPUT_NAME: tf.identity(out['predictions'], name=OUTPUT_NAME),
            PROBABILITIES_NAME: tf.identity(out['probabilities'],
                                            name=PROBABILITIES_NAME)}

  @tf.function(input_signature=[
      tf.TensorSpec(None, tf.uint8, name=INPUT_NAME)])
  def serve_tiled(self, images):
    """One uint8 image [1, H, W, 3] of any size -> {SemanticPredictions}
    int32 [1, H, W], segmented in blended tiles when larger than a tile
    (memory follows the tile, `deeplab/tiling.py`), else whole."""
    images = checked_images(images)
    with tf.control_dependencies([tf.debugging.assert_equal(
        tf.shape(images)[0], 1, message='%s takes one image at a time, '
        '[1, height, width, 3]' % TILED_SIGNATURE)]):
      images = tf.identity(images)
    size = tf.shape(images)[1:3]
    # Without resizing the tiles take the uint8 image as it is: a float copy
    # would be four times its size.
    resized = inference.resize_images_to_range(
        images, *self.resize.as_tuple()) if self.resize.active else images
    resized_size = tf.shape(resized)[1:3]
    fits = tf.reduce_all(resized_size <= tf.constant(self.tile_size))

    def whole():
      return self._segment(images, probabilities=False)['predictions'][0]

    def tiled():
      labels = self._tile_runner.segment(resized[0], self.tile_size,
                                         self.tile_overlap)
      labels = tf.cast(labels, tf.int32)
      if self.resize.active:
        labels = inference.resize_nearest(labels[None], size)[0]
      return labels

    labels = tf.cond(fits, whole, tiled)
    return {OUTPUT_NAME: tf.identity(labels[None], name=OUTPUT_NAME)}

  def frozen_graph_def(self):
    """The original's frozen inference graph: ImageTensor:0 uint8
    [1, H, W, 3] -> SemanticPredictions:0 int32 [1, H, W], weights as
    constants."""

    @tf.function(input_signature=[
        tf.TensorSpec([1, None, None, 3], tf.uint8, name=INPUT_NAME)])
    def labels_only(images):
      labels = self._segment(images, probabilities=False)['predictions']
      return tf.identity(labels, name=OUTPUT_NAME)

    from tensorflow.python.framework import convert_to_constants  # pylint: disable=g-import-not-at-top,g-direct-tensorflow-import
    frozen = convert_to_constants.convert_variables_to_constants_v2(
        labels_only.get_concrete_function())
    return frozen.graph.as_graph_def()


# What a SavedModel export of this project holds (and may hold beside it):
# an existing folder is replaced only when it holds nothing else.
EXPORT_ENTRIES = frozenset([
    'saved_model.pb', 'variables', 'assets', 'fingerprint.pb',
    checkpoints.OPTIONS_FILE, 'model.tflite', 'model_int8.tflite',
    'tflite_report.json'])


def is_export(path):
  """Whether the folder `path` is a SavedModel export this project wrote
  (`saved_model.pb`, `model_options.json`, and only what an export holds)."""
  if not os.path.isdir(path):
    return False
  names = set(os.listdir(path))
  return ({'saved_model.pb', checkpoints.OPTIONS_FILE} <= names and
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
  return INPUT_NAME in names and OUTPUT_NAME in names


def _is_graph_text(path):
  try:
    with open(path, encoding='utf-8') as f:
      head = f.read(1 << 20)
  except (OSError, UnicodeDecodeError):
    return False
  return 'node {' in head and INPUT_NAME in head


def recover_export(export_dir):
  """Repairs what a killed export left: a swap interrupted between its two
  renames is rolled back (the previous export returns to `export_dir`), and
  its leftovers are removed (`files.recover_folder`; only exports of ours).

  Returns:
    The folder restored to `export_dir`, or None.
  """
  restored = files.recover_folder(export_dir, is_export)
  if restored:
    logging.warning('Restored the previous export %s from %s (an export was '
                    'interrupted mid-swap).', export_dir, restored)
  return restored


def replace_file(path, data, is_ours, flag='export_path'):
  """Writes `data` to `path` atomically, refusing to replace a file this
  project did not write."""
  if os.path.lexists(path) and not (os.path.isfile(path) and is_ours(path)):
    raise files.NotOursError(
        '--%s=%s exists and is not %s written by this project; it is left '
        'untouched. Choose a new path.' % (
            flag, path, 'a folder' if os.path.isdir(path) else 'a file'))
  return files.write_bytes(path, data)


def export_saved_model(module, export_dir):
  """Saves `module` as a SavedModel with the serving signature.

  Also writes `model_options.json` beside it. The folder appears complete or
  not at all.

  Returns:
    `export_dir`.
  """

  def write(path):
    tf.saved_model.save(module, path, signatures={
        'serving_default': module.serve.get_concrete_function(),
        PROBABILITIES_SIGNATURE:
            module.serve_with_probabilities.get_concrete_function(),
        TILED_SIGNATURE: module.serve_tiled.get_concrete_function()})
    files.write_json(os.path.join(path, checkpoints.OPTIONS_FILE),
                     module.options.to_dict(), indent=2, sort_keys=True)

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


class MissingExtraError(ImportError):
  """An optional dependency of an export format is not installed."""


def _onnx_packages():
  """(onnx, tf2onnx), or MissingExtraError saying how to install them."""
  try:
    import onnx  # pylint: disable=g-import-not-at-top
    import tf2onnx  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise MissingExtraError(
        'ONNX export needs the optional packages of the onnx extra: pip '
        'install -e ".[onnx]" (tf2onnx, onnx, onnxruntime); %s.' % e) from None
  import logging as std_logging  # pylint: disable=g-import-not-at-top
  # tf2onnx logs every graph rewrite at INFO.
  std_logging.getLogger('tf2onnx').setLevel(std_logging.WARNING)
  return onnx, tf2onnx


def onnx_model(module, probabilities=False):
  """The serving contract of `module` as an ONNX ModelProto (checked).

  `ImageTensor` uint8 [batch, height, width, 3] of any size in,
  `SemanticPredictions` int32 [batch, height, width] out (and
  `SemanticProbabilities` float32 [batch, height, width, classes] with
  `probabilities`): resize to range, padding, the inference graph (scales,
  flips), cropping and resizing back inside, as `serving_default`.
  `module`'s model must be built without the argmax shortcut (converters
  have no bitwise ops; `run` builds it so).
  """
  onnx, tf2onnx = _onnx_packages()
  if any(isinstance(layer, layers.UpsampledArgmax)
         for layer in module.model.layers):
    raise ValueError('ONNX export needs a model built with '
                     'argmax_shortcut=False.')
  spec = [tf.TensorSpec([None, None, None, 3], tf.uint8, name=INPUT_NAME)]

  @tf.function(input_signature=spec)
  def serve(images):
    out = module._segment(images, probabilities)  # pylint: disable=protected-access
    result = {OUTPUT_NAME: tf.identity(out['predictions'], name=OUTPUT_NAME)}
    if probabilities:
      result[PROBABILITIES_NAME] = tf.identity(out['probabilities'],
                                               name=PROBABILITIES_NAME)
    return result

  proto, _ = tf2onnx.convert.from_function(serve, input_signature=spec,
                                           opset=ONNX_OPSET)
  entry = proto.metadata_props.add()
  entry.key, entry.value = ONNX_MARK, json.dumps(module.options.to_dict(),
                                                 sort_keys=True)
  onnx.checker.check_model(proto)
  return proto


def is_onnx_export(path):
  """Whether the file `path` is an ONNX model this project wrote."""
  try:
    import onnx  # pylint: disable=g-import-not-at-top
    proto = onnx.load(path, load_external_data=False)
  except Exception:  # pylint: disable=broad-except
    return False  # Anything unreadable as ONNX (or no onnx) is not ours.
  return any(p.key == ONNX_MARK for p in proto.metadata_props)


def export_onnx(module, path, probabilities=False):
  """Writes the ONNX model of `module` (atomically; a file this project
  did not write is never replaced). Returns `path`."""
  proto = onnx_model(module, probabilities)
  return replace_file(path, proto.SerializeToString(), is_onnx_export)


def int8_onnx_path(path):
  """Where `--onnx_quantize=int8` writes beside `path` (x.onnx ->
  x_int8.onnx)."""
  return path[:-len(ONNX_SUFFIX)] + '_int8' + ONNX_SUFFIX


def quantize_onnx(float_path, path, images):
  """Writes the int8 ONNX model of the float export `float_path` to `path`.

  ONNX Runtime's static quantization in QDQ form: the weights of the
  convolutions and of the 1x1 convolutions the folded graph runs as
  matmuls int8 per output channel, activations uint8 per tensor with ranges
  calibrated (min/max) on `images`; the preprocessing, resizes and the
  argmax stay float. Written atomically; a file this project did not write is never
  replaced.

  Args:
    float_path: The float32 export (`export_onnx`).
    path: Where to write.
    images: uint8 images, each [height, width, 3] (any sizes).

  Returns:
    `path`.
  """
  onnx, _ = _onnx_packages()
  try:
    from onnxruntime import quantization  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise MissingExtraError(
        'ONNX quantization needs onnxruntime: pip install -e ".[onnx]"; %s.'
        % e) from None

  class _Images(quantization.CalibrationDataReader):

    def __init__(self):
      self.feeds = iter([{INPUT_NAME: image[None]} for image in images])

    def get_next(self):
      return next(self.feeds, None)

  if not len(images):
    raise ValueError('int8 quantisation needs representative images.')
  with tempfile.TemporaryDirectory() as tmp:
    quantized = os.path.join(tmp, 'int8.onnx')
    quantization.quantize_static(
        float_path, quantized, _Images(),
        quant_format=quantization.QuantFormat.QDQ,
        op_types_to_quantize=['Conv', 'MatMul'], per_channel=True,
        activation_type=quantization.QuantType.QUInt8,
        weight_type=quantization.QuantType.QInt8,
        calibrate_method=quantization.CalibrationMethod.MinMax)
    proto = onnx.load(quantized)
  if not any(p.key == ONNX_MARK for p in proto.metadata_props):
    source = onnx.load(float_path, load_external_data=False)
    for entry in source.metadata_props:
      proto.metadata_props.add().CopyFrom(entry)
  return replace_file(path, proto.SerializeToString(), is_onnx_export)


def onnx_session(path, threads=None):
  """An ONNX Runtime session (CPU) of an exported model."""
  try:
    import onnxruntime  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise MissingExtraError(
        'Running ONNX models needs onnxruntime: pip install -e ".[onnx]"; '
        '%s.' % e) from None
  options = onnxruntime.SessionOptions()
  if threads:
    options.intra_op_num_threads = threads
  return onnxruntime.InferenceSession(path, options,
                                      providers=['CPUExecutionProvider'])


def onnx_agreement(path, module, images):
  """Share of pixels whose ONNX Runtime label equals the TensorFlow
  serving graph's, on uint8 `images` [batch, height, width, 3]."""
  labels = onnx_session(path).run([OUTPUT_NAME], {INPUT_NAME: images})[0]
  want = module.serve(tf.constant(images))[OUTPUT_NAME].numpy()
  return float(np.mean(labels == want))


def folder_size(path):
  return sum(os.path.getsize(os.path.join(root, f))
             for root, _, files in os.walk(path) for f in files)


def tflite_model(options, checkpoint, crop_size, inference=None):
  """The fixed-size inference model for TFLite, weights loaded (unfolded,
  float32: the converter folds and quantizes itself)."""
  inference = (inference or common.InferenceOptions()).replace(
      fold_batch_norm=False, inference_precision='float32')
  model, _ = runtime.load(options.replace(crop_size=tuple(crop_size)),
                          checkpoint, inference)
  return model


def convert_tflite(model, quantize=None, representative_images=None):
  """Converts a fixed-size inference model to TFLite bytes.

  Args:
    model: From `tflite_model`.
    quantize: None (float32) or 'int8' (weights per output channel,
      activations per tensor, calibrated on `representative_images` except
      where the model's fake-quant ops give learned ranges; the input stays
      float pixels).
    representative_images: float32 [N, H, W, 3] padded images for 'int8'.
  """
  model = runtime.without_argmax_shortcut(model)
  shape = model.inputs[0].shape

  @tf.function(input_signature=[tf.TensorSpec([1] + list(shape[1:]),
                                               tf.float32, name='images')])
  def infer(images):
    outputs = model(images, training=False)
    return {'predictions': outputs['predictions'],
            'probabilities': outputs['probabilities']}

  # Freeze the weights into constants first: converting the function with
  # live Keras variables leaves READ_VARIABLE ops without values.
  from tensorflow.python.framework import convert_to_constants  # pylint: disable=g-import-not-at-top,g-direct-tensorflow-import
  frozen = convert_to_constants.convert_variables_to_constants_v2(
      infer.get_concrete_function())
  converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
  if quantize == 'int8':
    if representative_images is None or not len(representative_images):
      raise ValueError('int8 quantisation needs representative images.')

    def representative():
      for image in representative_images:
        yield [np.asarray(image, np.float32)[None]]

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
  elif quantize is not None:
    raise ValueError('--tflite_quantize must be none or int8, got %r.'
                     % quantize)
  return converter.convert()


def run_tflite(tflite_bytes, images):
  """Labels [N, H, W] of a TFLite model for padded float images."""
  interpreter = tf.lite.Interpreter(model_content=tflite_bytes)
  interpreter.allocate_tensors()
  source = interpreter.get_input_details()[0]['index']
  # The int32 output is the labels (the other one the probabilities).
  labels = next(d['index'] for d in interpreter.get_output_details()
                if d['dtype'] == np.int32)
  out = []
  for image in images:
    interpreter.set_tensor(source, np.asarray(image, np.float32)[None])
    interpreter.invoke()
    out.append(interpreter.get_tensor(labels)[0])
  return np.stack(out)


def quantization_kind(options):
  """'qat' when the model has learned quantization ranges, else 'ptq'."""
  return 'qat' if options.quantize_delay_step >= 0 else 'ptq'


def tflite_agreement(tflite_bytes, model, images):
  """Share of pixels whose TFLite label equals the float Keras model's."""
  reference = np.stack([model(np.asarray(image, np.float32)[None],
                              training=False)['predictions'][0].numpy()
                        for image in images])
  return float(np.mean(run_tflite(tflite_bytes, images) == reference))


def _representative_images(config, options):
  """Padded float images for int8 calibration and the agreement report."""
  images = []
  for path in inference.list_images(config.representative_images,
                                    '--representative_images')[
                                        :config.num_representative_images]:
    image = inference.read_image(path)[:config.crop_size[0],
                                       :config.crop_size[1]]
    images.append(inference.pad_to_crop(image.astype(np.float32),
                                        config.crop_size,
                                        options.model_variant))
  return np.stack(images)


def _calibration_images(config):
  """uint8 representative images (at most the crop), for ONNX int8."""
  return [inference.read_image(path)[:config.crop_size[0],
                                     :config.crop_size[1]]
          for path in inference.list_images(
              config.representative_images, '--representative_images')[
                  :config.num_representative_images]]


def onnx_label_agreement(float_path, int8_path, images):
  """Share of pixels whose int8 ONNX label equals the float one's."""
  sessions = [onnx_session(p) for p in (float_path, int8_path)]
  equal = total = 0
  for image in images:
    a, b = (s.run([OUTPUT_NAME], {INPUT_NAME: image[None]})[0]
            for s in sessions)
    equal += int(np.sum(a == b))
    total += a.size
  return equal / max(total, 1)


def export_tflite(config, options):
  """model.tflite (and model_int8.tflite) beside the SavedModel, with
  `tflite_report.json` (sizes; label agreement with the float model on the
  representative images).

  Returns:
    The report: file name -> {'bytes', 'label_agreement'?}.
  """
  model = tflite_model(options, config.checkpoint_path, config.crop_size,
                       config.inference)
  images = (_representative_images(config, options)
            if config.representative_images else None)
  variants = [('model.tflite', None)]
  if config.tflite_quantize == 'int8':
    variants.append(('model_int8.tflite', 'int8'))
  report = {}
  for name, quantize in variants:
    data = convert_tflite(model, quantize, images)
    files.write_bytes(os.path.join(config.export_path, name), data)
    entry = {'bytes': len(data)}
    if quantize:
      entry['quantization'] = quantization_kind(options)
    if images is not None:
      entry['label_agreement'] = tflite_agreement(data, model, images)
    report[name] = entry
  files.write_json(os.path.join(config.export_path, 'tflite_report.json'),
                   report, indent=2)
  return report


def run(config, options):
  """The original's export_model.py: a SavedModel folder, or the frozen
  graph when `export_path` ends in .pb; TFLite files when asked.

  Returns:
    Lines describing what was written.
  """
  config.validate()
  # Before anything is built: a path holding what this project did not
  # write is never replaced.
  if not (config.frozen_graph or config.onnx):
    files.recover_folder(config.export_path, is_export)
    files.check_replaceable(config.export_path, is_export, 'export_path')
  else:
    kind, is_ours = (('an ONNX model', is_onnx_export) if config.onnx else
                     ('a frozen inference graph', is_frozen_graph))
    if os.path.lexists(config.export_path) and not (
        os.path.isfile(config.export_path) and is_ours(config.export_path)):
      raise files.NotOursError(
          '--export_path=%s exists and is not %s written by this project; '
          'it is left untouched. Choose a new path.'
          % (config.export_path, kind))
  if config.onnx:
    _onnx_packages()  # Before building: a missing extra is said at once.
    # Converters have no bitwise ops: labels from the full upsampling.
    module = DeepLabServing(options, config.checkpoint_path,
                            config.crop_size, config.resize,
                            config.inference.replace(argmax_shortcut=False))
    int8_path = int8_onnx_path(config.export_path)
    if config.onnx_quantize == 'int8' and os.path.lexists(int8_path) and not (
        os.path.isfile(int8_path) and is_onnx_export(int8_path)):
      raise files.NotOursError(
          '%s exists and is not an ONNX model written by this project; it '
          'is left untouched. Choose another --export_path.' % int8_path)
    export_onnx(module, config.export_path, config.onnx_probabilities)
    check = np.random.RandomState(0).randint(0, 256, (2, 71, 93, 3)).astype(
        np.uint8)
    agreement = onnx_agreement(config.export_path, module, check)
    lines = ['ONNX: %s (%.1f MB, opset %d); %s uint8 [batch, height, width, '
             '3] -> %s int32 [batch, height, width]%s; labels of ONNX Runtime '
             'equal TensorFlow\'s on %.2f%% of the pixels of two random '
             '71x93 images' % (
                 config.export_path,
                 os.path.getsize(config.export_path) / 1e6, ONNX_OPSET,
                 INPUT_NAME, OUTPUT_NAME, ', %s float32' % PROBABILITIES_NAME
                 if config.onnx_probabilities else '', 100 * agreement)]
    if config.onnx_quantize == 'int8':
      images = _calibration_images(config)
      quantize_onnx(config.export_path, int8_path, images)
      agree = onnx_label_agreement(config.export_path, int8_path, images)
      lines.append('ONNX int8: %s (%.1f MB); labels equal the float ONNX '
                   'model\'s on %.2f%% of the pixels of the %d '
                   'representative images' % (
                       int8_path, os.path.getsize(int8_path) / 1e6,
                       100 * agree, len(images)))
    return lines
  module = DeepLabServing.from_config(config, options)
  if config.frozen_graph:
    export_frozen_graph(module, config.export_path,
                        config.save_inference_graph)
    return ['Frozen graph: %s (%.1f MB); %s:0 uint8 [1, height, width, 3] -> '
            '%s:0 int32 [1, height, width]' % (
                config.export_path, os.path.getsize(config.export_path) / 1e6,
                INPUT_NAME, OUTPUT_NAME)]
  export_saved_model(module, config.export_path)
  lines = ['SavedModel: %s (%.1f MB); signatures serving_default: %s uint8 '
           '[batch, height, width, 3] -> %s; %s: -> %s, %s; %s: one image '
           '[1, height, width, 3] in %dx%d tiles overlapping by %dx%d (%s) '
           '-> %s'
           % (config.export_path, folder_size(config.export_path) / 1e6,
              INPUT_NAME, OUTPUT_NAME, PROBABILITIES_SIGNATURE, OUTPUT_NAME,
              PROBABILITIES_NAME, TILED_SIGNATURE,
              module.tile_size[0], module.tile_size[1],
              module.tile_overlap[0], module.tile_overlap[1],
              module.tile_pooling, OUTPUT_NAME)]
  if config.tflite or config.tflite_quantize != 'none':
    for name, entry in export_tflite(config, options).items():
      lines.append('%s: %.1f MB%s' % (
          os.path.join(config.export_path, name), entry['bytes'] / 1e6,
          ', labels agree with the float model on %.2f%% of pixels'
          % (100 * entry['label_agreement'])
          if 'label_agreement' in entry else ''))
  logging.info('%s', '\n'.join(lines))
  return lines
