"""SavedModel round trip in a fresh process; TFLite float and int8."""
import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

import conftest
import helpers

from deeplab import common
from deeplab import export
from deeplab import imageio
from deeplab import inference
from deeplab.core import ops

OPTIONS = common.ModelOptions(model_variant='mobilenet_v2', output_stride=16)

_LOAD_AND_RUN = '''
import sys, numpy as np, tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
serve = loaded.signatures['serving_probabilities']
image = np.load(sys.argv[2])
out = serve(ImageTensor=tf.constant(image))
labels = loaded.signatures['serving_default'](
    ImageTensor=tf.constant(image))['SemanticPredictions'].numpy()
assert (labels == out['SemanticPredictions'].numpy()).all()
np.savez(sys.argv[3], labels=out['SemanticPredictions'].numpy(),
         probs=out['SemanticProbabilities'].numpy())
'''


@pytest.mark.slow
def test_saved_model_round_trip_in_a_fresh_process(zoo_checkpoint, tmp_path):
  module = export.DeepLabServing(OPTIONS, zoo_checkpoint, crop_size=(81, 81))
  export_dir = str(tmp_path / 'export')
  export.export_saved_model(module, export_dir)
  assert os.path.exists(os.path.join(export_dir, 'saved_model.pb'))
  assert not [f for f in os.listdir(tmp_path) if f.startswith('.export')]
  rng = np.random.RandomState(3)
  for shape in [(71, 93), (60, 45)]:  # Odd sizes, larger and smaller.
    image = rng.randint(0, 256, size=(1,) + shape + (3,)).astype(np.uint8)
    np.save(tmp_path / 'image.npy', image)
    out = helpers.run([
        '-c', _LOAD_AND_RUN, export_dir, tmp_path / 'image.npy',
        tmp_path / 'out.npz'], env=helpers.environment(TF_CPP_MIN_LOG_LEVEL=3))
    assert out.returncode == 0, out.stderr[-2000:]
    loaded = np.load(tmp_path / 'out.npz')
    assert loaded['labels'].shape == (1,) + shape
    assert loaded['labels'].dtype == np.int32
    assert loaded['probs'].shape == (1,) + shape + (21,)
    in_process = module.serve(image)
    np.testing.assert_array_equal(loaded['labels'],
                                  in_process['SemanticPredictions'].numpy())
    # The same as the evaluation path (padding to the crop, or to the image).
    crop = (max(81, shape[0]), max(81, shape[1]))
    direct = inference.predict_image(image[0], OPTIONS.replace(crop_size=crop),
                                     zoo_checkpoint)
    np.testing.assert_array_equal(loaded['labels'][0], direct['predictions'])


def test_export_with_resize_to_range(zoo_checkpoint):
  module = export.DeepLabServing(OPTIONS, zoo_checkpoint, crop_size=(65, 65),
                                 resize=common.ResizeOptions(
                                     min_resize_value=40, max_resize_value=64))
  image = np.random.RandomState(0).randint(0, 256, (2, 50, 100, 3)).astype(
      np.uint8)
  out = module.serve_with_probabilities(image)
  assert out['SemanticPredictions'].shape == (2, 50, 100)
  np.testing.assert_allclose(
      out['SemanticProbabilities'].numpy().sum(axis=-1), 1.0, atol=1e-4)


def test_serving_graph_pads_once_and_resizes_only_when_asked(zoo_checkpoint):
  """The serving function adds no work the in-process graph does not have:
  without resize-to-range no resize of the labels (a same-size nearest
  resize is ~4 ms at 513x513), and the padding is the numpy path's."""
  image = np.random.RandomState(0).randint(0, 256, (1, 50, 60, 3))
  # One pad value (a Pad op) and per-channel values (ImageNet mean).
  for variant in ('mobilenet_v2', 'resnet_v1_50_beta'):
    padded = ops.pad_bottom_right(
        tf.constant(image, tf.float32), tf.constant([65, 81]),
        inference.feature_extractor.mean_pixel(variant)).numpy()[0]
    np.testing.assert_array_equal(
        padded, inference.pad_to_crop(image[0].astype(np.float32), (65, 81),
                                      variant))
  for resize, expected in ((None, 0), ((40, 64), 1)):
    kwargs = dict(resize=common.ResizeOptions(
        min_resize_value=resize[0], max_resize_value=resize[1])) if (
            resize) else {}
    module = export.DeepLabServing(OPTIONS, zoo_checkpoint,
                                   crop_size=(65, 65), **kwargs)
    graph = module.serve.get_concrete_function().graph
    op_types = [op.type for op in graph.get_operations()]
    assert op_types.count('ResizeNearestNeighbor') == expected, resize
    assert module.serve(image.astype(np.uint8))[
        export.OUTPUT_NAME].shape == (1, 50, 60)


@pytest.mark.slow
def test_tflite_float_parity_and_int8_agreement(zoo_checkpoint, voc_raw):
  crop = (65, 65)
  model = export.tflite_model(OPTIONS, zoo_checkpoint, crop)
  files = sorted(os.listdir(voc_raw['image_folder']))[:6]
  images = np.stack([inference.pad_to_crop(
      imageio.read_image(os.path.join(voc_raw['image_folder'], f))[:65, :65]
      .astype(np.float32), crop, 'mobilenet_v2') for f in files])
  float_bytes = export.convert_tflite(model)
  float_agreement = export.tflite_agreement(float_bytes, model, images)
  assert float_agreement >= 0.999
  int8_bytes = export.convert_tflite(model, 'int8', images[:4])
  assert len(int8_bytes) < 0.5 * len(float_bytes)
  int8_agreement = export.tflite_agreement(int8_bytes, model, images)
  print('TFLite float agreement %.4f, int8 agreement %.4f, sizes %d / %d'
        % (float_agreement, int8_agreement, len(float_bytes),
           len(int8_bytes)))
  assert 0.5 < int8_agreement <= 1.0
  with pytest.raises(ValueError, match='representative'):
    export.convert_tflite(model, 'int8', None)


@pytest.mark.slow
def test_export_flags_win_and_saved_options_fill_the_rest(zoo_logdir,
                                                          tmp_path):
  for stride_flags, stride in (([], 16), (['--output_stride=8'], 8)):
    export_dir = str(tmp_path / ('os%d' % stride))
    out = helpers.run([
        'export_model.py', '--checkpoint_path=' + zoo_logdir,
        '--export_path=' + export_dir] + stride_flags)
    assert out.returncode == 0, out.stderr[-2000:]
    saved = json.load(open(os.path.join(export_dir, 'model_options.json')))
    # Export's own default is OS8 (as the original's); the logdir's OS16
    # fills the unset flag, and a flag the user sets wins.
    assert saved['output_stride'] == stride


@pytest.mark.slow
def test_frozen_inference_graph_runs_like_the_original_demo(zoo_logdir,
                                                            tmp_path):
  """export_model.py --export_path=.../frozen_inference_graph.pb writes the
  original's deliverable: a TF1 session runs it (ImageTensor:0 ->
  SemanticPredictions:0) with the SavedModel's labels at any size."""
  path = str(tmp_path / 'export' / 'frozen_inference_graph.pb')
  out = helpers.run([
      'export_model.py', '--checkpoint_path=' + zoo_logdir,
      '--export_path=' + path, '--crop_size=81', '--crop_size=81',
      '--save_inference_graph'])
  assert out.returncode == 0, out.stderr[-2000:]
  assert not re.search('deprecat|cuInit', out.stderr, re.IGNORECASE)
  assert os.path.exists(str(tmp_path / 'export' / 'inference_graph.pbtxt'))
  rng = np.random.RandomState(5)
  shapes = [(71, 93), (60, 45), (81, 81), (100, 30)]
  images = [rng.randint(0, 256, s + (3,)).astype(np.uint8) for s in shapes]
  frozen = conftest.run_frozen_graph(path, images, str(tmp_path))
  module = export.DeepLabServing(conftest.ZOO_OPTIONS, zoo_logdir,
                                 crop_size=(81, 81))
  for image, labels in zip(images, frozen):
    assert labels.shape == (1,) + image.shape[:2]
    np.testing.assert_array_equal(
        labels, module.serve(image[None])['SemanticPredictions'].numpy())


@pytest.mark.parametrize('path,flags', [
    ('export', dict(tflite_quantize='int8')),
    ('model.onnx', dict(onnx_quantize='int8')),
])
def test_int8_inputs_are_checked_before_anything_is_written(
    zoo_checkpoint, tmp_path, path, flags):
  from deeplab import configs  # pylint: disable=g-import-not-at-top
  from deeplab.export import exporter  # pylint: disable=g-import-not-at-top
  empty = tmp_path / 'calibration'
  empty.mkdir()
  out = tmp_path / 'out'
  out.mkdir()
  config = configs.ExportConfig(
      checkpoint_path=zoo_checkpoint, export_path=str(out / path),
      crop_size=(33, 33), representative_images=str(empty), **flags)
  with pytest.raises(FileNotFoundError,
                     match='No images found at --representative_images=%s'
                     % re.escape(str(empty))):
    exporter.run(config, OPTIONS)
  assert os.listdir(out) == []


def test_tflite_models_run_on_litert_not_the_deprecated_interpreter(
    zoo_checkpoint, monkeypatch):
  """TensorFlow deprecates tf.lite.Interpreter: LiteRT runs the models."""
  def deprecated(*args, **kwargs):
    raise AssertionError('tf.lite.Interpreter was used')
  monkeypatch.setattr(tf.lite, 'Interpreter', deprecated)
  crop = (33, 33)
  model = export.tflite_model(OPTIONS, zoo_checkpoint, crop)
  images = conftest.random_images(2, 33, 33)
  assert export.tflite_agreement(export.convert_tflite(model), model,
                                 images) >= 0.999
