r"""Converts PASCAL VOC 2012 (and the SBD train_aug set) to TFRecords.

  python datasets/build_voc2012_data.py \
    --image_folder=VOCdevkit/VOC2012/JPEGImages \
    --semantic_segmentation_folder=VOCdevkit/VOC2012/SegmentationClassRaw \
    --list_folder=VOCdevkit/VOC2012/ImageSets/Segmentation \
    --image_format=jpg --output_dir=tfrecord

Every `<split>.txt` in the list folder becomes a split (train, val, trainval,
and train_aug when its list is there). For train_aug, point
--semantic_segmentation_folder at SegmentationClassAug (a label folder that
holds all listed names) or give it for that split alone with
--train_aug_label_folder. Labels may be raw index PNGs or the palette PNGs
of SegmentationClass (their indices are the labels).
"""
from absl import flags

from deeplab.cli import converters

FLAGS = flags.FLAGS


def define_flags():
  """Registers the script's flags (the original's names)."""
  flags.DEFINE_string('image_folder', './VOCdevkit/VOC2012/JPEGImages',
                      'Folder containing images.')
  flags.DEFINE_string('semantic_segmentation_folder',
                      './VOCdevkit/VOC2012/SegmentationClassRaw',
                      'Folder containing semantic segmentation annotations.')
  flags.DEFINE_string('list_folder',
                      './VOCdevkit/VOC2012/ImageSets/Segmentation',
                      'Folder containing lists for training and validation')
  flags.DEFINE_string('output_dir', './tfrecord',
                      'Path to save converted SSTable of TensorFlow examples.')
  flags.DEFINE_enum('image_format', 'jpg', ['jpg', 'jpeg', 'png'],
                    'Image format.')
  flags.DEFINE_enum('label_format', 'png', ['png'],
                    'Segmentation label format.')
  flags.DEFINE_string('train_aug_label_folder', None,
                      'Label folder of the train_aug split '
                      '(SegmentationClassAug); default: '
                      '--semantic_segmentation_folder.')
  flags.DEFINE_integer('num_shards', 4, 'Shards per split.')
  flags.DEFINE_bool('skip_bad', False,
                    'Skip (and report) bad images/labels instead of stopping.')


def _convert(unused_argv):
  # pylint: disable=g-import-not-at-top
  from deeplab.datasets import build_voc2012_data
  converters.run_and_report(
      build_voc2012_data.convert, FLAGS.list_folder, FLAGS.image_folder,
      FLAGS.semantic_segmentation_folder, FLAGS.output_dir, FLAGS.image_format,
      FLAGS.num_shards, FLAGS.skip_bad, FLAGS.train_aug_label_folder)



def main():
  """`deeplab-build-voc2012-data`."""
  converters.run_script(define_flags, _convert)
