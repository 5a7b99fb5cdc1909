"""ONNX export (`export_model.py --export_path=model.onnx`): the SavedModel's
contract on ONNX Runtime, checked by `onnx.checker`, equal labels."""
import os
import sys

import numpy as np
import pytest
from PIL import Image
import tensorflow as tf

import conftest

from deeplab import checkpoints
from deeplab import common
from deeplab import export
from deeplab import files
from deeplab import runtime

def _checkpoint(options, folder):
  """Recipe weights of `options` as a project checkpoint in `folder`."""
  model = runtime.build_graph(options, conftest.inference())
  conftest.assign_recipe_values(model)
  checkpoints.save_weights(model, folder, options)
  return folder


def _export(options, checkpoint, path, crop=(65, 65), **inference):
  config = export.ExportConfig(
      checkpoint_path=checkpoint, export_path=path, crop_size=crop,
      inference=common.InferenceOptions(dilated_depthwise='space_to_batch',
                                        **inference))
  return export.run(config, options), config


def _check_against_saved_model(options, checkpoint, onnx_path, config):
  """ONNX Runtime's labels equal the SavedModel graph's where the top-2
  margin of its probabilities exceeds 1e-4, and on >= 99.9% of pixels."""
  module = export.DeepLabServing(options, checkpoint, config.crop_size,
                                 inference_options=config.inference)
  session = export.onnx_session(onnx_path)
  conftest.check_labels_against_saved_model(module, lambda images: session.run(
      [export.OUTPUT_NAME], {export.INPUT_NAME: images})[0])


def test_onnx_export_runs_on_onnx_runtime_like_the_saved_model(
    zoo_checkpoint, tmp_path):
  options = common.ModelOptions(model_variant='mobilenet_v2', output_stride=16)
  path = str(tmp_path / 'model.onnx')
  lines, config = _export(options, zoo_checkpoint, path)
  assert 'opset %d' % export.ONNX_OPSET in lines[0]
  assert 'equal TensorFlow\'s on 100.00%' in lines[1]
  assert export.is_onnx_export(path)
  import onnx  # pylint: disable=g-import-not-at-top
  onnx.checker.check_model(onnx.load(path))
  _check_against_saved_model(options, zoo_checkpoint, path, config)
  # OpenVINO reads the same file.
  module = export.DeepLabServing(options, zoo_checkpoint, config.crop_size,
                                 inference_options=config.inference)
  compiled = export.compiled_model(path)
  conftest.check_labels_against_saved_model(
      module, lambda images: compiled(images)[export.OUTPUT_NAME])
  # Exporting again replaces our own file.
  _export(options, zoo_checkpoint, path)


@pytest.mark.slow
def test_onnx_with_scales_flips_and_probabilities(zoo_checkpoint, tmp_path):
  options = common.ModelOptions(model_variant='mobilenet_v2', output_stride=16)
  path = str(tmp_path / 'ms.onnx')
  config = export.ExportConfig(
      checkpoint_path=zoo_checkpoint, export_path=path, crop_size=(65, 65),
      onnx_probabilities=True,
      inference=common.InferenceOptions(
          eval_scales=(0.75, 1.0), add_flipped_images=True,
          dilated_depthwise='space_to_batch'))
  export.run(config, options)
  session = export.onnx_session(path)
  assert [o.name for o in session.get_outputs()] == [
      export.OUTPUT_NAME, export.PROBABILITIES_NAME]
  images = np.random.RandomState(1).randint(0, 256, (2, 71, 93, 3)).astype(
      np.uint8)
  labels, probabilities = session.run(None, {export.INPUT_NAME: images})
  module = export.DeepLabServing(options, zoo_checkpoint, (65, 65),
                                 inference_options=config.inference)
  want = module.serve_with_probabilities(tf.constant(images))
  np.testing.assert_allclose(probabilities,
                             want[export.PROBABILITIES_NAME].numpy(),
                             atol=1e-4)
  assert np.mean(labels == want[export.OUTPUT_NAME].numpy()) >= 0.999


@pytest.mark.slow
@pytest.mark.parametrize('variant,extra', [
    ('xception_65', {}),
    ('resnet_v1_50_beta', dict(multi_grid=(1, 2, 4)))])
def test_onnx_of_xception_and_resnet_equals_the_saved_model(
    variant, extra, tmp_path):
  options = conftest.small_options(variant, **extra).replace(crop_size=None)
  checkpoint = _checkpoint(options, str(tmp_path / 'ckpt'))
  path = str(tmp_path / 'model.onnx')
  _, config = _export(options, checkpoint, path)
  _check_against_saved_model(options, checkpoint, path, config)


@pytest.fixture(scope='module')
def small_onnx(tmp_path_factory):
  options = conftest.small_options('mobilenet_v2', atrous_rates=None).replace(
      crop_size=None)
  folder = tmp_path_factory.mktemp('small_onnx')
  checkpoint = _checkpoint(options, str(folder / 'ckpt'))
  path = str(folder / 'model.onnx')
  _export(options, checkpoint, path)
  return path


# ONNX Runtime checks rank, dtype and channels against the model's input
# type before running; its messages name the input where it can.
@pytest.mark.parametrize('images,message', [
    (np.zeros((70, 70, 3), np.uint8), 'rank for input: ImageTensor Got: 3'),
    (np.zeros((1, 70, 70, 3), np.float32),
     r'Actual: \(tensor\(float\)\) , expected: \(tensor\(uint8\)\)'),
    (np.zeros((1, 70, 70, 4), np.uint8),
     r'input: ImageTensor for the following indices\s+'
     r'index: 3 Got: 4 Expected: 3'),
])
def test_bad_inputs_are_refused_by_onnx_runtime(small_onnx, images, message):
  session = export.onnx_session(small_onnx)
  with pytest.raises(Exception, match=message):
    session.run(None, {export.INPUT_NAME: images})


def test_an_onnx_path_holding_something_else_is_left_untouched(
    zoo_checkpoint, tmp_path):
  path = tmp_path / 'notes.onnx'
  path.write_text('my notes')
  options = common.ModelOptions(model_variant='mobilenet_v2', output_stride=16)
  with pytest.raises(files.NotOursError, match='left untouched'):
    _export(options, zoo_checkpoint, str(path))
  assert path.read_text() == 'my notes'
  # Nor the int8 model's path beside it (checked before anything is written).
  beside = tmp_path / 'model_int8.onnx'
  beside.write_text('mine too')
  calibration = tmp_path / 'calibration'
  calibration.mkdir()
  Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(calibration / 'a.png')
  with pytest.raises(files.NotOursError, match='model_int8.onnx exists'):
    export.run(export.ExportConfig(
        checkpoint_path=zoo_checkpoint,
        export_path=str(tmp_path / 'model.onnx'), crop_size=(65, 65),
        onnx_quantize='int8',
        representative_images=str(calibration)), options)
  assert beside.read_text() == 'mine too'
  assert not (tmp_path / 'model.onnx').exists()


def test_int8_onnx_is_quantized_marked_and_runs(zoo_checkpoint, tmp_path):
  """--onnx_quantize=int8 writes <name>_int8.onnx beside the float model:
  int8 convolution weights (QDQ), our mark, the same contract."""
  import onnx  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  rng = np.random.RandomState(2)
  for i in range(3):
    Image.fromarray(rng.randint(0, 256, (70, 90, 3)).astype(np.uint8)).save(
        tmp_path / ('calib%d.png' % i))
  options = common.ModelOptions(model_variant='mobilenet_v2', output_stride=16)
  path = str(tmp_path / 'model.onnx')
  lines = export.run(export.ExportConfig(
      checkpoint_path=zoo_checkpoint, export_path=path, crop_size=(65, 65),
      onnx_quantize='int8', representative_images=str(tmp_path / '*.png'),
      inference=common.InferenceOptions(dilated_depthwise='space_to_batch')),
                     options)
  int8_path = str(tmp_path / 'model_int8.onnx')
  assert lines[2].startswith('ONNX int8: %s' % int8_path), lines
  assert 'of the 3 representative images' in lines[2]
  assert export.is_onnx_export(int8_path)
  proto = onnx.load(int8_path)
  onnx.checker.check_model(proto)
  kinds = {node.op_type for node in proto.graph.node}
  assert {'QuantizeLinear', 'DequantizeLinear', 'Conv'} <= kinds
  int8_weights = [t for t in proto.graph.initializer
                  if t.data_type == onnx.TensorProto.INT8]
  assert len(int8_weights) >= 30  # Every conv's kernel (MobileNetV2: 50+).
  assert os.path.getsize(int8_path) < 0.4 * os.path.getsize(path)
  images = rng.randint(0, 256, (2, 71, 93, 3)).astype(np.uint8)
  labels = export.onnx_session(int8_path).run(
      [export.OUTPUT_NAME], {export.INPUT_NAME: images})[0]
  assert labels.shape == (2, 71, 93) and labels.dtype == np.int32


def test_onnx_flags_that_cannot_apply_are_errors(tmp_path):
  with pytest.raises(ValueError,
                     match='ONNX and OpenVINO exports are float32'):
    export.ExportConfig(checkpoint_path='c', export_path='m.onnx',
                        inference=common.InferenceOptions(
                            inference_precision='bfloat16')).validate()
  with pytest.raises(ValueError, match='--tflite needs a folder'):
    export.ExportConfig(checkpoint_path='c', export_path='m.onnx',
                        tflite=True).validate()
  with pytest.raises(ValueError, match='--onnx_probabilities needs'):
    export.ExportConfig(checkpoint_path='c', export_path=str(tmp_path),
                        onnx_probabilities=True).validate()
  with pytest.raises(ValueError, match='--onnx_quantize=int8 needs an '
                     '--export_path ending in .onnx'):
    export.ExportConfig(checkpoint_path='c', export_path=str(tmp_path),
                        onnx_quantize='int8',
                        representative_images='x').validate()
  with pytest.raises(ValueError, match='needs --representative_images'):
    export.ExportConfig(checkpoint_path='c', export_path='m.onnx',
                        onnx_quantize='int8').validate()


def test_a_missing_onnx_extra_says_how_to_install_it(monkeypatch):
  monkeypatch.setitem(sys.modules, 'tf2onnx', None)
  with pytest.raises(export.MissingExtraError,
                     match=r'pip install -e "\.\[onnx\]"'):
    export.onnx_packages()  # pylint: disable=protected-access
