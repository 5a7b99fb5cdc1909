"""SavedModel and TFLite export (the original's export_model.py, and more).

The SavedModel's `serving_default` signature takes `ImageTensor`, a uint8
[batch, height, width, 3] tensor of any size, and returns
`SemanticPredictions` (int32 [batch, height, width], labels at the input
size) and `SemanticProbabilities` (float32 [batch, height, width, classes]).
Inside, as the original: resize to range when asked, pad bottom/right with
the mean pixel to the crop size (or to the image when it is larger), the
evaluation graph (inference scales, flips), crop the valid region, and
resize back (labels nearest, probabilities bilinear, align corners).

TFLite models take float32 pixels [1, crop_h, crop_w, 3] already padded
(TFLite needs static shapes) and return labels and probabilities at that
size; `tflite_agreement` measures how often their labels match the float
Keras model.
"""
import json
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from deeplab import checkpoints
from deeplab import model as model_lib
from deeplab.core import feature_extractor
from deeplab.data import input_preprocess

INPUT_NAME = 'ImageTensor'
OUTPUT_NAME = 'SemanticPredictions'
PROBABILITIES_NAME = 'SemanticProbabilities'


class DeepLabServing(tf.Module):
  """A tf.Module with the serving function (weights included).

  With `fold_batch_norm` (the default) the exported graph is the folded one
  (`core/folding.py`); `dilated_depthwise` defaults to 'space_to_batch' so
  that the SavedModel runs on any TensorFlow build ('auto' would bake in
  this machine's native dilated kernel where it has one).
  """

  def __init__(self, options, checkpoint, crop_size=None,
               inference_scales=(1.0,), add_flipped_images=False,
               min_resize_value=None, max_resize_value=None,
               resize_factor=None, keep_aspect_ratio=True,
               fold_batch_norm=True, dilated_depthwise='space_to_batch'):
    super().__init__(name='deeplab')
    options.validate()
    # Any input size: the crop only sets the minimum padded size.
    model = model_lib.build_inference_model(
        options.replace(crop_size=None), inference_scales, add_flipped_images)
    # Only the model that runs is an attribute: the SavedModel holds one
    # set of weights.
    self.model, self.report = checkpoints.load_inference_model(
        model, checkpoint, fold_batch_norm=fold_batch_norm,
        dilated_depthwise=dilated_depthwise)
    self.crop_size = tuple(crop_size) if crop_size else None
    self.resize = (min_resize_value, max_resize_value, resize_factor,
                   keep_aspect_ratio)
    self.mean = tf.constant(feature_extractor.mean_pixel(
        options.model_variant), tf.float32)
    self.options = options

  def _resize_to_range(self, images):
    min_size, max_size, factor, keep = self.resize
    if not (min_size or max_size):
      return tf.cast(images, tf.float32)
    return tf.map_fn(
        lambda image: input_preprocess.resize_to_range(
            tf.cast(image, tf.float32), None, min_size, max_size, factor,
            keep)[0],
        images, fn_output_signature=tf.float32)

  @tf.function(input_signature=[
      tf.TensorSpec([None, None, None, 3], tf.uint8, name=INPUT_NAME)])
  def serve(self, images):
    """uint8 images -> {SemanticPredictions, SemanticProbabilities}."""
    size = tf.shape(images)[1:3]
    resized = self._resize_to_range(images)
    resized_size = tf.shape(resized)[1:3]
    target = resized_size
    if self.crop_size:
      target = tf.maximum(target, tf.constant(self.crop_size, tf.int32))
    padded = input_preprocess.pad_to_bounding_box(
        resized, 0, 0, target[0], target[1], tf.reshape(self.mean,
                                                        [1, 1, 3]))
    outputs = self.model(padded, training=False)
    probabilities = outputs['probabilities'][:, :resized_size[0],
                                             :resized_size[1]]
    labels = tf.argmax(probabilities, axis=3, output_type=tf.int32)
    if not self.options.prediction_with_upsampled_logits:
      labels = outputs['predictions'][:, :resized_size[0], :resized_size[1]]
    labels = tf.compat.v1.image.resize_nearest_neighbor(
        labels[..., None], size, align_corners=True)[..., 0]
    probabilities = tf.compat.v1.image.resize_bilinear(
        probabilities, size, align_corners=True)
    return {OUTPUT_NAME: tf.identity(labels, name=OUTPUT_NAME),
            PROBABILITIES_NAME: tf.identity(probabilities,
                                            name=PROBABILITIES_NAME)}


def _write_atomically(export_dir, write):
  """Writes into a staging folder and renames it into place."""
  parent = os.path.dirname(os.path.abspath(export_dir))
  os.makedirs(parent, exist_ok=True)
  staging = tempfile.mkdtemp(prefix='.export-', dir=parent)
  try:
    write(staging)
    if os.path.exists(export_dir):
      old = export_dir.rstrip('/') + '.old-%d' % os.getpid()
      os.replace(export_dir, old)
      os.replace(staging, export_dir)
      shutil.rmtree(old, ignore_errors=True)
    else:
      os.replace(staging, export_dir)
  finally:
    shutil.rmtree(staging, ignore_errors=True)


def export_saved_model(module, export_dir):
  """Saves `module` as a SavedModel with the serving signature.

  Also writes `model_options.json` beside it. The folder appears complete or
  not at all.

  Returns:
    `export_dir`.
  """

  def write(path):
    tf.saved_model.save(module, path, signatures={
        'serving_default': module.serve.get_concrete_function()})
    with open(os.path.join(path, checkpoints.OPTIONS_FILE), 'w') as f:
      json.dump(module.options.to_dict(), f, indent=2, sort_keys=True)

  _write_atomically(export_dir, write)
  return export_dir


def folder_size(path):
  return sum(os.path.getsize(os.path.join(root, f))
             for root, _, files in os.walk(path) for f in files)


def tflite_model(options, checkpoint, crop_size, inference_scales=(1.0,),
                 add_flipped_images=False):
  """The fixed-size inference model for TFLite, weights loaded."""
  model = model_lib.build_inference_model(
      options.replace(crop_size=tuple(crop_size)), inference_scales,
      add_flipped_images)
  checkpoints.load_weights(model, checkpoint)
  return model


def convert_tflite(model, quantize=None, representative_images=None):
  """Converts a fixed-size inference model to TFLite bytes.

  Args:
    model: From `tflite_model`.
    quantize: None (float32) or 'int8' (post-training quantisation of the
      weights and activations, calibrated on `representative_images`; the
      input stays float pixels).
    representative_images: float32 [N, H, W, 3] padded images for 'int8'.
  """
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


def tflite_agreement(tflite_bytes, model, images):
  """Share of pixels whose TFLite label equals the float Keras model's."""
  reference = np.stack([model(np.asarray(image, np.float32)[None],
                              training=False)['predictions'][0].numpy()
                        for image in images])
  return float(np.mean(run_tflite(tflite_bytes, images) == reference))


def write_bytes(path, data):
  tmp = path + '.tmp'
  with open(tmp, 'wb') as f:
    f.write(data)
  os.replace(tmp, path)
  return path

