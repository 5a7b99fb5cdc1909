"""Exports for other runtimes: OpenVINO's own format (`--export_path=x.xml`)
and the ONNX export read by OpenVINO, and the static-shape ONNX model
(`--onnx_input_size`), each against the SavedModel's labels."""
import json
import os
import sys

import pytest

import conftest

from deeplab import checkpoints
from deeplab import common
from deeplab import errors
from deeplab import export
from deeplab import files
from deeplab import runtime
from deeplab.export import onnx as onnx_lib
from deeplab.export import openvino as openvino_lib


def _config(checkpoint, path, **kwargs):
  return export.ExportConfig(checkpoint_path=checkpoint, export_path=path,
                             crop_size=(65, 65), **kwargs)


def _reference(options, checkpoint):
  """The SavedModel's serving graph (portable kernels) of `checkpoint`."""
  return export.DeepLabServing(
      options, checkpoint, (65, 65),
      inference_options=export.ExportConfig().inference)


def _check_openvino(module, path):
  compiled = export.compiled_model(path)
  conftest.check_labels_against_saved_model(
      module, lambda images: compiled(images)[export.OUTPUT_NAME])


def _check_onnx_runtime(module, path, shapes=None):
  session = export.onnx_session(path)
  conftest.check_labels_against_saved_model(
      module, lambda images: session.run([export.OUTPUT_NAME],
                                         {export.INPUT_NAME: images})[0],
      shapes)


def test_openvino_format_runs_like_the_saved_model(zoo_checkpoint, tmp_path):
  options = conftest.ZOO_OPTIONS
  path = str(tmp_path / 'models' / 'model.xml')  # A folder it creates.
  lines = export.run(_config(zoo_checkpoint, path), options)
  assert lines[0].startswith('OpenVINO: %s (' % path), lines
  assert 'with model.bin' in lines[0]
  assert 'equal TensorFlow\'s on 100.00%' in lines[1], lines
  assert export.is_openvino_export(path)
  assert sorted(os.listdir(tmp_path / 'models')) == ['model.bin',
                                                     'model.xml']
  _check_openvino(_reference(options, zoo_checkpoint), path)
  # The model options travel in the file.
  import openvino as ov  # pylint: disable=g-import-not-at-top
  saved = ov.Core().read_model(path).get_rt_info(
      openvino_lib.OPENVINO_MARK).astype(str)
  assert json.loads(saved) == options.to_dict()
  # Exporting again replaces our own files.
  export.run(_config(zoo_checkpoint, path), options)


def test_an_openvino_path_or_its_weights_holding_something_else_is_kept(
    zoo_checkpoint, tmp_path):
  options = conftest.ZOO_OPTIONS
  mine = tmp_path / 'notes.xml'
  mine.write_text('<notes/>')
  with pytest.raises(files.NotOursError, match='notes.xml exists'):
    export.run(_config(zoo_checkpoint, str(mine)), options)
  assert mine.read_text() == '<notes/>'
  # A weights file beside a new graph is not ours either.
  weights = tmp_path / 'model.bin'
  weights.write_bytes(b'mine')
  with pytest.raises(files.NotOursError, match=r'model\.bin exists'):
    export.run(_config(zoo_checkpoint, str(tmp_path / 'model.xml')), options)
  assert weights.read_bytes() == b'mine'
  assert not (tmp_path / 'model.xml').exists()


def test_openvino_without_its_extra_names_the_extra(zoo_checkpoint, tmp_path,
                                                     monkeypatch):
  monkeypatch.setitem(sys.modules, 'openvino', None)
  with pytest.raises(errors.MissingExtraError, match=r'\.\[openvino\]'):
    export.run(_config(zoo_checkpoint, str(tmp_path / 'm.xml')),
               conftest.ZOO_OPTIONS)
  assert not os.listdir(tmp_path)


def test_static_onnx_has_no_dynamic_dimension_and_the_same_labels(
    zoo_checkpoint, tmp_path):
  import onnx  # pylint: disable=g-import-not-at-top
  options = conftest.ZOO_OPTIONS
  path = str(tmp_path / 'static.onnx')
  lines = export.run(_config(zoo_checkpoint, path, onnx_input_size='57,83'),
                     options)
  assert 'ImageTensor uint8 [1, 57, 83, 3]' in lines[0], lines
  assert 'every shape static' in lines[0]
  assert 'one random 57x83 images' in lines[1]
  proto = onnx.load(path)
  assert onnx_lib.dynamic_dimensions(proto) == []
  _check_onnx_runtime(_reference(options, zoo_checkpoint), path,
                      shapes=[(1, 57, 83)])
  # A graph with a dynamic input is not static (the check can fail).
  from onnx import helper  # pylint: disable=g-import-not-at-top
  graph = helper.make_graph(
      [helper.make_node('Relu', ['x'], ['y'])], 'dynamic',
      [helper.make_tensor_value_info('x', onnx.TensorProto.FLOAT,
                                     ['batch', 3])],
      [helper.make_tensor_value_info('y', onnx.TensorProto.FLOAT, None)])
  assert onnx_lib.dynamic_dimensions(helper.make_model(graph)) == ['y']


@pytest.mark.parametrize('changes,message', [
    (dict(export_path='m.pb', onnx_input_size='65,65'),
     '--onnx_input_size needs an --export_path ending in .onnx'),
    (dict(export_path='m.onnx', onnx_input_size='65'),
     '--onnx_input_size must be two positive integers'),
    (dict(export_path='m.xml', inference=common.InferenceOptions(
        inference_precision='bfloat16')),
     'ONNX and OpenVINO exports are float32'),
])
def test_bad_portable_export_flags_are_named(changes, message):
  config = export.ExportConfig(**dict(dict(checkpoint_path='ckpt'),
                                      **changes))
  with pytest.raises(ValueError, match=message):
    config.validate()


@pytest.mark.slow
@pytest.mark.parametrize('variant,extra', [
    ('xception_65', {}),
    ('resnet_v1_50_beta', dict(multi_grid=(1, 2, 4)))])
def test_openvino_and_onnx_runtime_run_bigger_exports(variant, extra,
                                                      tmp_path):
  """Xception-65 and ResNet (dilated separable and plain convolutions, the
  decoder): the ONNX export on ONNX Runtime and OpenVINO, and OpenVINO's own
  format, against the SavedModel's labels."""
  options = conftest.small_options(variant, **extra).replace(crop_size=None)
  model = runtime.build_graph(options, conftest.inference())
  conftest.assign_recipe_values(model)
  checkpoint = str(tmp_path / 'ckpt')
  checkpoints.save_weights(model, checkpoint, options)
  module = _reference(options, checkpoint)
  onnx_path = str(tmp_path / 'model.onnx')
  export.run(_config(checkpoint, onnx_path), options)
  _check_onnx_runtime(module, onnx_path)
  _check_openvino(module, onnx_path)
  xml_path = str(tmp_path / 'model.xml')
  export.run(_config(checkpoint, xml_path, onnx_probabilities=True), options)
  _check_openvino(module, xml_path)
  # Probabilities where asked, as the SavedModel's serving_probabilities.
  compiled = export.compiled_model(xml_path)
  images = conftest.random_images(2, 41, 53).astype('uint8')
  got = compiled(images)[export.PROBABILITIES_NAME]
  want = module.serve_with_probabilities(images)[export.PROBABILITIES_NAME]
  assert got.shape == (2, 41, 53, options.num_classes)
  assert abs(got - want.numpy()).max() < 1e-4
