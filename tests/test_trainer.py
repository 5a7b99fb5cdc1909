"""The training job: learning, BatchNorm modes, initialisation, resume after
SIGKILL, two workers over loopback."""
import json
import os
import random
import signal
import socket
import subprocess
import time

import numpy as np
import pytest
import tensorflow as tf

import helpers
import reference
from deeplab import checkpoints
from deeplab import common
from deeplab import configs
from deeplab import model as model_lib
from deeplab import rundir
from deeplab.training import trainer


# A small DeepLabv3 on MobileNetV2 (the model-zoo head: image pooling +
# aspp0, no decoder) trains fast enough for tests.
OPTIONS = common.ModelOptions(model_variant='mobilenet_v2', output_stride=16)


def _config(logdir, records, **overrides):
  values = dict(train_logdir=str(logdir), dataset_dir=records,
                train_crop_size=(65, 65), train_batch_size=4,
                training_number_of_steps=40, base_learning_rate=0.01,
                log_steps=10, save_interval_steps=0, save_interval_secs=3600,
                save_summaries_secs=3600, num_readers=2)
  values.update(overrides)
  return configs.TrainConfig(**values)


def _script_args(logdir, records, **overrides):
  values = dict(train_logdir=logdir, dataset_dir=records,
                train_crop_size='65,65', train_batch_size=2,
                training_number_of_steps=8, base_learning_rate=0.01,
                model_variant='mobilenet_v2', log_steps=1, num_readers=2)
  values.update(overrides)
  args = []
  for k, v in values.items():
    if v is True:
      args.append('--' + k)
    elif v is False:
      args.append('--no' + k)
    else:
      args.append('--%s=%s' % (k, v))
  return ['train.py'] + args


def _env(**extra):
  return helpers.environment(TF_CPP_MIN_LOG_LEVEL=2, PYTHONPATH=helpers.ROOT,
                             CUDA_VISIBLE_DEVICES='', **extra)


def _weights(prefix):
  reader = tf.train.load_checkpoint(prefix)
  names = checkpoints.read_variable_shapes(prefix)
  keys = checkpoints._checkpoint_keys(prefix)  # pylint: disable=protected-access
  return {n: reader.get_tensor(keys[n][0]) for n in names
          if not n.startswith('_CHECKPOINTABLE')}


@pytest.mark.slow
def test_loss_decreases_on_synthetic_data(voc_records, tmp_path):
  result = trainer.train(_config(tmp_path / 'run', voc_records, seed=1),
                         OPTIONS)
  losses = [loss for _, loss in result['losses']]
  assert len(losses) == 40 and all(np.isfinite(losses))
  first, last = np.mean(losses[:5]), np.mean(losses[-5:])
  assert last < 0.6 * first, (first, last)
  # The run left a loadable checkpoint, the options and TensorBoard events.
  files = os.listdir(tmp_path / 'run')
  assert 'model_options.json' in files and 'train_config.json' in files
  assert any(f.startswith('events.out.tfevents') for f in files)
  model = model_lib.build_model(rundir.load_options(
      str(tmp_path / 'run')).replace(crop_size=(65, 65)))
  report = checkpoints.load_weights(model, str(tmp_path / 'run'))
  assert len(report.restored) == len(model_lib.tf1_variable_map(model))


def _moving_stats(variables):
  return {n: np.array(v) for n, v in variables.items() if 'moving_' in n}


@pytest.mark.parametrize('fine_tune', [False, True])
@pytest.mark.slow
def test_batch_norm_frozen_or_fine_tuned_with_batch_one(voc_records, tmp_path,
                                                        fine_tune):
  cfg = _config(tmp_path / 'run', voc_records, train_batch_size=1,
                fine_tune_batch_norm=fine_tune, training_number_of_steps=2)
  first = trainer.train(cfg, OPTIONS, max_steps_this_run=0)
  before = _moving_stats(_weights(first['checkpoint']))
  result = trainer.train(cfg, OPTIONS)
  assert result['global_step'] == 2
  after = _moving_stats(model_lib.tf1_variable_map(result['model']))
  changed = [n for n in before if not np.array_equal(before[n], after[n])]
  if fine_tune:
    assert len(changed) == len(before)
  else:
    assert not changed
  # gamma/beta learn in both modes.
  gammas = _weights(result['checkpoint'])
  start = _weights(first['checkpoint'])
  assert any(not np.array_equal(gammas[n], start[n]) for n in gammas
             if n.endswith('BatchNorm/gamma'))


@pytest.mark.slow
def test_initialisation_from_reference_checkpoint(voc_records, tmp_path):
  # make_checkpoint.py's values for the model-zoo MobileNetV2 head.
  full = reference.write_reference_checkpoint('mobilenet_v2_modelzoo',
                                              str(tmp_path / 'zoo'))
  expected = _weights(full)
  result = trainer.train(
      _config(tmp_path / 'with_last', voc_records, tf_initial_checkpoint=full),
      OPTIONS, max_steps_this_run=0)
  got = model_lib.tf1_variable_map(result['model'])
  assert set(got) == set(expected)
  for name, value in expected.items():
    np.testing.assert_array_equal(got[name].numpy(), value, err_msg=name)

  # A checkpoint with another number of classes: only without the last layer.
  other = reference.write_reference_checkpoint(
      'mobilenet_v2_modelzoo', str(tmp_path / 'zoo7'),
      extra={'logits/semantic/weights': np.ones((1, 1, 256, 7), np.float32),
             'logits/semantic/biases': np.ones((7,), np.float32)})
  with pytest.raises(checkpoints.CheckpointMismatchError,
                     match='initialize_last_layer'):
    trainer.train(_config(tmp_path / 'strict', voc_records,
                          tf_initial_checkpoint=other), OPTIONS,
                  max_steps_this_run=0)
  result = trainer.train(
      _config(tmp_path / 'no_last', voc_records, tf_initial_checkpoint=other,
              initialize_last_layer=False,
              last_layers_contain_logits_only=True), OPTIONS,
      max_steps_this_run=0)
  got = model_lib.tf1_variable_map(result['model'])
  for name, value in expected.items():
    if name.startswith('logits/'):
      assert not np.array_equal(got[name].numpy(), value)
    else:
      np.testing.assert_array_equal(got[name].numpy(), value, err_msg=name)
  assert got['logits/semantic/weights'].shape[-1] == 21

  # An existing checkpoint in the logdir wins over tf_initial_checkpoint.
  again = trainer.train(
      _config(tmp_path / 'no_last', voc_records, tf_initial_checkpoint=full,
              training_number_of_steps=1), OPTIONS)
  np.testing.assert_array_equal(
      _weights(result['checkpoint'])['logits/semantic/biases'] != 1.0, True)
  assert not np.array_equal(
      model_lib.tf1_variable_map(again['model'])[
          'logits/semantic/weights'].numpy(),
      expected['logits/semantic/weights'])


@pytest.mark.slow
def test_mixed_bfloat16_trains(voc_records, tmp_path):
  result = trainer.train(
      _config(tmp_path / 'bf16', voc_records, precision='mixed_bfloat16',
              training_number_of_steps=2, train_batch_size=2), OPTIONS)
  assert np.isfinite(result['loss'])
  assert all(v.dtype == tf.float32 for v in result['model'].weights)


def test_bad_flags_are_named(voc_records, tmp_path):
  with pytest.raises(ValueError, match='--train_batch_size'):
    trainer.train(_config(tmp_path, voc_records, train_batch_size=0), OPTIONS)
  with pytest.raises(ValueError, match='--precision'):
    trainer.train(_config(tmp_path, voc_records, precision='fp8'), OPTIONS)
  with pytest.raises(FileNotFoundError, match='dataset_dir'):
    trainer.train(_config(tmp_path, str(tmp_path / 'nope')), OPTIONS)


def _latest_step(logdir):
  latest = tf.train.latest_checkpoint(logdir)
  return int(latest.rsplit('-', 1)[1]) if latest else 0


@pytest.mark.slow
def test_resume_after_sigkill_matches_an_uninterrupted_run(voc_records,
                                                           tmp_path):
  common_args = dict(training_number_of_steps=14, save_interval_steps=2,
                     deterministic=True, seed=5)
  reference_dir = str(tmp_path / 'uninterrupted')
  helpers.run(_script_args(reference_dir, voc_records, **common_args),
              env=_env(), check=True)

  logdir = str(tmp_path / 'killed')
  proc = helpers.start(_script_args(logdir, voc_records, **common_args),
                       env=_env(), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
  deadline = time.time() + 240
  target = random.Random(0).choice([4, 6])
  while _latest_step(logdir) < target and time.time() < deadline:
    assert proc.poll() is None, 'training ended before it could be killed'
    time.sleep(0.05)
  time.sleep(random.Random(1).uniform(0.0, 0.3))  # Mid-step, maybe mid-save.
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  killed_at = _latest_step(logdir)
  assert 2 <= killed_at < 14
  # Every checkpoint the state file lists loads.
  state = tf.train.get_checkpoint_state(logdir)
  for path in state.all_model_checkpoint_paths:
    assert _weights(path)

  done = helpers.run(_script_args(logdir, voc_records, **common_args),
                     env=_env())
  assert done.returncode == 0, done.stderr[-3000:]
  assert 'Resumed from' in done.stderr
  assert 'at step %d' % killed_at in done.stderr
  resumed = _weights(tf.train.latest_checkpoint(logdir))
  uninterrupted = _weights(tf.train.latest_checkpoint(reference_dir))
  assert set(resumed) == set(uninterrupted)
  for name in resumed:
    np.testing.assert_allclose(resumed[name], uninterrupted[name], rtol=1e-5,
                               atol=1e-6, err_msg=name)


def _free_ports(n):
  sockets = [socket.socket() for _ in range(n)]
  for s in sockets:
    s.bind(('localhost', 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


@pytest.mark.slow
def test_two_workers_on_loopback_agree_with_one_worker(voc_records, tmp_path):
  # Dropout masks are drawn per replica (shapes differ), so it is off here;
  # with frozen BatchNorm the two set-ups compute the same gradient.
  args = dict(training_number_of_steps=3, train_batch_size=4, seed=3,
              fine_tune_batch_norm=False, save_interval_steps=100,
              dropout_keep_prob=1.0)
  single = str(tmp_path / 'single')
  helpers.run(_script_args(single, voc_records, **args), env=_env(),
              check=True)

  multi = str(tmp_path / 'multi')
  workers = ['localhost:%d' % p for p in _free_ports(2)]
  procs = []
  for index in range(2):
    tf_config = json.dumps({'cluster': {'worker': workers},
                            'task': {'type': 'worker', 'index': index}})
    procs.append(helpers.start(
        _script_args(multi, voc_records, **args),
        env=_env(TF_CONFIG=tf_config), stderr=subprocess.STDOUT))
  outputs = [p.communicate(timeout=400)[0] for p in procs]
  for p, out in zip(procs, outputs):
    assert p.returncode == 0, out[-3000:]
  assert '2 replicas, global batch 4' in outputs[0]
  one = _weights(tf.train.latest_checkpoint(single))
  two = _weights(tf.train.latest_checkpoint(multi))
  assert _latest_step(multi) == 3
  assert not [f for f in os.listdir(multi) if f.startswith('.worker')]
  for name in one:
    np.testing.assert_allclose(two[name], one[name], rtol=1e-4, atol=1e-5,
                               err_msg=name)


@pytest.mark.slow
def test_a_finished_run_started_again_changes_nothing(voc_records, tmp_path):
  logdir = tmp_path / 'done'
  trainer.train(_config(logdir, voc_records, training_number_of_steps=1,
                        train_batch_size=2), OPTIONS)
  saved = {name: (logdir / name).read_bytes() for name in (
      rundir.TRAIN_CONFIG_FILE, rundir.OPTIONS_FILE, rundir.DATASET_FILE)
           if (logdir / name).exists()}
  assert rundir.TRAIN_CONFIG_FILE in saved
  again = trainer.train(_config(logdir, voc_records, training_number_of_steps=1,
                                train_batch_size=2, seed=7,
                                base_learning_rate=0.5), OPTIONS)
  assert again['loss'] is None and again['global_step'] == 1
  for name, data in saved.items():
    assert (logdir / name).read_bytes() == data, name
