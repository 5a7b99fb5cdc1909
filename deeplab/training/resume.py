"""Starting and resuming a run: where a training job picks up.

A job resumes from the newest complete checkpoint with finite weights of
its logdir (`find_resume_checkpoint`), with the model options the run was
trained with (`check_resume_options`; a changed training flag is said,
`log_changed_config`), or starts from `--tf_initial_checkpoint`
(`initialize_from_checkpoint`, the original's init_fn).
"""
import dataclasses
import os
import shutil

import numpy as np
import tensorflow as tf
from absl import logging

from deeplab import checkpoint_state
from deeplab import checkpoints
from deeplab import common
from deeplab import rundir
from deeplab.core import names


def initialize_from_checkpoint(model, config):
  """Loads `tf_initial_checkpoint` into a fresh model (original's init_fn).

  A checkpoint without any head variable (an ImageNet classifier) restores
  the backbone only; otherwise the load is strict except for the last layers
  when `initialize_last_layer` is False.

  Returns:
    The `checkpoints.LoadReport`.
  """
  prefix = checkpoints.resolve_checkpoint(config.tf_initial_checkpoint)
  saved = checkpoints.read_variable_shapes(prefix)
  head_scopes = names.get_extra_layer_scopes(False)
  has_head = any(n.startswith(tuple(head_scopes)) for n in saved)
  report = checkpoints.load_weights(
      model, prefix, backbone_only=not has_head,
      initialize_last_layer=config.initialize_last_layer,
      last_layers_contain_logits_only=config.last_layers_contain_logits_only,
      learn_missing_ranges=True)
  logging.info('Initialised from %s: %s', prefix, report.summary())
  return report


def find_resume_checkpoint(logdir, chief=True):
  """The newest complete checkpoint of the logdir (None: a fresh start).

  Newer ones that a crash or a full disk left incomplete are skipped with a
  warning naming them and why; the chief also points the state file at the
  complete ones and removes what interrupted saves left (`model.ckpt-*_temp`
  folders),
  so nothing older is rotated away because of the broken ones.
  """
  if chief:
    for leftover in tf.io.gfile.glob(os.path.join(
        logdir, checkpoints.CHECKPOINT_PREFIX + '-*_temp')):
      if os.path.isdir(leftover):
        shutil.rmtree(leftover, ignore_errors=True)
        logging.warning('Removed %s, left by an interrupted save.', leftover)
    latest, skipped = checkpoint_state.repair_checkpoint_state(
        logdir, non_finite_problem)
  else:
    latest, skipped = checkpoint_state.newest_complete_checkpoint(
        logdir, non_finite_problem)
  for prefix, reason in skipped:
    logging.warning('Skipping checkpoint %s: %s; %s.', prefix, reason,
                    'resuming from %s' % latest if latest else
                    'no complete checkpoint is left')
  return latest


def non_finite_problem(prefix):
  """'its weights are not finite' when a checkpoint holds NaN or Inf."""
  reader = tf.train.load_checkpoint(prefix)
  for name, dtype in sorted(reader.get_variable_to_dtype_map().items()):
    if dtype.is_floating and not np.isfinite(reader.get_tensor(name)).all():
      return 'its weights are not finite (%s)' % name
  return None


def newest_finite_checkpoint(logdir):
  """The newest complete checkpoint of `logdir` whose values are all finite."""
  return checkpoint_state.newest_complete_checkpoint(
      logdir, non_finite_problem)[0]


# Options that may differ between the runs of one logdir: the crop is the
# run's, not the model's.
_RUN_OPTIONS = ('crop_size',)


def check_resume_options(logdir, options, dataset='the dataset'):
  """Refuses to resume a run with model options it was not trained with.

  The options saved with a run (`model_options.json`) are never rewritten
  silently: a resumed run keeps them (unset flags take the saved values,
  `deeplab.cli.run_settings.model_options`), and one that differs, by a flag
  the user set or by the dataset's classes, is an error naming it.
  """
  saved = rundir.load_options(logdir)
  if saved is None:
    return
  path = os.path.join(logdir, rundir.OPTIONS_FILE)
  differ = []
  for field in dataclasses.fields(common.ModelOptions):
    name = field.name
    if name in _RUN_OPTIONS:
      continue
    old, new = getattr(saved, name), getattr(options, name)
    if old == new:
      continue
    if name == 'outputs_to_num_classes':
      differ.append('the run has %d classes but --dataset=%s has %d' % (
          saved.num_classes, dataset, options.num_classes))
    else:
      differ.append('--%s=%s, but the run was trained with %s' % (
          name, _flag_text(new), _flag_text(old)))
  if differ:
    raise checkpoints.CheckpointMismatchError(
        'Cannot resume %s: %s (%s). A resumed run keeps the options it was '
        'trained with: leave those flags out, or start a new --train_logdir '
        '(with --tf_initial_checkpoint=%s to start from its weights).' % (
            logdir, '; '.join(differ), path, logdir))


def _flag_text(value):
  if isinstance(value, (list, tuple)):
    return ','.join(str(v) for v in value)
  return str(value)


def log_changed_config(config):
  """Logs the training flags that changed since the run's last start (its
  `train_config.json`), so a resumed run never changes them silently."""
  path = os.path.join(config.train_logdir, rundir.TRAIN_CONFIG_FILE)
  saved = rundir.read_train_config(config.train_logdir)
  if not isinstance(saved, dict):
    return
  changed = ['--%s %s -> %s' % (k, _flag_text(saved[k]), _flag_text(v))
             for k, v in sorted(config.to_dict().items())
             if k in saved and saved[k] != v]
  if changed:
    logging.warning('Resuming %s with training flags changed since its last '
                    'start: %s (%s is updated).', config.train_logdir,
                    ', '.join(changed), path)


def restore_or_initialize(checkpoint, model, config, global_step, latest):
  """Resumes from `latest` (a checkpoint of the logdir), else initialises
  from `tf_initial_checkpoint` (or leaves a fresh model)."""
  if latest:
    saved = checkpoints.read_variable_shapes(latest)
    ranges = [n for n in names.tf1_variable_map(model) if n not in saved
              and checkpoints.is_quantization_range(n)]
    if ranges:
      raise checkpoints.CheckpointMismatchError(
          'Cannot resume %s with --quantize_delay_step=%d: it was trained '
          'without quantization (no %s). Start quantization-aware training '
          'in a new --train_logdir with --tf_initial_checkpoint=%s.' % (
              latest, model.model_options.quantize_delay_step, ranges[0],
              latest))
    checkpoint.restore(latest).assert_existing_objects_matched()
    logging.info('Resumed from %s at step %d.', latest,
                 int(global_step.numpy()))
  elif config.tf_initial_checkpoint:
    initialize_from_checkpoint(model, config)
  else:
    logging.info('Not initialising from a checkpoint (no '
                 '--tf_initial_checkpoint): training from scratch.')


def write_run_files(config, options, descriptor=None):
  """model_options.json (read by eval, vis, export), train_config.json and
  the copy of the dataset's description (`descriptor`, when it has one)."""
  rundir.write_options(config.train_logdir, options)
  rundir.write_train_config(config.train_logdir, config)
  if descriptor is not None:
    rundir.write_dataset(config.train_logdir, descriptor)
