"""Every script and console entry point: --help, one-line errors, quiet start."""
import concurrent.futures
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Start-up lines that must not reach a user's console on a CPU machine.
NOISE = re.compile(r'cuInit|cuda drivers|cpu_feature_guard|absl::InitializeLog|'
                   r'deprecat', re.IGNORECASE)


def _entry_points():
  """(name, 'module:function') of every console script in setup.py."""
  with open(os.path.join(ROOT, 'setup.py')) as f:
    text = f.read()
  body = text[text.index("'console_scripts'"):]
  body = body[:body.index(']')]
  joined = re.sub(r"'\s*\n\s*'", '', body)  # Adjacent string literals.
  return re.findall(r"'([a-z0-9-]+)=([a-z0-9_.]+:[a-z_]+)'", joined)


def _run(args, **kw):
  env = dict(os.environ)
  env.pop('TF_CPP_MIN_LOG_LEVEL', None)  # What a user's shell has.
  return subprocess.run(args, cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=300, **kw)


def _run_entry_point(name, target, args):
  module, function = target.split(':')
  code = ('import sys; sys.argv[0] = %r; from %s import %s; %s()'
          % (name, module, function, function))
  return _run([sys.executable, '-c', code] + args)


# Own flags each command must list in --help (a few of each group).
EXPECTED = {
    'deeplab-train': ['--train_logdir', '--train_crop_size', '--atrous_rates',
                      '--[no]fine_tune_batch_norm', '--min_resize_value'],
    'deeplab-eval': ['--checkpoint_dir', '--eval_crop_size', '--eval_scales',
                     '--max_number_of_evaluations', '--[no]fold_batch_norm'],
    'deeplab-vis': ['--vis_logdir', '--vis_crop_size',
                    '--max_number_of_iterations', '--eval_interval_secs',
                    '--colormap_type'],
    'deeplab-export': ['--checkpoint_path', '--export_path', '--crop_size',
                       '--inference_scales', '--[no]save_inference_graph'],
    'deeplab-predict': ['--checkpoint', '--image', '--output_png',
                        '--output_label_png'],
    'deeplab-model-stats': ['--crop_size', '--model_variant'],
    'deeplab-convert-checkpoint': ['--checkpoint', '--output'],
    'deeplab-quickstart': ['--workdir', '--training_number_of_steps'],
    'deeplab-zoo': ['--list', '--name', '--source', '--output_dir'],
    'deeplab-check-data': ['--image_folder', '--label_folder',
                           '--num_classes', '--dataset_dir', '--chart'],
    'deeplab-build-voc2012-data': ['--image_folder', '--list_folder',
                                   '--output_dir'],
    'deeplab-build-cityscapes-data': ['--cityscapes_root', '--output_dir'],
    'deeplab-build-ade20k-data': ['--train_image_folder', '--output_dir'],
    'deeplab-build-custom-data': ['--image_folder', '--output_dir'],
    'deeplab-remove-gt-colormap': ['--original_gt_folder', '--output_dir'],
}


def test_every_entry_point_is_covered():
  assert sorted(name for name, _ in _entry_points()) == sorted(EXPECTED)


@pytest.fixture(scope='module')
def entry_point_help():
  """--help of every entry point, two at a time (each starts TensorFlow)."""
  with concurrent.futures.ThreadPoolExecutor(2) as pool:
    runs = {name: pool.submit(_run_entry_point, name, target, ['--help'])
            for name, target in _entry_points()}
    return {name: run.result() for name, run in runs.items()}


@pytest.mark.parametrize('name,target', _entry_points())
def test_entry_point_help_lists_its_own_flags(name, target, entry_point_help):
  del target
  out = entry_point_help[name]
  assert out.returncode == 0, out.stderr[-2000:]
  for flag in EXPECTED[name]:
    assert flag in out.stdout, (name, flag)
  assert len(out.stdout.splitlines()[0]) > 10  # A description comes first.
  assert not NOISE.search(out.stderr), out.stderr


# The repository's scripts call the same functions as the entry points; one
# of each kind runs here.
@pytest.mark.parametrize('script,flag', [
    ('train.py', '--train_logdir'),
    ('datasets/build_voc2012_data.py', '--semantic_segmentation_folder')])
def test_repository_scripts_help(script, flag):
  out = _run([sys.executable, script, '--help'])
  assert out.returncode == 0, out.stderr[-2000:]
  assert flag in out.stdout
  assert not NOISE.search(out.stderr), out.stderr


def test_a_bad_value_is_one_line_not_the_whole_help(tmp_path):
  out = _run([sys.executable, 'eval.py', '--checkpoint_dir=%s' % tmp_path,
              '--eval_crop_size=65'])
  assert out.returncode == 1
  assert '--eval_crop_size' in out.stderr and '--help' in out.stderr
  assert '--eval_split' not in out.stderr  # No flag listing.
  assert len(out.stderr.strip().splitlines()) <= 3, out.stderr
