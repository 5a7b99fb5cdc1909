"""The training job: the original's train.py on tf.distribute.

`train(config, options)` builds the input pipeline, the model and the
optimizer under a strategy, initialises from `tf_initial_checkpoint` only
when the logdir has no checkpoint yet, resumes otherwise (`resume.py`), and
runs the compiled step (`step.py`) in a loop that checks, reports, writes
summaries and saves (`loop.py`), one trainer per logdir (`logdir_lock.py`).
"""
import functools
import os
from typing import Optional

import keras
import tensorflow as tf
from absl import logging

from deeplab import checkpoints
from deeplab import common
from deeplab import configs
from deeplab import model as model_lib
from deeplab.core import layers
from deeplab.core import quantize
from deeplab.data import data_generator
from deeplab.data import datasets
from deeplab.training import distribute
from deeplab.training import learning_rate as lr_lib
from deeplab.training import logdir_lock
from deeplab.training import loop as loop_lib
from deeplab.training import optimizers
from deeplab.training import resume
from deeplab.training import step

def train(config: configs.TrainConfig, options: common.ModelOptions,
          max_steps_this_run: Optional[int] = None, input_fn=None):
  """Runs (or resumes) a training job.

  Args:
    config: The job (`TrainConfig`).
    options: Model options; `outputs_to_num_classes` and `crop_size` are
      set from the dataset and `train_crop_size`.
    max_steps_this_run: Stop after this many steps of this run (tests).
    input_fn: Instead of the dataset's TFRecord pipeline, a function from a
      `tf.distribute.InputContext` to a `tf.data.Dataset` of per-replica
      batches {'image': float32 [b, H, W, 3] pixels 0..255, 'label': int
      [b, H, W, 1]} (fixed batches of parity tests, custom inputs). The
      dataset named by the config still gives the classes and ignore label.

  Returns:
    dict with 'global_step', 'loss' (last total loss), 'losses' (a list of
    (step, total loss) at each step of this run), 'steps' (per step of this
    run: every loss term and the learning rate of its update),
    'checkpoint' (the last saved), 'model', 'optimizer' and 'options'.
  """
  config.validate()
  if config.seed is not None:
    keras.utils.set_random_seed(config.seed)
  if config.deterministic:
    tf.config.experimental.enable_op_determinism()
    _one_thread_per_op()
  keras.mixed_precision.set_global_policy(config.precision)
  try:
    return _train(config, options, max_steps_this_run, input_fn)
  finally:
    keras.mixed_precision.set_global_policy('float32')


def _one_thread_per_op():
  """On a CPU-only machine, runs one op at a time on one thread: op
  determinism alone does not give the same figures from run to run on a
  multi-core CPU (on 2 cores the weights differed after one step; with one
  thread for ops and one between them, 50 steps of the quickstart gave
  equal losses and mIoU twice, at the same images/s). GPUs keep their
  threads."""
  if tf.config.list_physical_devices('GPU'):
    return
  try:
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
  except RuntimeError:  # TensorFlow already started: its threads stay.
    logging.warning('--deterministic: TensorFlow had started before training '
                    'and keeps its threads; runs may differ in the last '
                    'digits.')


def _train(config, options, max_steps_this_run, input_fn):
  strategy = distribute.get_strategy(config.distribution_strategy,
                                     config.num_clones, config.tpu)
  replicas = strategy.num_replicas_in_sync
  if config.train_batch_size % replicas:
    raise ValueError('--train_batch_size=%d is not divisible by the %d '
                     'replicas.' % (config.train_batch_size, replicas))
  chief = distribute.is_chief(strategy)
  dataset = data_generator.Dataset.from_config(
      config, config.train_split, config.train_crop_size,
      config.train_batch_size, options.model_variant,
      min_scale_factor=config.min_scale_factor,
      max_scale_factor=config.max_scale_factor,
      scale_factor_step_size=config.scale_factor_step_size,
      num_readers=config.num_readers, is_training=True, should_shuffle=True,
      should_repeat=True, seed=config.seed, require_labels=True,
      out_of_range_labels=config.out_of_range_labels)
  options = options.for_data(dataset.num_classes, config.train_crop_size)
  if input_fn is None and not config.dataset.startswith(
      datasets.TFDS_PREFIX):
    dataset.files()  # A missing folder or split, before anything is written.
  per_replica = config.train_batch_size // replicas
  fast_decay = (config.train_batch_norm_decay is not None and
                config.train_batch_norm_decay < 0.99)
  if config.fine_tune_batch_norm and per_replica < 12 and not fast_decay:
    logging.warning(
        '--fine_tune_batch_norm with %d images per replica: the original '
        'advises at least 12 (16 is better).\n  BatchNorm statistics of '
        'small batches are noisy and, with the decay %s, move slowly. If '
        'eval predicts one class everywhere:%s', per_replica,
        config.train_batch_norm_decay or options.batch_norm_decay,
        checkpoints.DEGENERATE_ADVICE)
  os.makedirs(config.train_logdir, exist_ok=True)
  lock = logdir_lock.LogdirLock(
      config.train_logdir, config.take_over_lock) if chief else None
  if lock is not None:
    lock.acquire()
    if lock.taken_over:
      logging.warning('Took over the lock of %s from a job that is no longer '
                      'running (pid %s on %s)%s.', config.train_logdir,
                      lock.taken_over.get('pid'), lock.taken_over.get('host'),
                      ', as --take_over_lock asked' if config.take_over_lock
                      else '')
  try:
    return _train_locked(config, options, max_steps_this_run, input_fn,
                         strategy, chief, dataset, lock)
  finally:
    if lock is not None:
      lock.release()


def _train_locked(config, options, max_steps_this_run, input_fn, strategy,
                  chief, dataset, lock):
  replicas = strategy.num_replicas_in_sync
  # Before the manager reads the state file: it must list (and rotate) only
  # checkpoints that are whole.
  latest = resume.find_resume_checkpoint(config.train_logdir, chief)
  # A run already at its last step trains nothing and changes nothing.
  finished = bool(latest) and (checkpoints.step_of(latest) >=
                               config.training_number_of_steps)
  if latest:
    resume.check_resume_options(config.train_logdir, options, config.dataset)
    if not finished:
      resume.log_changed_config(config)
  with strategy.scope():
    model, schedule, optimizer, global_step = build_training_objects(
        config, options)
  checkpoint = checkpoints.training_checkpoint(
      model, optimizer=optimizer, global_step=global_step)
  saver = loop_lib.Saver(checkpoint, config.train_logdir, chief,
                         config.max_checkpoints_to_keep)
  resume.restore_or_initialize(checkpoint, model, config, global_step, latest)
  if chief and not finished:
    resume.write_run_files(config, options, dataset.descriptor)
  label_weights = options.label_weights
  if label_weights is not None and len(label_weights) == 1:
    label_weights = label_weights[0]
  train_step = step.make_train_step(model, optimizer, strategy, global_step,
                                    config, options.num_classes,
                                    dataset.ignore_label, label_weights)
  # A seeded stream is a pure function of the element index, so a resumed
  # job skips what was consumed and continues with the very same batches.
  skip = int(global_step.numpy()) * config.train_batch_size if (
      config.seed is not None) else 0
  batches = iter(strategy.distribute_datasets_from_function(
      input_fn or functools.partial(dataset.make_dataset, skip=skip)))
  logging.info('Training %s on split %r of %s: %d replica%s, global batch '
               '%d, steps %d -> %d.', options.model_variant,
               config.train_split, dataset.descriptor.name if
               dataset.descriptor else config.dataset, replicas,
               '' if replicas == 1 else 's',
               config.train_batch_size,
               int(global_step.numpy()), config.training_number_of_steps)
  loop = loop_lib.Loop(config, options, strategy, model, schedule, global_step,
                       saver, latest, chief, lock)
  try:
    while loop.step < config.training_number_of_steps:
      if max_steps_this_run is not None and (
          loop.step - loop.start_step >= max_steps_this_run):
        break
      batch = loop_lib.next_batch(batches, dataset, config)
      loop.after_step(batch, {k: float(v)
                              for k, v in train_step(batch).items()})
  except KeyboardInterrupt:
    raise loop.interrupted() from None
  return loop.finish(model, optimizer)


def build_training_objects(config, options):
  """The model, learning-rate schedule, optimizer and global step of a run
  (to be called in the strategy's scope)."""
  model = model_lib.build_model(
      options, image_pyramid=config.image_pyramid,
      fine_tune_batch_norm=config.fine_tune_batch_norm,
      per_scale_outputs=True, sync_batch_norm=config.sync_batch_norm,
      dropout_keep_prob=config.dropout_keep_prob)
  if config.train_batch_norm_decay is not None:
    # Short runs from scratch need moving statistics that keep up with the
    # weights (the original's 0.997/0.9997 suit fine-tuning).
    for layer in model.layers:
      if isinstance(layer, layers.BatchNorm):
        layer.momentum = config.train_batch_norm_decay
  schedule = lr_lib.DeepLabLearningRate(
      config.learning_policy, config.base_learning_rate,
      config.learning_rate_decay_step, config.learning_rate_decay_factor,
      config.training_number_of_steps, config.learning_power,
      config.slow_start_step, config.slow_start_learning_rate,
      config.slow_start_burnin_type, config.decay_steps,
      config.end_learning_rate)
  optimizer = optimizers.make_optimizer(
      config.optimizer, schedule, config.momentum, config.adam_learning_rate,
      config.adam_epsilon)
  if config.precision == 'mixed_float16':
    optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
  global_step = tf.Variable(0, dtype=tf.int64, trainable=False,
                            name='global_step')
  # Fake-quant ops quantize from --quantize_delay_step on.
  quantize.attach_step(model, global_step)
  optimizer.build(model.trainable_variables)
  return model, schedule, optimizer, global_step
