"""Visualises DeepLab predictions (the original's vis.py flags).

Examples:
  python vis.py --checkpoint_dir=/runs/voc --vis_logdir=/runs/voc/vis \
    --dataset=pascal_voc_seg --vis_split=val --dataset_dir=/data/voc/tfrecord
  python vis.py --checkpoint_dir=/runs/voc --vis_logdir=/tmp/vis \
    --image_path=/photos        # plain images, no TFRecords
"""
import sys

from absl import app
from absl import flags
from absl import logging

from deeplab import colormaps
from deeplab import common
from deeplab import predict
from deeplab import visualize

FLAGS = flags.FLAGS


def define_flags():
  common.define_model_flags(output_stride_default=16)
  common.define_inference_flags()
  flags.DEFINE_string('checkpoint_dir', None, 'Directory of model checkpoints '
                      '(the latest is used), or one checkpoint prefix.')
  flags.DEFINE_string('vis_logdir', None, 'Where to write the images.')
  flags.DEFINE_string('dataset', 'pascal_voc_seg', 'Name of the segmentation '
                      'dataset, a dataset.json path, or tfds:<name>.')
  flags.DEFINE_string('dataset_dir', None, 'Where the dataset reside.')
  flags.DEFINE_string('vis_split', 'val', 'Which split of the dataset is used '
                      'for visualizing results.')
  flags.DEFINE_integer('vis_batch_size', 1, 'The number of images in each '
                       'batch during evaluation.')
  flags.DEFINE_list('vis_crop_size', '513,513', 'Crop size [height, width] '
                    'for visualization.')
  flags.DEFINE_multi_float('eval_scales', [1.0], 'The scales to resize images '
                           'for evaluation.')
  flags.DEFINE_bool('add_flipped_images', False, 'Add flipped images for '
                    'evaluation or not.')
  flags.DEFINE_enum('colormap_type', None, sorted(colormaps.COLORMAPS),
                    'Visualization colormap type (default: the dataset\'s).')
  flags.DEFINE_boolean('also_save_raw_predictions', False, 'Also save raw '
                       'predictions (Cityscapes: label ids).')
  flags.DEFINE_integer('max_number_of_iterations', 0, 'Maximum number of '
                       'batches to visualize (0: the whole split).')
  flags.DEFINE_boolean('save_overlays', True, 'Also write the image blended '
                       'with the colour map (%06d_overlay.png).')
  flags.DEFINE_float('overlay_alpha', 0.5, 'Weight of the colours in '
                     'overlays.')
  flags.DEFINE_string('image_path', None, 'An image file, folder or glob to '
                      'visualize instead of a TFRecord split.')
  flags.DEFINE_integer('num_classes', None, 'Number of classes with '
                       '--image_path (default: the checkpoint\'s).')


def main(argv):
  del argv
  logging.set_verbosity(logging.INFO)
  try:
    config = visualize.VisConfig(
        checkpoint_dir=FLAGS.checkpoint_dir, vis_logdir=FLAGS.vis_logdir,
        dataset=FLAGS.dataset, dataset_dir=FLAGS.dataset_dir,
        vis_split=FLAGS.vis_split, vis_batch_size=FLAGS.vis_batch_size,
        vis_crop_size=FLAGS.vis_crop_size,
        eval_scales=tuple(FLAGS.eval_scales),
        add_flipped_images=FLAGS.add_flipped_images,
        colormap_type=FLAGS.colormap_type,
        also_save_raw_predictions=FLAGS.also_save_raw_predictions,
        max_number_of_iterations=FLAGS.max_number_of_iterations,
        min_resize_value=FLAGS.min_resize_value,
        max_resize_value=FLAGS.max_resize_value,
        resize_factor=FLAGS.resize_factor,
        keep_aspect_ratio=FLAGS.keep_aspect_ratio,
        save_overlays=FLAGS.save_overlays, overlay_alpha=FLAGS.overlay_alpha,
        image_path=FLAGS.image_path, num_classes=FLAGS.num_classes,
        fold_batch_norm=FLAGS.fold_batch_norm,
        dilated_depthwise=FLAGS.dilated_depthwise).validate()
    options = predict.options_from_flags_and_checkpoint(
        FLAGS, config.checkpoint_dir, config.vis_crop_size)
    if config.image_path:
      count = visualize.visualize_images(config, options)
    else:
      count = visualize.visualize_split(config, options)
  except (ValueError, FileNotFoundError) as e:
    raise app.UsageError(str(e)) from e
  print('Wrote %d visualisations to %s' % (count, FLAGS.vis_logdir))


def run():
  """Console entry point (`deeplab-vis`)."""
  define_flags()
  app.run(main, argv=sys.argv)


if __name__ == '__main__':
  run()
