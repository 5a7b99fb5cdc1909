"""The training job: the original's train.py on tf.distribute.

`train(config, options)` builds the input pipeline, the model and the
optimizer under a strategy, initialises from `tf_initial_checkpoint` only
when the logdir has no checkpoint yet, resumes otherwise, and runs the loop
with checkpoints, console progress and TensorBoard summaries.

Checkpoints are written by `tf.train.CheckpointManager`, which writes the
data files first and swaps the `checkpoint` state file in last: a job killed
at any moment leaves the previous checkpoint as the latest one, loadable.
"""
import dataclasses
import functools
import json
import os
import shutil
import time
from typing import Optional, Tuple

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from deeplab import checkpoints
from deeplab import colormaps
from deeplab import common
from deeplab import files
from deeplab import model as model_lib
from deeplab.core import layers
from deeplab.core import quantize
from deeplab.data import data_generator
from deeplab.data import datasets
from deeplab.training import distribute
from deeplab.training import learning_rate as lr_lib
from deeplab.training import logdir_lock
from deeplab.training import losses
from deeplab.training import optimizers

CONFIG_FILE = 'train_config.json'
PRECISIONS = ('float32', 'mixed_float16', 'mixed_bfloat16')


@dataclasses.dataclass
class TrainConfig:
  """Everything about a training job except the model (`ModelOptions`).

  Field names and defaults are the original train.py flags; fields after
  `save_summaries_images` go beyond it.
  """
  train_logdir: Optional[str] = None
  dataset: str = 'pascal_voc_seg'
  dataset_dir: Optional[str] = None
  train_split: str = 'train'
  train_crop_size: Tuple[int, int] = (513, 513)
  train_batch_size: int = 8
  training_number_of_steps: int = 30000
  learning_policy: str = 'poly'
  base_learning_rate: float = 1e-4
  learning_rate_decay_factor: float = 0.1
  learning_rate_decay_step: int = 2000
  learning_power: float = 0.9
  decay_steps: float = 0.0
  end_learning_rate: float = 0.0
  slow_start_step: int = 0
  slow_start_learning_rate: float = 1e-4
  slow_start_burnin_type: str = 'none'
  optimizer: str = 'momentum'
  momentum: float = 0.9
  adam_learning_rate: float = 1e-3
  adam_epsilon: float = 1e-8
  weight_decay: float = 4e-5
  fine_tune_batch_norm: bool = True
  upsample_logits: bool = True
  top_k_percent_pixels: float = 1.0
  hard_example_mining_step: int = 0
  last_layer_gradient_multiplier: float = 1.0
  last_layers_contain_logits_only: bool = False
  tf_initial_checkpoint: Optional[str] = None
  initialize_last_layer: bool = True
  image_pyramid: Optional[Tuple[float, ...]] = None
  min_scale_factor: float = 0.5
  max_scale_factor: float = 2.0
  scale_factor_step_size: float = 0.25
  num_clones: int = 1
  log_steps: int = 10
  save_interval_secs: int = 1200
  save_summaries_secs: int = 600
  save_summaries_images: bool = False
  # Beyond the original.
  save_summaries_steps: int = 0
  save_interval_steps: int = 0
  max_checkpoints_to_keep: int = 5
  distribution_strategy: str = 'auto'
  tpu: Optional[str] = None
  sync_batch_norm: bool = False
  dropout_keep_prob: float = 0.9
  train_batch_norm_decay: Optional[float] = None
  precision: str = 'float32'
  seed: Optional[int] = None
  deterministic: bool = False
  num_readers: int = 4
  out_of_range_labels: str = 'error'
  resize: common.ResizeOptions = dataclasses.field(
      default_factory=common.ResizeOptions)

  def validate(self):
    """Raises ValueError naming the flag of the first bad value."""
    self.dataset_dir = datasets.implied_dataset_dir(self.dataset,
                                                    self.dataset_dir)
    if not self.train_logdir:
      raise ValueError('--train_logdir is required.')
    self.train_crop_size = common.parse_crop_size(self.train_crop_size,
                                                  'train_crop_size')
    positive = ('train_batch_size', 'training_number_of_steps', 'log_steps',
                'max_checkpoints_to_keep', 'num_clones')
    for name in positive:
      if getattr(self, name) < 1:
        raise ValueError('--%s must be at least 1, got %r.'
                         % (name, getattr(self, name)))
    if not 0.0 < self.top_k_percent_pixels <= 1.0:
      raise ValueError('--top_k_percent_pixels must be in (0, 1], got %r.'
                       % self.top_k_percent_pixels)
    if self.precision not in PRECISIONS:
      raise ValueError('--precision must be one of %s, got %r.'
                       % (', '.join(PRECISIONS), self.precision))
    if self.optimizer not in optimizers.OPTIMIZERS:
      raise ValueError('--optimizer must be one of %s, got %r.'
                       % (', '.join(optimizers.OPTIMIZERS), self.optimizer))
    if not 0.0 < self.dropout_keep_prob <= 1.0:
      raise ValueError('--dropout_keep_prob must be in (0, 1], got %r.'
                       % self.dropout_keep_prob)
    if self.train_batch_norm_decay is not None and not (
        0.0 <= self.train_batch_norm_decay < 1.0):
      raise ValueError('--train_batch_norm_decay must be in [0, 1).')
    if self.weight_decay < 0:
      raise ValueError('--weight_decay must be >= 0.')
    if self.out_of_range_labels not in ('error', 'ignore'):
      raise ValueError('--out_of_range_labels must be error or ignore, got %r.'
                       % self.out_of_range_labels)
    if not 0 < self.min_scale_factor <= self.max_scale_factor:
      raise ValueError('--min_scale_factor=%r and --max_scale_factor=%r: '
                       'need 0 < min <= max.' % (self.min_scale_factor,
                                                 self.max_scale_factor))
    if self.scale_factor_step_size < 0:
      raise ValueError('--scale_factor_step_size must be >= 0, got %r.'
                       % self.scale_factor_step_size)
    if self.deterministic and self.seed is None:
      self.seed = 0
    return self

  def to_dict(self):
    """The flags of the run (`train_config.json`)."""
    return common.flat_dict(self)


def _format_eta(seconds):
  seconds = int(max(seconds, 0))
  return '%d:%02d:%02d' % (seconds // 3600, seconds // 60 % 60, seconds % 60)


class _Saver:
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


def initialize_from_checkpoint(model, config):
  """Loads `tf_initial_checkpoint` into a fresh model (original's init_fn).

  A checkpoint without any head variable (an ImageNet classifier) restores
  the backbone only; otherwise the load is strict except for the last layers
  when `initialize_last_layer` is False.

  Returns:
    The `checkpoints.LoadReport`.
  """
  prefix = checkpoints.resolve_checkpoint(config.tf_initial_checkpoint)
  names = checkpoints.read_variable_shapes(prefix)
  head_scopes = model_lib.get_extra_layer_scopes(False)
  has_head = any(n.startswith(tuple(head_scopes)) for n in names)
  report = checkpoints.load_weights(
      model, prefix, backbone_only=not has_head,
      initialize_last_layer=config.initialize_last_layer,
      last_layers_contain_logits_only=config.last_layers_contain_logits_only,
      learn_missing_ranges=True)
  logging.info('Initialised from %s: %s', prefix, report.summary())
  return report


def _summary_images(model, images, labels, num_classes, colormap):
  """uint8 images, colour-mapped labels and predictions for TensorBoard."""
  outputs = model(images, training=False)
  logits = outputs[model_lib.MERGED_LOGITS_SCOPE]
  logits = tf.cast(logits, tf.float32)
  logits = layers.resize_bilinear(logits, tf.shape(images)[1:3])
  predictions = tf.argmax(logits, axis=3).numpy()
  cmap = colormaps.get_colormap(colormap)
  label_rgb = cmap[np.clip(labels[..., 0], 0, len(cmap) - 1)]
  label_rgb[labels[..., 0] >= num_classes] = 255  # Ignored pixels white.
  return (np.clip(images, 0, 255).astype(np.uint8), label_rgb.astype(np.uint8),
          cmap[predictions].astype(np.uint8))


def make_train_step(model, optimizer, strategy, global_step, config,
                    num_classes, ignore_label, label_weights=None):
  """The compiled training step: batch dict -> dict of summed losses.

  Forward in training mode, the per-scale losses plus weight decay, the
  gradient (loss-scaled under mixed_float16), the original's gradient
  multipliers, the optimizer update (gradients all-reduced across
  replicas) and the global step increment.
  """
  replicas = strategy.num_replicas_in_sync
  variables = model.trainable_variables
  # Per-variable gradient multipliers (biases x2, last layers), by name.
  name_of = {id(v): n for n, v in model_lib.tf1_variable_map(model).items()}
  multipliers = lr_lib.gradient_multipliers(
      [name_of.get(id(v), v.name) for v in variables],
      model_lib.get_extra_layer_scopes(config.last_layers_contain_logits_only),
      config.last_layer_gradient_multiplier)
  factors = [multipliers.get(name_of.get(id(v), v.name), 1.0)
             for v in variables]
  regularized = losses.regularized_variables(model)
  loss_kwargs = dict(num_classes=num_classes, ignore_label=ignore_label,
                     label_weights=label_weights,
                     upsample_logits=config.upsample_logits,
                     top_k_percent_pixels=config.top_k_percent_pixels,
                     hard_example_mining_step=config.hard_example_mining_step)

  def step_fn(images, labels):
    with tf.GradientTape() as tape:
      outputs = model(images, training=True)
      per_scale = losses.scale_losses(outputs, labels, step=global_step,
                                      **loss_kwargs)
      regularization = losses.weight_decay_loss(
          regularized, config.weight_decay) / replicas
      total = tf.add_n(list(per_scale.values())) + regularization
      scaled = (optimizer.scale_loss(total)
                if config.precision == 'mixed_float16' else total)
    grads = tape.gradient(scaled, variables)
    grads = [g if f == 1.0 or g is None else g * f
             for g, f in zip(grads, factors)]
    optimizer.apply_gradients(zip(grads, variables))
    result = {'total_loss': total, 'regularization_loss': regularization}
    result.update({'loss/' + k: v for k, v in per_scale.items()})
    return result

  @tf.function
  def train_step(batch):
    per_replica = strategy.run(step_fn, args=(batch['image'], batch['label']))
    global_step.assign_add(1)
    return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
            for k, v in per_replica.items()}

  return train_step


def _local(strategy, value):
  return strategy.experimental_local_results(value)[0]


def train(config: TrainConfig, options: common.ModelOptions,
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
      data_generator.TFDS_PREFIX):
    dataset.files()  # A missing folder or split, before anything is written.
  per_replica = config.train_batch_size // replicas
  fast_decay = (config.train_batch_norm_decay is not None and
                config.train_batch_norm_decay < 0.99)
  if config.fine_tune_batch_norm and per_replica < 12 and not fast_decay:
    logging.warning(
        '--fine_tune_batch_norm with %d images per replica: the original '
        'advises at least 12 (16 is better); BatchNorm statistics of small '
        'batches are noisy and, with the decay %s, move slowly. If eval '
        'predicts one class everywhere: %s', per_replica,
        config.train_batch_norm_decay or options.batch_norm_decay,
        checkpoints.DEGENERATE_ADVICE)
  os.makedirs(config.train_logdir, exist_ok=True)
  lock = logdir_lock.LogdirLock(config.train_logdir) if chief else None
  if lock is not None:
    lock.acquire()
    if lock.taken_over:
      logging.warning('Took over the lock of %s from a job that is no longer '
                      'running (pid %s on %s).', config.train_logdir,
                      lock.taken_over.get('pid'), lock.taken_over.get('host'))
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
  latest = find_resume_checkpoint(config.train_logdir, chief)
  if latest:
    check_resume_options(config.train_logdir, options, config.dataset)
    log_changed_config(config)
  with strategy.scope():
    model, schedule, optimizer, global_step = build_training_objects(
        config, options)
  checkpoint = checkpoints.training_checkpoint(
      model, optimizer=optimizer, global_step=global_step)
  saver = _Saver(checkpoint, config.train_logdir, chief,
                 config.max_checkpoints_to_keep)
  restore_or_initialize(checkpoint, model, config, global_step, latest)
  if chief:
    write_run_files(config, options)
  label_weights = options.label_weights
  if label_weights is not None and len(label_weights) == 1:
    label_weights = label_weights[0]
  train_step = make_train_step(model, optimizer, strategy, global_step,
                               config, options.num_classes,
                               dataset.ignore_label, label_weights)
  # A seeded stream is a pure function of the element index, so a resumed
  # job skips what was consumed and continues with the very same batches.
  skip = int(global_step.numpy()) * config.train_batch_size if (
      config.seed is not None) else 0
  batches = iter(strategy.distribute_datasets_from_function(
      input_fn or functools.partial(dataset.make_dataset, skip=skip)))
  logging.info('Training %s on %s/%s: %d replica%s, global batch %d, steps '
               '%d -> %d.', options.model_variant, config.dataset,
               config.train_split, replicas, '' if replicas == 1 else 's',
               config.train_batch_size,
               int(global_step.numpy()), config.training_number_of_steps)
  loop = _Loop(config, options, strategy, model, schedule, global_step,
               saver, latest, chief, lock)
  try:
    while loop.step < config.training_number_of_steps:
      if max_steps_this_run is not None and (
          loop.step - loop.start_step >= max_steps_this_run):
        break
      batch = _next_batch(batches, dataset, config)
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
    latest, skipped = checkpoints.repair_checkpoint_state(
        logdir, non_finite_problem)
  else:
    latest, skipped = checkpoints.newest_complete_checkpoint(
        logdir, non_finite_problem)
  for prefix, reason in skipped:
    logging.warning('Skipping checkpoint %s: %s; %s.', prefix, reason,
                    'resuming from %s' % latest if latest else
                    'no complete checkpoint is left')
  return latest


def run_finished(prefix):
  """Whether checkpoint `prefix` is the last of a finished training run: its
  step reached the run's --training_number_of_steps (`train_config.json`)
  and no trainer holds the logdir."""
  logdir = os.path.dirname(prefix)
  try:
    with open(os.path.join(logdir, CONFIG_FILE)) as f:
      steps = json.load(f).get('training_number_of_steps')
  except (OSError, ValueError):
    return False
  return (bool(steps) and checkpoints.step_of(prefix) >= steps and
          not os.path.exists(os.path.join(logdir, logdir_lock.LOCK_FILE)))


def has_checkpoints(logdir):
  """Whether `logdir` holds training checkpoints (a run to resume)."""
  return bool(logdir) and bool(tf.io.gfile.glob(
      os.path.join(logdir, checkpoints.CHECKPOINT_PREFIX + '-*.index')))


# Options that may differ between the runs of one logdir: the crop is the
# run's, not the model's.
_RUN_OPTIONS = ('crop_size',)


def check_resume_options(logdir, options, dataset='the dataset'):
  """Refuses to resume a run with model options it was not trained with.

  The options saved with a run (`model_options.json`) are never rewritten
  silently: a resumed run keeps them (unset flags take the saved values,
  `deeplab.flags.model_options`), and one that differs, by a flag the user
  set or by the dataset's classes, is an error naming it.
  """
  saved = checkpoints.load_options(logdir)
  if saved is None:
    return
  path = os.path.join(logdir, checkpoints.OPTIONS_FILE)
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
  path = os.path.join(config.train_logdir, CONFIG_FILE)
  try:
    with open(path) as f:
      saved = json.load(f)
  except (OSError, ValueError):
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
    names = checkpoints.read_variable_shapes(latest)
    ranges = [n for n in model_lib.tf1_variable_map(model) if n not in names
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


def write_run_files(config, options):
  """model_options.json (read by eval, vis, export) and train_config.json."""
  files.write_json(os.path.join(config.train_logdir, checkpoints.OPTIONS_FILE),
                   options.to_dict(), indent=2, sort_keys=True)
  files.write_json(os.path.join(config.train_logdir, CONFIG_FILE),
                   config.to_dict(), indent=2, sort_keys=True)


def _next_batch(batches, dataset, config):
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


class _Loop:
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


def non_finite_problem(prefix):
  """'its weights are not finite' when a checkpoint holds NaN or Inf."""
  reader = tf.train.load_checkpoint(prefix)
  for name, dtype in sorted(reader.get_variable_to_dtype_map().items()):
    if dtype.is_floating and not np.isfinite(reader.get_tensor(name)).all():
      return 'its weights are not finite (%s)' % name
  return None


def newest_finite_checkpoint(logdir):
  """The newest complete checkpoint of `logdir` whose values are all finite."""
  return checkpoints.newest_complete_checkpoint(logdir, non_finite_problem)[0]


def _restart_advice(logdir):
  finite = newest_finite_checkpoint(logdir)
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
