"""Trains DeepLab (the original's train.py flags; see README).

Example:
  python train.py --model_variant=xception_65 --atrous_rates=6 \
    --atrous_rates=12 --atrous_rates=18 --output_stride=16 \
    --decoder_output_stride=4 --train_crop_size=513,513 \
    --train_batch_size=16 --training_number_of_steps=30000 \
    --base_learning_rate=0.007 --dataset=pascal_voc_seg \
    --train_split=train_aug --dataset_dir=/data/voc/tfrecord \
    --tf_initial_checkpoint=/ckpt/xception_65/model.ckpt \
    --train_logdir=/runs/voc
"""
import sys

from absl import app
from absl import flags
from absl import logging

from deeplab import checkpoints
from deeplab.data import data_generator
from deeplab.training import train_flags
from deeplab.training import trainer


def main(argv):
  del argv
  logging.set_verbosity(logging.INFO)
  try:
    config = train_flags.config_from_flags(flags.FLAGS)
    options = train_flags.model_options_from_flags(flags.FLAGS)
    result = trainer.train(config, options)
  except (ValueError, FileNotFoundError, checkpoints.CheckpointMismatchError,
          data_generator.DataError) as e:
    raise app.UsageError(str(e)) from e
  print('Trained to step %d; last loss %.4f; checkpoint %s'
        % (result['global_step'], result['loss'] or float('nan'),
           result['checkpoint']))


def run():
  """Console entry point (`deeplab-train`)."""
  train_flags.define_train_flags()
  app.run(main, argv=sys.argv)


if __name__ == '__main__':
  run()
