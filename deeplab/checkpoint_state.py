"""Which checkpoints a folder holds, and following a training run's.

A training folder may hold checkpoints a crash, a full disk or a partial
copy left incomplete: `newest_complete_checkpoint` finds the newest whole
one and `repair_checkpoint_state` points TensorFlow's `checkpoint` state
file at the whole ones only. Eval and vis follow a training run as the
original's scripts do, one checkpoint after another
(`for_each_checkpoint`), until the run is finished (`run_finished`).
"""
import os

import tensorflow as tf
from absl import logging

from deeplab import checkpoints
from deeplab import rundir


def _checkpoint_state(directory):
  """The folder's `checkpoint` state, or None when absent or invalid."""
  try:
    return tf.train.get_checkpoint_state(directory)
  except ValueError:
    return None


def newest_complete_checkpoint(directory, check=None):
  """The newest checkpoint of a training folder that can be restored.

  Args:
    directory: The folder.
    check: Optional further test, prefix -> problem or None.

  Returns:
    (prefix or None, [(prefix, reason)] of the newer ones skipped).
  """
  state = _checkpoint_state(directory)
  candidates = set(state.all_model_checkpoint_paths) if state else set()
  if state and state.model_checkpoint_path:
    candidates.add(state.model_checkpoint_path)
  candidates.update(f[:-len('.index')] for f in tf.io.gfile.glob(
      os.path.join(directory, checkpoints.CHECKPOINT_PREFIX + '-*.index')))
  candidates = {os.path.join(directory, os.path.basename(c))
                for c in candidates}
  skipped = []
  for prefix in sorted(candidates, key=checkpoints.step_of, reverse=True):
    problem = (checkpoints.checkpoint_problem(prefix) or
               (check and check(prefix)))
    if problem is None:
      return prefix, skipped
    skipped.append((prefix, problem))
  return None, skipped


def repair_checkpoint_state(directory, check=None):
  """Points the `checkpoint` state file at the complete checkpoints only.

  So a resumed job restores the newest checkpoint that is whole, and the
  checkpoint manager's rotation never counts (or deletes past) broken ones.

  Returns:
    (newest complete prefix or None, [(skipped prefix, reason)]).
  """
  latest, skipped = newest_complete_checkpoint(directory, check)
  if skipped or (latest and tf.train.latest_checkpoint(directory) != latest):
    complete = []
    state = _checkpoint_state(directory)
    for path in (state.all_model_checkpoint_paths if state else []):
      path = os.path.join(directory, os.path.basename(path))
      if checkpoints.step_of(path) < checkpoints.step_of(latest or '') and (
          checkpoints.checkpoint_problem(path) is None):
        complete.append(path)
    complete.append(latest)
    state_file = os.path.join(directory, 'checkpoint')
    if latest is None:  # A state file without a checkpoint is invalid.
      if os.path.exists(state_file):
        os.replace(state_file, state_file + '.incomplete')
      return latest, skipped
    with open(state_file + '.tmp', 'w') as f:
      f.write('model_checkpoint_path: "%s"\n' % os.path.basename(latest))
      for path in sorted(complete, key=checkpoints.step_of):
        f.write('all_model_checkpoint_paths: "%s"\n'
                % os.path.basename(path))
    os.replace(state_file + '.tmp', state_file)
  return latest, skipped


# What reading a checkpoint raises when its files are gone.
MISSING_CHECKPOINT_ERRORS = (FileNotFoundError, tf.errors.NotFoundError,
                             checkpoints.CheckpointMismatchError)


def vanished(error, checkpoint):
  """Whether `error` came from a checkpoint that no longer exists (a
  trainer's rotation deleted it while an evaluator was about to read it)."""
  return (isinstance(error, MISSING_CHECKPOINT_ERRORS) and
          not os.path.exists(checkpoint + '.index'))


# How often a polling job waiting for the next checkpoint looks whether the
# training run it follows has finished.
_FINISHED_CHECK_SECS = 5


def for_each_checkpoint(path, job, max_number=0, interval_secs=300,
                        flag='--max_number_of_evaluations', finished=None):
  """Runs `job(prefix)` on the checkpoints a polling job (eval, vis) sees.

  A checkpoint prefix runs once. A folder runs its latest checkpoint once
  when `max_number` is 1; otherwise, as the original, each new checkpoint
  as it appears (`tf.train.checkpoints_iterator`), until `max_number` of
  them ran (never, when it is not positive), or until `finished(prefix)`
  says no checkpoint will follow (a training run that is done; asked after
  each job and again every few seconds while waiting, since the trainer
  may finish just after the job looked). A
  checkpoint that a trainer's rotation deleted before `job` could read it
  does not count: the job waits for the next one (or, with `max_number` 1,
  takes the new latest).

  Returns:
    The list of `job`'s results, one per checkpoint it ran on.
  """
  results = []
  if not os.path.isdir(path) and (max_number == 1 or tf.io.gfile.glob(
      path + '.index')):
    return [job(checkpoints.resolve_checkpoint(path))]
  if max_number == 1:
    while True:
      prefix = checkpoints.resolve_checkpoint(path)
      try:
        return [job(prefix)]
      except MISSING_CHECKPOINT_ERRORS as e:
        if not vanished(e, prefix):
          raise
        logging.warning('Checkpoint %s was deleted before it could be read '
                        '(the trainer keeps only its newest); taking the '
                        'latest again.', prefix)
  if not (os.path.isdir(path) and tf.train.latest_checkpoint(path)):
    logging.info('Waiting for a checkpoint in %s (checking every %d s; %s).',
                 path, interval_secs, 'stops after %d checkpoints (%s)' % (
                     max_number, flag) if max_number > 0 else
                 'runs until stopped; %s limits it' % flag)
  ran = []

  def done_waiting():
    # Asked after each job and while waiting: a trainer releases its logdir
    # a moment after writing its last checkpoint, so a job that finished on
    # that checkpoint before then saw a running run, and no checkpoint will
    # follow.
    if finished is not None and ran and finished(ran[-1]):
      logging.info('%s is the last checkpoint of a finished training run: '
                   'done (%s keeps polling a running one).', ran[-1], flag)
      return True
    return False

  for prefix in tf.train.checkpoints_iterator(
      path, min_interval_secs=interval_secs,
      timeout=None if finished is None else _FINISHED_CHECK_SECS,
      timeout_fn=done_waiting):
    try:
      results.append(job(prefix))
      ran.append(prefix)
    except MISSING_CHECKPOINT_ERRORS as e:
      if not vanished(e, prefix):
        raise
      logging.warning('Checkpoint %s was deleted before it could be read '
                      '(the trainer keeps only its newest); waiting for the '
                      'next one.', prefix)
      continue
    if 0 < max_number <= len(results):
      break
    if done_waiting():
      break
    logging.info('Waiting for the next checkpoint in %s (%d done%s).', path,
                 len(results), ' of %d' % max_number if max_number > 0
                 else '')
  return results


def run_finished(prefix):
  """Whether checkpoint `prefix` is the last of a finished training run: its
  step reached the run's --training_number_of_steps (`train_config.json`)
  and no trainer holds the logdir."""
  logdir = os.path.dirname(prefix)
  config = rundir.read_train_config(logdir)
  steps = config.get('training_number_of_steps') if isinstance(
      config, dict) else None
  return (bool(steps) and checkpoints.step_of(prefix) >= steps and
          not os.path.exists(os.path.join(logdir, rundir.LOCK_FILE)))


def has_checkpoints(logdir):
  """Whether `logdir` holds training checkpoints (a run to resume)."""
  return bool(logdir) and bool(tf.io.gfile.glob(
      os.path.join(logdir, checkpoints.CHECKPOINT_PREFIX + '-*.index')))


def resolve_options(options):
  """`options`, or what it returns when it is a function (resolved late)."""
  return options() if callable(options) else options
