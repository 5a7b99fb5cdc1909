r"""Removes the colour map from palette ground truth (VOC SegmentationClass).

  python datasets/remove_gt_colormap.py \
    --original_gt_folder=VOCdevkit/VOC2012/SegmentationClass \
    --output_dir=VOCdevkit/VOC2012/SegmentationClassRaw

Each palette PNG is saved as a single-channel PNG of its indices.
"""
from absl import flags

from deeplab.cli import converters

FLAGS = flags.FLAGS


def define_flags():
  """Registers the script's flags (the original's names)."""
  flags.DEFINE_string('original_gt_folder',
                      './VOCdevkit/VOC2012/SegmentationClass',
                      'Original ground truth annotations.')
  flags.DEFINE_string('segmentation_format', 'png', 'Segmentation format.')
  flags.DEFINE_string('output_dir', './VOCdevkit/VOC2012/SegmentationClassRaw',
                      'folder to save modified ground truth annotations.')


def _convert(unused_argv):
  # pylint: disable=g-import-not-at-top
  from deeplab.datasets import remove_gt_colormap
  n = converters.guarded(remove_gt_colormap.convert,
                         FLAGS.original_gt_folder, FLAGS.output_dir,
                         FLAGS.segmentation_format)
  print('wrote %d labels to %s' % (n, FLAGS.output_dir))


def main():
  """`deeplab-remove-gt-colormap`."""
  converters.run_script(define_flags, _convert)
