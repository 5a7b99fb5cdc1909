r"""Converts Cityscapes to TFRecords.

  python datasets/build_cityscapes_data.py --cityscapes_root=cityscapes \
    --output_dir=cityscapes/tfrecord [--label_source=labelIds]

Images are `leftImg8bit/<split>/<city>/*_leftImg8bit.png`; labels are
`gtFine/<split>/<city>/*_gtFine_labelTrainIds.png` (made by the official
scripts) or, with --label_source=labelIds, `*_gtFine_labelIds.png` mapped to
train ids here with the official table (no extra package). Splits are named
as in the original: train_fine, val_fine.
"""
import glob
import os

from absl import flags
import numpy as np

from deeplab.datasets import build_data

FLAGS = flags.FLAGS

NUM_CLASSES = 19
IGNORE_LABEL = 255

# Official Cityscapes label id -> train id (255: ignored).
ID_TO_TRAIN_ID = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8,
                  22: 9, 23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15,
                  31: 16, 32: 17, 33: 18}


def label_ids_to_train_ids(label):
  lut = np.full(256, IGNORE_LABEL, np.uint8)
  for label_id, train_id in ID_TO_TRAIN_ID.items():
    lut[label_id] = train_id
  return lut[np.asarray(label, np.uint8)]


def list_items(root, split, label_source='labelTrainIds'):
  pattern = os.path.join(root, 'leftImg8bit', split, '*', '*_leftImg8bit.png')
  images = sorted(glob.glob(pattern))
  items = []
  for image in images:
    city = os.path.basename(os.path.dirname(image))
    stem = os.path.basename(image)[:-len('_leftImg8bit.png')]
    label = os.path.join(root, 'gtFine', split, city,
                         '%s_gtFine_%s.png' % (stem, label_source))
    items.append(build_data.Item(os.path.basename(image)[:-4], image, label))
  return items


def convert(root, output_dir, splits=('train', 'val'),
            label_source='labelTrainIds', num_shards=10, skip_bad=False):
  if not os.path.isdir(os.path.join(root, 'leftImg8bit')):
    raise FileNotFoundError('No leftImg8bit folder under --cityscapes_root %s.'
                            % root)
  transform = label_ids_to_train_ids if label_source == 'labelIds' else None
  return [build_data.write_split(
      list_items(root, split, label_source), output_dir, split + '_fine',
      num_shards, NUM_CLASSES, IGNORE_LABEL, skip_bad=skip_bad,
      label_transform=transform) for split in splits]


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
  build_data.define_format_flags()
  flags.DEFINE_integer('num_shards', 10, 'Shards per split.')
  flags.DEFINE_bool('skip_bad', False,
                    'Skip (and report) bad images/labels instead of stopping.')


def main(unused_argv):
  build_data.run_and_report(convert, FLAGS.cityscapes_root, FLAGS.output_dir,
                            FLAGS.splits, FLAGS.label_source, FLAGS.num_shards,
                            FLAGS.skip_bad)



def run():
  """Console entry point."""
  build_data.run_script(define_flags, main)


if __name__ == '__main__':
  run()
