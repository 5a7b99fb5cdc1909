"""Converting Cityscapes to TFRecords.

The `deeplab-build-cityscapes-data` command
(`deeplab.cli.build_cityscapes_data`) runs `convert`.
"""
import glob
import os

import numpy as np

from deeplab.datasets import build_data

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
