"""Training parity with the original: T1, three steps of its train.py graph.

`tests/data/train_vectors/` holds T1 (MobileNetV2 model-zoo configuration,
seed-0 weights of make_checkpoint.py, a fixed batch of two 129x129 images
with an ignore band, dropout off) as the original's train.py computed it:
per-step losses and learning rates, and fingerprints of every variable,
Momentum slot and step-0 gradient (tests/data/make_lean_train_vectors.py).
The steps here go through train.py's own path: flags -> TrainConfig and
ModelOptions -> `trainer.train` (strategy, model, initialisation from the
checkpoint, train step, checkpoint, resume); only the input is the fixed
batch instead of TFRecords, as it was for the original.
"""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import conftest
import helpers
import reference
from training_vectors import assert_step
from training_vectors import config_and_options
from training_vectors import fingerprint_errors
from training_vectors import fixed_batches
from training_vectors import lean
from training_vectors import slots
from training_vectors import t1
from training_vectors import t1_flags

from deeplab import model as model_lib
from deeplab.training import trainer


@pytest.mark.slow
def test_t1_three_steps_through_train_py_path(zoo_checkpoint, tmp_path):
  sidecar, arrays = t1()
  config, options = config_and_options(t1_flags(zoo_checkpoint,
                                                str(tmp_path)))
  # Step 0, then a resume from the checkpoint it saves for steps 1 and 2.
  first = trainer.train(config, options, max_steps_this_run=1,
                        input_fn=fixed_batches(arrays))
  assert_step(first['steps'][0], sidecar['per_step'][0])
  variables = model_lib.tf1_variable_map(first['model'])
  # After one momentum step from zero slots, each slot is that step's
  # gradient (decay term and bias x2 included) as the original applied it.
  step0 = {name: var.numpy() for name, var in slots(
      first['optimizer'], variables).items()}
  head = {n: v for n, v in step0.items() if not n.startswith('MobilenetV2/')}
  backbone = {n: v for n, v in step0.items() if n.startswith('MobilenetV2/')}
  assert len(head) == 11 and len(head) + len(backbone) == 164
  assert fingerprint_errors('grad/step0/', head, arrays, 1e-5) == []
  # Backbone gradients sum float32 products over every pixel through 17
  # blocks: their summation order (oneDNN here, TF's reference kernels for
  # the original) moves them by up to ~4e-4 of their scale.
  assert fingerprint_errors('grad/step0/', backbone, arrays, 1e-3) == []
  second = trainer.train(config, options, input_fn=fixed_batches(arrays),
                         max_steps_this_run=2)
  assert second['global_step'] == int(arrays['global_step']) == 3
  for ours, ref in zip(second['steps'], sidecar['per_step'][1:]):
    assert_step(ours, ref)
  variables = {n: v.numpy() for n, v in model_lib.tf1_variable_map(
      second['model']).items()}
  assert len(variables) == 272
  assert fingerprint_errors('state/', variables, arrays, 1e-5) == []
  momentum = {name + '/Momentum': var.numpy() for name, var in slots(
      second['optimizer'], model_lib.tf1_variable_map(
          second['model'])).items()}
  assert len(momentum) == 164
  # The slots are sums of gradients: the head's tight, the backbone's within
  # the gradients' summation-order spread (above).
  assert fingerprint_errors('state/', {
      n: v for n, v in momentum.items() if not n.startswith('MobilenetV2/')},
                            arrays, 1e-5) == []
  assert fingerprint_errors('state/', {
      n: v for n, v in momentum.items() if n.startswith('MobilenetV2/')},
                            arrays, 1e-3) == []
  # Frozen BatchNorm: the moving statistics are the checkpoint's.
  initial = tf.train.load_checkpoint(zoo_checkpoint)
  for name, value in variables.items():
    if 'moving_' in name:
      np.testing.assert_array_equal(value, initial.get_tensor(name))


_TWO_REPLICAS = '''
import sys
sys.path.insert(0, sys.argv[1])
import tensorflow as tf
cpu = tf.config.list_physical_devices('CPU')[0]  # Two replicas on one CPU.
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import numpy as np
import training_vectors as t
from deeplab.core import names
from deeplab.training import trainer
sidecar, arrays = t.t1()
config, options = t.config_and_options(t.t1_flags(
    sys.argv[2], sys.argv[3], ['--num_clones=2']))
result = trainer.train(config, options, max_steps_this_run=3,
                       input_fn=t.fixed_batches(arrays))
assert result['global_step'] == 3
for ours, reference in zip(result['steps'], sidecar['per_step']):
  t.assert_step(ours, reference)
variables = {n: v.numpy() for n, v in names.tf1_variable_map(
    result['model']).items()}
momentum = {n + '/Momentum': v.numpy() for n, v in t.slots(
    result['optimizer'], names.tf1_variable_map(result['model'])).items()}
bad = (t.fingerprint_errors('state/', variables, arrays, 1e-5) +
       t.fingerprint_errors('state/', momentum, arrays, 1e-3))
assert bad == [], bad[:5]
print('REPLICAS', result['model'].distribute_strategy.num_replicas_in_sync)
'''


@pytest.mark.slow
def test_t1_on_two_mirrored_replicas_equals_one(zoo_checkpoint, tmp_path):
  """MirroredStrategy over two CPU replicas, one image each: what the
  original's clones do (each clone's loss over its own valid pixels, summed
  gradients scaled by 1/num_clones) is, on T1's batch (equal valid pixels in
  both images), the single-replica step."""
  out = helpers.run([
      '-c', _TWO_REPLICAS, os.path.join(helpers.ROOT, 'tests'), zoo_checkpoint,
      tmp_path], timeout=600)
  assert out.returncode == 0, out.stderr[-3000:]
  assert 'REPLICAS 2' in out.stdout


# A second configuration of our own, on what T1 leaves at its defaults:
# Xception with the decoder, fine-tuned BatchNorm, top-k pixel mining ramped
# over hard_example_mining_step, slow start, last_layer_gradient_multiplier
# on the logits only. The references are NumPy renditions of what the
# original's train_utils and slim do.
X1_STEPS = 3
X1_CROP = 65


def x1_flags(init_checkpoint, logdir):
  return ['train.py', '--model_variant=xception_41', '--atrous_rates=6',
          '--atrous_rates=12', '--atrous_rates=18', '--output_stride=16',
          '--decoder_output_stride=4',
          '--train_crop_size=%d,%d' % (X1_CROP, X1_CROP),
          '--train_batch_size=2', '--base_learning_rate=0.01',
          '--training_number_of_steps=100', '--slow_start_step=2',
          '--slow_start_learning_rate=0.001', '--fine_tune_batch_norm',
          '--train_batch_norm_decay=0.5', '--top_k_percent_pixels=0.25',
          '--hard_example_mining_step=4',
          '--last_layer_gradient_multiplier=10',
          '--last_layers_contain_logits_only', '--dropout_keep_prob=1.0',
          '--weight_decay=0.00004', '--dataset=pascal_voc_seg',
          '--tf_initial_checkpoint=' + init_checkpoint,
          '--train_logdir=' + logdir, '--save_interval_secs=100000']


def x1_batch():
  images = conftest.random_images(2, X1_CROP, X1_CROP, seed=7)
  yy, xx = np.meshgrid(np.arange(X1_CROP), np.arange(X1_CROP), indexing='ij')
  label = np.array([0, 3, 7, 15])[((yy // 16) + 2 * (xx // 20)) % 4]
  label[28:32] = 255
  labels = np.stack([label, label[:, ::-1]]).astype(np.int32)
  return {'_input/images_uint8': images, '_input/labels': labels}


def align_corners_matrix(out_size, in_size):
  """[out, in] weights of TF1's align-corners bilinear resize (one axis)."""
  matrix = np.zeros((out_size, in_size))
  scale = np.float32(in_size - 1) / np.float32(out_size - 1)
  for o in range(out_size):
    source = float(np.float32(o) * scale)
    low = int(np.floor(source))
    high = min(low + 1, in_size - 1)
    matrix[o, low] += 1 - (source - low)
    matrix[o, high] += source - low
  return matrix


def numpy_loss_and_logits_gradient(logits, labels, step, top_k=0.25,
                                   mining_steps=4, ignore=255):
  """The original's add_softmax_cross_entropy_loss_for_each_scale with
  upsample_logits and top-k mining: per-pixel cross-entropy of the
  align-corners-upsampled logits (ignored pixels weigh 0), the top k of ALL
  pixels of the batch (ignored ones counted in N), k ramped from N to
  top_k * N over mining_steps, their sum over how many are non-zero.

  Returns:
    (loss, d loss / d logits at the logits' own resolution).
  """
  batch, height, width, classes = logits.shape
  a_h = align_corners_matrix(labels.shape[1], height)
  a_w = align_corners_matrix(labels.shape[2], width)
  up = np.einsum('Hh,bhwc,Ww->bHWc', a_h, logits.astype(np.float64), a_w)
  up -= up.max(-1, keepdims=True)
  probs = np.exp(up) / np.exp(up).sum(-1, keepdims=True)
  valid = labels != ignore
  safe = np.where(valid, labels, 0)
  onehot = np.eye(classes)[safe] * valid[..., None]
  pixel = -(onehot * np.log(probs)).sum(-1).reshape(-1)
  n = pixel.size
  ratio = min(1.0, step / mining_steps)
  k = int(np.float32((ratio * top_k + (1.0 - ratio)) * n))
  chosen = np.argsort(-pixel, kind='stable')[:k]
  count = np.count_nonzero(pixel[chosen])
  mask = np.zeros(n)
  mask[chosen] = 1.0
  mask = mask.reshape(labels.shape)
  d_up = (probs - onehot) * valid[..., None] * mask[..., None] / count
  d_logits = np.einsum('Hh,bHWc,Ww->bhwc', a_h, d_up, a_w)
  return pixel[chosen].sum() / count, d_logits


def numpy_learning_rate(step, base=0.01, total=100, power=0.9,
                        slow_start_step=2, slow_start_rate=0.001):
  """train_utils.get_model_learning_rate: poly decay of the step shifted by
  the slow start, the slow-start rate before it."""
  if step < slow_start_step:
    return slow_start_rate
  adjusted = step - slow_start_step
  return base * (1 - adjusted / (total - slow_start_step)) ** power


def _batch_norm_layers(model):
  return [l for l in model.layers if isinstance(l, model_lib.layers.BatchNorm)]


@pytest.mark.slow
def test_x1_fine_tuned_batch_norm_top_k_slow_start_last_layer(tmp_path):
  from deeplab import checkpoints  # pylint: disable=g-import-not-at-top
  init = reference.write_reference_checkpoint('xception_41',
                                              str(tmp_path / 'init'))
  config, options = config_and_options(x1_flags(init, str(tmp_path / 'run')))
  batch = x1_batch()
  images = batch['_input/images_uint8']
  labels = batch['_input/labels']
  data_options = options.for_data(21, config.train_crop_size)
  reference_model = trainer.build_training_objects(config, data_options)[0]
  checkpoints.load_weights(reference_model, init)
  bn_layers = _batch_norm_layers(reference_model)
  logits_layer = reference_model.get_layer(
      model_lib.names.keras_name('logits/semantic'))
  probe = keras.Model(reference_model.inputs,
                      [reference_model.output['merged_logits'],
                       logits_layer.input] + [l.input for l in bn_layers])
  losses = []
  for step in range(X1_STEPS):
    moving = [(l.moving_mean.numpy(), l.moving_variance.numpy())
              for l in bn_layers]
    weights = {n: v.numpy() for n, v in
               model_lib.tf1_variable_map(reference_model).items()}
    outputs = probe(images, training=True)
    logits, features = outputs[0].numpy(), outputs[1].numpy()
    bn_inputs = [o.numpy() for o in outputs[2:]]
    want_loss, d_logits = numpy_loss_and_logits_gradient(logits, labels, step)
    result = trainer.train(config, options, max_steps_this_run=1,
                           input_fn=fixed_batches(batch))
    ours = result['steps'][0]
    assert ours['step'] == step + 1
    assert ours['loss/merged_logits'] == pytest.approx(want_loss, rel=1e-5)
    assert ours['learning_rate'] == pytest.approx(numpy_learning_rate(step),
                                                  rel=1e-6)
    losses.append(ours['loss/merged_logits'])
    variables = model_lib.tf1_variable_map(result['model'])
    if step == 0:
      # Moving statistics move in the same step: decay 0.5 towards the
      # batch mean and the unbiased batch variance of each layer's input.
      for layer, (mean0, var0), x in zip(bn_layers, moving, bn_inputs):
        flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
        name = model_lib.names.tf1_scope(layer.name)
        got_mean = variables[name + '/moving_mean'].numpy()
        got_var = variables[name + '/moving_variance'].numpy()
        np.testing.assert_allclose(got_mean, 0.5 * mean0 + 0.5 * flat.mean(0),
                                   rtol=1e-4, atol=1e-4 * np.abs(
                                       flat.mean(0)).max(), err_msg=name)
        np.testing.assert_allclose(got_var,
                                   0.5 * var0 + 0.5 * flat.var(0, ddof=1),
                                   rtol=1e-4, err_msg=name)
      # Head gradients (first step: the Momentum slot is the gradient as
      # applied): logits weights x10 (last layer), biases x20 (x2 as every
      # bias, x10 as last layer), weight decay on the weights only.
      slot = slots(result['optimizer'], variables)
      d_w = np.einsum('bhwi,bhwc->ic', features.astype(np.float64),
                      d_logits)[None, None]
      w = weights['logits/semantic/weights']
      want_w = 10.0 * (d_w + 4e-5 * w)
      want_b = 20.0 * d_logits.sum((0, 1, 2))
      # Within 1e-4 of their scale (float32 softmax and sums against the
      # float64 reference).
      np.testing.assert_allclose(slot['logits/semantic/weights'].numpy(),
                                 want_w, atol=1e-4 * np.abs(want_w).max())
      np.testing.assert_allclose(slot['logits/semantic/biases'].numpy(),
                                 want_b, atol=1e-4 * np.abs(want_b).max())
      # The update is lr x slot (momentum starts at zero).
      np.testing.assert_allclose(
          variables['logits/semantic/weights'].numpy(),
          w - numpy_learning_rate(0) * want_w,
          atol=1e-5 * np.abs(w).max())
      # Backbone (loosely: float order through the whole network): finite,
      # non-zero gradients with multiplier 1.
      first = slot['xception_41/entry_flow/conv1_1/weights'].numpy()
      assert np.isfinite(first).all() and np.abs(first).max() > 0
    model_lib.transfer_weights(result['model'], reference_model)
  # Mining ramps k down, so the mean loss over the chosen pixels rises while
  # the weights barely move; the trajectory is the NumPy one step by step.
  assert all(np.isfinite(losses))


def test_t1_in_mixed_bfloat16_stays_on_the_original_trajectory(
    zoo_checkpoint, tmp_path):
  """--precision=mixed_bfloat16 (bf16 compute, float32 variables, loss and
  optimizer): the same three T1 steps, within what bf16's 8-bit mantissa
  allows, so a fast path cannot silently change the optimisation.

  Measured: losses within 3e-4 of the original's; each variable's three-step
  change matches the original's within 26% (the first conv, whose change is
  the smallest), most within a few percent.
  """
  sidecar, arrays = t1()
  config, options = config_and_options(t1_flags(
      zoo_checkpoint, str(tmp_path), ['--precision=mixed_bfloat16']))
  result = trainer.train(config, options, max_steps_this_run=3,
                         input_fn=fixed_batches(arrays))
  for ours, ref in zip(result['steps'], sidecar['per_step']):
    assert_step(ours, ref, rtol=1e-3)
  variables = model_lib.tf1_variable_map(result['model'])
  assert all(v.dtype == 'float32' for v in variables.values())
  off_course = []
  for name, var in variables.items():
    key = 'state/' + name
    flat = var.numpy().astype(np.float64).reshape(-1)
    positions, _ = lean.fingerprint_plan(key, flat.size)
    initial = reference.deterministic_value(name, var.shape).astype(
        np.float64).reshape(-1)[positions]
    want = arrays['sample/' + key]
    step = np.linalg.norm(want - initial)
    if np.linalg.norm(flat[positions] - want) > 0.4 * step + 1e-7:
      off_course.append(name)
  assert off_course == []
