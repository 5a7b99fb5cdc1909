"""Every flag of the original's scripts exists here with its kind and default
(tests/original_flags.py), so jobs written for the original run unchanged."""
import json
import os

from absl import flags
import pytest

import helpers
import original_flags
from deeplab.cli import evaluate
from deeplab.cli import export_model
from deeplab.cli import flags as flag_lib
from deeplab.cli import run_settings
from deeplab.cli import train
from deeplab.cli import vis

_SCRIPTS = {'train': (train.GROUPS, original_flags.TRAIN),
            'eval': (evaluate.GROUPS, original_flags.EVAL),
            'vis': (vis.GROUPS, original_flags.VIS),
            'export_model': (export_model.GROUPS, original_flags.EXPORT)}
# absl's flag_type() for each DEFINE_ kind.
_ABSL_TYPE = {'string': 'string', 'integer': 'int', 'float': 'float',
              'boolean': 'bool', 'enum': 'string enum',
              'list': 'comma separated list of strings',
              'multi_integer': 'multi int', 'multi_float': 'multi float'}


def _normalized(kind, value):
  value = flag_lib.flatten(value)
  if kind in ('list', 'multi_integer') and value is not None:
    return [str(v) for v in value]
  return value


def _check(script, ours, original):
  """ours: name -> (absl type, default, enum values or None)."""
  problems = []
  for name, (kind, default) in sorted(original.items()):
    if name not in ours:
      problems.append('--%s is missing' % name)
      continue
    our_type, our_default, _ = ours[name]
    crop = our_type == 'multi crop size' and kind in ('list', 'multi_integer')
    if our_type != _ABSL_TYPE[kind] and not crop:
      problems.append('--%s is %s, the original\'s %s' % (name, our_type, kind))
    if (script, name) in original_flags.DIFFERENCES:
      continue
    if _normalized(kind, our_default) != _normalized(kind, default):
      problems.append('--%s defaults to %r, the original to %r'
                      % (name, our_default, default))
  return problems


@pytest.mark.parametrize('script', sorted(_SCRIPTS))
def test_script_has_every_flag_of_the_original(script):
  groups, original = _SCRIPTS[script]
  fv = flags.FlagValues()
  flag_lib.define_groups(groups, fv)
  ours = {name: (fv[name].flag_type(), fv[name].default,
                 getattr(fv[name].parser, 'enum_values', None))
          for name in fv}
  assert _check(script, ours, original) == []


_DUMP = '''
import json, sys
from absl import flags
from deeplab.cli import %s as converter
converter.define_flags()
fv = flags.FLAGS
print(json.dumps({n: (fv[n].flag_type(), fv[n].default, None)
                  for n in fv if not n.startswith('help')}))
'''


@pytest.mark.parametrize('converter', sorted(original_flags.CONVERTERS))
def test_converter_has_every_flag_of_the_original(converter):
  out = helpers.run(['-c', _DUMP % converter], timeout=120)
  assert out.returncode == 0, out.stderr[-2000:]
  ours = json.loads(out.stdout.strip().splitlines()[-1])
  assert _check(converter, ours,
                original_flags.CONVERTERS[converter]) == []


def test_enum_flags_accept_every_choice_of_the_original():
  original_choices = {
      ('train', 'optimizer'): ['momentum', 'adam'],
      ('train', 'learning_policy'): ['poly', 'step'],
      ('vis', 'colormap_type'): ['pascal', 'cityscapes', 'ade20k'],
      ('train', 'merge_method'): ['max', 'avg'],
  }
  for (script, name), choices in original_choices.items():
    fv = flags.FlagValues()
    flag_lib.define_groups(_SCRIPTS[script][0], fv)
    assert set(choices) <= set(fv[name].parser.enum_values), name


def test_differences_are_listed_in_the_docs():
  with open(os.path.join(helpers.ROOT, 'docs', 'parity.md')) as f:
    page = f.read()
  listed = page[page.index('## Differences from the original'):]
  for (_, name) in original_flags.DIFFERENCES:
    assert '`--%s`' % name in listed, name


# Every --model_variant of the original's core/feature_extractor.py.
_ORIGINAL_VARIANTS = (
    'mobilenet_v2', 'mobilenet_edgetpu', 'mobilenet_v3_large_seg',
    'mobilenet_v3_small_seg', 'resnet_v1_18', 'resnet_v1_18_beta',
    'resnet_v1_50', 'resnet_v1_50_beta', 'resnet_v1_101', 'resnet_v1_101_beta',
    'xception_41', 'xception_65', 'xception_71')


def _train_flags(*argv):
  fv = flags.FlagValues()
  flag_lib.define_groups(train.GROUPS, fv)
  fv(['train.py'] + list(argv))
  return fv


@pytest.mark.parametrize('variant', _ORIGINAL_VARIANTS)
def test_every_model_variant_of_the_original_is_accepted(variant):
  extra = ['--decoder_output_stride='] if variant == 'mobilenet_edgetpu' else []
  options, sources = run_settings.model_options(
      _train_flags('--model_variant=' + variant, *extra), log=False)
  assert sources['model_variant'] == 'flag'
  assert options.model_variant == variant


@pytest.mark.parametrize('variant', ['nas_pnasnet', 'nas_hnasnet'])
def test_nas_variants_are_a_clear_error(variant):
  with pytest.raises(ValueError, match='--model_variant=%s.*NAS' % variant):
    run_settings.model_options(
        _train_flags('--model_variant=' + variant), log=False)
