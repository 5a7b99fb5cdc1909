"""The flag machinery: flags defined from the job configs, and read back.

Each command's flags come in `FlagGroup`s (`flag_tables.py`): a table of
(absl kind, help) per flag name, with the defaults taken from a config
dataclass (`deeplab.configs`, `common.ModelOptions`), so a default lives in
one place. `define_groups` registers them with absl; `config_from_flags`
builds the config back from the parsed flags. Crop sizes are read either
way the original's versions wrote them (`--crop=513,513` or the flag twice).
"""
import dataclasses
from typing import Any, Dict, Tuple

from absl import flags

from deeplab import configs

# A flag spec: (absl kind, help) or (absl kind, help, extra DEFINE kwargs).
# Extra may hold 'default' to override the config's default for the flag.
Spec = Tuple


@dataclasses.dataclass(frozen=True)
class FlagGroup:
  """Flags shown together in `--help`, with defaults from `config`."""
  title: str
  specs: Dict[str, Spec]
  config: Any = None  # A dataclass whose field defaults are the flags'.
  # Flags of the original this project does not act on: set to anything but
  # their default, they stop the command with the reason (`check_unsupported`).
  unsupported: bool = False


class CropSizeParser(flags.ArgumentParser):
  """Crop sizes written either way the original's versions took them:
  `--eval_crop_size=513,513` (a list flag) or `--eval_crop_size=513
  --eval_crop_size=513` (a multi flag)."""

  def parse(self, argument):
    if isinstance(argument, (list, tuple)):
      return [int(v) for v in argument]
    try:
      return [int(v) for v in str(argument).split(',') if v.strip()]
    except ValueError:
      raise ValueError('expected integers "H,W", got %r'
                       % (argument,)) from None

  def flag_type(self):
    return 'crop size'


def flatten(value):
  """A crop-size flag's value ([[H, W]] or [[H], [W]]) as [H, W]."""
  if isinstance(value, list) and value and all(
      isinstance(v, list) for v in value):
    return [x for v in value for x in v]
  return value


def _sub_config(field):
  """The default instance of a config field that is a config itself (a
  shared group of flags: `common.InferenceOptions`, `common.ResizeOptions`),
  else None."""
  if field.default_factory is dataclasses.MISSING:
    return None
  value = field.default_factory()
  return value if dataclasses.is_dataclass(value) else None


flag_name = configs.flag_name


def _defaults(config):
  """{flag name: default} of a config class, sub-configs flattened."""
  if config is None:
    return {}
  out = {}
  for field in dataclasses.fields(config):
    sub = _sub_config(field)
    if sub is not None:
      for sub_field in dataclasses.fields(sub):
        out[flag_name(config, field.name, sub_field.name)] = getattr(
            sub, sub_field.name)
    elif field.default is not dataclasses.MISSING:
      out[field.name] = field.default
    elif field.default_factory is not dataclasses.MISSING:
      out[field.name] = field.default_factory()
  return out


def _absl_default(kind, value):
  if value is None:
    return None
  if kind == 'list':
    return ','.join(str(v) for v in value)
  if kind.startswith('multi_'):
    return list(value)
  return value


def define_group(group, flag_values=None):
  """Registers a group's flags (skipping names already defined)."""
  fv = flags.FLAGS if flag_values is None else flag_values
  defaults = _defaults(group.config)
  for name, spec in group.specs.items():
    kind, help_text = spec[0], spec[1]
    extra = dict(spec[2]) if len(spec) > 2 else {}
    default = extra.pop('default', defaults.get(name))
    if name in fv:
      continue
    if kind == 'crop_size':
      flags.DEFINE_multi(CropSizeParser(), flags.CsvListSerializer(','),
                         name, _absl_default('list', default), help_text,
                         flag_values=fv)
    else:
      getattr(flags, 'DEFINE_' + kind)(name, _absl_default(kind, default),
                                       help=help_text, flag_values=fv,
                                       **extra)
  return fv


def define_groups(groups, flag_values=None):
  for group in groups:
    define_group(group, flag_values)
  return flags.FLAGS if flag_values is None else flag_values


def flag_value(fv, name):
  value = flatten(fv[name].value)
  return tuple(value) if isinstance(value, list) else value


def config_from_flags(config_cls, flag_values=None):
  """A config dataclass from every flag named like one of its fields (the
  fields of its sub-configs too, `flag_name`); fields without a flag keep
  their defaults."""
  fv = flags.FLAGS if flag_values is None else flag_values
  values = {}
  for field in dataclasses.fields(config_cls):
    sub = _sub_config(field)
    if sub is None:
      if field.name in fv:
        values[field.name] = flag_value(fv, field.name)
      continue
    given = {}
    for sub_field in dataclasses.fields(sub):
      name = flag_name(config_cls, field.name, sub_field.name)
      if name in fv:
        given[sub_field.name] = flag_value(fv, name)
    values[field.name] = dataclasses.replace(sub, **given)
  config = config_cls(**values)
  return config.validate() if hasattr(config, 'validate') else config
