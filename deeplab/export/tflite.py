"""TFLite export: float and int8 models of a fixed input size.

TFLite needs static shapes: its models take float32 pixels
[1, crop_h, crop_w, 3] already padded and return labels and probabilities
at that size. The int8 model is calibrated on representative images; a
model trained with `--quantize_delay_step` (quantization-aware training,
`core/quantize.py`) carries fake-quant ops whose learned ranges the
converter takes instead, calibrating only the tensors without one.
`tflite_agreement` measures how often their labels match the float Keras
model's.
"""
import os

import numpy as np
import tensorflow as tf

from deeplab import common
from deeplab import files
from deeplab import imageio
from deeplab import inference
from deeplab import runtime


def tflite_model(options, checkpoint, crop_size, inference_options=None):
  """The fixed-size inference model for TFLite, weights loaded (unfolded,
  float32: the converter folds and quantizes itself)."""
  inference_options = (inference_options or
                       common.InferenceOptions()).replace(
                           fold_batch_norm=False, inference_precision='float32')
  model, _ = runtime.load(options.replace(crop_size=tuple(crop_size)),
                          checkpoint, inference_options)
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


def litert():
  """LiteRT's interpreter module (the successor of `tf.lite.Interpreter`,
  which TensorFlow deprecates), or `onnx.MissingExtraError` saying how to
  install it."""
  try:
    from ai_edge_litert import interpreter  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    from deeplab.export import onnx as onnx_lib  # pylint: disable=g-import-not-at-top
    raise onnx_lib.MissingExtraError(
        'Running TFLite models (--tflite checks the export) needs LiteRT, '
        'the optional package of the tflite extra: pip install -e '
        '".[tflite]" (ai-edge-litert); %s.' % e) from None
  return interpreter


def new_interpreter(tflite_bytes, num_threads=None):
  """A LiteRT interpreter of a TFLite model."""
  return litert().Interpreter(model_content=tflite_bytes,
                              num_threads=num_threads)


def run_tflite(tflite_bytes, images):
  """Labels [N, H, W] of a TFLite model for padded float images."""
  interpreter = new_interpreter(tflite_bytes)
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


def padded_representative_images(config, options):
  """Padded float images for int8 calibration and the agreement report."""
  images = []
  for path in imageio.list_images(config.representative_images,
                                  '--representative_images')[
                                      :config.num_representative_images]:
    image = imageio.read_image(path)[:config.crop_size[0],
                                     :config.crop_size[1]]
    images.append(inference.pad_to_crop(image.astype(np.float32),
                                        config.crop_size,
                                        options.model_variant))
  return np.stack(images)


def export_tflite(config, options):
  """model.tflite (and model_int8.tflite) beside the SavedModel, with
  `tflite_report.json` (sizes; label agreement with the float model on the
  representative images).

  Returns:
    The report: file name -> {'bytes', 'label_agreement'?}.
  """
  model = tflite_model(options, config.checkpoint_path, config.crop_size,
                       config.inference)
  images = (padded_representative_images(config, options)
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
