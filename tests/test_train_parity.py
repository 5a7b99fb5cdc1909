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
import json
import os
import subprocess
import sys
import zlib

from absl import flags
import numpy as np
import pytest
import tensorflow as tf

from deeplab import cli
from deeplab import flags as deeplab_flags
from deeplab import model as model_lib
from deeplab.training import trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, 'tests', 'data', 'train_vectors')
NAME = 'T1_mobilenet_v2_zoo_3steps_nodropout'
sys.path.insert(0, os.path.join(ROOT, 'tests', 'data'))
import make_lean_train_vectors as lean  # pylint: disable=g-import-not-at-top,wrong-import-position


def t1():
  with open(os.path.join(DATA, NAME + '.json')) as f:
    sidecar = json.load(f)
  return sidecar, np.load(os.path.join(DATA, NAME + '_lean.npz'))


def t1_flags(init_checkpoint, logdir, extra=()):
  """train.py's command line for T1 (the sidecar's flags)."""
  return ['train.py', '--model_variant=mobilenet_v2', '--output_stride=16',
          '--train_crop_size=129,129', '--train_batch_size=2',
          '--base_learning_rate=0.007', '--training_number_of_steps=30000',
          '--learning_power=0.9', '--momentum=0.9', '--weight_decay=0.00004',
          '--nofine_tune_batch_norm', '--upsample_logits',
          '--dropout_keep_prob=1.0', '--dataset=pascal_voc_seg',
          '--tf_initial_checkpoint=' + init_checkpoint,
          '--train_logdir=' + logdir, '--save_interval_secs=100000',
          '--log_steps=1'] + list(extra)


def config_and_options(argv):
  """What train.py builds from its flags (`cli._train` before training)."""
  fv = flags.FlagValues()
  deeplab_flags.define_groups(cli.TRAIN_GROUPS, fv)
  fv(argv)
  config = deeplab_flags.config_from_flags(trainer.TrainConfig, fv)
  options, _ = deeplab_flags.model_options(fv, crop_size=config.train_crop_size)
  return config, options


def fixed_batches(arrays):
  images = arrays['_input/images_uint8'].astype(np.float32)
  labels = arrays['_input/labels'].astype(np.int32)[..., None]

  def input_fn(context):
    per_replica = context.get_per_replica_batch_size(2)
    return tf.data.Dataset.from_tensor_slices(
        {'image': images, 'label': labels}).batch(per_replica).repeat()

  return input_fn


def fingerprint_errors(prefix, tensors, arrays, tolerance):
  """Names whose sampled values or projections differ from the reference by
  more than `tolerance` x the tensor's scale (projections: x sqrt(size))."""
  bad = []
  for name, value in tensors.items():
    key = prefix + name
    flat = np.asarray(value, np.float64).reshape(-1)
    positions, signs = lean.fingerprint_plan(key, flat.size)
    scale = max(float(arrays['scale/' + key]), 1e-12)
    sample_err = np.abs(flat[positions] - arrays['sample/' + key]).max()
    proj_err = np.abs(signs @ flat - arrays['proj/' + key]).max()
    if (sample_err > tolerance * scale or
        proj_err > tolerance * scale * np.sqrt(flat.size)):
      bad.append((name, sample_err / scale, proj_err / scale))
  return bad


def slots(optimizer, variables):
  return {name: optimizer.accumulators[optimizer._get_variable_index(var)]  # pylint: disable=protected-access
          for name, var in variables.items() if var.trainable}


def assert_step(ours, reference, rtol=1e-5):
  assert ours['learning_rate'] == pytest.approx(reference['learning_rate'],
                                                rel=1e-6)
  assert ours['total_loss'] == pytest.approx(reference['total_loss'], rel=rtol)
  assert ours['loss/merged_logits'] == pytest.approx(
      reference['cross_entropy_loss'], rel=rtol)
  assert ours['regularization_loss'] == pytest.approx(
      reference['regularization_loss'], rel=rtol)


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
  for ours, reference in zip(second['steps'], sidecar['per_step'][1:]):
    assert_step(ours, reference)
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
from deeplab.training import distribute
distribute.split_cpu(2)
import numpy as np
import test_train_parity as t
sidecar, arrays = t.t1()
config, options = t.config_and_options(t.t1_flags(
    sys.argv[2], sys.argv[3], ['--num_clones=2']))
result = t.trainer.train(config, options, max_steps_this_run=3,
                         input_fn=t.fixed_batches(arrays))
assert result['global_step'] == 3
for ours, reference in zip(result['steps'], sidecar['per_step']):
  t.assert_step(ours, reference)
variables = {n: v.numpy() for n, v in t.model_lib.tf1_variable_map(
    result['model']).items()}
momentum = {n + '/Momentum': v.numpy() for n, v in t.slots(
    result['optimizer'], t.model_lib.tf1_variable_map(result['model'])).items()}
bad = (t.fingerprint_errors('state/', variables, arrays, 1e-5) +
       t.fingerprint_errors('state/', momentum, arrays, 1e-3))
assert bad == [], bad[:5]
print('REPLICAS', result['model'].distribute_strategy.num_replicas_in_sync)
'''


def test_t1_on_two_mirrored_replicas_equals_one(zoo_checkpoint, tmp_path):
  """MirroredStrategy over two CPU replicas, one image each: what the
  original's clones do (each clone's loss over its own valid pixels, summed
  gradients scaled by 1/num_clones) is, on T1's batch (equal valid pixels in
  both images), the single-replica step."""
  out = subprocess.run(
      [sys.executable, '-c', _TWO_REPLICAS, os.path.join(ROOT, 'tests'),
       zoo_checkpoint, str(tmp_path)], cwd=ROOT, capture_output=True,
      text=True, timeout=600)
  assert out.returncode == 0, out.stderr[-3000:]
  assert 'REPLICAS 2' in out.stdout
