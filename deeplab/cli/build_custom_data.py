r"""Converts a user's own segmentation dataset to TFRecords + a description.

  python datasets/build_custom_data.py --dataset_name=my_data \
    --image_folder=data/images --label_folder=data/masks \
    [--list_folder=data/lists | --val_fraction=0.1] \
    [--label_type=index|palette|rgb --color_table=colors.json] \
    [--num_classes=N] [--ignore_label=255] [--class_names=bg,cat,dog] \
    --output_dir=data/tfrecord

Masks have the image's file name with a .png extension. Index and palette
PNGs hold class ids; RGB masks need --color_table, a JSON list of
{"name": ..., "color": [r, g, b]} in class order (colour
`"ignore_color": [r, g, b]` at the top level, if given, maps to the ignore
label). Splits come from `<split>.txt` lists, or a deterministic
train/val split of all images by --val_fraction. The output directory
receives the shards and `dataset.json` (name, splits and sizes, num_classes,
ignore_label, class names, colormap), which training, evaluation and
visualisation read with `--dataset=<output_dir>/dataset.json`.
"""
import os

from absl import app
from absl import flags

from deeplab.cli import converters

FLAGS = flags.FLAGS


def define_flags():
  """Registers the script's flags (the original's names)."""
  flags.DEFINE_string('dataset_name', 'custom', 'Name of the dataset.')
  flags.DEFINE_string('image_folder', None, 'Folder containing images.')
  flags.DEFINE_string('label_folder', None, 'Folder containing label masks.')
  flags.DEFINE_string('list_folder', None, 'Folder of <split>.txt image lists.')
  flags.DEFINE_float('val_fraction', 0.1,
                     'Without lists: share of images (sorted, every k-th) for '
                     'the val split.')
  flags.DEFINE_enum('label_type', 'index', ['index', 'palette', 'rgb'],
                    'How masks encode classes.')
  flags.DEFINE_string('color_table', None, 'JSON colour table for RGB masks.')
  flags.DEFINE_integer('num_classes', None, 'Number of classes.')
  flags.DEFINE_integer('ignore_label', 255, 'Label of ignored pixels.')
  flags.DEFINE_list('class_names', None, 'Class names in id order.')
  flags.DEFINE_string('output_dir', None, 'Where to write TFRecords.')
  flags.DEFINE_integer('num_shards', 4, 'Shards per split.')
  flags.DEFINE_bool('skip_bad', False,
                    'Skip (and report) bad images/labels instead of stopping.')


def _convert(unused_argv):
  # pylint: disable=g-import-not-at-top
  from deeplab.datasets import build_data
  from deeplab.datasets import build_custom_data
  for flag in ('image_folder', 'label_folder', 'output_dir'):
    if not FLAGS[flag].value:
      raise app.UsageError('--%s is required.' % flag)
  summaries, description = converters.guarded(
      build_custom_data.convert, FLAGS.dataset_name, FLAGS.image_folder,
      FLAGS.label_folder, FLAGS.output_dir, FLAGS.num_classes,
      FLAGS.ignore_label, FLAGS.class_names, FLAGS.label_type,
      FLAGS.color_table, FLAGS.list_folder, FLAGS.val_fraction,
      FLAGS.num_shards, FLAGS.skip_bad)
  build_data.print_summary(summaries, description['class_names'])
  print('wrote', os.path.join(FLAGS.output_dir, 'dataset.json'))


def main():
  """`deeplab-build-custom-data`."""
  converters.run_script(define_flags, _convert)
