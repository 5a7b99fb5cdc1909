"""The README's "Train on your own data" block, run as written, in order,
then every command block of docs/own_data.md.

The blocks are read from README.md and the page (so they cannot rot) and run
on a generated dataset of 20 leaf photos with index masks of 3 classes; the
one change is 20 training steps instead of 300. The model zoo's tarball is
made here in the original's layout and found in `$DEEPLAB_HOME` (no
download).
"""
import json
import os
import shlex
import shutil
import sys

import numpy as np
from PIL import Image
import pytest

import helpers

def readme_block(marker):
  """The command lines of the README's bash block after `<!-- marker -->`
  (continuation lines joined)."""
  lines, inside, found = [], False, False
  for line in open(os.path.join(helpers.ROOT, 'README.md')):
    if line.strip() == '<!-- %s -->' % marker:
      found = True
      continue
    if found and not inside and line.startswith('```bash'):
      inside = True
      continue
    if inside and line.startswith('```'):
      break
    if inside:
      lines.append(line.rstrip('\n'))
  commands, current = [], ''
  for line in lines:
    current += line.rstrip('\\').rstrip() + ' '
    if not line.endswith('\\'):
      if current.strip() and not current.strip().startswith('#'):
        commands.append(current.strip())
      current = ''
  return commands


def make_leaves(folder, count=20, seed=0):
  """Photos of a leaf with its stem, and index masks (0 background, 1 leaf,
  2 stem)."""
  rng = np.random.RandomState(seed)
  os.makedirs(os.path.join(folder, 'images'))
  os.makedirs(os.path.join(folder, 'masks'))
  for i in range(count):
    h, w = 90, 120
    image = (np.full((h, w, 3), 90) + rng.randint(0, 30, (h, w, 3))).astype(
        np.uint8)
    mask = np.zeros((h, w), np.uint8)
    cy, cx, r = rng.randint(25, 65), rng.randint(30, 90), rng.randint(10, 20)
    yy, xx = np.mgrid[:h, :w]
    leaf = (yy - cy) ** 2 + (xx - cx) ** 2 / 2.0 <= r * r
    stem = (np.abs(xx - cx) <= 2) & (yy > cy) & (yy < min(h - 1,
                                                          cy + r + 15))
    mask[leaf] = 1
    mask[stem & ~leaf] = 2
    image[mask == 1] = [40, 170, 60]
    image[mask == 2] = [120, 80, 30]
    Image.fromarray(image).save(os.path.join(folder, 'images',
                                             'leaf_%02d.jpg' % i), quality=95)
    Image.fromarray(mask).save(os.path.join(folder, 'masks',
                                            'leaf_%02d.png' % i))


@pytest.mark.slow
def test_the_own_data_section_runs_as_written(tmp_path, voc_records):
  commands = readme_block('own-data')
  assert [c.split()[0] for c in commands] == [
      'deeplab-check-data', 'deeplab-build-custom-data', 'deeplab-train',
      'deeplab-eval', 'deeplab-vis', 'deeplab-export', 'deeplab-predict']
  make_leaves(str(tmp_path / 'my_data'))
  env = helpers.environment(TF_CPP_MIN_LOG_LEVEL=2)
  outputs = {}
  for command in commands:
    args = shlex.split(command.replace('--training_number_of_steps=300',
                                       '--training_number_of_steps=20'))
    run = helpers.run(args, cwd=tmp_path, env=env, timeout=600)
    assert run.returncode == 0, (command, run.stderr[-3000:])
    assert 'Traceback' not in run.stderr, command
    outputs[args[0]] = run
  assert 'OK for training' in outputs['deeplab-check-data'].stdout
  assert os.path.exists(tmp_path / 'my_data' / 'classes.png')
  # Eval followed the run: its dataset, names and crop, and stopped.
  metrics = json.load(open(tmp_path / 'runs' / 'leaves' / 'eval' /
                           'metrics_latest.json'))
  assert metrics['class_names'] == ['background', 'leaf', 'stem']
  assert metrics['model_options']['outputs_to_num_classes'] == {
      'semantic': 3}
  assert metrics['model_options']['crop_size'] == [97, 129]
  assert 'per-class IoU: background' in outputs['deeplab-eval'].stdout
  assert os.path.exists(tmp_path / 'runs' / 'leaves' / 'vis' /
                        'segmentation_results' / 'leaf_00_overlay.png')
  assert os.path.exists(tmp_path / 'runs' / 'leaves' / 'export' /
                        'saved_model.pb')
  predictions = tmp_path / 'runs' / 'leaves' / 'predictions'
  assert len(os.listdir(predictions)) == 60
  labels = np.asarray(Image.open(predictions / 'leaf_00_labels.png'))
  assert labels.shape == (90, 120) and labels.max() <= 2
  assert 'leaf_00.jpg: 90x120, classes background (' in \
      outputs['deeplab-predict'].stdout
  # The dataset's colours, not pascal's: class 2 (stem) is [0, 128, 0].
  colours = np.asarray(Image.open(predictions / 'leaf_00_prediction.png'))
  assert (colours[labels == 2] == [0, 128, 0]).all()
  # TensorBoard by steps: a 20-step run has points at steps 1, 10 and 20.
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  steps = set()
  for path in (tmp_path / 'runs' / 'leaves').glob('events.out.tfevents.*'):
    for event in tf.compat.v1.train.summary_iterator(str(path)):
      if any(v.tag == 'losses/total_loss' for v in event.summary.value):
        steps.add(event.step)
  assert {1, 10, 20} <= steps
  # Another dataset's class count is reported as such; a folder of images
  # needs --output_dir.
  other = helpers.run(
      ['deeplab-eval', '--checkpoint_dir=runs/leaves',
       '--dataset=pascal_voc_seg', '--dataset_dir=' + voc_records,
       '--eval_logdir=other'], cwd=tmp_path, env=env)
  assert other.returncode == 1
  assert 'The model of runs/leaves/model.ckpt-20 has 3 classes (its ' \
      'model_options.json) but --dataset=pascal_voc_seg has 21' in \
      other.stderr
  folder = helpers.run(['deeplab-predict', '--checkpoint=runs/leaves',
                        '--image=my_data/images'], cwd=tmp_path, env=env)
  assert folder.returncode == 1
  assert '--image=my_data/images is a folder: give --output_dir=DIR' in \
      folder.stderr
  # One image with --output_dir gets the same three files as a folder's.
  one = helpers.run(
      ['deeplab-predict', '--checkpoint=runs/leaves',
       '--image=my_data/images/leaf_00.jpg', '--output_dir=one'],
      cwd=tmp_path, env=env)
  assert one.returncode == 0, one.stderr[-2000:]
  assert sorted(os.listdir(tmp_path / 'one')) == sorted(
      'leaf_00' + suffix
      for suffix in ('_prediction.png', '_labels.png', '_overlay.png'))
  _run_the_page(tmp_path, env)


def _run_the_page(tmp_path, env):
  """Every bash block of docs/own_data.md, as written (each a shell script
  from the project folder, after the README's block)."""
  blocks = helpers.bash_blocks('docs/own_data.md')
  assert len(blocks) == 2 and 'deeplab-zoo' in blocks[0]
  cache = tmp_path / 'deeplab_home'
  cache.mkdir()
  helpers.voc_mobilenet_tarball(cache)
  env = dict(env, DEEPLAB_HOME=str(cache), PATH=os.pathsep.join(
      [os.path.dirname(sys.executable), env.get('PATH', '')]))
  outputs = []
  for block in blocks:
    script = 'set -e\n' + block.replace('--training_number_of_steps=300',
                                        '--training_number_of_steps=20')
    run = helpers.run(['bash', '-c', script], cwd=tmp_path, env=env,
                      timeout=900)
    assert run.returncode == 0, (block, run.stderr[-3000:])
    assert 'Traceback' not in run.stderr, block
    outputs.append(run)
  # The pretrained start loaded the zoo's backbone and trained 20 steps.
  pretrained = tmp_path / 'runs' / 'leaves_pretrained'
  assert os.path.exists(str(pretrained / 'model.ckpt-20.index'))
  assert 'per-class IoU: background' in outputs[0].stdout
  # The copied run, used from its new folder: the dataset's names.
  assert 'leaf_00.jpg: 90x120, classes background (' in outputs[1].stdout
  assert "['background', 'leaf', 'stem']" in outputs[1].stdout
  assert os.path.exists(str(tmp_path / 'shared' / 'leaf_00_prediction.png'))
  # docs/runs.md follows this page: resume the run longer, use a copy.
  blocks = helpers.bash_blocks('docs/runs.md')
  assert len(blocks) == 3
  resumed = helpers.run(['bash', '-c', 'set -e\n' + blocks[0].replace(
      '--training_number_of_steps=600', '--training_number_of_steps=30')],
                        cwd=tmp_path, env=env, timeout=900)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert os.path.exists(str(tmp_path / 'runs' / 'leaves' /
                            'model.ckpt-30.index'))
  copied = helpers.run(['bash', '-c', 'set -e\n' + blocks[1]], cwd=tmp_path,
                       env=env, timeout=900)
  assert copied.returncode == 0, copied.stderr[-3000:]
  assert "['background', 'leaf', 'stem']" in copied.stdout
  helpers.shell(blocks[2], tmp_path, env)
  tf1 = tmp_path / 'runs' / 'leaves_tf1'
  assert os.path.exists(str(tf1 / 'model_options.json'))
  assert [n for n in os.listdir(str(tf1)) if n.endswith('.index')]
  # docs/notebook.md's headless run, on this run and these images, from a
  # folder that holds the notebook where the repository has it.
  headless, = helpers.bash_blocks('docs/notebook.md')
  os.makedirs(str(tmp_path / 'notebooks'))
  shutil.copy(os.path.join(helpers.ROOT, 'notebooks', 'deeplab_demo.ipynb'),
              str(tmp_path / 'notebooks'))
  helpers.shell(headless, tmp_path, env)
  out = open(str(tmp_path / 'demo_out.ipynb')).read()
  assert 'image/png' in out and 'ms per image' in out


def test_a_broken_dataset_is_diagnosed_in_one_command(tmp_path):
  folder = str(tmp_path / 'data')
  make_leaves(folder, count=6)
  masks = os.path.join(folder, 'masks')
  Image.fromarray(np.zeros((30, 30), np.uint8)).save(
      os.path.join(masks, 'leaf_01.png'))
  colour = np.zeros((90, 120, 3), np.uint8)
  colour[10:20, 10:20] = [128, 0, 0]
  Image.fromarray(colour).save(os.path.join(masks, 'leaf_02.png'))
  Image.fromarray(np.full((90, 120), 7, np.uint8)).save(
      os.path.join(masks, 'leaf_03.png'))
  os.remove(os.path.join(masks, 'leaf_04.png'))
  with open(os.path.join(folder, 'images', 'leaf_05.jpg'), 'r+b') as f:
    f.truncate(300)
  report = str(tmp_path / 'report.json')
  run = helpers.run(
      ['deeplab-check-data', '--image_folder=' + os.path.join(folder, 'images'),
       '--label_folder=' + masks, '--num_classes=3',
       '--json_output=' + report])
  assert run.returncode == 1, run.stderr[-2000:]
  for expected in ('masks/leaf_01.png is 30x30, its image 90x120',
                   'masks/leaf_02.png is an RGB colour mask',
                   'deeplab-build-custom-data --label_type=rgb',
                   'masks/leaf_03.png holds [7] outside [0, 3)',
                   'missing label (1):', 'images/leaf_04.jpg',
                   'unreadable (1):', 'images/leaf_05.jpg',
                   'FAILED: training would go wrong'):
    assert expected in run.stdout, expected
  saved = json.load(open(report))
  assert not saved['ok']
  assert set(saved['problems']) >= {'size_mismatch', 'color_mask',
                                    'out_of_range', 'missing_label',
                                    'unreadable'}


@pytest.mark.parametrize('weights,expected', [
    ({0: 900, 1: 90, 2: 10}, [0.1, 1.0, 9.0]),
    ({0: 500, 1: 500}, [1.0, 1.0, 1.0]),
])
def test_label_weights_rule(weights, expected):
  from deeplab.datasets import check_data  # pylint: disable=g-import-not-at-top
  report = check_data.Report(3, 255)
  report.pixels['train'].update(weights)
  assert report.label_weights() == pytest.approx(expected)


@pytest.mark.parametrize('with_masks', [False, True])
def test_an_empty_dataset_is_not_ok_for_training(tmp_path, with_masks):
  images, masks = tmp_path / 'images', tmp_path / 'masks'
  images.mkdir()
  masks.mkdir()
  (images / 'notes.txt').write_text('not an image')
  if with_masks:  # Masks, but no image at all: every pair misses one.
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(masks / 'a.png')
  report = str(tmp_path / 'report.json')
  run = helpers.run(['deeplab-check-data', '--image_folder=%s' % images,
                     '--label_folder=%s' % masks, '--num_classes=3',
                     '--json_output=' + report])
  assert run.returncode == 1, run.stdout
  assert 'OK for training' not in run.stdout
  assert 'FAILED: training would go wrong' in run.stdout
  if not with_masks:
    assert ('--image_folder=%s and --label_folder=%s hold no image or mask: '
            'nothing to check' % (images, masks)) in run.stdout
    assert 'image sizes' not in run.stdout
  else:
    assert 'missing image (1):' in run.stdout
  assert not json.load(open(report))['ok']
