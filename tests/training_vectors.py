"""T1, the original's three training steps (tests/data/train_vectors/): the
vectors, train.py's command line for them and how to compare with them.

Shared by tests/test_train_parity.py and benchmarks/train_parity.py.
"""
import json
import os
import sys

from absl import flags
import numpy as np
import pytest
import tensorflow as tf

from deeplab import configs
from deeplab.cli import flags as flag_lib
from deeplab.cli import run_settings
from deeplab.cli import train as train_cli
import helpers

DATA = os.path.join(helpers.ROOT, 'tests', 'data', 'train_vectors')
NAME = 'T1_mobilenet_v2_zoo_3steps_nodropout'
sys.path.insert(0, os.path.join(helpers.ROOT, 'tests', 'data'))
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
  """What train.py builds from its flags (`cli.train.job` before
  training)."""
  fv = flags.FlagValues()
  flag_lib.define_groups(train_cli.GROUPS, fv)
  fv(argv)
  config = flag_lib.config_from_flags(configs.TrainConfig, fv)
  options, _ = run_settings.model_options(fv, crop_size=config.train_crop_size)
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
