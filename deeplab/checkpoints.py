"""Loading the original TF1 DeepLab checkpoints (and this project's) by name.

Every model weight has the name it had in the original TF1 graph
(`names.tf1_variable_map`), so a name-based checkpoint is read with
`tf.train.load_checkpoint` and assigned variable by variable. Anything that
does not fit is reported precisely: variables missing from the checkpoint,
variables the model does not have, shape mismatches (both shapes named).

Partial loads are explicit choices, as with the original's training flags:
  * `backbone_only`: restore the feature extractor only (ImageNet
    checkpoints, which have no ASPP/decoder and a classification head).
  * `initialize_last_layer=False`: leave the last layers as initialised
    (`last_layers_contain_logits_only` narrows them to `logits`), e.g. for a
    different number of classes.
Anything else that does not fit is a `CheckpointMismatchError`, never a
silently half-initialised model.

This project's own weight format is the same kind of checkpoint (keys are
the original names) with a `model_options.json` beside it (`rundir`), so it
loads through the same entry point and is readable by the original TF1 code
too. Finding a folder's newest complete checkpoint and following a training
run's checkpoints is `checkpoint_state`'s.
"""
import dataclasses
import os
import re
import shutil
import tempfile
from typing import List

import numpy as np
import tensorflow as tf

from deeplab import checkpoint_misfit as misfit
from deeplab import rundir
from deeplab.core import feature_extractor
from deeplab.core import names

CHECKPOINT_PREFIX = 'model.ckpt'

# Checkpoint entries that are training state, not model weights: optimizer
# slots, moving averages of the weights, counters. Never an error.
# The original's quantization-aware checkpoints also hold the ranges of its
# per-tensor weight fake-quant ops (`.../weights_quant/min|max`): this
# project quantizes weights per channel at conversion, so they are not used.
_TRAINING_STATE = re.compile(
    r'(^global_step$|/Momentum(_\d+)?$|/Adam(_\d+)?$|/RMSProp(_\d+)?$|'
    r'/ExponentialMovingAverage$|^beta[12]_power|_CHECKPOINTABLE_OBJECT_GRAPH|'
    r'/weights_quant/(min|max)$)')
# Ranges of quantization-aware training (`core/quantize.py`).
_QUANT_RANGE = re.compile(r'/act_quant/(min|max)$')


def is_quantization_range(name):
  """Whether the original variable name `name` is a fake-quant range."""
  return bool(_QUANT_RANGE.search(name))


class CheckpointMismatchError(ValueError):
  """The checkpoint does not fit the model (the message lists every misfit)."""


@dataclasses.dataclass
class LoadReport:
  """What a load did.

  Attributes:
    checkpoint: The checkpoint prefix read.
    restored: Names assigned from the checkpoint.
    skipped: Model variables left as initialised by the caller's choice.
    unused: Checkpoint variables not used by this model (allowed only when
      loading the backbone only).
    training_state: Checkpoint entries ignored as optimizer/EMA state.
  """
  checkpoint: str
  restored: List[str]
  skipped: List[str]
  unused: List[str]
  training_state: List[str]

  def summary(self) -> str:
    return ('restored %d variables from %s; %d left as initialised by choice; '
            '%d checkpoint variables unused; %d training-state entries ignored'
            % (len(self.restored), self.checkpoint, len(self.skipped),
               len(self.unused), len(self.training_state)))


def resolve_checkpoint(path: str) -> str:
  """The checkpoint prefix for a prefix, a directory, or an index/data file.

  Raises:
    FileNotFoundError: naming the path when no checkpoint is there.
  """
  if not path:
    raise FileNotFoundError('No checkpoint given (empty path).')
  if os.path.isdir(path):
    latest = tf.train.latest_checkpoint(path)
    if latest is None:
      default = os.path.join(path, CHECKPOINT_PREFIX)
      if os.path.exists(default + '.index'):
        return default
      raise FileNotFoundError('No checkpoint found in directory %s.' % path)
    return latest
  for suffix in ('.index', '.data-00000-of-00001', '.meta'):
    if path.endswith(suffix):
      path = path[:-len(suffix)]
  if not os.path.exists(path + '.index'):
    raise FileNotFoundError('Checkpoint %s not found (no %s.index).'
                            % (path, path))
  return path


# Training checkpoints (`training_checkpoint`) are object-based: the weights
# sit under `weights/<escaped original name>/.ATTRIBUTES/VARIABLE_VALUE`.
WEIGHTS_ATTRIBUTE = 'weights'
_OBJECT_SUFFIX = '/.ATTRIBUTES/VARIABLE_VALUE'


def _unescape(key):
  """Inverts the object-graph escaping ('.' -> '..', '/' -> '.S')."""
  out, i = [], 0
  while i < len(key):
    if key[i] == '.' and i + 1 < len(key):
      out.append('/' if key[i + 1] == 'S' else key[i + 1])
      i += 2
    else:
      out.append(key[i])
      i += 1
  return ''.join(out)


def _checkpoint_keys(prefix: str) -> dict:
  """Original name (or training-state key) -> (checkpoint key, shape)."""
  try:
    listing = tf.train.list_variables(prefix)
  except (tf.errors.OpError, ValueError) as e:
    raise CheckpointMismatchError('Cannot read checkpoint %s: %s'
                                  % (prefix, e)) from e
  object_based = any(n == '_CHECKPOINTABLE_OBJECT_GRAPH' for n, _ in listing)
  entries = {}
  for key, shape in listing:
    name = key
    head = WEIGHTS_ATTRIBUTE + '/'
    if (object_based and key.startswith(head) and key.endswith(_OBJECT_SUFFIX)
        and '.OPTIMIZER_SLOT' not in key):
      name = _unescape(key[len(head):-len(_OBJECT_SUFFIX)])
    elif object_based:
      name = '_CHECKPOINTABLE_OBJECT_GRAPH/' + key  # Training state.
    entries[name] = (key, tuple(shape))
  return entries


def read_variable_shapes(prefix: str) -> dict:
  """name -> shape of every entry of a checkpoint (original names).

  Reads TF1 name-based checkpoints, this project's exports and its training
  checkpoints alike.
  """
  return {name: shape for name, (_, shape) in _checkpoint_keys(prefix).items()}


def training_checkpoint(model, **state):
  """A `tf.train.Checkpoint` of `model`'s weights keyed by original name.

  `state` adds training state (optimizer, step). Such checkpoints resume
  training exactly and load anywhere `load_weights` is used (eval, vis,
  export), whatever the output stride or eval scales of the loading model.
  """
  # The random state of dropout travels too, so a resumed run draws the
  # masks an uninterrupted one would have drawn.
  rng = {layer.name: layer.seed_generator.state for layer in model.layers
         if getattr(layer, 'seed_generator', None) is not None}
  return tf.train.Checkpoint(
      **{WEIGHTS_ATTRIBUTE: dict(names.tf1_variable_map(model))},
      random_state=rng, **state)


def _is_last_layer(name, scopes):
  # The original excludes by scope prefix: 'aspp' covers aspp0, aspp1_...
  return any(name.startswith(s) for s in scopes)


def load_weights(model, checkpoint: str, *, backbone_only: bool = False,
                 initialize_last_layer: bool = True,
                 last_layers_contain_logits_only: bool = False,
                 learn_missing_ranges: bool = False) -> LoadReport:
  """Assigns a name-based checkpoint to `model`, strictly unless told.

  Args:
    model: A model built by `deeplab.model` (or any Keras model whose layers
      follow the naming rule).
    checkpoint: TF1 checkpoint prefix, a directory holding one, or a
      checkpoint written by `save_weights`.
    backbone_only: Restore only the feature extractor's variables (scope of
      the variant, e.g. `xception_65/`); the rest stays as initialised and
      checkpoint variables outside it are allowed (ImageNet classifiers).
    initialize_last_layer: If False, the last layers (logits, image pooling,
      ASPP, concat projection, decoder) keep their initial values.
    last_layers_contain_logits_only: With `initialize_last_layer=False`,
      only `logits` counts as last layer.
    learn_missing_ranges: Quantization ranges (`.../act_quant/min|max`) the
      checkpoint lacks stay as they are, to be learned in training (a float
      checkpoint starting quantization-aware training). Ranges the model
      does not have are ignored either way (a float model of a quantized
      checkpoint).

  Returns:
    A `LoadReport`.

  Raises:
    FileNotFoundError: If the checkpoint is not there.
    CheckpointMismatchError: Listing missing variables, variables the model
      does not have, and shape mismatches, with a hint at the flags that make
      a partial load explicit.
  """
  prefix = resolve_checkpoint(checkpoint)
  try:
    keys = _checkpoint_keys(prefix)
  except (tf.errors.OpError, ValueError) as e:
    raise CheckpointMismatchError('Checkpoint %s cannot be read: %s.' % (
        prefix, checkpoint_problem(prefix) or str(e).splitlines()[0])) from e
  shapes = {name: shape for name, (_, shape) in keys.items()}
  variables = names.tf1_variable_map(model)
  options = getattr(model, 'model_options', None)

  wanted, skipped = {}, []
  backbone_scope = None
  if backbone_only:
    if options is None:
      raise ValueError('backbone_only needs a model built by deeplab.model.')
    backbone_scope = feature_extractor.get_backbone(options.model_variant).scope
  last_layers = names.get_extra_layer_scopes(
      last_layers_contain_logits_only)
  for name, var in variables.items():
    if backbone_scope is not None and not name.startswith(backbone_scope + '/'):
      skipped.append(name)
    elif not initialize_last_layer and _is_last_layer(name, last_layers):
      skipped.append(name)
    else:
      wanted[name] = var

  training_state = sorted(n for n in shapes if _TRAINING_STATE.search(n))
  training_state += sorted(n for n in shapes if n not in variables and
                           is_quantization_range(n))
  model_entries = {n: s for n, s in shapes.items() if n not in training_state}
  if learn_missing_ranges:
    for name in [n for n in wanted if n not in model_entries and
                 is_quantization_range(n)]:
      skipped.append(name)
      del wanted[name]
  missing = sorted(n for n in wanted if n not in model_entries)
  mismatched = sorted(
      (n, model_entries[n], tuple(wanted[n].shape)) for n in wanted
      if n in model_entries and model_entries[n] != tuple(wanted[n].shape))
  unused = sorted(n for n in model_entries
                  if n not in wanted and n not in skipped)
  unexpected = [] if backbone_scope is not None else unused

  if missing and all(is_quantization_range(n) for n in missing) and not (
      mismatched or unexpected):
    raise CheckpointMismatchError(
        'Checkpoint %s has no quantization ranges for the %d fake-quant ops '
        'of this model (e.g. %s): it was trained without '
        '--quantize_delay_step. Run it as a float model (leave the flag out, '
        'or --quantize_delay_step=-1), or fine-tune it quantization-aware in '
        'a new --train_logdir with --tf_initial_checkpoint=%s.'
        % (prefix, len(missing), missing[0], prefix))
  if missing or mismatched or unexpected:
    raise CheckpointMismatchError(misfit.message(
        prefix, missing, unexpected, mismatched, backbone_only,
        initialize_last_layer, last_layers_contain_logits_only))

  problem = checkpoint_problem(prefix)
  if problem:  # E.g. a truncated copy: say so instead of a reader error.
    raise CheckpointMismatchError('Checkpoint %s cannot be read: %s.'
                                  % (prefix, problem))
  reader = tf.train.load_checkpoint(prefix)
  for name, var in wanted.items():
    try:
      value = reader.get_tensor(keys[name][0])
    except (IndexError, tf.errors.OpError) as e:
      raise CheckpointMismatchError('Checkpoint %s cannot be read (variable '
                                    '%s): %s' % (prefix, name, e)) from e
    var.assign(np.asarray(value).astype(var.dtype))
  return LoadReport(prefix, sorted(wanted), sorted(skipped), unused,
                    training_state)


DEGENERATE_ADVICE = (
    # Lines of their own under the warning that uses it (short lines).
    '\n  That is what BatchNorm moving statistics which never learned the '
    'data give: trained from scratch with --fine_tune_batch_norm and the '
    "original's decay 0.9997 (or on small batches),"
    '\n  or frozen without a pretrained checkpoint, they stay near their '
    'initial values while the training loss still falls.'
    '\n  Remedies: --train_batch_norm_decay=0.9 for short runs from scratch, '
    'more steps and a batch of 12 or more per replica,'
    '\n  or --nofine_tune_batch_norm with a pretrained '
    '--tf_initial_checkpoint.')


def untouched_batch_norm(model):
  """Scopes of BatchNorm layers whose moving statistics are exactly Keras'
  initial values (mean 0, variance 1): never trained."""
  untouched = []
  variables = names.tf1_variable_map(model)
  for name, var in variables.items():
    if name.endswith('/moving_mean'):
      mean = var.numpy()
      variance = variables[name[:-len('moving_mean')] +
                           'moving_variance'].numpy()
      if not np.any(mean) and np.all(variance == 1.0):
        untouched.append(name[:-len('/moving_mean')])
  return untouched


def save_weights(model, output_dir: str, options=None) -> str:
  """Writes the model's weights in this project's format.

  A name-based checkpoint `<output_dir>/model.ckpt` whose keys are the
  original variable names, a `checkpoint` state file, and
  `model_options.json`. Files are written to a temporary directory first and
  moved into place, the state file last, so an interrupted write never looks
  like a complete checkpoint.

  Returns:
    The checkpoint prefix.
  """
  options = options or getattr(model, 'model_options', None)
  values = {n: v.numpy() for n, v in names.tf1_variable_map(model).items()}
  os.makedirs(output_dir, exist_ok=True)
  for leftover in tf.io.gfile.glob(os.path.join(output_dir, '.staging-*')):
    shutil.rmtree(leftover, ignore_errors=True)  # From a killed save.
  staging = tempfile.mkdtemp(prefix='.staging-', dir=output_dir)
  try:
    keys = sorted(values)
    tf.raw_ops.SaveV2(prefix=tf.constant(os.path.join(staging,
                                                      CHECKPOINT_PREFIX)),
                      tensor_names=tf.constant(keys),
                      shape_and_slices=tf.constant([''] * len(keys)),
                      tensors=[tf.constant(values[n]) for n in keys])
    if options is not None:
      rundir.write_options(staging, options)
    state = os.path.join(output_dir, 'checkpoint')
    if os.path.exists(state):
      os.remove(state)  # The old state must not point at half-moved files.
    for name in sorted(os.listdir(staging)):
      os.replace(os.path.join(staging, name), os.path.join(output_dir, name))
    with open(state + '.tmp', 'w') as f:
      f.write('model_checkpoint_path: "%s"\n'
              'all_model_checkpoint_paths: "%s"\n'
              % (CHECKPOINT_PREFIX, CHECKPOINT_PREFIX))
    os.replace(state + '.tmp', state)
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return os.path.join(output_dir, CHECKPOINT_PREFIX)


def step_of(prefix):
  """The step in a checkpoint prefix's name (`model.ckpt-30000`), or -1."""
  base = os.path.basename(prefix)
  tail = base.rsplit('-', 1)[-1]
  return int(tail) if '-' in base and tail.isdigit() else -1


def checkpoint_problem(prefix):
  """Why the checkpoint `prefix` cannot be restored, or None if it can.

  Checks what a crash, a full disk or a partial copy leaves behind: a missing
  or unreadable `.index`, missing data shards, data shorter than the tensors
  the index lists.
  """
  if not os.path.exists(prefix + '.index'):
    return 'its .index file is missing'
  try:
    reader = tf.train.load_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
  except (tf.errors.OpError, ValueError) as e:
    return 'its .index cannot be read (%s)' % str(e).splitlines()[0]
  shards = tf.io.gfile.glob(prefix + '.data-*-of-*')
  if not shards:
    return 'its .data file is missing'
  expected = {prefix + '.data-%05d-of-%05d' % (i, int(shards[0][-5:]))
              for i in range(int(shards[0][-5:]))}
  missing = sorted(expected - set(shards))
  if missing:
    return 'data shard %s is missing' % os.path.basename(missing[0])
  needed = sum(int(np.prod(shape)) * dtypes[name].size
               for name, shape in shapes.items()
               if dtypes[name] != tf.string)
  present = sum(os.path.getsize(f) for f in shards)
  if present < needed:
    return ('its data is truncated (%d of at least %d bytes)'
            % (present, needed))
  return None


def check_num_classes(checkpoint, num_classes, dataset):
  """Raises `CheckpointMismatchError` when the options saved beside
  `checkpoint` have another number of classes than the dataset's."""
  saved = rundir.load_options(checkpoint) if checkpoint and os.path.exists(
      checkpoint if os.path.isdir(checkpoint) else
      os.path.dirname(checkpoint) or '.') else None
  if saved is not None and num_classes and saved.num_classes != num_classes:
    raise CheckpointMismatchError(
        'The model of %s has %d classes (its %s) but --dataset=%s has %d: '
        'use the dataset it was trained on (--dataset and --dataset_dir; a '
        'training logdir remembers them when the flags are left out).'
        % (checkpoint, saved.num_classes, rundir.OPTIONS_FILE, dataset,
           num_classes))
