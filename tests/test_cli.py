"""Every script and console entry point: --help, one-line errors, quiet start."""
import json
import os
import re
import subprocess

import pytest

import helpers

# Start-up lines that must not reach a user's console on a CPU machine.
NOISE = re.compile(r'cuInit|cuda drivers|cpu_feature_guard|absl::InitializeLog|'
                   r'deprecat', re.IGNORECASE)


def _entry_points():
  """(name, 'module:function') of every console script in setup.py."""
  with open(os.path.join(helpers.ROOT, 'setup.py')) as f:
    text = f.read()
  body = text[text.index("'console_scripts'"):]
  body = body[:body.index(']')]
  joined = re.sub(r"'\s*\n\s*'", '', body)  # Adjacent string literals.
  return re.findall(r"'([a-z0-9-]+)=([a-z0-9_.]+:[a-z_]+)'", joined)


def _run(args):
  # What a user's shell has: no TF_CPP_MIN_LOG_LEVEL.
  return helpers.run(args, env=helpers.environment(TF_CPP_MIN_LOG_LEVEL=None))


# Every --help in one process: TensorFlow is imported once (the slow part
# of a start-up), then each command runs in a forked child whose file
# descriptors 1 and 2 go to files, exactly as a user's console would see
# them. The parent's own stderr is checked too: it holds the start-up lines.
_ALL_HELP = r'''
import json, os, runpy, sys, tempfile, traceback
import deeplab  # Makes importing TensorFlow quiet,
import tensorflow  # which happens once, before the forks.
import keras
results = {}
for name, target in json.loads(sys.argv[1]):
  out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
  pid = os.fork()
  if pid == 0:
    os.dup2(out.fileno(), 1)
    os.dup2(err.fileno(), 2)
    code = 0
    try:
      sys.argv = [name, '--help']
      if target.endswith('.py'):
        sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
        runpy.run_path(target, run_name='__main__')
      else:
        module, function = target.split(':')
        getattr(__import__(module, fromlist=[function]), function)()
    except SystemExit as e:
      code = e.code if isinstance(e.code, int) else int(e.code is not None)
    except BaseException:
      traceback.print_exc()
      code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
  _, status = os.waitpid(pid, 0)
  out.seek(0)
  err.seek(0)
  results[name] = [os.waitstatus_to_exitcode(status),
                   out.read().decode('utf-8', 'replace'),
                   err.read().decode('utf-8', 'replace')]
sys.stdout.write(json.dumps(results))
'''

# The repository's scripts call the same functions as the entry points; one
# of each kind runs here.
SCRIPTS = {'train.py': '--train_logdir',
           'datasets/build_voc2012_data.py': '--semantic_segmentation_folder'}


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
    'deeplab-quickstart': ['--workdir', '--training_number_of_steps',
                           '--[no]deterministic'],
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
def all_help():
  """name -> (exit code, stdout, stderr) of --help of every entry point and
  script, and 'startup' -> the one process's own stderr."""
  targets = _entry_points() + [(script, script) for script in SCRIPTS]
  out = _run(['-c', _ALL_HELP, json.dumps(targets)])
  assert out.returncode == 0, out.stderr[-3000:]
  runs = {name: subprocess.CompletedProcess(name, *result)
          for name, result in json.loads(out.stdout).items()}
  runs['startup'] = out.stderr
  return runs


def test_starting_tensorflow_is_quiet(all_help):
  assert not NOISE.search(all_help['startup']), all_help['startup']


@pytest.mark.parametrize('name,target', _entry_points())
def test_entry_point_help_lists_its_own_flags(name, target, all_help):
  del target
  out = all_help[name]
  assert out.returncode == 0, out.stderr[-2000:]
  for flag in EXPECTED[name]:
    assert flag in out.stdout, (name, flag)
  assert len(out.stdout.splitlines()[0]) > 10  # A description comes first.
  assert not NOISE.search(out.stderr), out.stderr


@pytest.mark.parametrize('script,flag', sorted(SCRIPTS.items()))
def test_repository_scripts_help(script, flag, all_help):
  out = all_help[script]
  assert out.returncode == 0, out.stderr[-2000:]
  assert flag in out.stdout
  assert not NOISE.search(out.stderr), out.stderr


def test_a_bad_value_is_one_line_not_the_whole_help(tmp_path):
  out = _run(['eval.py', '--checkpoint_dir=%s' % tmp_path,
              '--eval_crop_size=65'])
  assert out.returncode == 1
  assert '--eval_crop_size' in out.stderr and '--help' in out.stderr
  assert '--eval_split' not in out.stderr  # No flag listing.
  assert len(out.stderr.strip().splitlines()) <= 3, out.stderr
