"""vis: the original's file layout, raw predictions, plain images."""
import os
import re

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

import helpers

from deeplab import colormaps
from deeplab import common
from deeplab import configs
from deeplab import visualize

OPTIONS = common.ModelOptions(model_variant='mobilenet_v2', output_stride=16)


def test_split_layout_and_raw_predictions(voc_records, voc_raw,
                                          zoo_checkpoint, tmp_path):
  config = configs.VisConfig(
      checkpoint_dir=zoo_checkpoint, vis_logdir=str(tmp_path),
      dataset_dir=voc_records, vis_crop_size=(73, 89),
      also_save_raw_predictions=True)
  assert visualize.visualize_split(config, OPTIONS) == 8
  results = sorted(os.listdir(tmp_path / visualize.SEMANTIC_FOLDER))
  assert results[:3] == ['000000_image.png', '000000_overlay.png',
                         '000000_prediction.png']
  assert len(results) == 24
  names = open(os.path.join(voc_raw['list_folder'], 'val.txt')).read().split()
  raw = sorted(os.listdir(tmp_path / visualize.RAW_FOLDER))
  assert raw == sorted(n + '.png' for n in names)
  # Image 0 is the first val image at its size; prediction colours match
  # the raw labels through the pascal map.
  image = np.asarray(Image.open(tmp_path / visualize.SEMANTIC_FOLDER /
                                '000000_image.png'))
  with open(os.path.join(voc_raw['image_folder'], names[0] + '.jpg'),
            'rb') as f:
    original = tf.io.decode_jpeg(f.read(), channels=3).numpy()
  np.testing.assert_array_equal(image, original)
  labels = np.asarray(Image.open(tmp_path / visualize.RAW_FOLDER /
                                 (names[0] + '.png')))
  colored = np.asarray(Image.open(tmp_path / visualize.SEMANTIC_FOLDER /
                                  '000000_prediction.png'))
  np.testing.assert_array_equal(colored,
                                colormaps.label_to_color_image(labels))


def test_cityscapes_raw_predictions_are_label_ids():
  train_ids = np.array([[0, 1], [18, 10]])
  np.testing.assert_array_equal(
      visualize.CITYSCAPES_TRAIN_ID_TO_EVAL_ID[train_ids],
      [[7, 8], [33, 23]])


@pytest.mark.slow
def test_plain_images_cli(voc_raw, zoo_checkpoint, tmp_path):
  env = helpers.environment(TF_CPP_MIN_LOG_LEVEL=3)
  out = helpers.run([
      'vis.py', '--checkpoint_dir=' + zoo_checkpoint,
      '--vis_logdir=%s' % tmp_path,
      '--image_path=' + os.path.join(voc_raw['image_folder'],
                                     '2026_00000[0-2].jpg'),
      '--model_variant=mobilenet_v2', '--vis_crop_size=65,65',
      '--min_resize_value=50', '--max_resize_value=60'], env=env)
  assert out.returncode == 0, out.stderr[-2000:]
  files = sorted(os.listdir(tmp_path / visualize.SEMANTIC_FOLDER))
  assert len(files) == 9
  pred = Image.open(tmp_path / visualize.SEMANTIC_FOLDER /
                    '2026_000000_prediction.png')  # Named after the input.
  assert pred.size == (88, 72)  # Back at the image size after resizing.
  missing = helpers.run([
      'vis.py', '--checkpoint_dir=' + zoo_checkpoint,
      '--vis_logdir=%s' % tmp_path, '--image_path=/nonexistent/x.png',
      '--model_variant=mobilenet_v2'], env=env)
  assert missing.returncode != 0 and '/nonexistent/x.png' in missing.stderr


@pytest.mark.slow
def test_vis_cli_one_iteration_is_the_whole_split(voc_records, zoo_logdir,
                                                  tmp_path):
  """The original's vis.py: one iteration = every val image; flags the user
  sets win over the logdir's options."""
  out = helpers.run([
      'vis.py', '--checkpoint_dir=' + zoo_logdir, '--vis_logdir=%s' % tmp_path,
      '--dataset_dir=' + voc_records, '--vis_crop_size=73,89',
      '--max_number_of_iterations=1', '--output_stride=8', '--nosave_overlays'])
  assert out.returncode == 0, out.stderr[-2000:]
  files = os.listdir(tmp_path / visualize.SEMANTIC_FOLDER)
  assert len([f for f in files if f.endswith('_prediction.png')]) == 8
  assert re.search(r'Model: mobilenet_v2 output stride 8 \(the options saved '
                   r'with [^)]*\); set here: [^\n]*output_stride=8',
                   out.stderr), out.stderr[-2000:]
  assert 'Wrote 8 visualisations' in out.stdout
