"""The original's local_test_mobilenetv2.sh and local_test.sh, replayed.

Their train / eval / vis / export command lines run verbatim except for the
paths (a small synthetic VOC set instead of PASCAL, model-zoo-shaped
checkpoints written with make_checkpoint.py's recipe instead of downloads),
and what the original's scripts rely on is checked: `model.ckpt-10` in the
train logdir, an evaluation, the whole val split visualised, and a runnable
`frozen_inference_graph.pb`.
"""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

import conftest
import helpers
import reference

NUM_ITERATIONS = 10


def _replay(tmp_path, records, init_checkpoint, model_flags, crop,
            crop_style, convert=False):
  def crop_flags(name):
    if crop_style == 'multi':  # --train_crop_size=513 --train_crop_size=513
      return ['--%s=%d' % (name, crop)] * 2
    return ['--%s=%d,%d' % (name, crop, crop)]  # --train_crop_size="513,513"

  train_logdir = str(tmp_path / 'train')
  eval_logdir = str(tmp_path / 'eval')
  vis_logdir = str(tmp_path / 'vis')
  export_path = str(tmp_path / 'export' / 'frozen_inference_graph.pb')
  commands = [
      ['train.py', '--logtostderr', '--train_split=trainval'] + model_flags +
      crop_flags('train_crop_size') +
      ['--train_batch_size=4',
       '--training_number_of_steps=%d' % NUM_ITERATIONS,
       '--fine_tune_batch_norm=true',
       '--tf_initial_checkpoint=' + init_checkpoint,
       '--train_logdir=' + train_logdir, '--dataset_dir=' + records],
      ['eval.py', '--logtostderr', '--eval_split=val'] + model_flags +
      crop_flags('eval_crop_size') +
      ['--checkpoint_dir=' + train_logdir, '--eval_logdir=' + eval_logdir,
       '--dataset_dir=' + records, '--max_number_of_evaluations=1'],
      ['vis.py', '--logtostderr', '--vis_split=val'] + model_flags +
      crop_flags('vis_crop_size') +
      ['--checkpoint_dir=' + train_logdir, '--vis_logdir=' + vis_logdir,
       '--dataset_dir=' + records, '--max_number_of_iterations=1'],
      ['export_model.py', '--logtostderr',
       '--checkpoint_path=%s/model.ckpt-%d' % (train_logdir, NUM_ITERATIONS),
       '--export_path=' + export_path] + model_flags +
      ['--num_classes=21', '--crop_size=%d' % crop, '--crop_size=%d' % crop,
       '--inference_scales=1.0'],
  ]
  for command in commands:
    out = helpers.run(command, timeout=900)
    assert out.returncode == 0, (command[0], out.stderr[-3000:])
  assert os.path.exists(os.path.join(
      train_logdir, 'model.ckpt-%d.index' % NUM_ITERATIONS))
  metrics = json.load(open(os.path.join(eval_logdir, 'metrics_latest.json')))
  assert metrics['global_step'] == NUM_ITERATIONS
  assert metrics['num_images'] == 8
  predictions = [f for f in os.listdir(os.path.join(
      vis_logdir, 'segmentation_results')) if f.endswith('_prediction.png')]
  assert len(predictions) == 8  # The whole val split.
  if convert:
    # One command gives a checkpoint under the original's variable names
    # (the logdir's model_options.json supplies the model flags).
    tf1 = str(tmp_path / 'tf1')
    converted = helpers.run([
        'deeplab-convert-checkpoint', '--checkpoint=' + train_logdir,
        '--output=' + tf1])
    assert converted.returncode == 0, converted.stderr[-2000:]
    names = {name for name, _ in tf.train.list_variables(tf1)}
    assert 'logits/semantic/weights' in names
    assert not [n for n in names if 'ATTRIBUTES' in n or 'optimizer' in n]
  image = np.random.RandomState(0).randint(0, 256, (70, 90, 3)).astype(
      np.uint8)
  labels, = conftest.run_frozen_graph(export_path, [image], str(tmp_path))
  assert labels.shape == (1, 70, 90) and labels.dtype == np.int32
  assert 0 <= labels.min() and labels.max() < 21


@pytest.mark.slow
def test_local_test_mobilenetv2_sh(voc_records, zoo_checkpoint, tmp_path):
  """local_test_mobilenetv2.sh: its flags verbatim (crop 513, multi-flag
  crop sizes as that script writes them), 10 steps from the model zoo's
  MobileNetV2 checkpoint shape."""
  _replay(tmp_path, voc_records, zoo_checkpoint,
          ['--model_variant=mobilenet_v2', '--output_stride=16'], 513,
          'multi', convert=True)


@pytest.mark.slow
def test_local_test_sh_xception_65(voc_records, tmp_path_factory, tmp_path):
  """local_test.sh (Xception-65, ASPP 6/12/18, decoder): its flags verbatim
  but the crop, 129 instead of 513 (the smallest that still pads every
  synthetic image and keeps the decoder and ASPP on a 9x9 feature map)."""
  init = reference.write_reference_checkpoint(
      'xception_65', str(tmp_path_factory.mktemp('x65_init')))
  _replay(tmp_path, voc_records, init,
          ['--model_variant=xception_65', '--atrous_rates=6',
           '--atrous_rates=12', '--atrous_rates=18', '--output_stride=16',
           '--decoder_output_stride=4'], 129, 'list')
