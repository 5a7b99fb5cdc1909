"""Test helpers shared by the test files (and benchmarks): where the
repository is, running a command as a user would, tiny trainings."""
import collections
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def argv(args):
  """The argv of a command as a user types it: a script path (`train.py`,
  `benchmarks/...py`), `-m module` or `-c code` run with this Python; a
  console script (`deeplab-train`) installed beside this Python (else on
  the PATH); else the program as given."""
  args = [str(a) for a in args]
  first = args[0]
  if first in ('-m', '-c') or first.endswith('.py'):
    return [sys.executable] + args
  if first.startswith('deeplab-'):
    beside = os.path.join(os.path.dirname(sys.executable), first)
    return [beside if os.path.exists(beside) else
            shutil.which(first) or first] + args[1:]
  return args


def environment(**changes):
  """This process's environment with `changes` (None removes a variable):
  e.g. `TF_CPP_MIN_LOG_LEVEL=None` for what a user's shell has."""
  env = dict(os.environ)
  for key, value in changes.items():
    if value is None:
      env.pop(key, None)
    else:
      env[key] = str(value)
  return env


def run(args, *, cwd=ROOT, env=None, timeout=300, **kwargs):
  """Runs a command (`argv`) to its end, from the repository root unless
  `cwd` says otherwise; its output captured as text."""
  return subprocess.run(argv(args), cwd=cwd, env=env, capture_output=True,
                        text=True, timeout=timeout, **kwargs)


def start(args, *, cwd=ROOT, env=None, **kwargs):
  """Starts a command (`argv`) in the background; its output captured as
  text unless `kwargs` say where it goes."""
  kwargs.setdefault('stdout', subprocess.PIPE)
  kwargs.setdefault('stderr', subprocess.PIPE)
  return subprocess.Popen(argv(args), cwd=cwd, env=env, text=True, **kwargs)


def shell(script, cwd, env):
  """Runs a shell script as a page's block (`set -e`): it must succeed
  without a traceback."""
  done = run(['bash', '-c', 'set -e\n' + script], cwd=cwd, env=env,
             timeout=900)
  assert done.returncode == 0, (script, done.stderr[-3000:])
  assert 'Traceback' not in done.stderr, script
  return done


def random_batches(count, batch, crop, num_classes, ignore_rows=0, seed=0):
  """An `input_fn` of `trainer.train`: `count` fixed batches of random
  pixels and labels, repeated (the first `ignore_rows` label rows ignored)."""

  def input_fn(context):
    del context
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    rng = np.random.RandomState(seed)
    images = rng.uniform(0, 255, (count, batch, crop, crop, 3)).astype(
        np.float32)
    labels = rng.randint(0, num_classes, (count, batch, crop, crop, 1)).astype(
        np.int32)
    labels[:, :, :ignore_rows] = 255
    return tf.data.Dataset.from_tensor_slices(
        {'image': images, 'label': labels}).repeat()

  return input_fn


def train_tiny(logdir, options, steps, input_fn, crop, **changes):
  """A few training steps of `options` on `input_fn`'s batches of 2 in
  `logdir` (seeded, BatchNorm fine-tuned, one checkpoint at the end);
  `changes`: other `TrainConfig` fields. Returns what `trainer.train` does."""
  # pylint: disable=g-import-not-at-top
  from deeplab import configs
  from deeplab.training import trainer
  config = configs.TrainConfig(
      train_logdir=str(logdir), dataset='pascal_voc_seg', dataset_dir='',
      train_crop_size=(crop, crop), train_batch_size=2,
      training_number_of_steps=steps, save_interval_steps=steps,
      save_summaries_secs=10 ** 6, fine_tune_batch_norm=True, seed=0,
      **changes)
  return trainer.train(config, options, input_fn=input_fn)


def make_tarball(path, values, top='deeplabv3_model', step=30000,
                 truncate=False):
  """A release tarball: `<top>/model.ckpt-<step>.{index,data}` from
  name -> array, and a frozen graph file beside it."""
  workdir = os.path.join(os.path.dirname(path), top + '_files')
  import reference  # pylint: disable=g-import-not-at-top
  reference.write_checkpoint(
      values, os.path.join(workdir, top, 'model.ckpt-%d' % step))
  with open(os.path.join(workdir, top, 'frozen_inference_graph.pb'),
            'wb') as f:
    f.write(b'not used here')
  with tarfile.open(path, 'w:gz') as tar:
    tar.add(os.path.join(workdir, top), arcname=top)
  if truncate:
    with open(path, 'r+b') as f:
      f.truncate(os.path.getsize(path) // 2)
  return path


def voc_mobilenet_tarball(folder):
  """mobilenetv2_coco_voc_trainaug as released (its manifest's reference
  values), in `folder` under the name the zoo downloads it as: a folder
  that is `$DEEPLAB_HOME` makes `deeplab-zoo --name=...` work offline."""
  import reference  # pylint: disable=g-import-not-at-top
  from deeplab import zoo  # pylint: disable=g-import-not-at-top
  values = reference.manifest_values(
      reference.load_manifest('mobilenet_v2_modelzoo'))
  entry = zoo.get('mobilenetv2_coco_voc_trainaug')
  return make_tarball(os.path.join(str(folder), entry.tarball), values,
                      'deeplabv3_mnv2_pascal_train_aug')


# A command block of a page: its text, and why the suite does not run it
# (`<!-- not run: why -->` on the line before the block), or None.
DocBlock = collections.namedtuple('DocBlock', 'text not_run')

_NOT_RUN = re.compile(r'^<!-- not run: (.+?) -->$')


def doc_blocks(path):
  """Every ```bash block of a Markdown file under ROOT, in order."""
  blocks, current, previous, reason = [], None, '', None
  for line in open(os.path.join(ROOT, path)):
    if current is None and line.startswith('```bash'):
      current = []
      marker = _NOT_RUN.match(previous.strip())
      reason = marker.group(1) if marker else None
    elif current is not None and line.startswith('```'):
      blocks.append(DocBlock(''.join(current), reason))
      current = None
    elif current is not None:
      current.append(line)
    previous = line
  return blocks


def bash_blocks(path):
  """The text of every ```bash block of a Markdown file the suite runs."""
  return [b.text for b in doc_blocks(path) if b.not_run is None]


def command_lines(block):
  """The commands of a shell block as argv lists: continuation lines
  joined, comments dropped, leading `VAR=value` assignments left out."""
  commands = []
  for line in block.replace('\\\n', ' ').split('\n'):
    words = shlex.split(line, comments=True)
    while words and re.match(r'^[A-Za-z_][A-Za-z0-9_]*=', words[0]):
      words = words[1:]
    if words:
      commands.append(words)
  return commands
