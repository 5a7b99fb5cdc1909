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
import os

from absl import flags

from deeplab.datasets import build_data

FLAGS = flags.FLAGS

NUM_CLASSES = 21
IGNORE_LABEL = 255


def list_items(list_path, image_folder, label_folder, image_format):
  """Items of a split list (one image name per line)."""
  with open(list_path) as f:
    names = [line.strip() for line in f if line.strip()]
  return [build_data.Item(
      name, os.path.join(image_folder, '%s.%s' % (name, image_format)),
      os.path.join(label_folder, name + '.png')) for name in names]


def convert(list_folder, image_folder, label_folder, output_dir,
            image_format='jpg', num_shards=4, skip_bad=False,
            train_aug_label_folder=None):
  """Converts every split list of `list_folder`; returns the summaries."""
  if not os.path.isdir(list_folder):
    raise FileNotFoundError('--list_folder %s does not exist.' % list_folder)
  lists = sorted(f for f in os.listdir(list_folder) if f.endswith('.txt'))
  if not lists:
    raise FileNotFoundError('No <split>.txt lists in --list_folder %s.'
                            % list_folder)
  summaries = []
  for list_file in lists:
    split = list_file[:-4]
    labels = label_folder
    if split == 'train_aug' and train_aug_label_folder:
      labels = train_aug_label_folder
    items = list_items(os.path.join(list_folder, list_file), image_folder,
                       labels, image_format)
    summaries.append(build_data.write_split(
        items, output_dir, split, num_shards, NUM_CLASSES, IGNORE_LABEL,
        skip_bad=skip_bad))
  return summaries


def define_flags():
  """Registers the script's flags (the original's names)."""
  flags.DEFINE_string('image_folder', './VOCdevkit/VOC2012/JPEGImages',
                      'Folder containing images.')
  flags.DEFINE_string('semantic_segmentation_folder',
                      './VOCdevkit/VOC2012/SegmentationClassRaw',
                      'Folder containing semantic segmentation annotations.')
  flags.DEFINE_string('list_folder', './VOCdevkit/VOC2012/ImageSets/Segmentation',
                      'Folder containing lists for training and validation')
  flags.DEFINE_string('output_dir', './tfrecord',
                      'Path to save converted SSTable of TensorFlow examples.')
  flags.DEFINE_enum('image_format', 'jpg', ['jpg', 'jpeg', 'png'],
                    'Image format.')
  flags.DEFINE_enum('label_format', 'png', ['png'], 'Segmentation label format.')
  flags.DEFINE_string('train_aug_label_folder', None,
                      'Label folder of the train_aug split (SegmentationClassAug)'
                      '; default: --semantic_segmentation_folder.')
  flags.DEFINE_integer('num_shards', 4, 'Shards per split.')
  flags.DEFINE_bool('skip_bad', False,
                    'Skip (and report) bad images/labels instead of stopping.')


def main(unused_argv):
  build_data.run_and_report(
      convert, FLAGS.list_folder, FLAGS.image_folder,
      FLAGS.semantic_segmentation_folder, FLAGS.output_dir, FLAGS.image_format,
      FLAGS.num_shards, FLAGS.skip_bad, FLAGS.train_aug_label_folder)



def run():
  """Console entry point."""
  build_data.run_script(define_flags, main)


if __name__ == '__main__':
  run()
