"""The files beside a checkpoint: one module reads and writes them all.

A checkpoint folder of this project (a training logdir, a model-zoo import,
a converted checkpoint) holds, beside its weights:

  model_options.json  the `ModelOptions` the weights were trained with
  train_config.json   the training job's flags (a training logdir), its
                      paths absolute
  dataset.json        the description of the dataset it was trained on
                      (classes, names, colours, splits, largest image), a
                      copy, so that the run needs no dataset to be used
  zoo.json            the model-zoo entry, its published evaluation, the
                      dataset's class names and colours (a zoo import)
  .train.lock         held while a trainer runs there

Every command that takes a checkpoint reads what it needs through here:
the model options, the run's dataset, its class names and colours, and the
flag values saved with the run (`saved_settings`). Nothing depends on the
working directory: a run folder works from anywhere, after a move or on
another machine (where its TFRecords may be gone: only evaluation and vis
of a split need them).
"""
import dataclasses
import json
import os

from deeplab import common
from deeplab import errors
from deeplab import configs
from deeplab import files
from deeplab.data import datasets

OPTIONS_FILE = 'model_options.json'
TRAIN_CONFIG_FILE = 'train_config.json'
DATASET_FILE = datasets.DESCRIPTION_FILE
ZOO_FILE = 'zoo.json'
LOCK_FILE = '.train.lock'
# What a zoo.json holds (`zoo.import_checkpoint`).
ZOO_KEYS = ('name', 'url', 'source', 'row', 'defaults', 'backbone_only',
            'dataset', 'class_names', 'colormap')


def _directory(checkpoint):
  """The folder of a checkpoint prefix, or the folder itself."""
  return checkpoint if os.path.isdir(checkpoint) else os.path.dirname(
      checkpoint)


def folder_of(checkpoint):
  """The run folder of a checkpoint prefix or folder, or None when there is
  none on disk."""
  if not checkpoint:
    return None
  folder = _directory(checkpoint)
  return folder if folder and os.path.isdir(folder) else None


def write_options(folder, options):
  """Writes `model_options.json` into `folder` (atomically)."""
  return files.write_json(os.path.join(folder, OPTIONS_FILE),
                          options.to_dict(), indent=2, sort_keys=True)


def load_options(checkpoint: str):
  """The `ModelOptions` saved beside a project checkpoint, or None."""
  path = os.path.join(_directory(checkpoint), OPTIONS_FILE)
  if not os.path.exists(path):
    return None
  try:
    with open(path) as f:
      fields = json.load(f)
    if not isinstance(fields, dict):
      raise ValueError('expected a JSON object, got %s'
                       % type(fields).__name__)
  except (OSError, ValueError) as e:
    raise ValueError('Cannot read the saved model options %s: %s. Restore '
                     'the file (it is written with each checkpoint folder), '
                     'or remove it and give every model flag.'
                     % (path, e)) from e
  return options_from_dict(fields, path)


_TYPE_NAMES = {bool: 'true or false', int: 'an integer', float: 'a number',
               str: 'a string', tuple: 'a list', dict: 'an object'}


def _field_type_error(field, value):
  """What the ModelOptions field `field` must be when `value` does not fit
  it, else None."""
  default = (field.default if field.default is not dataclasses.MISSING
             else field.default_factory())
  if default is None:
    return None  # Optional fields: None or what their converter reads.
  expected = type(default)
  if value is None:
    return _TYPE_NAMES.get(expected)
  fits = {
      bool: lambda v: isinstance(v, bool),
      int: lambda v: isinstance(v, int) and not isinstance(v, bool),
      float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
      str: lambda v: isinstance(v, str),
      tuple: lambda v: isinstance(v, list),
      dict: lambda v: isinstance(v, dict),
  }.get(expected, lambda v: True)
  return None if fits(value) else _TYPE_NAMES.get(expected)


def options_from_dict(fields, source='model_options.json'):
  """`ModelOptions` from a saved dict, naming `source` and the field of any
  value that does not fit (not a flag the user never passed)."""
  known = {f.name: f for f in dataclasses.fields(common.ModelOptions)}
  errors.check_keys(fields, known, source, 'option')
  for name, value in fields.items():
    if name in known:
      problem = _field_type_error(known[name], value)
      if problem:
        raise ValueError('%s: "%s" is %r; it must be %s.' % (
            source, name, value, problem))
  try:
    return common.ModelOptions(**{k: v for k, v in fields.items()
                                  if k in known})
  except (TypeError, ValueError) as e:
    raise ValueError('%s holds options that cannot be built: %s'
                     % (source, e)) from e


def read_train_config(folder):
  """The training flags saved in a training logdir (`train_config.json`),
  {flag: value}, or None when there are none (or they cannot be read).

  Raises:
    ValueError: naming a key that is not a training flag (and the nearest).
  """
  path = os.path.join(folder, TRAIN_CONFIG_FILE)
  try:
    with open(path) as f:
      saved = json.load(f)
  except (OSError, ValueError):
    return None
  if isinstance(saved, dict):
    errors.check_keys(saved, configs.TrainConfig().to_dict(), path,
                      'training flag')
  return saved


def write_train_config(folder, config):
  """Writes a training job's flags (`train_config.json`, atomically)."""
  return files.write_json(os.path.join(folder, TRAIN_CONFIG_FILE),
                          config.to_dict(), indent=2, sort_keys=True)


def read_zoo_file(folder):
  """The `zoo.json` of a folder written by `import_checkpoint`, or None."""
  path = os.path.join(folder if os.path.isdir(folder)
                      else os.path.dirname(folder), ZOO_FILE)
  if not os.path.exists(path):
    return None
  try:
    with open(path) as f:
      info = json.load(f)
  except (OSError, ValueError) as e:
    raise ValueError('Cannot read %s: %s' % (path, e)) from e
  if isinstance(info, dict):
    errors.check_keys(info, ZOO_KEYS, path)
  return info


def write_zoo_file(folder, info):
  """Writes a model-zoo import's `zoo.json` (atomically)."""
  return files.write_json(os.path.join(folder, ZOO_FILE), info, indent=2)


def write_dataset(folder, descriptor):
  """Writes the copy of a run's dataset description (`dataset.json`)."""
  return files.write_json(os.path.join(folder, DATASET_FILE),
                          descriptor.to_dict(), indent=2)


def dataset_of(checkpoint):
  """(dataset, dataset_dir) a checkpoint's run was trained or published on
  (its `train_config.json`, or a model-zoo import's `zoo.json`), else
  (None, None).

  A run's own dataset is the copy of its description in the run folder, so
  its classes, names and colours are known wherever the folder is; a
  description saved as a path relative to the working directory of an
  older run is looked for beside its TFRecords.
  """
  folder = folder_of(checkpoint)
  if folder is None:
    return None, None
  if os.path.exists(os.path.join(folder, TRAIN_CONFIG_FILE)):
    config = read_train_config(folder)
    if config is None:
      return None, None
    dataset, dataset_dir = config.get('dataset'), config.get('dataset_dir')
    if (not dataset or dataset in datasets.BUILTIN or
        dataset.startswith(datasets.TFDS_PREFIX)):
      return dataset, dataset_dir
    copy = os.path.join(folder, DATASET_FILE)
    if os.path.exists(copy):
      return os.path.abspath(copy), dataset_dir
    beside = os.path.join(dataset_dir or '', os.path.basename(dataset))
    if (dataset.endswith('.json') and not os.path.exists(dataset) and
        os.path.exists(beside)):
      return beside, dataset_dir
    return dataset, dataset_dir
  info = read_zoo_file(folder) or {}
  return info.get('dataset'), None


def description_of(checkpoint):
  """The `DatasetDescriptor` of the dataset a checkpoint's run was trained
  or published on, or None when unknown."""
  dataset, dataset_dir = dataset_of(checkpoint)
  if not dataset:
    return None
  try:
    return datasets.get_dataset(dataset, dataset_dir)
  except (ValueError, FileNotFoundError):
    return None


def classes_of(checkpoint):
  """(class names or None, colour map) of the dataset a checkpoint's run
  was trained or published on (pascal's colours when unknown)."""
  descriptor = description_of(checkpoint)
  if descriptor is None:
    return None, 'pascal'
  return descriptor.class_names, descriptor.colormap


def saved_settings(checkpoint):
  """Flag values saved with a checkpoint's run, {flag: value}.

  A training logdir gives its dataset and dataset folder (so eval, vis and
  export follow the run) and, where the dataset recorded its largest image,
  the evaluation crop; a model-zoo import (`zoo.json`) gives its published
  evaluation: dataset, split, crop, eval scales, flips, resizing, colour
  map.
  """
  folder = folder_of(checkpoint)
  if folder is None:
    return {}
  out = {}
  dataset, dataset_dir = dataset_of(checkpoint)
  if dataset:
    out['dataset'] = dataset
    if dataset_dir:
      out['dataset_dir'] = dataset_dir
    try:
      crop = datasets.get_dataset(dataset, dataset_dir).eval_crop_size()
    except (ValueError, FileNotFoundError):
      crop = None
    if crop:
      out.update(eval_crop_size=crop, vis_crop_size=crop, crop_size=crop)
  info = read_zoo_file(folder) or {}
  out.update(info.get('defaults', {}))
  return out


# Saved settings that belong to the run's dataset.
DATASET_SETTINGS = ('dataset', 'dataset_dir', 'eval_crop_size',
                    'vis_crop_size', 'crop_size', 'eval_split', 'vis_split',
                    'colormap', 'colormap_type', 'min_resize_value',
                    'max_resize_value', 'resize_factor')
