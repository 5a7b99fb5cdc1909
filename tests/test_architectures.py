"""MobileNetV3, the Dense Prediction Cell, EdgeTPU-MobileNet and ResNet-18
through every path: training (the original's loss and gradient
multipliers), quantization-aware training, BatchNorm folding, bfloat16,
SavedModel, frozen graph and TFLite export.

(Their numbers against the original are `test_model.py`'s P7-P12 vectors and
`test_predict.py`'s command-line replay; their Multiply-Adds
`test_zoo.py`'s.)"""
import os

import numpy as np
import pytest
import tensorflow as tf

import conftest
import helpers
from deeplab import checkpoints
from deeplab import common
from deeplab import export
from deeplab import runtime
from deeplab.core import quantize

CROP = 65

# The MobileNetV3 head of the model zoo, at a small crop: the pooling
# window follows the crop instead of 769x769 (output stride 32: 3x3 window,
# strides 4, 5 -> one average).
_MNV3_HEAD = dict(
    output_stride=32, atrous_rates=None, decoder_output_stride=(8,),
    image_pooling_crop_size=(CROP, CROP), image_pooling_stride=(4, 5),
    aspp_convs_filters=128, aspp_with_concat_projection=False,
    aspp_with_squeeze_and_excitation=True, decoder_use_sum_merge=True,
    decoder_filters=21, decoder_output_is_logits=True,
    image_se_uses_qsigmoid=True)

CONFIGS = {
    'mobilenet_v3_small_seg': dict(model_variant='mobilenet_v3_small_seg',
                                   **_MNV3_HEAD),
    'mobilenet_v3_large_seg': dict(model_variant='mobilenet_v3_large_seg',
                                   **_MNV3_HEAD),
    'mobilenet_edgetpu_slim': dict(model_variant='mobilenet_edgetpu',
                                   output_stride=16, depth_multiplier=0.75,
                                   aspp_convs_filters=128),
    'xception_71_dpc': dict(
        model_variant='xception_71', output_stride=16,
        decoder_output_stride=(4,),
        dense_prediction_cell_config={
            'json': 'dense_prediction_cell_branch5_top1_cityscapes.json'}),
    'resnet_v1_18_beta': dict(model_variant='resnet_v1_18_beta',
                              output_stride=16, atrous_rates=(6, 12, 18),
                              decoder_output_stride=(4,), multi_grid=(1, 2)),
}
# One architecture runs every path in the fast suite; the rest (30-45 s
# each) under the slow marker.
SLOW = {'mobilenet_v3_large_seg', 'xception_71_dpc', 'mobilenet_edgetpu_slim',
        'resnet_v1_18_beta'}


def _options(name, **changes):
  return common.ModelOptions(**dict(CONFIGS[name], **changes))


def _train(logdir, options, steps, **changes):
  return helpers.train_tiny(
      logdir, options, steps,
      helpers.random_batches(2, 2, CROP, 21, ignore_rows=5), CROP,
      train_batch_norm_decay=0.9, base_learning_rate=0.01, **changes)


@pytest.mark.parametrize('name', [
    pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
    for n in CONFIGS])
def test_every_path_runs(name, tmp_path):
  options = _options(name)
  run = _train(tmp_path / 'float', options, 2)
  losses = [loss for _, loss in run['losses']]
  assert len(losses) == 2 and np.isfinite(losses).all()
  # The biases (squeeze-and-excitation, gates, logits) learn at twice the
  # rate, as the original's gradient multipliers say.
  names = [n for n in run['steps'][0] if n.startswith('loss/')]
  assert names
  ckpt = run['checkpoint']
  images = conftest.random_images(2, CROP, CROP)

  plain, _ = runtime.load(options.replace(crop_size=(CROP, CROP)), ckpt,
                          conftest.inference())
  folded, _ = runtime.load(options.replace(crop_size=(CROP, CROP)), ckpt,
                           common.InferenceOptions())
  want, got = plain(images), folded(images)
  scale = np.abs(want['logits'].numpy()).max()
  np.testing.assert_allclose(got['logits'], want['logits'],
                             atol=1e-4 * scale)
  assert np.mean(got['predictions'].numpy() ==
                 want['predictions'].numpy()) > 0.999
  bf16, _ = runtime.load(options.replace(crop_size=(CROP, CROP)), ckpt,
                         common.InferenceOptions(inference_precision=
                                                 'bfloat16'))
  agree = np.mean(bf16(images)['predictions'].numpy() ==
                  want['predictions'].numpy())
  assert agree > 0.9, agree

  # Quantization-aware fine-tuning from the float checkpoint.
  qat = _train(tmp_path / 'qat', options.replace(quantize_delay_step=0), 1,
               tf_initial_checkpoint=ckpt)
  assert not quantize.uncalibrated(qat['model'])
  assert any('act_quant' in n for n in checkpoints.read_variable_shapes(
      qat['checkpoint']))
  qat_model, _ = runtime.load(
      options.replace(crop_size=(CROP, CROP), quantize_delay_step=0),
      qat['checkpoint'])
  assert qat_model(images)['predictions'].shape == (2, CROP, CROP)

  # Export: SavedModel (any size), frozen graph, TFLite float and int8.
  module = export.DeepLabServing(options, ckpt, crop_size=(CROP, CROP))
  export_dir = str(tmp_path / 'export')
  export.export_saved_model(module, export_dir)
  served = tf.saved_model.load(export_dir).signatures['serving_default'](
      ImageTensor=tf.constant(images[:1].astype(np.uint8)))
  assert served[export.OUTPUT_NAME].shape == (1, CROP, CROP)
  export.export_frozen_graph(module, str(tmp_path / 'frozen.pb'))
  assert os.path.getsize(tmp_path / 'frozen.pb') > 0
  if name in SLOW:
    return
  model = export.tflite_model(options, ckpt, (CROP, CROP))
  float_bytes = export.convert_tflite(model)
  assert export.tflite_agreement(float_bytes, model, images[:1]) > 0.99
  int8_bytes = export.convert_tflite(model, 'int8', images)
  assert len(int8_bytes) < len(float_bytes)
  assert export.run_tflite(int8_bytes, images[:1]).shape == (1, CROP, CROP)


def test_a_crop_below_the_image_pooling_window_is_a_clear_error():
  with pytest.raises(ValueError, match='--image_pooling_crop_size=769,769 '
                     'pools a 25x25 window at output stride 32, larger than '
                     'the 5x5 features of a 129x129 crop: use a crop of at '
                     'least 769x769'):
    _options('mobilenet_v3_small_seg', image_pooling_crop_size=(769, 769),
             crop_size=(129, 129))


def test_the_shipped_cell_loads_by_bare_name_and_bad_cells_are_named(
    tmp_path):
  cell = common.load_dense_prediction_cell(
      'dense_prediction_cell_branch5_top1_cityscapes.json')
  assert [op['rate'] for op in cell] == [[1, 6], [18, 15], [6, 3], [1, 1],
                                         [6, 21]]
  with pytest.raises(ValueError, match='--dense_prediction_cell_json=nope.json '
                     'does not exist'):
    common.load_dense_prediction_cell('nope.json')
  bad = tmp_path / 'bad.json'
  bad.write_text('[{"op": "maxpool"}]')
  with pytest.raises(ValueError, match='a cell is a list of'):
    common.load_dense_prediction_cell(str(bad))
  with pytest.raises(ValueError, match='NAS backbones are not built'):
    common.ModelOptions(model_variant='nas_pnasnet')
