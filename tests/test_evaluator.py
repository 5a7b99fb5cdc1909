"""The evaluation job against an independent per-image computation."""
import json
import os
import re

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

import helpers

from deeplab import common
from deeplab import configs
from deeplab import inference
from deeplab import model as model_lib
from deeplab import runtime
from deeplab.evaluation import evaluator
from deeplab.evaluation import metrics

OPTIONS = common.ModelOptions(model_variant='mobilenet_v2', output_stride=16)


def _config(voc_records, tmp_path, **kw):
  values = dict(checkpoint_dir=None, eval_logdir=str(tmp_path / 'eval'),
                dataset_dir=voc_records, eval_crop_size=(73, 89),
                max_number_of_evaluations=1)
  values.update(kw)
  return configs.EvalConfig(**values)


def test_eval_equals_per_image_prediction(voc_records, voc_raw, zoo_checkpoint,
                                          tmp_path):
  config = _config(voc_records, tmp_path, checkpoint_dir=zoo_checkpoint,
                   trimap_widths=(2,))
  result = evaluator.run(config, OPTIONS)[0]
  # Independently: each val image file, padded, through the inference model.
  names = open(os.path.join(voc_raw['list_folder'], 'val.txt')).read().split()
  model = runtime.build_graph(OPTIONS.replace(crop_size=(73, 89)))
  from deeplab import checkpoints  # pylint: disable=g-import-not-at-top
  checkpoints.load_weights(model, zoo_checkpoint)
  cm = metrics.ConfusionMatrix(21, 255)
  band = metrics.ConfusionMatrix(21, 255)
  for name in names:
    # TensorFlow's JPEG decoder, as the pipeline (PIL's IDCT differs a bit).
    with open(os.path.join(voc_raw['image_folder'], name + '.jpg'), 'rb') as f:
      image = tf.io.decode_jpeg(f.read(), channels=3).numpy()
    label = np.asarray(Image.open(os.path.join(voc_raw['label_folder'],
                                               name + '.png')))
    out = inference.predict_image(image, OPTIONS.replace(crop_size=(73, 89)),
                                  model=model)
    cm.update(label, out['predictions'])
    band.update(label, out['predictions'],
                mask=metrics.trimap_band(label, 2))
  np.testing.assert_array_equal(np.array(result['confusion_matrix']),
                                cm.matrix)
  assert result['miou'] == pytest.approx(metrics.mean_iou(cm.matrix))
  assert result['trimap']['2']['miou'] == pytest.approx(
      metrics.mean_iou(band.matrix))
  assert result['num_images'] == len(names) == 8
  files = os.listdir(tmp_path / 'eval')
  assert 'metrics_latest.json' in files and 'metrics-0.json' in files
  assert 'confusion_matrix-0.npy' in files
  assert any(f.startswith('events.out.tfevents') for f in files)
  saved = json.load(open(tmp_path / 'eval' / 'metrics_latest.json'))
  for key in ('miou', 'per_class_iou', 'pixel_accuracy', 'confusion_matrix',
              'global_step', 'checkpoint'):
    assert key in saved


def test_eval_cli_on_a_training_logdir(voc_records, zoo_checkpoint, tmp_path):
  """eval.py picks the model options from the logdir's model_options.json."""
  from deeplab import checkpoints  # pylint: disable=g-import-not-at-top
  model = model_lib.build_model(OPTIONS.replace(crop_size=(65, 65)))
  checkpoints.load_weights(model, zoo_checkpoint)
  ours = str(tmp_path / 'ours')
  checkpoints.save_weights(model, ours)
  env = helpers.environment(TF_CPP_MIN_LOG_LEVEL=None)  # A user's shell.
  out = helpers.run([
      'eval.py', '--checkpoint_dir=' + ours, '--dataset_dir=' + voc_records,
      '--eval_crop_size=73,89', '--max_number_of_evaluations=1',
      '--eval_scales=0.75', '--eval_scales=1.0', '--add_flipped_images'
      ], env=env)
  assert out.returncode == 0, out.stderr[-2000:]
  assert 'mIoU' in out.stdout
  # No start-up or oneDNN notices on the console (TensorFlow's oneDNN
  # build logs its int32 fallback as an error line starting E0000).
  assert not re.search(r'^E0000|DT_INT32|cpu_feature_guard', out.stderr,
                       re.M), out.stderr[-2000:]
  saved = json.load(open(os.path.join(ours, 'eval', 'metrics_latest.json')))
  assert saved['eval_scales'] == [0.75, 1.0] and saved['add_flipped_images']
  bad = helpers.run([
      'eval.py', '--checkpoint_dir=' + ours, '--dataset_dir=' + voc_records,
      '--eval_crop_size=7'], env=env)
  assert bad.returncode != 0 and '--eval_crop_size' in bad.stderr


@pytest.mark.slow
def test_eval_flags_win_over_the_logdir_options(voc_records, zoo_logdir,
                                                tmp_path):
  """--output_stride=8 on an OS16 training logdir really evaluates at OS8."""
  runs = {}
  for stride in (8, 16):
    logdir = str(tmp_path / ('os%d' % stride))
    out = helpers.run([
        'eval.py', '--checkpoint_dir=' + zoo_logdir, '--eval_logdir=' + logdir,
        '--dataset_dir=' + voc_records, '--eval_crop_size=73,89',
        '--max_number_of_evaluations=1'
        ] + (['--output_stride=8'] if stride == 8 else []))
    assert out.returncode == 0, out.stderr[-2000:]
    runs[stride] = json.load(open(os.path.join(logdir, 'metrics_latest.json')))
    assert runs[stride]['model_options']['output_stride'] == stride
    # The evaluator says which options it used and what the flags set.
    line = re.search(r'Model: mobilenet_v2 output stride %d \(the options '
                     r'saved with [^)]*\)(.*)' % stride, out.stderr)
    assert line, out.stderr[-2000:]
    assert ('output_stride=8' in line.group(1)) == (stride == 8)
  assert runs[8]['confusion_matrix'] != runs[16]['confusion_matrix']
