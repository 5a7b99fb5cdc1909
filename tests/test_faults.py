"""Faults and bad data through the real entry points: nothing lost, nothing
wrong in silence, every error names its culprit."""
import glob
import io
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

import conftest
from deeplab import export
from deeplab.datasets import build_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def test_missing_index_of_the_latest_checkpoint_resumes_from_the_last_whole(
    voc_records, tmp_path):
  logdir = str(tmp_path / 'train')
  first = conftest.run_script(train_args(logdir, voc_records,
                                         fine_tune_batch_norm=True))
  assert first.returncode == 0, first.stderr[-2000:]
  # Fine-tuned BatchNorm on 2 images per replica: warned at start.
  assert 'the original advises at least 12' in first.stderr
  os.remove(os.path.join(logdir, 'model.ckpt-2.index'))
  # What an interrupted save (a full disk) leaves: its _temp folder.
  os.makedirs(os.path.join(logdir, 'model.ckpt-3_temp', 'part-00000'))
  again = conftest.run_script(train_args(logdir, voc_records,
                                         training_number_of_steps=3))
  assert again.returncode == 0, again.stderr[-2000:]
  assert 'Skipping checkpoint %s/model.ckpt-2: its .index file is missing' % (
      logdir) in again.stderr
  assert 'Resumed from %s/model.ckpt-1 at step 1' % logdir in again.stderr
  # Nothing older than the resumed checkpoint was rotated away.
  assert os.path.exists(os.path.join(logdir, 'model.ckpt-1.index'))
  assert tf.train.latest_checkpoint(logdir).endswith('model.ckpt-3')
  assert not glob.glob(os.path.join(logdir, '*_temp'))


def test_non_finite_weights_are_never_saved(voc_records, tmp_path):
  logdir = str(tmp_path / 'train')
  out = conftest.run_script(train_args(
      logdir, voc_records, training_number_of_steps=6,
      base_learning_rate=1e30, weight_decay=0))
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
  return conftest.run_script([
      'datasets/build_voc2012_data.py', '--image_folder=' +
      raw['image_folder'], '--semantic_segmentation_folder=' +
      raw['label_folder'], '--list_folder=' + raw['list_folder'],
      '--image_format=jpg', '--output_dir=' + out,
      '--num_shards=%d' % num_shards])


_INTERRUPT_COMMIT = '''
import os, sys
from deeplab.datasets import build_data, build_voc2012_data
real, calls = os.replace, []
def replace(src, dst):
  if src.endswith('.incomplete'):
    calls.append(src)
    if len(calls) == 2:
      raise KeyboardInterrupt  # Killed between two shard renames.
  real(src, dst)
build_data.os.replace = replace
raw = dict(zip(['image_folder', 'label_folder', 'list_folder'], sys.argv[1:4]))
try:
  build_voc2012_data.convert(raw['list_folder'], raw['image_folder'],
                             raw['label_folder'], sys.argv[4], num_shards=2)
except KeyboardInterrupt:
  print('INTERRUPTED')
'''


def test_interrupted_shard_commit_is_finished_by_the_next_run(voc_raw,
                                                             tmp_path):
  out = str(tmp_path / 'tfrecord')
  assert _convert(voc_raw, out, 4).returncode == 0
  run = subprocess.run(
      [sys.executable, '-c', _INTERRUPT_COMMIT, voc_raw['image_folder'],
       voc_raw['label_folder'], voc_raw['list_folder'], out], cwd=ROOT,
      capture_output=True, text=True, timeout=300)
  assert 'INTERRUPTED' in run.stdout, run.stderr[-2000:]
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


_INTERRUPT_SWAP = '''
import os, sys
from deeplab import cli, export
real = os.replace
def replace(src, dst):
  if '.staging-' in os.path.basename(src):
    raise SystemExit(9)  # Killed between the two renames of the swap.
  real(src, dst)
export.os.replace = replace
cli.export_model(['export_model.py'] + sys.argv[1:])
'''


def test_export_killed_mid_swap_is_rolled_back_then_replaced(zoo_logdir,
                                                            tmp_path):
  export_dir = str(tmp_path / 'export')
  args = ['--checkpoint_path=' + zoo_logdir, '--export_path=' + export_dir]
  export.export_saved_model(export.DeepLabServing(
      conftest.ZOO_OPTIONS, zoo_logdir, crop_size=(33, 33)), export_dir)
  killed = subprocess.run([sys.executable, '-c', _INTERRUPT_SWAP] + args,
                          cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
  assert killed.returncode == 9, killed.stderr[-2000:]
  assert not os.path.exists(export_dir)
  assert glob.glob(export_dir + '.old-*')
  # The next export (or any call of recover_export) restores, then replaces.
  assert export.recover_export(export_dir)
  assert os.path.exists(os.path.join(export_dir, 'saved_model.pb'))
  again = conftest.run_script(['export_model.py'] + args)
  assert again.returncode == 0, again.stderr[-2000:]
  assert sorted(os.listdir(tmp_path)) == ['export']


# Silent wrong results -------------------------------------------------------


def test_training_records_without_labels_are_an_error(tmp_path):
  records = str(tmp_path / 'records')
  write_records(records, 'train', [example('a'), example('b')])
  out = conftest.run_script(train_args(str(tmp_path / 'train'), records,
                                       train_crop_size='25,29'))
  assert out.returncode == 1
  assert 'Record has no label' in out.stderr
  assert 'image] [a]' in out.stderr or 'image] [b]' in out.stderr
  assert not glob.glob(str(tmp_path / 'train' / 'model.ckpt-*'))


def test_val_records_without_labels_are_an_error(zoo_logdir, tmp_path):
  records = str(tmp_path / 'records')
  write_records(records, 'val', [example('a'), example('b')])
  out = conftest.run_script([
      'eval.py', '--checkpoint_dir=' + zoo_logdir, '--dataset_dir=' + records,
      '--eval_crop_size=33,33', '--max_number_of_evaluations=1',
      '--eval_logdir=' + str(tmp_path / 'eval')])
  assert out.returncode == 1
  assert 'Record has no label (image/segmentation/class/encoded): image] [a]' \
      in out.stderr  # Evaluation reads in order: the first record.
  assert 'mIoU' not in out.stdout


def test_label_out_of_range_in_training(tmp_path):
  records = str(tmp_path / 'records')
  write_records(records, 'train', [example('cat', 50), example('dog', 3)])
  out = conftest.run_script(train_args(str(tmp_path / 'train'), records,
                                       train_crop_size='25,29'))
  assert out.returncode == 1
  assert 'Label values must be class ids 0..20' in out.stderr
  assert 'image] [cat] [holds] [50' in out.stderr
  ignored = conftest.run_script(train_args(
      str(tmp_path / 'train2'), records, train_crop_size='25,29',
      out_of_range_labels='ignore'))
  assert ignored.returncode == 0, ignored.stderr[-2000:]


def test_degenerate_batch_norm_is_named(voc_records, tmp_path):
  # (Small fine-tuned batches are warned about at train start: see the
  # missing-index test.) From scratch with frozen BatchNorm the statistics
  # were never set.
  frozen = str(tmp_path / 'frozen')
  assert conftest.run_script(train_args(
      frozen, voc_records, training_number_of_steps=1)).returncode == 0
  out = conftest.run_script([
      'eval.py', '--checkpoint_dir=' + frozen, '--dataset_dir=' + voc_records,
      '--eval_crop_size=73,89', '--max_number_of_evaluations=1'])
  assert out.returncode == 0, out.stderr[-2000:]
  assert 'initial moving statistics' in out.stderr
  assert '--train_batch_norm_decay=0.9' in out.stderr


# Concurrent eval while training ---------------------------------------------


def test_eval_beside_training_waits_and_tolerates_rotation(voc_records,
                                                          tmp_path):
  logdir = str(tmp_path / 'train')
  env = dict(os.environ)
  evaluating = subprocess.Popen(
      [sys.executable, 'eval.py', '--checkpoint_dir=' + logdir,
       '--dataset_dir=' + voc_records, '--eval_crop_size=73,89',
       '--eval_interval_secs=1', '--max_number_of_evaluations=2',
       '--model_variant=mobilenet_v2'], cwd=ROOT, env=env,
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  time.sleep(1)
  training = conftest.run_script(train_args(
      logdir, voc_records, training_number_of_steps=8,
      max_checkpoints_to_keep=1, decoder_output_stride=4), timeout=600)
  assert training.returncode == 0, training.stderr[-2000:]
  try:
    out, err = evaluating.communicate(timeout=300)
  finally:
    evaluating.kill()
  assert evaluating.returncode == 0, err[-3000:]
  assert 'mIoU' in out
  # It built the trained model (decoder from the options file), not a
  # default one.
  saved = json.load(open(os.path.join(logdir, 'eval', 'metrics_latest.json')))
  assert saved['model_options']['decoder_output_stride'] == [4]


# Errors that name the culprit -----------------------------------------------


def test_empty_shard_names_the_file(tmp_path):
  records = str(tmp_path / 'records')
  os.makedirs(records)
  open(build_data.shard_filename(records, 'train', 0, 1), 'w').close()
  out = conftest.run_script(train_args(str(tmp_path / 'train'), records))
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
  out = conftest.run_script([
      'eval.py', '--checkpoint_dir=' + copy, '--dataset_dir=' + voc_records,
      '--eval_crop_size=73,89', '--max_number_of_evaluations=1'])
  assert out.returncode == 1
  assert 'cannot be read: its data is truncated' in out.stderr
  assert 'model.ckpt' in out.stderr and 'IndexError' not in out.stderr


def test_tiny_image_trains(tmp_path):
  records = str(tmp_path / 'records')
  write_records(records, 'train', [example('tiny', 1, (1, 1)),
                                   example('small', 2, (3, 2))])
  out = conftest.run_script(train_args(str(tmp_path / 'train'), records,
                                       training_number_of_steps=1))
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
