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
  blocks = helpers.bash_blocks('docs/zoo_in_five_minutes.md')
  assert len(blocks) == 4
  runs = [helpers.shell(_without_installs(b), tmp_path, env)
          for b in blocks]
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
  env = dict(os.environ, PATH=os.pathsep.join(
      [os.path.dirname(sys.executable), os.environ.get('PATH', '')]))
  for block in helpers.bash_blocks('docs/quickstart.md'):
    helpers.shell(_without_installs(block), tmp_path, env)
  for folder in ('raw', 'tfrecord', 'train', 'eval', 'vis', 'export'):
    assert os.path.isdir(tmp_path / 'deeplab_quickstart' / folder), folder
  for block in _python_blocks(page):
    run = helpers.run(['-c', block], cwd=tmp_path, env=env, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "['background', 'red disk', 'green box'" in run.stdout


# The scripts of the repository and the `python -m` modules, as commands.
_SCRIPTS = {'train.py': 'deeplab.cli.train', 'eval.py': 'deeplab.cli.evaluate',
            'vis.py': 'deeplab.cli.vis',
            'export_model.py': 'deeplab.cli.export_model'}
_CONSOLE = dict(reference.COMMANDS)
# What the pages' blocks run besides the project's commands.
_OTHER_PROGRAMS = ('pip', 'jupyter', 'cd', 'cp', 'mv', 'mkdir', 'ls', 'cat',
                   'tensorboard', 'export', 'time', 'docker', 'curl',
                   'tar', 'rm', 'git', 'mkdocs', 'pytest', 'unzip')


def _command_module(argv):
  """(cli module, flags) of a project command line, or None for another
  program; a project script named without `python` is an error."""
  first = argv[0]
  if first in _CONSOLE:
    return _CONSOLE[first], argv[1:]
  if first.startswith('deeplab-'):
    raise AssertionError('no such command: %s' % first)
  if first in _SCRIPTS or first.startswith('datasets/'):
    raise AssertionError('%s needs `python` before it' % first)
  if first != 'python' or len(argv) < 2:
    assert first in _OTHER_PROGRAMS or first.startswith('./'), argv
    return None
  if argv[1] == '-m':
    name = argv[2].replace('deeplab.cli.', 'deeplab.')
    module = 'deeplab.cli.' + name[len('deeplab.'):]
    if not name.startswith('deeplab.') or module not in _CONSOLE.values():
      return None  # Another module (the reference, pytest, ...).
    return module, argv[3:]
  if argv[1] == '-c' or argv[1].startswith('benchmarks/'):
    return None
  script = argv[1]
  if script in _SCRIPTS:
    return _SCRIPTS[script], argv[2:]
  if script.startswith('datasets/'):
    return 'deeplab.cli.' + os.path.basename(script)[:-3], argv[2:]
  raise AssertionError('unknown script %s' % script)


_PARSE = r'''
import importlib, json, sys
from absl import flags
from deeplab.cli import command, flag_tables
from deeplab.cli import flags as flag_lib
module = importlib.import_module(sys.argv[1])
groups = getattr(module, 'GROUPS', None)
if groups is not None:
  flag_lib.define_groups(groups)
else:
  module.define_flags()
FLAGS = flags.FLAGS
errors = []
for page, line in json.loads(sys.stdin.read()):
  FLAGS.unparse_flags()
  try:
    rest = FLAGS(['prog'] + command.resolve_recipes(['prog'] + line)[1:])
    if rest[1:]:
      raise ValueError('not a flag: %s' % rest[1:])
    if groups is not None:
      flag_tables.check_unsupported(groups, FLAGS)
  except (flags.Error, ValueError) as e:
    errors.append('%s: %s %s: %s' % (page, sys.argv[1], ' '.join(line), e))
print(json.dumps(errors))
'''


def test_every_command_line_of_the_pages_parses():
  """Each project command in a bash block of README or docs, run or not,
  names a command that exists and flags it defines, with values it takes
  (no placeholders such as `[--flag]` or `...`)."""
  import json  # pylint: disable=g-import-not-at-top
  by_module, errors = {}, []
  for path in _user_pages():
    page = os.path.relpath(path, helpers.ROOT)
    for block in helpers.doc_blocks(page):
      for argv in helpers.command_lines(block.text):
        try:
          found = _command_module(argv)
        except AssertionError as e:
          errors.append('%s: %s' % (page, e))
          continue
        if found:
          by_module.setdefault(found[0], []).append((page, found[1]))
  assert len(by_module) >= 10, sorted(by_module)
  for module, lines in sorted(by_module.items()):
    run = helpers.run(['-c', _PARSE, module], input=json.dumps(lines),
                      timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    errors += json.loads(run.stdout.strip().splitlines()[-1])
  assert not errors, '\n'.join(errors)


# Who runs the command blocks of each tutorial and how-to guide (a block
# marked `<!-- not run: why -->` is only parsed, above).
PAGES_RUN_BY = {
    'quickstart.md': 'test_docs.py::test_the_quickstart_page_runs_as_written',
    'zoo_in_five_minutes.md':
        'test_docs.py::test_the_zoo_tutorial_runs_as_written',
    'own_data.md': 'test_own_data.py::test_the_own_data_section_runs_as_written',
    'runs.md': 'test_own_data.py::test_the_own_data_section_runs_as_written',
    'notebook.md': 'test_own_data.py::test_the_own_data_section_runs_as_written',
    'datasets.md': 'test_docs.py::test_the_datasets_page_runs_as_written',
    'model_zoo.md': 'test_docs.py::test_the_model_zoo_page_runs_as_written',
    'deployment.md': 'test_docs.py::test_the_deployment_page_runs_as_written',
    'training.md': None,  # Its one block needs a dataset and GPUs.
}


def test_every_block_of_the_guides_is_run_or_says_why_not():
  """The tutorials and how-to guides of the site's navigation each have a
  test that runs their blocks; a block it skips says why on the page."""
  nav = open(os.path.join(helpers.ROOT, 'mkdocs.yml')).read()
  guides = re.search(r'- Tutorials:\n(.*?)- Reference:', nav, re.S).group(1)
  pages = re.findall(r': ([a-z_0-9]+\.md)', guides)
  assert sorted(pages) == sorted(PAGES_RUN_BY), pages
  for page, runner in PAGES_RUN_BY.items():
    blocks = helpers.doc_blocks(os.path.join('docs', page))
    assert blocks, page
    run = [b for b in blocks if b.not_run is None]
    if runner is None:
      assert not run, (page, 'has blocks to run but no test runs them')
      continue
    assert run, (page, 'every block is skipped')
    test_file, name = runner.split('::')
    assert 'def %s(' % name in open(
        os.path.join(helpers.ROOT, 'tests', test_file)).read(), runner


def _run_page(page, cwd, env):
  """Every block of `page` the suite runs, in order, each a shell script
  from `cwd` (`pip install` lines left out: the suite runs installed)."""
  return [helpers.shell(_without_installs(block), cwd, env)
          for block in helpers.bash_blocks(os.path.join('docs', page))]


def _image(path, height, width, seed=0):
  import numpy as np  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  rng = np.random.RandomState(seed)
  image = np.full((height, width, 3), 120, np.uint8)
  image[height // 4:height // 2, width // 3:width // 2] = rng.randint(
      0, 255, 3)
  os.makedirs(os.path.dirname(str(path)), exist_ok=True)
  Image.fromarray(image).save(str(path))


def _label(path, height, width, value):
  import numpy as np  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  label = np.zeros((height, width), np.uint8)
  label[height // 2:, :] = value
  os.makedirs(os.path.dirname(str(path)), exist_ok=True)
  Image.fromarray(label).save(str(path))


@pytest.mark.slow
def test_the_datasets_page_runs_as_written(tmp_path):
  """Each converter of docs/datasets.md on a few images in its dataset's
  layout, from the folder that holds the dataset."""
  from deeplab.data import synthetic  # pylint: disable=g-import-not-at-top
  import test_own_data  # pylint: disable=g-import-not-at-top
  synthetic.generate(str(tmp_path), num_train=3, num_val=2)
  for split, city in (('train', 'aachen'), ('val', 'lindau')):
    stem = '%s_000000_000019' % city
    _image(tmp_path / 'cityscapes' / 'leftImg8bit' / split / city /
           (stem + '_leftImg8bit.png'), 32, 64)
    _label(tmp_path / 'cityscapes' / 'gtFine' / split / city /
           (stem + '_gtFine_labelTrainIds.png'), 32, 64, 13)
  for split in ('training', 'validation'):
    for i in range(2):
      name = 'ADE_%s_%08d' % ('train' if split == 'training' else 'val', i)
      _image(tmp_path / 'ADEChallengeData2016' / 'images' / split /
             (name + '.jpg'), 30, 40, i)
      _label(tmp_path / 'ADEChallengeData2016' / 'annotations' / split /
             (name + '.png'), 30, 40, 150)
  test_own_data.make_leaves(str(tmp_path / 'data'), count=10)
  runs = _run_page('datasets.md', tmp_path, _page_env(tmp_path))
  assert len(runs) == 4
  def shards(folder, split):
    return glob.glob(str(tmp_path / folder / (split + '-*.tfrecord')))
  assert shards('voc/tfrecord', 'train') and shards('voc/tfrecord', 'val')
  assert os.listdir(str(tmp_path / 'VOCdevkit' / 'VOC2012' /
                        'SegmentationClassRaw'))
  assert shards('cityscapes/tfrecord', 'val_fine')
  assert shards('ADEChallengeData2016/tfrecord', 'train')
  assert shards('data/tfrecord', 'train') and shards('data/tfrecord', 'val')
  described = open(str(tmp_path / 'data' / 'tfrecord' / 'dataset.json'))
  assert '"leaf"' in described.read()


def _zoo_project(tmp_path):
  """A folder with the model zoo's MobileNetV2 tarball in $DEEPLAB_HOME and
  a photo, and its environment."""
  env = _page_env(tmp_path)
  _image(tmp_path / 'photo.jpg', 90, 120)
  return env


@pytest.mark.slow
def test_the_model_zoo_page_runs_as_written(tmp_path):
  env = _zoo_project(tmp_path)
  shutil.copy(glob.glob(str(tmp_path / 'deeplab_home' / '*.tar.gz'))[0],
              str(tmp_path))  # "A tarball you downloaded yourself".
  runs = _run_page('model_zoo.md', tmp_path, env)
  assert len(runs) == 3
  assert 'mobilenetv2_coco_voc_trainaug' in runs[0].stdout
  for name in ('photo.png', 'photo_colours.png', 'photo_ids.png',
               'photo.npz', 'zoo/mnv2/model_options.json',
               'zoo/mnv2_os8/model_options.json',
               'converted/model_options.json'):
    assert os.path.exists(str(tmp_path / name)), name
  assert '"output_stride": 8' in open(
      str(tmp_path / 'zoo' / 'mnv2_os8' / 'model_options.json')).read()


@pytest.mark.slow
def test_the_deployment_page_runs_as_written(tmp_path):
  env = _zoo_project(tmp_path)
  helpers.shell('deeplab-zoo --name=mobilenetv2_coco_voc_trainaug '
         '--output_dir=zoo/mnv2', tmp_path, env)  # As model_zoo.md does.
  for i in range(3):
    _image(tmp_path / 'calibration' / ('%d.jpg' % i), 60, 80, i)
    _image(tmp_path / 'scans' / ('%d.png' % i), 700, 600, i)
  _image(tmp_path / 'orthophoto.tif', 1100, 1300)
  runs = _run_page('deployment.md', tmp_path, env)
  assert len(runs) == 6
  for name in ('export/frozen_inference_graph.pb',
               'export/mnv2/saved_model.pb', 'deeplab.onnx',
               'deeplab_513.onnx', 'deeplab_513_int8.onnx', 'deeplab.xml',
               'deeplab.bin', 'labels.png'):
    assert os.path.exists(str(tmp_path / name)), name
  assert len(glob.glob(str(tmp_path / 'scans_vis' / '**' / '*.png'),
                       recursive=True)) >= 3
  assert 'tiles' in runs[-1].stdout + runs[-1].stderr
