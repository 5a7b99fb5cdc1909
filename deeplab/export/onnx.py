"""ONNX export: the serving contract as an ONNX model, and its int8 twin.

`export_onnx` converts `serving_default` (resize, padding, the inference
graph, cropping and resizing back inside; `ImageTensor` uint8 of any size in,
`SemanticPredictions` int32 out) with tf2onnx; `quantize_onnx` writes the
int8 model ONNX Runtime's static quantization makes of it, calibrated on
representative images. Both files carry this project's mark (the model
options in their metadata), so only files this project wrote are replaced.
The packages come with the `onnx` extra (`pip install -e ".[onnx]"`).
"""
import json
import os
import tempfile

import numpy as np
import tensorflow as tf

from deeplab import errors
from deeplab import configs
from deeplab import imageio
from deeplab.core import layers
from deeplab.export import folders
from deeplab.export import serving

# The ONNX opset written (ONNX Runtime 1.14 and later, TensorRT 8.6 and
# later, OpenVINO 2023 and later read it).
ONNX_OPSET = 17
# The metadata entry that marks an ONNX file as this project's (its model
# options, as JSON).
ONNX_MARK = 'deeplab.model_options'
# The metadata entry with the dataset's description (classes, names,
# colours), where the checkpoint's run knew it.
ONNX_DATASET = 'deeplab.dataset'


MissingExtraError = errors.MissingExtraError


def onnx_packages():
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


def onnx_model(module, probabilities=False, dataset=None, input_size=None):
  """The serving contract of `module` as an ONNX ModelProto (checked).

  `ImageTensor` uint8 [batch, height, width, 3] of any size in,
  `SemanticPredictions` int32 [batch, height, width] out (and
  `SemanticProbabilities` float32 [batch, height, width, classes] with
  `probabilities`): resize to range, padding, the inference graph (scales,
  flips), cropping and resizing back inside, as `serving_default`.
  With `input_size` (height, width) the input is [1, height, width, 3] and
  every tensor's shape is static (TensorRT engines, edge compilers).
  `dataset` (a `DatasetDescriptor`) goes into the metadata (`ONNX_DATASET`).
  `module`'s model must be built without the argmax shortcut (converters
  have no bitwise ops; `run` builds it so).
  """
  onnx, tf2onnx = onnx_packages()
  if any(isinstance(layer, layers.UpsampledArgmax)
         for layer in module.model.layers):
    raise ValueError('ONNX export needs a model built with '
                     'argmax_shortcut=False.')
  contract = module.contract_function(probabilities, input_size)
  proto, _ = tf2onnx.convert.from_function(
      contract, input_signature=contract.input_signature, opset=ONNX_OPSET)
  if input_size:
    _resize_to_sizes(proto)
  entry = proto.metadata_props.add()
  entry.key, entry.value = ONNX_MARK, json.dumps(module.options.to_dict(),
                                                 sort_keys=True)
  if dataset is not None:
    entry = proto.metadata_props.add()
    entry.key, entry.value = ONNX_DATASET, json.dumps(dataset.to_dict())
  onnx.checker.check_model(proto)
  return proto


def _resize_to_sizes(proto):
  """Gives each Resize of a static graph its output size, not a scale.

  tf2onnx writes a resize of known sizes as float scales (83/6 for 6 -> 83
  pixels); shape inference and engine builders (TensorRT) take the floor of
  size x scale, 82.99 -> 82, one pixel short of what ONNX Runtime runs.
  The sizes, rounded from those products, say it exactly.
  """
  import onnx  # pylint: disable=g-import-not-at-top
  from onnx import numpy_helper  # pylint: disable=g-import-not-at-top
  graph = proto.graph
  constants = {i.name: i for i in graph.initializer}
  inferred = onnx.shape_inference.infer_shapes(proto, data_prop=True).graph
  shapes = {v.name: [d.dim_value if d.HasField('dim_value') else None
                     for d in v.type.tensor_type.shape.dim]
            for v in list(inferred.value_info) + list(inferred.input)}
  for node in graph.node:
    if node.op_type != 'Resize' or len(node.input) != 3:
      continue
    scales = constants.get(node.input[2])
    shape = shapes.get(node.input[0])
    if scales is None or not shape or None in shape:
      continue
    sizes = np.round(np.asarray(shape) * numpy_helper.to_array(scales))
    name = node.name + '/sizes'
    graph.initializer.append(numpy_helper.from_array(
        sizes.astype(np.int64), name))
    node.input[2] = ''
    node.input.append(name)


def dynamic_dimensions(proto):
  """Names of the tensors of `proto` (an ONNX ModelProto) whose shape has
  a dimension that is not a fixed number after ONNX shape inference (or no
  shape at all)."""
  import onnx  # pylint: disable=g-import-not-at-top
  inferred = onnx.shape_inference.infer_shapes(proto, strict_mode=True,
                                               data_prop=True)
  graph = inferred.graph
  known = {v.name: v for v in list(graph.value_info) + list(graph.output) +
           list(graph.input)}
  dynamic = []
  for node in graph.node:
    for name in node.output:
      info = known.get(name)
      if info is None or not info.type.tensor_type.HasField('shape') or any(
          not d.HasField('dim_value')
          for d in info.type.tensor_type.shape.dim):
        dynamic.append(name)
  return dynamic


def is_onnx_export(path):
  """Whether the file `path` is an ONNX model this project wrote."""
  try:
    import onnx  # pylint: disable=g-import-not-at-top
    proto = onnx.load(path, load_external_data=False)
  except Exception:  # pylint: disable=broad-except
    return False  # Anything unreadable as ONNX (or no onnx) is not ours.
  return any(p.key == ONNX_MARK for p in proto.metadata_props)


def export_onnx(module, path, probabilities=False, dataset=None,
                input_size=None):
  """Writes the ONNX model of `module` (atomically; a file this project
  did not write is never replaced), with `dataset`'s description in its
  metadata; `input_size` as `onnx_model`. Returns `path`."""
  proto = onnx_model(module, probabilities, dataset, input_size)
  return folders.replace_file(path, proto.SerializeToString(), is_onnx_export)


def int8_onnx_path(path):
  """Where `--onnx_quantize=int8` writes beside `path` (x.onnx ->
  x_int8.onnx)."""
  return path[:-len(configs.ONNX_SUFFIX)] + '_int8' + configs.ONNX_SUFFIX


def quantize_onnx(float_path, path, images):
  """Writes the int8 ONNX model of the float export `float_path` to `path`.

  ONNX Runtime's static quantization in QDQ form: the weights of the
  convolutions and of the 1x1 convolutions the folded graph runs as
  matmuls int8 per output channel, activations uint8 per tensor with ranges
  calibrated (min/max) on `images`; the preprocessing, resizes and the
  argmax stay float. Written atomically; a file this project did not write
  is never replaced.

  Args:
    float_path: The float32 export (`export_onnx`).
    path: Where to write.
    images: uint8 images, each [height, width, 3] (any sizes).

  Returns:
    `path`.
  """
  onnx, _ = onnx_packages()
  try:
    from onnxruntime import quantization  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise MissingExtraError(
        'ONNX quantization needs onnxruntime: pip install -e ".[onnx]"; %s.'
        % e) from None

  class _Images(quantization.CalibrationDataReader):

    def __init__(self):
      self.feeds = iter([{serving.INPUT_NAME: image[None]} for image in images])

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
  return folders.replace_file(path, proto.SerializeToString(), is_onnx_export)


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
  labels = onnx_session(path).run([serving.OUTPUT_NAME],
                                  {serving.INPUT_NAME: images})[0]
  want = module.serve(tf.constant(images))[serving.OUTPUT_NAME].numpy()
  return float(np.mean(labels == want))


def calibration_images(config):
  """uint8 representative images (at most the crop), for ONNX int8."""
  return [imageio.read_image(path)[:config.crop_size[0],
                                   :config.crop_size[1]]
          for path in imageio.list_images(
              config.representative_images, '--representative_images')[
                  :config.num_representative_images]]


def onnx_label_agreement(float_path, int8_path, images):
  """Share of pixels whose int8 ONNX label equals the float one's."""
  sessions = [onnx_session(p) for p in (float_path, int8_path)]
  equal = total = 0
  for image in images:
    a, b = (s.run([serving.OUTPUT_NAME], {serving.INPUT_NAME: image[None]})[0]
            for s in sessions)
    equal += int(np.sum(a == b))
    total += a.size
  return equal / max(total, 1)
