"""train.py's flags: the original's names, defaults from `TrainConfig`."""
import dataclasses

from absl import flags

from deeplab import common
from deeplab.training import distribute
from deeplab.training import learning_rate
from deeplab.training import optimizers
from deeplab.training import trainer

_D = {f.name: f.default for f in dataclasses.fields(trainer.TrainConfig)}

# name -> (kind, help, extra kwargs); defaults come from TrainConfig.
_FLAGS = {
    'num_clones': ('integer', 'Number of clones (replicas) on this machine.'),
    'train_logdir': ('string', 'Where the checkpoint and logs are stored.'),
    'log_steps': ('integer', 'Display logging information at every '
                  'log_steps.'),
    'save_interval_secs': ('integer', 'How often, in seconds, we save the '
                           'model to disk.'),
    'save_summaries_secs': ('integer', 'How often, in seconds, we compute '
                            'the summaries.'),
    'save_summaries_images': ('boolean', 'Save sample inputs, labels, and '
                              'semantic predictions as images to summary.'),
    'optimizer': ('enum', 'Which optimizer to use.',
                  dict(enum_values=list(optimizers.OPTIMIZERS))),
    'learning_policy': ('enum', 'Learning rate policy for training.',
                        dict(enum_values=list(learning_rate.POLICIES))),
    'base_learning_rate': ('float', 'The base learning rate for model '
                           'training (0.007 for PASCAL train_aug).'),
    'decay_steps': ('float', 'Decay steps for the poly schedule (0: '
                    'training steps minus slow start).'),
    'end_learning_rate': ('float', 'End learning rate of the poly schedule.'),
    'learning_rate_decay_factor': ('float', 'The rate to decay the base '
                                   'learning rate (step policy).'),
    'learning_rate_decay_step': ('integer', 'Decay the base learning rate at '
                                 'a fixed step (step policy).'),
    'learning_power': ('float', 'The power value used in the poly learning '
                       'policy.'),
    'training_number_of_steps': ('integer', 'The number of steps used for '
                                 'training.'),
    'momentum': ('float', 'The momentum value to use.'),
    'adam_learning_rate': ('float', 'Learning rate for the adam optimizer.'),
    'adam_epsilon': ('float', 'Adam optimizer epsilon.'),
    'train_batch_size': ('integer', 'The number of images in each (global) '
                         'batch during training.'),
    'weight_decay': ('float', 'The value of the weight decay for training '
                     '(4e-5 for Xception/MobileNet, 1e-4 for ResNet).'),
    'train_crop_size': ('list', 'Image crop size [height, width] during '
                        'training.'),
    'last_layer_gradient_multiplier': ('float', 'The gradient multiplier '
                                       'for last layers.'),
    'upsample_logits': ('boolean', 'Upsample logits during training.'),
    'tf_initial_checkpoint': ('string', 'The initial checkpoint (original '
                              'TF1, ImageNet backbone, or ours).'),
    'initialize_last_layer': ('boolean', 'Initialize the last layer.'),
    'last_layers_contain_logits_only': ('boolean', 'Only consider logits as '
                                        'last layers or not.'),
    'slow_start_step': ('integer', 'Training model with small learning rate '
                        'for few steps.'),
    'slow_start_learning_rate': ('float', 'Learning rate employed during '
                                 'slow start.'),
    'slow_start_burnin_type': ('enum', 'none, or linear from the slow start '
                               'rate to the base rate.',
                               dict(enum_values=['none', 'linear'])),
    'fine_tune_batch_norm': ('boolean', 'Fine tune the batch norm parameters '
                             '(statistics) or not.'),
    'min_scale_factor': ('float', 'Minimum scale factor for data '
                         'augmentation.'),
    'max_scale_factor': ('float', 'Maximum scale factor for data '
                         'augmentation.'),
    'scale_factor_step_size': ('float', 'Scale factor step size for data '
                               'augmentation.'),
    'hard_example_mining_step': ('integer', 'The training step in which hard '
                                 'example mining reaches '
                                 'top_k_percent_pixels.'),
    'top_k_percent_pixels': ('float', 'The top k percent pixels (in terms of '
                             'the loss values) used to compute loss.'),
    'dataset': ('string', 'Name of the segmentation dataset, a dataset.json '
                'path, or tfds:<name>.'),
    'train_split': ('string', 'Which split of the dataset to be used for '
                    'training.'),
    'dataset_dir': ('string', 'Where the dataset reside.'),
    # Beyond the original.
    'save_interval_steps': ('integer', 'Save every this many steps (0: use '
                            'save_interval_secs).'),
    'max_checkpoints_to_keep': ('integer', 'Checkpoints kept in the logdir.'),
    'distribution_strategy': ('enum', 'auto: multi_worker when TF_CONFIG '
                              'names several workers, mirrored when '
                              'num_clones > 1, else default.',
                              dict(enum_values=list(distribute.STRATEGIES))),
    'tpu': ('string', 'TPU name or address (distribution_strategy=tpu).'),
    'sync_batch_norm': ('boolean', 'Batch statistics over all replicas '
                        '(with fine_tune_batch_norm).'),
    'dropout_keep_prob': ('float', 'Keep probability of the dropout after '
                          'the ASPP projection (the original: 0.9).'),
    'train_batch_norm_decay': ('float', 'Override every BatchNorm\'s '
                               'moving-average decay for this run (e.g. 0.9 '
                               'for short runs from scratch).'),
    'precision': ('enum', 'float32, mixed_float16 or mixed_bfloat16.',
                  dict(enum_values=list(trainer.PRECISIONS))),
    'seed': ('integer', 'Seed of initialisation, shuffling and augmentation.'),
    'deterministic': ('boolean', 'Reproducible runs: seeds (0 unless given) '
                      'and deterministic ops.'),
    'num_readers': ('integer', 'Parallel TFRecord readers.'),
}


def define_train_flags(flag_values=None):
  """Registers train.py's flags (and the shared model flags)."""
  fv = flags.FLAGS if flag_values is None else flag_values
  common.define_model_flags(fv, output_stride_default=16)
  for name, spec in _FLAGS.items():
    kind, help_text = spec[0], spec[1]
    extra = spec[2] if len(spec) > 2 else {}
    default = _D[name]
    if kind == 'list' and default is not None:
      default = ','.join(str(v) for v in default)
    if name not in fv:
      getattr(flags, 'DEFINE_' + kind)(name, default, help=help_text,
                                       flag_values=fv, **extra)
  return fv


def config_from_flags(fv=None):
  """A `TrainConfig` from parsed flags."""
  fv = flags.FLAGS if fv is None else fv
  values = {name: fv[name].value for name in _FLAGS}
  values['image_pyramid'] = (tuple(fv.image_pyramid) if fv.image_pyramid
                             else None)
  for name in ('min_resize_value', 'max_resize_value', 'resize_factor',
               'keep_aspect_ratio'):
    values[name] = fv[name].value
  return trainer.TrainConfig(**values)


def model_options_from_flags(fv=None):
  """Model options from the shared model flags (classes set by the data)."""
  fv = flags.FLAGS if fv is None else fv
  return common.ModelOptions.from_flags(
      fv, crop_size=common.parse_crop_size(fv.train_crop_size,
                                           'train_crop_size'))
