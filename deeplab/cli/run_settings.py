"""The merge rule of every command: flags, then what a run saved, then
defaults.

A flag the user set wins; a run folder's saved options and settings
(`rundir`: `model_options.json`, the run's dataset and evaluation crop, a
zoo import's published evaluation) fill the flags that were not set;
defaults fill the rest. So `eval.py --checkpoint_dir=<train_logdir>` needs
no model or dataset flags, and `--output_stride=8 ...` there evaluates at
OS8.
"""
import dataclasses

from absl import flags
from absl import logging

from deeplab import common
from deeplab import rundir
from deeplab.cli import flags as flag_lib


def _model_flag_values(fv):
  """ModelOptions fields given by the model flags: {field: (value, set?)}."""
  out = {}
  for field in dataclasses.fields(common.ModelOptions):
    if field.name in fv:
      out[field.name] = (flag_lib.flag_value(fv, field.name),
                         fv[field.name].present)
  if 'dense_prediction_cell_json' in fv and fv.dense_prediction_cell_json:
    out['dense_prediction_cell_config'] = (
        {'json': fv.dense_prediction_cell_json}, True)
  if 'num_classes' in fv and fv.num_classes is not None:
    out['outputs_to_num_classes'] = (
        {common.OUTPUT_TYPE: fv.num_classes}, fv['num_classes'].present)
  return out


def apply_run_defaults(flag_values, checkpoint, log=True):
  """The one rule of saved run settings: flags the user did not set take
  the values saved with the checkpoint's run (`saved_run_defaults`); flags
  the user set win.

  Returns:
    {flag: value} of the flags that took a saved value.
  """
  fv = flag_values
  applied = {}
  # Another dataset than the run's: nothing that follows from the run's.
  other_data = any(name in fv and fv[name].present
                   for name in ('dataset', 'dataset_dir'))
  for name, value in rundir.saved_settings(checkpoint).items():
    if name not in fv or fv[name].present or value is None:
      continue
    if other_data and name in rundir.DATASET_SETTINGS:
      continue
    kind = fv[name].flag_type()
    if kind == 'multi crop size':
      value = [list(value)]
    elif isinstance(value, (list, tuple)):
      value = list(value)
    elif kind == 'enum' and value not in (fv[name].parser.enum_values or ()):
      continue  # E.g. a dataset's own list of colours: not a flag value.
    fv[name].value = value
    applied[name] = value
  if log and applied:
    logging.info('Settings read from %s: %s', checkpoint, ', '.join(
        '--%s=%s' % (k, _brief(_flat(v) if isinstance(v, list) else v))
        for k, v in sorted(applied.items())))
  return applied


def _flat(value):
  out = []
  for v in value:
    out.extend(_flat(v) if isinstance(v, list) else [v])
  return out


def model_options(flag_values=None, *, crop_size=None, checkpoint=None,
                  num_classes=None, log=True):
  """The model options of a run: flags, saved options, defaults.

  The one merge rule of every script: a model flag the user set wins; a
  project checkpoint's saved options (`model_options.json` beside it, e.g. a
  training logdir) fill the flags that were not set; flag defaults fill the
  rest. So `eval.py --checkpoint_dir=<train_logdir>` needs no model flags,
  and `--output_stride=8 --atrous_rates=12 ...` there evaluates at OS8.

  Args:
    flag_values: Parsed absl flags holding the model flags.
    crop_size: The crop of this run (not a saved option).
    checkpoint: A checkpoint prefix or folder whose saved options to use.
    num_classes: Classes when neither a flag nor the checkpoint gives them
      (e.g. from the dataset).
    log: Log each option that did not come from its default, and where from.

  Returns:
    (`ModelOptions`, {field: 'flag' | 'checkpoint' | 'default'}).
  """
  fv = flags.FLAGS if flag_values is None else flag_values
  saved = rundir.load_options(checkpoint) if checkpoint else None
  given = _model_flag_values(fv)
  values, sources = {}, {}
  for field in dataclasses.fields(common.ModelOptions):
    name = field.name
    value, is_set = given.get(name, (None, False))
    if is_set:
      values[name], sources[name] = value, 'flag'
    elif saved is not None:
      values[name], sources[name] = getattr(saved, name), 'checkpoint'
    elif name in given:
      values[name], sources[name] = value, 'default'
  if sources.get('outputs_to_num_classes') != 'flag' and saved is None and (
      num_classes):
    values['outputs_to_num_classes'] = {common.OUTPUT_TYPE: num_classes}
    sources['outputs_to_num_classes'] = 'data'
  values['crop_size'] = crop_size
  sources['crop_size'] = 'run'
  options = common.ModelOptions(**values)
  if log:
    log_options(options, sources, checkpoint if saved is not None else None)
  return options, sources


def _brief(value, limit=40):
  """A value as a flag would give it, shortened to `limit` characters."""
  if isinstance(value, dict) and set(value) == {common.OUTPUT_TYPE}:
    value = value[common.OUTPUT_TYPE]
  if isinstance(value, (list, tuple)):
    value = ','.join(str(v) for v in value)
  text = str(value)
  return text if len(text) <= limit else text[:limit - 3] + '...'


def log_options(options, sources, saved_with=None):
  """One short line: where the model options came from and the values the
  flags (or the data) set; every value and its source at verbosity 1
  (`-v=1`)."""
  if saved_with:
    head = 'the options saved with %s' % saved_with
  else:
    head = 'flags and defaults'
  set_here = ['%s=%s' % ('num_classes' if name == 'outputs_to_num_classes'
                         else name, _brief(getattr(options, name)))
              for name, source in sorted(sources.items())
              if source in ('flag', 'data')]
  line = 'Model: %s %s (%s)%s' % (
      options.model_variant, 'output stride %d' % options.output_stride,
      head, '; set here: ' + ', '.join(set_here) if set_here else '')
  logging.info('%s', line if len(line) <= 250 else line[:247] + '...')
  logging.vlog(1, 'Model options: %s', '; '.join(
      '%s=%s (%s)' % (name, getattr(options, name), source)
      for name, source in sorted(sources.items())))


def job_settings(fv, config_cls, checkpoint, crop_size, lazy=False):
  """(config, model options) of a command that runs a checkpoint: the
  run's saved settings fill the flags not set (`apply_run_defaults`), the
  config is read from the flags, the model options merged with the saved
  ones (`model_options`).

  Args:
    fv: The parsed flags.
    config_cls: The command's config dataclass.
    checkpoint: The config field (and flag) naming the checkpoint.
    crop_size: The config field of the run's crop.
    lazy: Return the options as a function called when the first
      checkpoint is there (a job beside a training run).
  """
  apply_run_defaults(fv, fv[checkpoint].value)
  config = flag_lib.config_from_flags(config_cls, fv)
  get = lambda: model_options(fv, crop_size=getattr(config, crop_size),
                              checkpoint=getattr(config, checkpoint))[0]
  return config, (get if lazy else get())
