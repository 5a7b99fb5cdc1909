r"""Converts Cityscapes to TFRecords.

  python datasets/build_cityscapes_data.py --cityscapes_root=cityscapes \
    --output_dir=cityscapes/tfrecord [--label_source=labelIds]

Images are `leftImg8bit/<split>/<city>/*_leftImg8bit.png`; labels are
`gtFine/<split>/<city>/*_gtFine_labelTrainIds.png` (made by the official
scripts) or, with --label_source=labelIds, `*_gtFine_labelIds.png` mapped to
train ids here with the official table (no extra package). Splits are named
as in the original: train_fine, val_fine.
"""
from absl import flags

from deeplab.cli import converters

FLAGS = flags.FLAGS


def define_flags():
  """Registers the script's flags (the original's names)."""
  flags.DEFINE_string('cityscapes_root', './cityscapes',
                      'Cityscapes dataset root folder.')
  flags.DEFINE_string('output_dir', './tfrecord',
                      'Path to save converted SSTable of TensorFlow examples.')
  flags.DEFINE_enum('label_source', 'labelTrainIds', ['labelTrainIds',
                                                      'labelIds'],
                    'Which gtFine labels to read.')
  flags.DEFINE_list('splits', 'train,val', 'Splits to convert.')
  converters.define_format_flags()
  flags.DEFINE_integer('num_shards', 10, 'Shards per split.')
  flags.DEFINE_bool('skip_bad', False,
                    'Skip (and report) bad images/labels instead of stopping.')


def _convert(unused_argv):
  # pylint: disable=g-import-not-at-top
  from deeplab.datasets import build_cityscapes_data
  converters.run_and_report(build_cityscapes_data.convert,
                            FLAGS.cityscapes_root, FLAGS.output_dir,
                            FLAGS.splits, FLAGS.label_source, FLAGS.num_shards,
                            FLAGS.skip_bad)



def main():
  """`deeplab-build-cityscapes-data`."""
  converters.run_script(define_flags, _convert)
