"""`deeplab-train` / train.py: trains DeepLab (the original's train.py)."""
from deeplab import configs
from deeplab.cli import command
from deeplab.cli import flag_tables
from deeplab.cli import flags as flag_lib
from deeplab.cli import run_settings

DOC = '''Trains DeepLab: the original's train.py, on tf.distribute.

Example:
  python train.py --model_variant=xception_65 --atrous_rates=6 \\
    --atrous_rates=12 --atrous_rates=18 --output_stride=16 \\
    --decoder_output_stride=4 --train_crop_size=513,513 \\
    --train_batch_size=16 --training_number_of_steps=30000 \\
    --base_learning_rate=0.007 --dataset=pascal_voc_seg \\
    --train_split=train_aug --dataset_dir=/data/voc/tfrecord \\
    --tf_initial_checkpoint=/ckpt/xception_65/model.ckpt \\
    --train_logdir=/runs/voc'''

GROUPS = [
    flag_lib.FlagGroup('Training (the original\'s train.py)',
                       flag_tables.TRAIN_FLAGS, configs.TrainConfig),
    flag_lib.FlagGroup('Training, beyond the original',
                       flag_tables.TRAIN_EXTRA_FLAGS, configs.TrainConfig),
    flag_tables.model_group(output_stride=16),
    flag_tables.resize_group(configs.TrainConfig),
    flag_tables.unsupported_group(dict(
        flag_tables.UNSUPPORTED_TRAIN_FLAGS,
        **flag_tables.UNSUPPORTED_MODEL_FLAGS)),
]


def job(fv):
  """Trains (or resumes) the run the flags describe; the lines to print."""
  # pylint: disable=g-import-not-at-top
  from deeplab import checkpoint_state
  from deeplab.training import trainer
  config = flag_lib.config_from_flags(configs.TrainConfig, fv)
  # A run being resumed keeps its saved options: flags left out take them.
  resumed = checkpoint_state.has_checkpoints(config.train_logdir)
  options, _ = run_settings.model_options(
      fv, crop_size=config.train_crop_size,
      checkpoint=config.train_logdir if resumed else None)
  result = trainer.train(config, options)
  if result['loss'] is None:
    return ['Nothing to train: %s is at step %d and '
            '--training_number_of_steps=%d; checkpoint %s' % (
                config.train_logdir, result['global_step'],
                config.training_number_of_steps, result['checkpoint'])]
  return ['Trained to step %d; last loss %.4f; checkpoint %s' % (
      result['global_step'], result['loss'], result['checkpoint'])]


main = command.entry_point(DOC, GROUPS, job)
