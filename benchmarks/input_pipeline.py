r"""Training input-pipeline throughput at crop 513 on this machine.

  python benchmarks/input_pipeline.py [--num_images=64] [--batch_size=8]
      [--steps=30]

Generates a synthetic VOC-style dataset with VOC-sized images (375x500),
converts it to TFRecords, and times the training pipeline of the original
(random scale 0.5-2.0 in steps of 0.25, pad, random 513x513 crop, flip,
shuffle, repeat, batch) after a warm-up. Prints images/s.
"""
import os
import tempfile
import time

from absl import app
from absl import flags

from deeplab.datasets import build_voc2012_data
from deeplab.data import data_generator
from deeplab.data import synthetic

flags.DEFINE_integer('num_images', 64, 'Synthetic training images.')
flags.DEFINE_integer('batch_size', 8, 'Batch size.')
flags.DEFINE_integer('steps', 30, 'Timed batches.')
flags.DEFINE_integer('warmup', 5, 'Untimed batches first.')
FLAGS = flags.FLAGS


def main(unused_argv):
  with tempfile.TemporaryDirectory() as root:
    folders = synthetic.generate(root, num_train=FLAGS.num_images, num_val=1,
                                 height=375, width=500)
    out = os.path.join(root, 'tfrecord')
    build_voc2012_data.convert(folders['list_folder'], folders['image_folder'],
                               folders['label_folder'], out)
    ds = data_generator.Dataset(
        'pascal_voc_seg', 'train', out, FLAGS.batch_size, (513, 513),
        min_scale_factor=0.5, max_scale_factor=2.0,
        scale_factor_step_size=0.25, model_variant='xception_65',
        is_training=True, should_shuffle=True, should_repeat=True)
    iterator = iter(ds.make_dataset())
    for _ in range(FLAGS.warmup):
      next(iterator)
    start = time.perf_counter()
    for _ in range(FLAGS.steps):
      next(iterator)
    elapsed = time.perf_counter() - start
  images = FLAGS.steps * FLAGS.batch_size
  print('input pipeline: crop 513x513, batch %d, %d cores: %.1f images/s '
        '(%d images in %.2f s)' % (FLAGS.batch_size, os.cpu_count(),
                                   images / elapsed, images, elapsed))


if __name__ == '__main__':
  app.run(main)
