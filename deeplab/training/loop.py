"""The training loop's bookkeeping after each step: checks, progress,
TensorBoard summaries, checkpoints, and what an interrupted run keeps.

Checkpoints are written by `tf.train.CheckpointManager`, which writes the
data files first and swaps the `checkpoint` state file in last: a job killed
at any moment leaves the previous checkpoint as the latest one, loadable.
"""
import os
import shutil
import time

import numpy as np
import tensorflow as tf
from absl import logging

from deeplab import checkpoints
from deeplab import colormaps
from deeplab import files
from deeplab.core import names
from deeplab.core import ops
from deeplab.data import data_generator
from deeplab.data import datasets
from deeplab.training import resume


def _format_eta(seconds):
  seconds = int(max(seconds, 0))
  return '%d:%02d:%02d' % (seconds // 3600, seconds // 60 % 60, seconds % 60)


class Saver:
  """Checkpoint manager for chief and workers alike.

  Under MultiWorkerMirroredStrategy every worker takes part in a save; only
  the chief's lands in the logdir, the others write to a scratch folder
  that is removed at once.
  """

  def __init__(self, checkpoint, logdir, chief, max_to_keep):
    self.chief = chief
    self.directory = logdir if chief else os.path.join(
        logdir, '.worker_scratch_%d' % os.getpid())
    self.manager = tf.train.CheckpointManager(
        checkpoint, self.directory, max_to_keep=max_to_keep,
        checkpoint_name='model.ckpt')

  def save(self, step):
    path = self.manager.save(checkpoint_number=step)
    if not self.chief:
      shutil.rmtree(self.directory, ignore_errors=True)
    return path


def _summary_images(model, images, labels, num_classes, colormap):
  """uint8 images, colour-mapped labels and predictions for TensorBoard."""
  outputs = model(images, training=False)
  logits = outputs[names.MERGED_LOGITS_SCOPE]
  logits = tf.cast(logits, tf.float32)
  logits = ops.resize_bilinear(logits, tf.shape(images)[1:3])
  predictions = tf.argmax(logits, axis=3).numpy()
  cmap = colormaps.get_colormap(colormap)
  label_rgb = cmap[np.clip(labels[..., 0], 0, len(cmap) - 1)]
  label_rgb[labels[..., 0] >= num_classes] = 255  # Ignored pixels white.
  return (np.clip(images, 0, 255).astype(np.uint8), label_rgb.astype(np.uint8),
          cmap[predictions].astype(np.uint8))


def _local(strategy, value):
  return strategy.experimental_local_results(value)[0]


def next_batch(batches, dataset, config):
  """The next batch, or a `DataError` naming the shard that cannot be read."""
  try:
    return next(batches)
  except StopIteration:
    files = dataset.files()
    empty = [f for f in files if os.path.getsize(f) == 0]
    raise data_generator.DataError(
        'Split %r of %s yields no training batch: its %d shard(s) hold fewer '
        'than --train_batch_size=%d records%s.' % (
            config.train_split, config.dataset_dir, len(files),
            config.train_batch_size, ' (%d empty file(s), e.g. %s)' % (
                len(empty), empty[0]) if empty else '')) from None
  except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
    raise data_generator.read_error(dataset, e) from e


class Loop:
  """What happens after each step: checks, progress, summaries, saves."""

  def __init__(self, config, options, strategy, model, schedule, global_step,
               saver, latest, chief, lock=None):
    self.config, self.options, self.strategy = config, options, strategy
    self.lock = lock
    self.model, self.schedule, self.global_step = model, schedule, global_step
    self.saver, self.saved, self.chief = saver, latest, chief
    self.step = self.start_step = int(global_step.numpy())
    self.writer = (tf.summary.create_file_writer(config.train_logdir)
                   if chief else tf.summary.create_noop_writer())
    self.start = self.last_save = self.last_summary = time.time()
    self.last_log_step, self.last_log_time = self.step, self.start
    self.history, self.steps, self.result = [], [], {}

  def after_step(self, batch, result):
    config = self.config
    self.result = result
    self.step = step = int(self.global_step.numpy())
    if self.lock is not None:
      self.lock.heartbeat()
    self.history.append((step, result['total_loss']))
    if not np.isfinite(result['total_loss']):
      raise FloatingPointError(
          'Loss is %r at step %d (losses: %s). %s' % (
              result['total_loss'], step, result,
              _restart_advice(self.config.train_logdir)))
    now = time.time()
    rate = (float(self.schedule(step - 1)) if config.optimizer == 'momentum'
            else config.adam_learning_rate)
    self.steps.append(dict(result, step=step, learning_rate=rate))
    if step % config.log_steps == 0 or step == config.training_number_of_steps:
      self._log_progress(now, rate)
    by_steps = (config.save_summaries_steps and
                step % config.save_summaries_steps == 0)
    if self.chief and (by_steps or
                       now - self.last_summary >= config.save_summaries_secs
                       or step == self.start_step + 1):
      self._write_summaries(batch, rate)
      self.last_summary = now
    if config.save_interval_steps:
      due = step % config.save_interval_steps == 0
    else:
      due = now - self.last_save >= config.save_interval_secs
    if _agree(self.strategy, due) and step < config.training_number_of_steps:
      self._save()

  def _log_progress(self, now, rate):
    config, step = self.config, self.step
    speed = ((step - self.last_log_step) * config.train_batch_size /
             max(now - self.last_log_time, 1e-9))
    eta = (config.training_number_of_steps - step) * (
        (now - self.start) / max(step - self.start_step, 1))
    logging.info('step %d/%d: loss %.4f (regularization %.4f), lr %.6g, '
                 '%.2f images/s, ETA %s', step,
                 config.training_number_of_steps, self.result['total_loss'],
                 self.result['regularization_loss'], rate, speed,
                 _format_eta(eta))
    self.last_log_step, self.last_log_time = step, now

  def _write_summaries(self, batch, rate):
    with self.writer.as_default(step=self.step):
      for key, value in self.result.items():
        tf.summary.scalar('losses/' + key, value)
      tf.summary.scalar('learning_rate', rate)
      if self.config.save_summaries_images:
        images = _local(self.strategy, batch['image'])[:3].numpy()
        labels = _local(self.strategy, batch['label'])[:3].numpy()
        image, label, prediction = _summary_images(
            self.model, images, labels, self.options.num_classes,
            datasets.colormap_for(self.config.dataset,
                                  self.config.dataset_dir))
        tf.summary.image('samples/image', image)
        tf.summary.image('samples/label', label)
        tf.summary.image('samples/semantic', prediction)
    self.writer.flush()

  def _save(self):
    bad = [v.path for v in self.model.weights
           if not np.isfinite(v.numpy()).all()]
    if bad:  # Never save weights that would poison every resume.
      raise FloatingPointError(
          'At step %d %d weights are not finite (e.g. %s); not saving them. '
          '%s' % (self.step, len(bad), bad[0],
                  _restart_advice(self.config.train_logdir)))
    try:
      self.saved = self.saver.save(self.step)
    except (tf.errors.OpError, OSError) as e:
      os_error = e if isinstance(e, OSError) else files.as_os_error(e)
      # What the interrupted save wrote (the manager's `_temp` folder).
      for leftover in tf.io.gfile.glob(os.path.join(
          self.saver.directory, '%s-%d_temp' % (checkpoints.CHECKPOINT_PREFIX,
                                                self.step))):
        shutil.rmtree(leftover, ignore_errors=True)
      if os_error is None:
        raise
      raise files.WriteError(
          'Cannot save the checkpoint of step %d: %s %s' % (
              self.step, files.os_error_message(os_error),
              'The newest complete checkpoint, %s, is intact; once the cause '
              'is fixed, run the same command to resume from it.' % self.saved
              if self.saved else 'No checkpoint was written yet; once the '
              'cause is fixed, run the same command to start again.')) from e
    self.last_save = time.time()
    logging.info('Saved %s.', self.saved)

  def interrupted(self):
    """The `Interrupted` error of a run stopped by Ctrl-C (or SIGTERM):
    the step it reached is saved first (a step is whole when Python sees
    the interrupt), so the next run resumes there."""
    note = ''
    multi_worker = self.strategy.extended._in_multi_worker_mode()  # pylint: disable=protected-access
    if self.step > (checkpoints.step_of(self.saved) if self.saved else -1) \
        and not multi_worker:
      try:
        self._save()
      except (FloatingPointError, OSError, tf.errors.OpError) as e:
        note = ' (saving step %d failed: %s)' % (self.step,
                                                 str(e).splitlines()[0])
    if self.saved:
      what = 'the newest checkpoint is %s (step %d)' % (
          self.saved, checkpoints.step_of(self.saved))
      todo = 'run the same command to resume from it'
    else:
      what = 'no checkpoint was written'
      todo = 'run the same command to start again'
    self.writer.flush()
    return Interrupted('Training interrupted at step %d%s: %s; %s.' % (
        self.step, note, what, todo))

  def finish(self, model, optimizer):
    if self.step > self.start_step or self.saved is None:
      self._save()
    self.writer.flush()
    return {'global_step': self.step, 'loss': self.result.get('total_loss'),
            'losses': self.history, 'steps': self.steps,
            'checkpoint': self.saved, 'model': model,
            'optimizer': optimizer, 'options': self.options}


class Interrupted(KeyboardInterrupt):
  """A job stopped by Ctrl-C (or SIGTERM); the message says what was kept
  and how to go on."""


def _restart_advice(logdir):
  finite = resume.newest_finite_checkpoint(logdir)
  if finite is None:
    return ('No finite checkpoint exists in %s: start again with a lower '
            '--base_learning_rate, and check --label_weights and the labels.'
            % logdir)
  return ('The newest checkpoint with finite weights is %s: rerunning resumes '
          'from it; lower --base_learning_rate (or --slow_start_step), and '
          'check --label_weights and the labels.' % finite)


def _agree(strategy, flag):
  """The same decision on every worker (time-based saves would diverge)."""
  if strategy.extended._in_multi_worker_mode():  # pylint: disable=protected-access
    value = strategy.run(lambda: tf.constant(1.0 if flag else 0.0))
    return bool(strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None))
  return bool(flag)
