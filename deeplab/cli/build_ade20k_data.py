r"""Converts ADE20K (SceneParsing, 150 classes + 'other') to TFRecords.

  python datasets/build_ade20k_data.py \
    --train_image_folder=ADEChallengeData2016/images/training \
    --train_image_label_folder=ADEChallengeData2016/annotations/training \
    --val_image_folder=ADEChallengeData2016/images/validation \
    --val_image_label_folder=ADEChallengeData2016/annotations/validation \
    --output_dir=ADEChallengeData2016/tfrecord
"""
from absl import app
from absl import flags

from deeplab.cli import converters

FLAGS = flags.FLAGS


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
  converters.define_format_flags()
  flags.DEFINE_string('output_dir', './ADE20K/tfrecord',
                      'Path to save converted tfrecord of Tensorflow example')
  flags.DEFINE_integer('num_shards', 4, 'Shards per split.')
  flags.DEFINE_bool('skip_bad', False,
                    'Skip (and report) bad images/labels instead of stopping.')


def _convert(unused_argv):
  # pylint: disable=g-import-not-at-top
  from deeplab.datasets import build_ade20k_data
  folders = {}
  # As the original: both splits (an empty --val_image_folder= skips one).
  if FLAGS.train_image_folder:
    folders['train'] = (FLAGS.train_image_folder,
                        FLAGS.train_image_label_folder)
  if FLAGS.val_image_folder:
    folders['val'] = (FLAGS.val_image_folder, FLAGS.val_image_label_folder)
  if not folders:
    raise app.UsageError('Give --train_image_folder and/or --val_image_folder.')
  converters.run_and_report(build_ade20k_data.convert, folders,
                            FLAGS.output_dir, FLAGS.num_shards, FLAGS.skip_bad)



def main():
  """`deeplab-build-ade20k-data`."""
  converters.run_script(define_flags, _convert)
