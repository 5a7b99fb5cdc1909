"""Quantization-aware training: the fake-quant op, its placement, its ranges
in checkpoints and folding, and the trainer's `--quantize_delay_step`.

The int8 accuracy of PTQ and QAT on a trained model is checked in
test_quickstart.py (it needs a trained model).
"""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import conftest
import helpers
from deeplab import checkpoints
from deeplab import common
from deeplab import model as model_lib
from deeplab import rundir
from deeplab import runtime
from deeplab.core import quantize


def fake_quant_reference(x, low, high, num_bits=8):
  """NumPy fake quantization as TF defines it: the range is nudged so that 0
  is exactly representable, values clamp to it and round to its grid."""
  quant_max = 2 ** num_bits - 1
  scale = (high - low) / quant_max
  zero_point = np.clip(np.round(-low / scale), 0, quant_max)
  nudged_low = -zero_point * scale
  nudged_high = (quant_max - zero_point) * scale
  clamped = np.clip(x, nudged_low, nudged_high)
  return np.floor((clamped - nudged_low) / scale + 0.5) * scale + nudged_low


def _layer(delay, low=0.0, high=0.0):
  layer = quantize.FakeQuant(delay)
  layer.build((None, 4))
  layer.min.assign(low)
  layer.max.assign(high)
  return layer


def test_inference_rounds_to_the_stored_range_as_numpy(rng):
  layer = _layer(0, -1.3, 2.9)
  x = rng.uniform(-2.5, 4.0, (3, 7, 5, 4)).astype(np.float32)
  got = layer(x, training=False).numpy()
  want = fake_quant_reference(x.astype(np.float64), -1.3, 2.9)
  np.testing.assert_allclose(got, want, atol=1e-5)
  assert len(np.unique(got)) <= 256
  assert np.abs(got - x)[np.abs(x) < 1.2].max() <= (4.2 / 255) / 2 + 1e-6


def test_gradient_is_straight_through_inside_the_range():
  layer = _layer(0, -1.0, 1.0)
  x = tf.constant([[-2.0, -0.5, 0.0, 0.7, 1.5]])
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = layer(x, training=False)
  np.testing.assert_array_equal(tape.gradient(y, x).numpy(),
                                [[0, 1, 1, 1, 0]])


def test_training_waits_for_the_delay_then_learns_the_range(rng):
  layer = _layer(3)
  step = tf.Variable(0, dtype=tf.int64)
  layer.attach_step(step)
  x = rng.uniform(-0.5, 3.0, (2, 5, 5, 4)).astype(np.float32)
  for value in (0, 2):  # Before the delay: identity, no range.
    step.assign(value)
    np.testing.assert_array_equal(layer(x, training=True).numpy(), x)
    assert layer.max.numpy() == 0.0 and layer.min.numpy() == 0.0
  step.assign(3)  # First quantized step: the batch's range.
  y = layer(x, training=True).numpy()
  assert layer.min.numpy() == pytest.approx(x.min())
  assert layer.max.numpy() == pytest.approx(x.max())
  np.testing.assert_allclose(y, fake_quant_reference(x, x.min(), x.max()),
                             atol=1e-5)
  # Then a moving average whose decay grows towards 0.999.
  step.assign(4)
  layer(2.0 * x, training=True)
  decay = 1.0 / 11.0
  assert layer.max.numpy() == pytest.approx(
      decay * x.max() + (1 - decay) * 2 * x.max(), rel=1e-5)
  assert float(quantize.ema_decay(10 ** 6)) == pytest.approx(0.999)
  # A range always holds 0.
  step.assign(5)
  layer(np.abs(x) + 1.0, training=True)
  assert layer.min.numpy() <= 0.0


def _qat_options(**changes):
  return conftest.small_options('mobilenet_v2', crop=65, atrous_rates=None,
                                **dict(dict(quantize_delay_step=0), **changes))


def test_placement_names_and_keras_round_trip(tmp_path, rng):
  model = model_lib.build_model(_qat_options())
  names = set(model_lib.tf1_variable_map(model))
  # The original's contrib.quantize names: <conv scope>/act_quant/min|max.
  for scope in ('MobilenetV2/Conv', 'MobilenetV2/expanded_conv/depthwise',
                'MobilenetV2/expanded_conv_1/expand',
                'MobilenetV2/expanded_conv_1/project', 'image_pooling',
                'aspp0', 'concat_projection', 'decoder/feature_projection0',
                'logits/semantic', 'MobilenetV2/expanded_conv_2/add'):
    assert scope + '/act_quant/min' in names, scope
    assert scope + '/act_quant/max' in names, scope
  float_names = set(model_lib.tf1_variable_map(model_lib.build_model(
      _qat_options(quantize_delay_step=-1))))
  assert float_names == {n for n in names if '/act_quant/' not in n}
  for layer in quantize.fake_quant_layers(model):
    layer.min.assign(-rng.uniform(0, 1))
    layer.max.assign(rng.uniform(1, 4))
  path = str(tmp_path / 'qat.keras')
  model.save(path)
  loaded = keras.models.load_model(path)
  images = conftest.random_images(1, 65, 65)
  np.testing.assert_array_equal(loaded(images).numpy(), model(images).numpy())


def test_folded_model_keeps_the_ranges_and_the_labels():
  options = _qat_options()
  model = conftest.assign_recipe_values(runtime.build_graph(options))
  images = conftest.random_images(2, 65, 65)
  # Ranges of these images' activations (a first quantized training step).
  quantize.attach_step(model, tf.Variable(0, dtype=tf.int64))
  model(images, training=True)
  ranges = {l.name: (l.min.numpy(), l.max.numpy())
            for l in quantize.fake_quant_layers(model)}
  assert len(ranges) > 50 and all(high > low
                                  for low, high in ranges.values())
  folded = conftest.fold(model)
  assert {l.name: (l.min.numpy(), l.max.numpy())
          for l in quantize.fake_quant_layers(folded)} == ranges
  want, got = model(images), folded(images)
  # Folding moves float rounding, which now and then moves a value across a
  # step of the 8-bit grid; the labels stay.
  assert np.mean(want['predictions'].numpy() ==
                 got['predictions'].numpy()) > 0.99


def _saved_qat_checkpoint(tmp_path, ranges=True):
  model = conftest.assign_recipe_values(model_lib.build_model(_qat_options()))
  if ranges:
    for layer in quantize.fake_quant_layers(model):
      layer.min.assign(-1.0)
      layer.max.assign(5.0)
  return checkpoints.save_weights(model, str(tmp_path / 'qat'))


def test_checkpoints_between_float_and_quantized_models(tmp_path):
  float_model = conftest.assign_recipe_values(model_lib.build_model(
      _qat_options(quantize_delay_step=-1)))
  float_ckpt = checkpoints.save_weights(float_model, str(tmp_path / 'float'))
  qat = model_lib.build_model(_qat_options())
  # Strict: a float checkpoint lacks the ranges a quantized model needs...
  with pytest.raises(checkpoints.CheckpointMismatchError,
                     match='act_quant'):
    checkpoints.load_weights(qat, float_ckpt)
  # ...unless training learns them (QAT fine-tuning from a float model).
  report = checkpoints.load_weights(qat, float_ckpt, learn_missing_ranges=True)
  assert 'MobilenetV2/Conv/act_quant/min' in report.skipped
  assert quantize.uncalibrated(qat)

  # A quantized checkpoint runs quantized, or as float when asked.
  qat_ckpt = _saved_qat_checkpoint(tmp_path)
  folded, _ = runtime.load(_qat_options(), qat_ckpt)
  assert {float(l.max.numpy()) for l in quantize.fake_quant_layers(folded)} \
      == {5.0}
  runtime.load(_qat_options(quantize_delay_step=-1), qat_ckpt)


def test_checkpoint_without_learned_ranges_is_refused_for_inference(tmp_path):
  ckpt = _saved_qat_checkpoint(tmp_path, ranges=False)
  with pytest.raises(checkpoints.CheckpointMismatchError,
                     match='quantize_delay_step=0.*--quantize_delay_step=-1'):
    runtime.load(_qat_options(), ckpt)


def _train(logdir, options, steps, **changes):
  return helpers.train_tiny(
      logdir, options, steps, helpers.random_batches(4, 2, 65, 5), 65,
      **changes)


@pytest.mark.slow
def test_training_quantizes_from_the_delay_step(tmp_path):
  float_options = _qat_options(quantize_delay_step=-1)
  float_run = _train(tmp_path / 'float', float_options, 2)
  # Resuming a float run with quantization would need ranges it never had.
  with pytest.raises(checkpoints.CheckpointMismatchError,
                     match='new --train_logdir'):
    _train(tmp_path / 'float', _qat_options(quantize_delay_step=1), 4)
  qat = _train(tmp_path / 'qat', _qat_options(quantize_delay_step=2), 3,
               tf_initial_checkpoint=float_run['checkpoint'])
  assert not quantize.uncalibrated(qat['model'])
  names = checkpoints.read_variable_shapes(qat['checkpoint'])
  assert 'MobilenetV2/Conv/act_quant/max' in names
  # Written beside the checkpoints, eval/vis/export build the quantized
  # model by themselves.
  saved = rundir.load_options(qat['checkpoint'])
  assert saved.quantize_delay_step == 2
  folded, _ = runtime.load(saved.replace(crop_size=(65, 65)),
                           qat['checkpoint'])
  assert quantize.fake_quant_layers(folded)
  assert os.path.exists(qat['checkpoint'] + '.index')


def test_flag_is_accepted_by_train_eval_and_export():
  # pylint: disable=g-import-not-at-top
  from absl import flags
  from deeplab.cli import evaluate
  from deeplab.cli import export_model
  from deeplab.cli import flag_tables
  from deeplab.cli import flags as flag_lib
  from deeplab.cli import run_settings
  from deeplab.cli import train
  for groups in (train.GROUPS, evaluate.GROUPS, export_model.GROUPS):
    fv = flags.FlagValues()
    flag_lib.define_groups(groups, fv)
    fv(['prog', '--quantize_delay_step=0'])
    flag_tables.check_unsupported(groups, fv)
    options, _ = run_settings.model_options(fv, crop_size=None,
                                            checkpoint=None)
    assert options.quantize_delay_step == 0
  assert common.ModelOptions().quantize_delay_step == -1
