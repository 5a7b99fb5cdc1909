"""Evaluates DeepLab checkpoints: mIoU and more (the original's eval.py flags).

Example:
  python eval.py --checkpoint_dir=/runs/voc --eval_logdir=/runs/voc/eval \
    --dataset=pascal_voc_seg --eval_split=val --dataset_dir=/data/voc/tfrecord \
    --output_stride=8 --atrous_rates=12 --atrous_rates=24 --atrous_rates=36 \
    --eval_scales=0.5 --eval_scales=0.75 --eval_scales=1.0 \
    --eval_scales=1.25 --eval_scales=1.5 --eval_scales=1.75 \
    --add_flipped_images --max_number_of_evaluations=1
"""
import sys

from absl import app
from absl import flags
from absl import logging

from deeplab import common
from deeplab import predict
from deeplab.evaluation import evaluator

FLAGS = flags.FLAGS


def define_flags():
  common.define_model_flags(output_stride_default=16)
  common.define_inference_flags()
  flags.DEFINE_string('checkpoint_dir', None, 'Directory of model checkpoints '
                      '(polled), or one checkpoint prefix.')
  flags.DEFINE_string('eval_logdir', None, 'Where to write the metrics and '
                      'event logs (default: <checkpoint_dir>/eval).')
  flags.DEFINE_string('dataset', 'pascal_voc_seg', 'Name of the segmentation '
                      'dataset, a dataset.json path, or tfds:<name>.')
  flags.DEFINE_string('dataset_dir', None, 'Where the dataset reside.')
  flags.DEFINE_string('eval_split', 'val', 'Which split of the dataset is '
                      'used for evaluation.')
  flags.DEFINE_integer('eval_batch_size', 1, 'The number of images in each '
                       'batch during evaluation.')
  flags.DEFINE_list('eval_crop_size', '513,513', 'Image crop size [height, '
                    'width] for evaluation (at least the largest image).')
  flags.DEFINE_multi_float('eval_scales', [1.0], 'The scales to resize images '
                           'for evaluation.')
  flags.DEFINE_bool('add_flipped_images', False, 'Add flipped images for '
                    'evaluation or not.')
  flags.DEFINE_integer('eval_interval_secs', 300, 'How often (in seconds) to '
                       'look for a new checkpoint.')
  flags.DEFINE_integer('max_number_of_evaluations', 0, 'Maximum number of '
                       'evaluations (0: keep polling forever).')
  flags.DEFINE_list('trimap_widths', [], 'Also report mIoU in bands of these '
                    'widths (pixels) around void boundaries (paper Fig. 5).')
  flags.DEFINE_integer('max_images', 0, 'Evaluate at most this many images '
                       '(0: the whole split).')


def main(argv):
  del argv
  logging.set_verbosity(logging.INFO)
  try:
    config = evaluator.EvalConfig(
        checkpoint_dir=FLAGS.checkpoint_dir, eval_logdir=FLAGS.eval_logdir,
        dataset=FLAGS.dataset, dataset_dir=FLAGS.dataset_dir,
        eval_split=FLAGS.eval_split, eval_batch_size=FLAGS.eval_batch_size,
        eval_crop_size=FLAGS.eval_crop_size,
        eval_scales=tuple(FLAGS.eval_scales),
        add_flipped_images=FLAGS.add_flipped_images,
        eval_interval_secs=FLAGS.eval_interval_secs,
        max_number_of_evaluations=FLAGS.max_number_of_evaluations,
        min_resize_value=FLAGS.min_resize_value,
        max_resize_value=FLAGS.max_resize_value,
        resize_factor=FLAGS.resize_factor,
        keep_aspect_ratio=FLAGS.keep_aspect_ratio,
        trimap_widths=tuple(int(w) for w in FLAGS.trimap_widths),
        max_images=FLAGS.max_images,
        fold_batch_norm=FLAGS.fold_batch_norm,
        dilated_depthwise=FLAGS.dilated_depthwise).validate()
    options = predict.options_from_flags_and_checkpoint(
        FLAGS, config.checkpoint_dir, config.eval_crop_size)
    evaluator.run(config, options)
  except (ValueError, FileNotFoundError) as e:
    raise app.UsageError(str(e)) from e


def run():
  """Console entry point (`deeplab-eval`)."""
  define_flags()
  app.run(main, argv=sys.argv)


if __name__ == '__main__':
  run()
