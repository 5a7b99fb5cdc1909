"""Faults and bad data through the real entry points: nothing lost, nothing
wrong in silence, every error names its culprit."""
import glob
import io
import json
import os
import re
import shutil
import subprocess
import time

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

import conftest
import helpers
from deeplab import export
from deeplab import rundir
from deeplab.datasets import build_data


def train_args(logdir, records, **overrides):
  values = dict(train_logdir=logdir, dataset_dir=records,
                train_crop_size='33,33', train_batch_size=2,
                training_number_of_steps=2, base_learning_rate=0.01,
                model_variant='mobilenet_v2', log_steps=1, num_readers=1,
                save_interval_steps=1, fine_tune_batch_norm=False)
  values.update(overrides)
  return ['train.py'] + [
      ('--%s' if v else '--no%s') % k if isinstance(v, bool)
      else '--%s=%s' % (k, v) for k, v in values.items()]


def write_records(directory, split, examples):
  os.makedirs(directory, exist_ok=True)
  path = build_data.shard_filename(directory, split, 0, 1)
  with tf.io.TFRecordWriter(path) as writer:
    for example in examples:
      writer.write(example.SerializeToString())
  return path


def example(name, label=None, size=(24, 28)):
  image = np.random.RandomState(len(name)).randint(
      0, 255, size + (3,)).astype(np.uint8)
  buf = io.BytesIO()
  Image.fromarray(image).save(buf, format='PNG')
  seg = None
  if label is not None:
    lab = io.BytesIO()
    Image.fromarray(np.full(size, label, np.uint8)).save(lab, format='PNG')
    seg = lab.getvalue()
  return build_data.image_seg_to_tfexample(buf.getvalue(), name.encode(),
                                           size[0], size[1], seg, 'png')


# Data lost ------------------------------------------------------------------


@pytest.mark.slow
def test_missing_index_of_the_latest_checkpoint_resumes_from_the_last_whole(
    voc_records, tmp_path):
  logdir = str(tmp_path / 'train')
  first = helpers.run(train_args(
      logdir, voc_records, fine_tune_batch_norm=True))
  assert first.returncode == 0, first.stderr[-2000:]
  # Fine-tuned BatchNorm on 2 images per replica: warned at start.
  assert 'the original advises at least 12' in first.stderr
  os.remove(os.path.join(logdir, 'model.ckpt-2.index'))
  # What an interrupted save (a full disk) leaves: its _temp folder.
  os.makedirs(os.path.join(logdir, 'model.ckpt-3_temp', 'part-00000'))
  again = helpers.run(train_args(
      logdir, voc_records, training_number_of_steps=3))
  assert again.returncode == 0, again.stderr[-2000:]
  assert 'Skipping checkpoint %s/model.ckpt-2: its .index file is missing' % (
      logdir) in again.stderr
  assert 'Resumed from %s/model.ckpt-1 at step 1' % logdir in again.stderr
  # Nothing older than the resumed checkpoint was rotated away.
  assert os.path.exists(os.path.join(logdir, 'model.ckpt-1.index'))
  assert tf.train.latest_checkpoint(logdir).endswith('model.ckpt-3')
  assert not glob.glob(os.path.join(logdir, '*_temp'))


@pytest.mark.slow
def test_non_finite_weights_are_never_saved(voc_records, tmp_path):
  logdir = str(tmp_path / 'train')
  out = helpers.run(train_args(
      logdir, voc_records, training_number_of_steps=6, base_learning_rate=1e30,
      weight_decay=0))
  assert out.returncode == 1
  assert 'not finite' in out.stderr or 'Loss is' in out.stderr
  assert 'Lower --base_learning_rate' in out.stderr or (
      'lower --base_learning_rate' in out.stderr)
  for index in glob.glob(os.path.join(logdir, 'model.ckpt-*.index')):
    prefix = index[:-len('.index')]
    reader = tf.train.load_checkpoint(prefix)
    for name, dtype in reader.get_variable_to_dtype_map().items():
      if dtype.is_floating:
        assert np.isfinite(reader.get_tensor(name)).all(), (prefix, name)
  finite = [p for p in glob.glob(os.path.join(logdir, 'model.ckpt-*.index'))]
  if finite:  # The message names the newest one, to restart from.
    newest = max(finite, key=lambda p: int(p.split('-')[-1].split('.')[0]))
    assert newest[:-len('.index')] in out.stderr


def _convert(raw, out, num_shards):
  return helpers.run([
      'datasets/build_voc2012_data.py', '--image_folder=' + raw['image_folder'],
      '--semantic_segmentation_folder=' + raw['label_folder'],
      '--list_folder=' + raw['list_folder'], '--image_format=jpg',
      '--output_dir=' + out, '--num_shards=%d' % num_shards])


_INTERRUPT_COMMIT = '''
import os, sys
from deeplab.cli import converters
from deeplab.datasets import build_voc2012_data
real, calls = os.replace, []
kill = sys.argv[5] == 'kill'
def replace(src, dst):
  if src.endswith('.incomplete'):
    calls.append(src)
    if len(calls) == 2:  # Between two shard renames:
      if kill:
        os._exit(9)  # killed,
      raise KeyboardInterrupt  # or Ctrl-C.
  real(src, dst)
os.replace = replace
args, sys.argv = sys.argv[1:5], ['build_voc2012_data.py']
converters.guarded(build_voc2012_data.convert, *args, num_shards=2)
'''


def _interrupt_commit(voc_raw, out, how):
  return helpers.run([
      '-c', _INTERRUPT_COMMIT, voc_raw['list_folder'], voc_raw['image_folder'],
      voc_raw['label_folder'], out, how])


@pytest.mark.slow
def test_interrupted_shard_commit_is_finished_by_the_next_run(voc_raw,
                                                             tmp_path):
  out = str(tmp_path / 'tfrecord')
  assert _convert(voc_raw, out, 4).returncode == 0
  run = _interrupt_commit(voc_raw, out, 'kill')
  assert run.returncode == 9, run.stderr[-2000:]
  # Half-committed: readers are told so instead of reading a mix.
  from deeplab.data import data_generator  # pylint: disable=g-import-not-at-top
  with pytest.raises(data_generator.DataError, match='mid-commit'):
    data_generator.Dataset('pascal_voc_seg', 'train', out, 1, (73, 89)).files()
  again = _convert(voc_raw, out, 2)
  assert again.returncode == 0, again.stderr[-2000:]
  for split, count in (('train', 16), ('val', 8)):
    shards = sorted(glob.glob(os.path.join(out, split + '-*')))
    assert [os.path.basename(s) for s in shards] == [
        '%s-%05d-of-00002.tfrecord' % (split, i) for i in range(2)]
    assert sum(1 for s in shards for _ in tf.data.TFRecordDataset(s)) == count
  assert not [f for f in os.listdir(out) if f.startswith('.')]


_FULL_DISK_SHARD = '''
import sys
import tensorflow as tf
from deeplab.cli import build_voc2012_data
class Full(tf.io.TFRecordWriter):
  def write(self, record):
    # What TensorFlow raises when the disk fills under a shard.
    raise tf.errors.ResourceExhaustedError(
        None, None, '%s; No space left on device' % self.path)
  def __init__(self, path, *args):
    super().__init__(path, *args)
    self.path = path
tf.io.TFRecordWriter = Full
sys.argv = ['build_voc2012_data.py'] + sys.argv[1:]
build_voc2012_data.main()
'''


def test_a_full_disk_under_a_shard_is_one_line_and_keeps_nothing(voc_raw,
                                                                tmp_path):
  out = str(tmp_path / 'tfrecord')
  run = helpers.run([
      '-c', _FULL_DISK_SHARD, '--image_folder=' + voc_raw['image_folder'],
      '--semantic_segmentation_folder=' + voc_raw['label_folder'],
      '--list_folder=' + voc_raw['list_folder'], '--output_dir=' + out])
  assert run.returncode == 1, run.stderr[-2000:]
  assert 'Traceback' not in run.stderr, run.stderr[-2000:]
  line = [l for l in run.stderr.splitlines()
          if l.startswith('build_voc2012_data.py: error:')]
  assert len(line) == 1 and re.search(
      r'error: cannot write %s/\.train-00000-of-00004\.tfrecord\.incomplete: '
      r'the disk is full' % re.escape(out), line[0]), run.stderr[-2000:]
  assert not [f for f in os.listdir(out) if f.startswith('.')]


def test_ctrl_c_during_a_commit_finishes_it_and_says_what_is_complete(
    voc_raw, tmp_path):
  out = str(tmp_path / 'tfrecord')
  run = _interrupt_commit(voc_raw, out, 'ctrl-c')
  assert run.returncode == 130, run.stderr[-2000:]
  assert 'Traceback' not in run.stderr
  # The split being committed (the first, 'train') is whole; nothing of
  # the interrupted run is left to clean up.
  assert "split 'train' of %s was written and committed" % out in run.stderr
  assert 'run the same command again' in run.stderr
  shards = sorted(glob.glob(os.path.join(out, 'train-*')))
  assert sum(1 for s in shards for _ in tf.data.TFRecordDataset(s)) == 16
  assert not [f for f in os.listdir(out) if f.startswith('.')]


_INTERRUPT_SWAP = '''
import os, sys
from deeplab.cli import export_model
real = os.replace
def replace(src, dst):
  if '.staging-' in os.path.basename(src):
    raise SystemExit(9)  # Killed between the two renames of the swap.
  real(src, dst)
os.replace = replace
export_model.main(['export_model.py'] + sys.argv[1:])
'''


@pytest.mark.slow
def test_export_killed_mid_swap_is_rolled_back_then_replaced(zoo_logdir,
                                                            tmp_path):
  export_dir = str(tmp_path / 'export')
  args = ['--checkpoint_path=' + zoo_logdir, '--export_path=' + export_dir]
  export.export_saved_model(export.DeepLabServing(
      conftest.ZOO_OPTIONS, zoo_logdir, crop_size=(33, 33)), export_dir)
  killed = helpers.run(['-c', _INTERRUPT_SWAP] + args)
  assert killed.returncode == 9, killed.stderr[-2000:]
  assert not os.path.exists(export_dir)
  assert glob.glob(export_dir + '.old-*')
  # The next export restores, says so, then replaces.
  again = helpers.run(['export_model.py'] + args)
  assert again.returncode == 0, again.stderr[-2000:]
  assert ('An earlier export to %s was interrupted mid-swap: its previous '
          'export was restored from %s.old-' % (export_dir, export_dir)
          in again.stdout), again.stdout
  assert sorted(os.listdir(tmp_path)) == ['export']
  # Restoring alone (recover_export) leaves the previous export in place.
  killed = helpers.run(['-c', _INTERRUPT_SWAP] + args)
  assert killed.returncode == 9 and not os.path.exists(export_dir)
  assert export.recover_export(export_dir)
  assert os.path.exists(os.path.join(export_dir, 'saved_model.pb'))


# Silent wrong results -------------------------------------------------------


@pytest.mark.slow
def test_training_records_without_labels_are_an_error(tmp_path):
  records = str(tmp_path / 'records')
  write_records(records, 'train', [example('a'), example('b')])
  out = helpers.run(train_args(
      str(tmp_path / 'train'), records, train_crop_size='25,29'))
  assert out.returncode == 1
  assert 'Record has no label' in out.stderr
  assert 'image] [a]' in out.stderr or 'image] [b]' in out.stderr
  assert not glob.glob(str(tmp_path / 'train' / 'model.ckpt-*'))


@pytest.mark.slow
def test_val_records_without_labels_are_an_error(zoo_logdir, tmp_path):
  records = str(tmp_path / 'records')
  write_records(records, 'val', [example('a'), example('b')])
  out = helpers.run([
      'eval.py', '--checkpoint_dir=' + zoo_logdir, '--dataset_dir=' + records,
      '--eval_crop_size=33,33', '--max_number_of_evaluations=1',
      '--eval_logdir=' + str(tmp_path / 'eval')])
  assert out.returncode == 1
  assert 'Record has no label (image/segmentation/class/encoded): image] [a]' \
      in out.stderr  # Evaluation reads in order: the first record.
  assert 'mIoU' not in out.stdout


@pytest.mark.slow
def test_label_out_of_range_in_training(tmp_path):
  records = str(tmp_path / 'records')
  write_records(records, 'train', [example('cat', 50), example('dog', 3)])
  out = helpers.run(train_args(
      str(tmp_path / 'train'), records, train_crop_size='25,29'))
  assert out.returncode == 1
  assert 'Label values must be class ids 0..20' in out.stderr
  assert 'image] [cat] [holds] [50' in out.stderr
  ignored = helpers.run(train_args(
      str(tmp_path / 'train2'), records, train_crop_size='25,29',
      out_of_range_labels='ignore'))
  assert ignored.returncode == 0, ignored.stderr[-2000:]


@pytest.mark.slow
def test_degenerate_batch_norm_is_named(voc_records, tmp_path):
  # (Small fine-tuned batches are warned about at train start: see the
  # missing-index test.) From scratch with frozen BatchNorm the statistics
  # were never set.
  frozen = str(tmp_path / 'frozen')
  assert helpers.run(train_args(
      frozen, voc_records, training_number_of_steps=1)).returncode == 0
  out = helpers.run([
      'eval.py', '--checkpoint_dir=' + frozen, '--dataset_dir=' + voc_records,
      '--eval_crop_size=73,89', '--max_number_of_evaluations=1'])
  assert out.returncode == 0, out.stderr[-2000:]
  assert 'initial moving statistics' in out.stderr
  assert '--train_batch_norm_decay=0.9' in out.stderr


# Concurrent eval while training ---------------------------------------------


def _lines_of(stream):
  """A list that a thread fills with `stream`'s lines as they come."""
  import threading  # pylint: disable=g-import-not-at-top
  lines = []
  threading.Thread(target=lambda: lines.extend(iter(stream.readline, '')),
                   daemon=True).start()
  return lines


def _wait_for(lines, text, timeout):
  """Whether `text` shows up in `lines` within `timeout` seconds."""
  deadline = time.time() + timeout
  while time.time() < deadline:
    if any(text in line for line in lines):
      return True
    time.sleep(0.5)
  return False


@pytest.mark.slow
def test_eval_beside_training_waits_and_tolerates_rotation(voc_records,
                                                          tmp_path):
  """eval.py started before the trainer says it waits, evaluates the
  checkpoints that survive the trainer's rotation (one kept), and stops by
  itself once it has evaluated the last checkpoint of the finished run
  (polling forever otherwise, as the original)."""
  logdir = str(tmp_path / 'train')
  evaluating = helpers.start([
      'eval.py', '--checkpoint_dir=' + logdir, '--dataset_dir=' + voc_records,
      '--eval_crop_size=73,89', '--eval_interval_secs=1',
      '--max_number_of_evaluations=0', '--model_variant=mobilenet_v2'])
  out, err = _lines_of(evaluating.stdout), _lines_of(evaluating.stderr)
  try:
    assert _wait_for(err, 'Waiting for a checkpoint in %s' % logdir, 120), (
        ''.join(err)[-2000:])
    training = helpers.run(train_args(
        logdir, voc_records, training_number_of_steps=8,
        max_checkpoints_to_keep=1, decoder_output_stride=4), timeout=600)
    assert training.returncode == 0, training.stderr[-2000:]
    # Generous: on a slow 2-core host one evaluation beside the test suite
    # took minutes; a stuck eval still fails, saying what it last did.
    try:
      returncode = evaluating.wait(timeout=900)
    except subprocess.TimeoutExpired:
      pytest.fail('eval.py did not stop by itself:\n' + ''.join(err)[-3000:])
    assert returncode == 0, ''.join(err)[-3000:]
  finally:
    evaluating.kill()
  time.sleep(0.5)  # The reader threads take the last lines.
  evaluated = [line for line in out if 'mIoU' in line]
  assert evaluated and 'model.ckpt-8 (step 8,' in evaluated[-1]
  assert any('is the last checkpoint of a finished training run' in line
             for line in err)
  # It built the trained model (decoder from the options file), not a
  # default one.
  saved = json.load(open(os.path.join(logdir, 'eval', 'metrics_latest.json')))
  assert saved['model_options']['decoder_output_stride'] == [4]


# Errors that name the culprit -----------------------------------------------


@pytest.mark.slow
def test_empty_shard_names_the_file(tmp_path):
  records = str(tmp_path / 'records')
  os.makedirs(records)
  open(build_data.shard_filename(records, 'train', 0, 1), 'w').close()
  out = helpers.run(train_args(str(tmp_path / 'train'), records))
  assert out.returncode == 1
  assert 'yields no training batch' in out.stderr
  assert 'train-00000-of-00001.tfrecord' in out.stderr
  assert 'Traceback' not in out.stderr


def test_truncated_checkpoint_data_is_named(zoo_logdir, voc_records,
                                            tmp_path):
  copy = str(tmp_path / 'copy')
  shutil.copytree(zoo_logdir, copy)
  data = glob.glob(os.path.join(copy, 'model.ckpt.data-*'))[0]
  with open(data, 'r+b') as f:
    f.truncate(os.path.getsize(data) // 2)
  out = helpers.run([
      'eval.py', '--checkpoint_dir=' + copy, '--dataset_dir=' + voc_records,
      '--eval_crop_size=73,89', '--max_number_of_evaluations=1'])
  assert out.returncode == 1
  assert 'cannot be read: its data is truncated' in out.stderr
  assert 'model.ckpt' in out.stderr and 'IndexError' not in out.stderr


@pytest.mark.slow
def test_tiny_image_trains(tmp_path):
  records = str(tmp_path / 'records')
  write_records(records, 'train', [example('tiny', 1, (1, 1)),
                                   example('small', 2, (3, 2))])
  out = helpers.run(train_args(
      str(tmp_path / 'train'), records, training_number_of_steps=1))
  assert out.returncode == 0, out.stderr[-2000:]


@pytest.mark.parametrize('shape', [(40, 40, 3), (1, 1, 40, 40, 3),
                                   (1, 40, 40, 4), (0, 40, 40, 3)])
def test_serving_signature_says_what_input_it_needs(zoo_checkpoint, shape):
  module = export.DeepLabServing(conftest.ZOO_OPTIONS, zoo_checkpoint,
                                 crop_size=(33, 33))
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r'ImageTensor must be uint8 \[batch, height, '
                           r'width, 3\]'):
    module.serve(tf.zeros(shape, tf.uint8))


# Never touch what is not ours ------------------------------------------------


def test_export_replaces_only_an_export_it_wrote(zoo_logdir, voc_records,
                                                 tmp_path):
  run = str(tmp_path / 'run')
  shutil.copytree(zoo_logdir, run)
  before = sorted(os.listdir(run))
  out = helpers.run([
      'export_model.py', '--checkpoint_path=' + run, '--export_path=' + run])
  assert out.returncode == 1
  assert '--export_path=%s is a folder that holds files this project did ' \
      'not write' % run in out.stderr
  assert sorted(os.listdir(run)) == before
  # A folder of photos, a file, a .pb that is no graph: refused, untouched.
  photos = tmp_path / 'photos'
  photos.mkdir()
  (photos / 'cat.jpg').write_bytes(b'cat')
  notes = tmp_path / 'notes.txt'
  notes.write_text('mine')
  other = tmp_path / 'other.pb'
  other.write_text('not a graph')
  for path in (photos, notes, other):
    config = export.ExportConfig(checkpoint_path=run, export_path=str(path),
                                 crop_size=(33, 33))
    with pytest.raises(ValueError, match='left untouched'):
      export.run(config, conftest.ZOO_OPTIONS)
  assert os.listdir(photos) == ['cat.jpg'] and notes.read_text() == 'mine'
  assert other.read_text() == 'not a graph'
  assert sorted(os.listdir(tmp_path)) == ['notes.txt', 'other.pb', 'photos',
                                          'run']


@pytest.mark.slow
def test_a_logdir_holds_one_trainer_and_a_stale_lock_is_taken_over(
    voc_records, tmp_path):
  from deeplab.training import logdir_lock  # pylint: disable=g-import-not-at-top
  logdir = str(tmp_path / 'train')
  os.makedirs(logdir)
  with logdir_lock.LogdirLock(logdir):  # Another job trains here.
    second = helpers.run(train_args(logdir, voc_records))
  assert second.returncode == 1
  assert 'Another training job holds %s/.train.lock: pid %d' % (
      logdir, os.getpid()) in second.stderr
  assert not glob.glob(os.path.join(logdir, 'model.ckpt-*'))
  # A job killed without releasing its lock: taken over, with a warning.
  with open(os.path.join(logdir, rundir.LOCK_FILE), 'w') as f:
    json.dump({'pid': 2 ** 22 + 7, 'host': os.uname().nodename,
               'started': time.time(), 'heartbeat': time.time()}, f)
  third = helpers.run(train_args(
      logdir, voc_records, training_number_of_steps=1))
  assert third.returncode == 0, third.stderr[-2000:]
  assert 'Took over the lock of %s from a job that is no longer running ' \
      '(pid %d' % (logdir, 2 ** 22 + 7) in third.stderr
  assert not os.path.exists(os.path.join(logdir, rundir.LOCK_FILE))


@pytest.mark.slow
def test_resuming_keeps_the_runs_options_or_refuses(voc_records, tmp_path):
  """A quantization-aware run resumed without --quantize_delay_step stays
  quantization-aware; a flag that contradicts the run is refused."""
  logdir = str(tmp_path / 'qat')
  first = helpers.run(train_args(
      logdir, voc_records, training_number_of_steps=1, quantize_delay_step=0))
  assert first.returncode == 0, first.stderr[-2000:]
  options = os.path.join(logdir, 'model_options.json')
  saved = open(options).read()
  again = helpers.run(train_args(
      logdir, voc_records, training_number_of_steps=2))
  assert again.returncode == 0, again.stderr[-2000:]
  assert open(options).read() == saved
  reader = tf.train.load_checkpoint(os.path.join(logdir, 'model.ckpt-2'))
  assert any('act_quant' in n for n in reader.get_variable_to_shape_map())
  refused = helpers.run(train_args(
      logdir, voc_records, training_number_of_steps=3, quantize_delay_step=-1))
  assert refused.returncode == 1
  assert '--quantize_delay_step=-1, but the run was trained with 0' in \
      refused.stderr
  assert open(options).read() == saved
  assert not os.path.exists(os.path.join(logdir, 'model.ckpt-3.index'))


def test_a_setting_the_model_cannot_honour_is_an_error(zoo_logdir,
                                                       voc_records):
  out = helpers.run([
      'eval.py', '--checkpoint_dir=' + zoo_logdir,
      '--dataset_dir=' + voc_records, '--eval_crop_size=73,89',
      '--max_number_of_evaluations=1', '--inference_precision=bfloat16',
      '--nofold_batch_norm'])
  assert out.returncode == 1
  assert '--inference_precision=bfloat16 runs the BatchNorm-folded graph: ' \
      'it needs --fold_batch_norm' in out.stderr
  assert 'mIoU' not in out.stdout


_FULL_DISK = '''
import sys
import tensorflow as tf
from deeplab.cli import train
def full(self, checkpoint_number=None):
  raise tf.errors.ResourceExhaustedError(
      None, None, '{{function_node __wrapped__SaveV2}} %s/model.ckpt-%d_temp/'
      'part-0; No space left on device [Op:SaveV2]' % (self.directory,
                                                        checkpoint_number))
if sys.argv[1] == 'full':
  tf.train.CheckpointManager.save = full
train.main(['train.py'] + sys.argv[2:])
'''


@pytest.mark.slow
def test_a_full_disk_or_ctrl_c_in_training_is_one_line_and_loses_nothing(
    voc_records, tmp_path):
  logdir = str(tmp_path / 'train')
  args = train_args(logdir, voc_records, training_number_of_steps=1)[1:]
  out = helpers.run(['-c', _FULL_DISK, 'full'] + args)
  assert out.returncode == 1, out.stderr[-2000:]
  assert 'Traceback' not in out.stderr
  assert ('Cannot save the checkpoint of step 1: cannot write %s/model.ckpt-1'
          '_temp/part-0: the disk is full.' % logdir) in out.stderr
  assert 'No checkpoint was written yet' in out.stderr
  # Ctrl-C (here SIGTERM, as a scheduler sends) saves the step reached.
  args = train_args(logdir, voc_records, training_number_of_steps=100000,
                    save_interval_steps=1000)[1:]
  training = helpers.start(['-c', _FULL_DISK, 'ok'] + args)
  err = _lines_of(training.stderr)
  try:
    assert _wait_for(err, 'step 3/100000', 300), ''.join(err)[-2000:]
    training.terminate()
    assert training.wait(timeout=120) == 130
  finally:
    training.kill()
  time.sleep(0.5)  # The reader thread takes the last lines.
  message = ''.join(err)
  assert 'Traceback' not in message
  step = tf.train.latest_checkpoint(logdir)
  assert step and ('Training interrupted at step %s: the newest checkpoint '
                   'is %s' % (step.rsplit('-', 1)[1], step)) in message
  assert 'run the same command to resume from it' in message


def test_bad_saved_options_and_misfits_name_their_file_or_flag(
    zoo_logdir, voc_records, tmp_path):
  from deeplab import checkpoints  # pylint: disable=g-import-not-at-top
  from deeplab import runtime  # pylint: disable=g-import-not-at-top
  from deeplab.data import data_generator  # pylint: disable=g-import-not-at-top
  copy = str(tmp_path / 'copy')
  shutil.copytree(zoo_logdir, copy)
  options = os.path.join(copy, 'model_options.json')
  saved = json.load(open(options))
  with open(options, 'w') as f:
    f.write(json.dumps(saved)[:-10])
  with pytest.raises(ValueError, match='Cannot read the saved model options '
                     '%s' % options):
    rundir.load_options(copy)
  with open(options, 'w') as f:
    json.dump(dict(saved, output_stride='16'), f)
  with pytest.raises(ValueError, match='%s: "output_stride" is \'16\'; it '
                     'must be an integer' % options):
    rundir.load_options(copy)
  # A quantization-aware model on a float checkpoint: the flag is named.
  model = runtime.build_graph(
      conftest.ZOO_OPTIONS.replace(quantize_delay_step=0))
  with pytest.raises(checkpoints.CheckpointMismatchError,
                     match='trained without --quantize_delay_step'):
    checkpoints.load_weights(model, zoo_logdir)
  # Records of two schemas; a label of another size than its image.
  records = str(tmp_path / 'records')
  write_records(records, 'val', [example('good', 1)])
  foreign = tf.train.Example(features=tf.train.Features(feature={
      'image': tf.train.Feature(bytes_list=tf.train.BytesList(value=[b'x']))}))
  with tf.io.TFRecordWriter(os.path.join(
      records, 'val-00001-of-00002.tfrecord')) as writer:
    writer.write(foreign.SerializeToString())
  dataset = data_generator.Dataset('pascal_voc_seg', 'val', records, 1,
                                   (33, 33), require_labels=True)
  with pytest.raises(data_generator.DataError,
                     match='record 0 of .*val-00001-of-00002.tfrecord has no '
                     'image/encoded feature .its features: image.'):
    list(dataset)
  image = example('sized', 1, (24, 28))
  label = example('other', 1, (10, 10))
  image.features.feature['image/segmentation/class/encoded'].CopyFrom(
      label.features.feature['image/segmentation/class/encoded'])
  shutil.rmtree(records)
  write_records(records, 'val', [image])
  with pytest.raises(data_generator.DataError,
                     match=r'Label and image sizes differ: image\] \[sized\] '
                     r'\[is\] \[24 28\] \[its label\] \[10 10\]'):
    list(data_generator.Dataset('pascal_voc_seg', 'val', records, 1, (33, 33),
                                require_labels=True))
  # vis names its own crop flag.
  with pytest.raises(data_generator.DataError, match='set --vis_crop_size'):
    list(data_generator.Dataset('pascal_voc_seg', 'val', voc_records, 1,
                                (33, 33), crop_flag='vis_crop_size'))
