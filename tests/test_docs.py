"""The documentation: the site builds in strict mode, the command-line
reference lists what `--help` lists, the tutorials' commands run, and the
pages speak to users."""
import glob
import os
import re
import shutil
import sys

import pytest

import helpers

from deeplab.cli import reference

# Words that mean something only to the project's authors: test ids, the
# history of a figure, verdicts of internal targets.
INTERNAL_LABELS = (
    'P1-P12', ' T1 ', "T1's", 'seed 0 of the shared recipe', "the issue's",
    'NOT met', 'needs AMX', 'not kept', 'prototype', 'then; 24 now',
    'since 2026-12-06', 'built here', 'an `Entry` of `ENTRIES`', '`Row`',
    'OS16 1:', 'written by `deeplab.convert_checkpoint`', 'issue #',
)


def _user_pages():
  return [os.path.join(helpers.ROOT, 'README.md')] + sorted(glob.glob(
      os.path.join(helpers.ROOT, 'docs', '**', '*.md'), recursive=True))


def test_user_pages_hold_no_internal_labels():
  found = []
  for path in _user_pages():
    text = open(path).read()
    found += ['%s: %r' % (os.path.relpath(path, helpers.ROOT), label)
              for label in INTERNAL_LABELS if label in text]
  found += ['docs/parity.md: a vector id %s' % m for m in re.findall(
      r'\| P\d+ \|', open(os.path.join(helpers.ROOT, 'docs',
                                       'parity.md')).read())]
  assert not found, found


def test_every_page_is_in_the_site():
  """Every Markdown page under docs/ is in mkdocs.yml's navigation (the
  generated ones are made at build time)."""
  nav = open(os.path.join(helpers.ROOT, 'mkdocs.yml')).read()
  pages = [os.path.relpath(p, os.path.join(helpers.ROOT, 'docs'))
           for p in glob.glob(os.path.join(helpers.ROOT, 'docs', '**',
                                           '*.md'), recursive=True)]
  assert pages
  missing = [p for p in pages if ': %s' % p not in nav]
  assert not missing, missing
  for generated in ('index.md', 'reference/cli.md'):
    assert ': %s' % generated in nav
    assert generated not in pages  # Made by docs/hooks.py, never stale.


_HELP_FLAG = re.compile(r'^  --(?:\[no\])?([a-z0-9_]+)', re.M)
_REFERENCE_FLAG = re.compile(r'^\| `--(?:\[no\])?([a-z0-9_]+)`', re.M)


@pytest.mark.parametrize('command', [name for name, _ in reference.COMMANDS])
def test_cli_reference_lists_every_flag_of_help(command):
  """The generated reference of each console command lists exactly the
  flags its `--help` lists, with the same help text."""
  page = helpers.run(['-m', 'deeplab.cli.reference', command])
  assert page.returncode == 0, page.stderr[-2000:]
  shown = helpers.run([command, '--help'])
  assert shown.returncode == 0, shown.stderr[-2000:]
  documented = _REFERENCE_FLAG.findall(page.stdout)
  listed = _HELP_FLAG.findall(shown.stdout)
  assert documented and sorted(documented) == sorted(listed)
  assert page.stdout.startswith('## %s\n' % command)
  # The first words of each flag's help, as --help shows them.
  for name in documented[:5]:
    row = re.search(r'^\| `--(?:\[no\])?%s` \| ((?:\\\||[^|])+)' % name,
                    page.stdout, re.M).group(1).replace('\\|', '|')
    assert ' '.join(row.split()[:4]) in ' '.join(shown.stdout.split()), name


def test_cli_reference_covers_every_console_command():
  setup = open(os.path.join(helpers.ROOT, 'setup.py')).read()
  installed = set(re.findall(r"'(deeplab-[a-z0-9-]+)=", setup))
  installed |= set(re.findall(r"'(deeplab-[a-z0-9-]+)='\s*\n", setup))
  assert installed == {name for name, _ in reference.COMMANDS}


def _build(root, site):
  return helpers.run([sys.executable, '-m', 'mkdocs', 'build', '--strict',
                      '--site-dir', site], cwd=root,
                     env=dict(os.environ, NO_MKDOCS_2_WARNING='1'),
                     timeout=600)


@pytest.mark.slow
def test_the_site_builds_strict_and_a_broken_anchor_fails_it(tmp_path):
  built = _build(helpers.ROOT, str(tmp_path / 'site'))
  assert built.returncode == 0, built.stderr[-3000:]
  site = tmp_path / 'site'
  cli = (site / 'reference' / 'cli' / 'index.html').read_text()
  assert all(name in cli for name, _ in reference.COMMANDS)
  assert '--onnx_input_size' in cli
  api = (site / 'reference' / 'api' / 'index.html').read_text()
  for name in ('from_preset', 'Segmenter', 'segment', 'ModelOptions',
               'InferenceOptions'):
    assert name in api, name
  home = (site / 'index.html').read_text()
  assert 'Three commands' in home  # The README is the home page.
  # The same sources with one link to a heading that does not exist.
  copy = tmp_path / 'copy'
  copy.mkdir()
  for name in ('mkdocs.yml', 'README.md'):
    shutil.copy(os.path.join(helpers.ROOT, name), copy / name)
  shutil.copytree(os.path.join(helpers.ROOT, 'docs'), copy / 'docs')
  shutil.copytree(os.path.join(helpers.ROOT, 'deeplab'), copy / 'deeplab')
  with open(copy / 'docs' / 'runs.md', 'a') as f:
    f.write('\nSee [nowhere](model.md#no-such-heading).\n')
  broken = _build(str(copy), str(tmp_path / 'broken_site'))
  assert broken.returncode != 0
  assert 'no-such-heading' in broken.stderr


def _python_blocks(path):
  """The text of every ```python block of a page (in order)."""
  return re.findall(r'^```python\n(.*?)^```', open(path).read(),
                    re.M | re.S)


def _shell(script, cwd, env):
  run = helpers.run(['bash', '-c', 'set -e\n' + script], cwd=cwd, env=env,
                    timeout=900)
  assert run.returncode == 0, (script, run.stderr[-3000:])
  assert 'Traceback' not in run.stderr, script
  return run


def _page_env(tmp_path):
  cache = tmp_path / 'deeplab_home'
  cache.mkdir()
  helpers.voc_mobilenet_tarball(cache)
  return dict(os.environ, DEEPLAB_HOME=str(cache), PATH=os.pathsep.join(
      [os.path.dirname(sys.executable), os.environ.get('PATH', '')]))


def _without_installs(block):
  """A block without its `pip install` lines (the suite runs installed)."""
  return '\n'.join(line for line in block.split('\n')
                   if not line.startswith('pip install'))


@pytest.mark.slow
def test_the_zoo_tutorial_runs_as_written(tmp_path):
  """Every block of docs/zoo_in_five_minutes.md, with the release tarball
  already in the download cache ($DEEPLAB_HOME) instead of a network."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  env = _page_env(tmp_path)
  photo = np.zeros((90, 120, 3), np.uint8)
  photo[20:70, 30:90] = [200, 40, 40]
  Image.fromarray(photo).save(tmp_path / 'photo.jpg')
  page = os.path.join(helpers.ROOT, 'docs', 'zoo_in_five_minutes.md')
  from test_own_data import bash_blocks  # pylint: disable=g-import-not-at-top
  blocks = bash_blocks('docs/zoo_in_five_minutes.md')
  assert len(blocks) == 4
  runs = [_shell(_without_installs(b), tmp_path, env) for b in blocks]
  assert 'mobilenetv2_coco_voc_trainaug' in runs[1].stdout
  assert sorted(os.listdir(tmp_path / 'out')) == [
      'photo_labels.png', 'photo_overlay.png', 'photo_prediction.png']
  for block in _python_blocks(page):
    run = helpers.run(['-c', block], cwd=tmp_path, env=env, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    # The reference weights are random: some of VOC's classes, by name.
    from deeplab.data import datasets  # pylint: disable=g-import-not-at-top
    found = re.findall(r"'([a-z]+)'", run.stdout)
    assert found and set(found) <= set(datasets.PASCAL_VOC_SEG.class_names)


@pytest.mark.slow
def test_the_quickstart_page_runs_as_written(tmp_path):
  page = os.path.join(helpers.ROOT, 'docs', 'quickstart.md')
  from test_own_data import bash_blocks  # pylint: disable=g-import-not-at-top
  env = dict(os.environ, PATH=os.pathsep.join(
      [os.path.dirname(sys.executable), os.environ.get('PATH', '')]))
  for block in bash_blocks('docs/quickstart.md'):
    _shell(_without_installs(block), tmp_path, env)
  for folder in ('raw', 'tfrecord', 'train', 'eval', 'vis', 'export'):
    assert os.path.isdir(tmp_path / 'deeplab_quickstart' / folder), folder
  for block in _python_blocks(page):
    run = helpers.run(['-c', block], cwd=tmp_path, env=env, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "['background', 'red disk', 'green box'" in run.stdout
