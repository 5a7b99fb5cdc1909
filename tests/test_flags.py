"""Tests of deeplab.cli.flags, flag_tables and run_settings: flags from
configs, configs from flags, merging with what a run saved."""
import json

from absl import flags
import pytest

from deeplab import common
from deeplab import configs
from deeplab import rundir
from deeplab.cli import flag_tables
from deeplab.cli import flags as flag_lib
from deeplab.cli import run_settings


def _model_flag_values(argv, output_stride=16, extra_groups=()):
  fv = flags.FlagValues()
  groups = [flag_tables.model_group(output_stride)] + list(extra_groups)
  flag_lib.define_groups(groups, fv)
  flag_lib.define_groups(groups, fv)  # Idempotent.
  fv(['prog'] + argv)
  return fv


def test_model_flags_read_the_original_flag_names():
  fv = _model_flag_values([
      '--model_variant=xception_65', '--atrous_rates=6', '--atrous_rates=12',
      '--atrous_rates=18', '--decoder_output_stride=4', '--multi_grid=1',
      '--multi_grid=2', '--multi_grid=4', '--image_pooling_crop_size=257,257',
      '--noadd_image_level_feature'])
  o, sources = run_settings.model_options(fv, crop_size=(513, 513),
                                          num_classes=19)
  assert o.model_variant == 'xception_65'
  assert o.output_stride == 16
  assert o.atrous_rates == (6, 12, 18)
  assert o.decoder_output_stride == (4,)
  assert o.multi_grid == (1, 2, 4)
  assert o.image_pooling_crop_size == (257, 257)
  assert not o.add_image_level_feature
  assert o.num_classes == 19 and o.crop_size == (513, 513)
  assert sources['model_variant'] == 'flag'
  assert sources['output_stride'] == 'default'


def test_flag_defaults_are_the_configs_defaults():
  fv = flags.FlagValues()
  group = flag_lib.FlagGroup('eval', flag_tables.EVAL_FLAGS,
                             configs.EvalConfig)
  flag_lib.define_group(group, fv)
  fv(['prog'])
  defaults = configs.flat_dict(configs.EvalConfig())
  for name in flag_tables.EVAL_FLAGS:
    value = flag_lib.flatten(fv[name].value)
    value = tuple(value) if isinstance(value, list) else value
    expected = defaults[name]
    expected = tuple(expected) if isinstance(expected, list) else expected
    if name == 'eval_crop_size':
      value = common.parse_crop_size(value)
    assert value == expected, name


def test_config_from_flags_round_trip():
  fv = flags.FlagValues()
  flag_lib.define_groups([
      flag_lib.FlagGroup('eval', flag_tables.EVAL_FLAGS,
                         configs.EvalConfig),
      flag_lib.FlagGroup('more', flag_tables.EVAL_EXTRA_FLAGS,
                         configs.EvalConfig),
      flag_tables.resize_group(configs.EvalConfig)], fv)
  fv(['prog', '--checkpoint_dir=/x', '--eval_crop_size=65',
      '--eval_crop_size=97',
      '--eval_scales=0.5', '--eval_scales=1.0', '--trimap_widths=2,4',
      '--min_resize_value=40'])
  config = flag_lib.config_from_flags(configs.EvalConfig, fv)
  assert config.checkpoint_dir == '/x'
  assert config.eval_crop_size == (65, 97)
  assert config.inference.eval_scales == (0.5, 1.0)
  assert config.trimap_widths == (2, 4)
  assert config.resize.min_resize_value == 40


def _saved_options(tmp_path, **kw):
  options = common.ModelOptions(
      model_variant='mobilenet_v2', output_stride=16, atrous_rates=None,
      decoder_output_stride=(4,), outputs_to_num_classes={'semantic': 5},
      **kw)
  with open(tmp_path / rundir.OPTIONS_FILE, 'w') as f:
    json.dump(options.to_dict(), f)
  return options


def test_flags_the_user_set_win_over_saved_options(tmp_path):
  _saved_options(tmp_path)
  fv = _model_flag_values(['--output_stride=8', '--atrous_rates=12',
                           '--atrous_rates=24'])
  options, sources = run_settings.model_options(
      fv, crop_size=(65, 65), checkpoint=str(tmp_path))
  assert options.output_stride == 8 and sources['output_stride'] == 'flag'
  assert options.atrous_rates == (12, 24)
  # What the user did not set comes from the checkpoint's options.
  assert options.decoder_output_stride == (4,)
  assert sources['decoder_output_stride'] == 'checkpoint'
  assert options.num_classes == 5
  assert options.crop_size == (65, 65)


def test_saved_options_fill_unset_flags_even_where_defaults_differ(tmp_path):
  _saved_options(tmp_path)
  # export's default output stride is 8; the saved 16 wins over a default.
  fv = _model_flag_values([], output_stride=8)
  options, sources = run_settings.model_options(fv,
                                                checkpoint=str(tmp_path))
  assert options.output_stride == 16
  assert sources['output_stride'] == 'checkpoint'


def test_num_classes_flag_wins_only_when_set(tmp_path):
  _saved_options(tmp_path)
  extra = [flag_lib.FlagGroup('x', {'num_classes': (
      'integer', 'classes', dict(default=21))})]
  unset = _model_flag_values([], extra_groups=extra)
  assert run_settings.model_options(
      unset, checkpoint=str(tmp_path))[0].num_classes == 5
  given = _model_flag_values(['--num_classes=7'], extra_groups=extra)
  assert run_settings.model_options(
      given, checkpoint=str(tmp_path))[0].num_classes == 7


def test_bad_model_flag_is_named():
  fv = _model_flag_values(['--output_stride=12'])
  with pytest.raises(ValueError, match='--output_stride'):
    run_settings.model_options(fv)


@pytest.mark.parametrize('argv', [['--eval_crop_size=65,97'],
                                  ['--eval_crop_size=65',
                                   '--eval_crop_size=97']])
def test_crop_sizes_take_both_forms_of_the_original(argv):
  """Versions of the original took crop sizes as a list flag ("513,513") or
  a multi flag (the flag twice); jobs written either way run."""
  fv = flags.FlagValues()
  flag_lib.define_group(flag_lib.FlagGroup(
      'eval', flag_tables.EVAL_FLAGS, configs.EvalConfig), fv)
  fv(['prog', '--checkpoint_dir=/x'] + argv)
  config = flag_lib.config_from_flags(configs.EvalConfig, fv)
  assert config.eval_crop_size == (65, 97)


def test_unsupported_original_flags_parse_at_default_and_fail_otherwise():
  group = flag_tables.unsupported_group(
      flag_tables.UNSUPPORTED_TRAIN_FLAGS)
  fv = flags.FlagValues()
  flag_lib.define_group(group, fv)
  fv(['prog', '--num_replicas=1', '--startup_delay_steps=3'])
  flag_tables.check_unsupported([group], fv)  # Defaults, or ignored.
  fv = flags.FlagValues()
  flag_lib.define_group(group, fv)
  fv(['prog', '--num_ps_tasks=2'])
  with pytest.raises(ValueError, match='--num_ps_tasks=2.*multi_worker'):
    flag_tables.check_unsupported([group], fv)
