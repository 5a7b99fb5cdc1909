r"""Converts ADE20K (SceneParsing, 150 classes + 'other') to TFRecords.

  python datasets/build_ade20k_data.py \
    --train_image_folder=ADEChallengeData2016/images/training \
    --train_image_label_folder=ADEChallengeData2016/annotations/training \
    --val_image_folder=ADEChallengeData2016/images/validation \
    --val_image_label_folder=ADEChallengeData2016/annotations/validation \
    --output_dir=ADEChallengeData2016/tfrecord
"""
import os

from absl import app
from absl import flags

from deeplab.datasets import build_data

FLAGS = flags.FLAGS

NUM_CLASSES = 151  # 0 is 'other', also the ignore label.
IGNORE_LABEL = 0


def list_items(image_folder, label_folder):
  if not os.path.isdir(image_folder or ''):
    raise FileNotFoundError('Image folder %s does not exist.' % image_folder)
  names = sorted(os.path.splitext(n)[0] for n in os.listdir(image_folder)
                 if n.lower().endswith(('.jpg', '.jpeg', '.png')))
  return [build_data.Item(
      n, os.path.join(image_folder, n + '.jpg') if os.path.exists(
          os.path.join(image_folder, n + '.jpg')) else
      os.path.join(image_folder, n + '.png'),
      os.path.join(label_folder, n + '.png')) for n in names]


def convert(folders, output_dir, num_shards=4, skip_bad=False):
  """folders: {split: (image folder, label folder)}."""
  return [build_data.write_split(
      list_items(*folders[split]), output_dir, split, num_shards, NUM_CLASSES,
      IGNORE_LABEL, skip_bad=skip_bad) for split in sorted(folders)]


def define_flags():
  """Registers the script's flags (the original's names)."""
  root = './ADE20K/ADEChallengeData2016/'
  flags.DEFINE_string('train_image_folder', root + 'images/training',
                      'Folder containing training images.')
  flags.DEFINE_string('train_image_label_folder', root + 'annotations/training',
                      'Folder containing annotations for training images.')
  flags.DEFINE_string('val_image_folder', root + 'images/validation',
                      'Folder containing validation images.')
  flags.DEFINE_string('val_image_label_folder',
                      root + 'annotations/validation',
                      'Folder containing annotations for validation.')
  build_data.define_format_flags()
  flags.DEFINE_string('output_dir', './ADE20K/tfrecord',
                      'Path to save converted tfrecord of Tensorflow example')
  flags.DEFINE_integer('num_shards', 4, 'Shards per split.')
  flags.DEFINE_bool('skip_bad', False,
                    'Skip (and report) bad images/labels instead of stopping.')


def main(unused_argv):
  folders = {}
  # As the original: both splits (an empty --val_image_folder= skips one).
  if FLAGS.train_image_folder:
    folders['train'] = (FLAGS.train_image_folder,
                        FLAGS.train_image_label_folder)
  if FLAGS.val_image_folder:
    folders['val'] = (FLAGS.val_image_folder, FLAGS.val_image_label_folder)
  if not folders:
    raise app.UsageError('Give --train_image_folder and/or --val_image_folder.')
  build_data.run_and_report(convert, folders, FLAGS.output_dir,
                            FLAGS.num_shards, FLAGS.skip_bad)



def run():
  """Console entry point."""
  build_data.run_script(define_flags, main)


if __name__ == '__main__':
  run()
