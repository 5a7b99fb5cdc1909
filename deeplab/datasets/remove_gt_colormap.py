r"""Removes the colour map from palette ground truth (VOC SegmentationClass).

  python datasets/remove_gt_colormap.py \
    --original_gt_folder=VOCdevkit/VOC2012/SegmentationClass \
    --output_dir=VOCdevkit/VOC2012/SegmentationClassRaw

Each palette PNG is saved as a single-channel PNG of its indices.
"""
import os

from absl import flags

import numpy as np
from PIL import Image

from deeplab import files
from deeplab.datasets import build_data

FLAGS = flags.FLAGS


def remove_colormap(path):
  """Index array of a palette (or single-channel) label image."""
  with Image.open(path) as img:
    if img.mode not in ('P', 'L'):
      raise ValueError('%s is %s, not a palette or single-channel image.'
                       % (path, img.mode))
    return np.asarray(img, dtype=np.uint8)


def convert(original_gt_folder, output_dir, segmentation_format='png'):
  """Converts every label of the folder; returns the number written."""
  if not os.path.isdir(original_gt_folder):
    raise FileNotFoundError('--original_gt_folder %s does not exist.'
                            % original_gt_folder)
  os.makedirs(output_dir, exist_ok=True)
  names = sorted(n for n in os.listdir(original_gt_folder)
                 if n.endswith('.' + segmentation_format))
  for name in names:
    raw = remove_colormap(os.path.join(original_gt_folder, name))
    files.save_png(raw, os.path.join(output_dir,
                                     os.path.splitext(name)[0] + '.png'))
  return len(names)


def define_flags():
  """Registers the script's flags (the original's names)."""
  flags.DEFINE_string('original_gt_folder',
                      './VOCdevkit/VOC2012/SegmentationClass',
                      'Original ground truth annotations.')
  flags.DEFINE_string('segmentation_format', 'png', 'Segmentation format.')
  flags.DEFINE_string('output_dir', './VOCdevkit/VOC2012/SegmentationClassRaw',
                      'folder to save modified ground truth annotations.')


def main(unused_argv):
  n = build_data.guarded(convert, FLAGS.original_gt_folder, FLAGS.output_dir,
                         FLAGS.segmentation_format)
  print('wrote %d labels to %s' % (n, FLAGS.output_dir))


def run():
  """Console entry point."""
  build_data.run_script(define_flags, main)


if __name__ == '__main__':
  run()
