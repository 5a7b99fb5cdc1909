"""Every command-line flag, in one place.

Each script's flags are defined from its config dataclass (`TrainConfig`,
`EvalConfig`, `VisConfig`, `ExportConfig`, `PredictConfig`): the tables below
give each flag's kind and help, the dataclass gives its default, and
`config_from_flags` builds the config back from the parsed flags. The model
flags (the original's `common.py` flags) configure `common.ModelOptions`;
`model_options` merges them with the options saved beside a checkpoint by
one rule: flags the user set win, saved options fill the rest, defaults fill
what neither gives.

Names, kinds and defaults are the original's (tensorflow/models,
research/deeplab); flags marked "beyond the original" are this project's.
"""
import dataclasses
from typing import Any, Dict, Tuple

from absl import flags
from absl import logging

from deeplab import colormaps
from deeplab import common
from deeplab.training import distribute
from deeplab.training import learning_rate
from deeplab.training import optimizers
from deeplab.training import trainer

# A flag spec: (absl kind, help) or (absl kind, help, extra DEFINE kwargs).
# Extra may hold 'default' to override the config's default for the flag.
Spec = Tuple


@dataclasses.dataclass(frozen=True)
class FlagGroup:
  """Flags shown together in `--help`, with defaults from `config`."""
  title: str
  specs: Dict[str, Spec]
  config: Any = None  # A dataclass whose field defaults are the flags'.
  # Flags of the original this project does not act on: set to anything but
  # their default, they stop the command with the reason (`check_unsupported`).
  unsupported: bool = False


# The original's common.py model flags (defaults: `common.ModelOptions`).
MODEL_FLAGS = {
    'model_variant': ('string', 'DeepLab model variant: %s (the original\'s '
                      'NAS variants are not built).'
                      % ', '.join(common.MODEL_VARIANTS)),
    'output_stride': ('integer', 'The ratio of input to output spatial '
                      'resolution.', dict(default=16)),
    'atrous_rates': ('multi_integer', 'Atrous rates for atrous spatial '
                     'pyramid pooling (repeat: --atrous_rates=6 '
                     '--atrous_rates=12 --atrous_rates=18).'),
    'decoder_output_stride': ('list', 'Comma-separated list of strings with '
                              'the number specifying output stride of '
                              'low-level features at each network level. The '
                              'decoder is not used when None.'),
    'multi_grid': ('multi_integer', 'Employ a hierarchy of atrous rates for '
                   'ResNet.'),
    'image_pyramid': ('multi_float', 'Input scales for multi-scale feature '
                      'extraction (training).', dict(default=None)),
    'add_image_level_feature': ('boolean', 'Add image level feature.'),
    'image_pooling_crop_size': ('list', 'Image pooling crop size [height, '
                                'width] used in the ASPP module. When None, '
                                'crop_size is used.'),
    'image_pooling_stride': ('list', 'Image pooling stride [height, width] '
                             'used in the ASPP image pooling.'),
    'aspp_with_batch_norm': ('boolean', 'Use batch norm parameters for ASPP '
                             'or not.'),
    'aspp_with_separable_conv': ('boolean', 'Use separable convolution for '
                                 'ASPP or not.'),
    'aspp_with_concat_projection': ('boolean', 'ASPP with concat '
                                    'projection.'),
    'aspp_convs_filters': ('integer', 'ASPP convolution filters.'),
    'decoder_use_separable_conv': ('boolean', 'Employ separable convolution '
                                   'for decoder or not.'),
    'decoder_use_sum_merge': ('boolean', 'Decoder uses simple sum merge.'),
    'decoder_filters': ('integer', 'Decoder filters.'),
    'depth_multiplier': ('float', 'Multiplier for the depth (number of '
                         'channels) for all convolution ops used in '
                         'MobileNet.'),
    'divisible_by': ('integer', 'An integer that ensures the layer # '
                     'channels are divisible by this value. Used in '
                     'MobileNet.'),
    'logits_kernel_size': ('integer', 'The kernel size for the convolutional '
                           'kernel that generates logits.'),
    'merge_method': ('enum', 'Scheme to merge multi scale features.',
                     dict(enum_values=['max', 'avg'])),
    'prediction_with_upsampled_logits': ('boolean', 'Upsample logits before '
                                         'argmax (True) or argmax then '
                                         'nearest upsampling (False).'),
    'label_weights': ('multi_float', 'A list of label weights, each element '
                      'represents the weight for the label of its index.'),
    'batch_norm_decay': ('float', 'Batchnorm decay.'),
    'quantize_delay_step': ('integer', 'Quantization-aware training: from '
                            'this training step on, activations are rounded '
                            'to 8-bit ranges learned in training, as int8 '
                            'TFLite computes them; eval, vis and export then '
                            'run the quantized model and export_model.py '
                            '--tflite_quantize=int8 uses the learned ranges. '
                            '< 0: a float model.'),
    'dense_prediction_cell_json': ('string', 'A JSON file that specifies the '
                                   'dense prediction cell (or the bare name '
                                   'of the shipped dense_prediction_cell_'
                                   'branch5_top1_cityscapes.json).',
                                   dict(default='')),
    'use_bounded_activation': ('boolean', 'Whether or not to use bounded '
                               'activations (not supported).'),
    'aspp_with_squeeze_and_excitation': ('boolean', 'ASPP with squeeze and '
                                         'excitation.'),
    'decoder_output_is_logits': ('boolean', 'Use decoder output as logits or '
                                 'not.'),
    'image_se_uses_qsigmoid': ('boolean', 'Use q-sigmoid.'),
}

# The original's resize flags (common.py), read by the input pipeline and the
# export; every config that takes images has these fields.
RESIZE_FLAGS = {
    'min_resize_value': ('integer', 'Desired size of the smaller image '
                         'side.', dict(default=None)),
    'max_resize_value': ('integer', 'Maximum allowed size of the larger '
                         'image side.', dict(default=None)),
    'resize_factor': ('integer', 'Resized dimensions are multiple of factor '
                      'plus one.', dict(default=None)),
    'keep_aspect_ratio': ('boolean', 'Keep aspect ratio after resizing or '
                          'not.', dict(default=True)),
}

# Beyond the original: how eval, vis, export and predict run the network.
INFERENCE_FLAGS = {
    'inference_precision': ('enum', 'float32 (the original\'s numbers), or '
                            'bfloat16: weights and activations in bfloat16 '
                            'up to the logits (float32 from the logits on), '
                            'several times faster on CPUs with AMX-BF16 or '
                            'AVX512-BF16, slow elsewhere; needs '
                            '--fold_batch_norm.',
                            dict(enum_values=list(common.PRECISIONS))),
    'fold_batch_norm': ('boolean', 'Run inference with BatchNorm folded into '
                        'the convolutions (same outputs up to float '
                        'rounding, about 10-20% faster on CPU).'),
    'dilated_depthwise': ('enum', 'With --fold_batch_norm: how dilated '
                          'depthwise convs run. auto: a native dilated '
                          'kernel for rates up to 6 where the CPU kernel '
                          'supports it, else space_to_batch; space_to_batch '
                          'runs on any TensorFlow build.',
                          dict(enum_values=list(
                              common.DILATED_DEPTHWISE_CHOICES))),
    'argmax_shortcut': ('boolean', 'With one scale and no flip, take the '
                        'labels of the upsampled logits by upsampling only '
                        'near class boundaries (the same labels, faster).'),
    'tile_size': ('crop_size', 'Segment images larger than this "H,W" in '
                  'overlapping tiles, blended over the overlaps: memory '
                  'follows the tile, not the image (e.g. 513,513; default: '
                  'the whole image at once).'),
    'tile_overlap': ('float', 'Overlap of neighbouring tiles with '
                     '--tile_size: pixels when >= 1, else a fraction of the '
                     'tile.'),
    'tile_batch_size': ('integer', 'Tiles run together with --tile_size.'),
    'tile_image_pooling': ('enum', 'With --tile_size, the image-level '
                           'feature of ASPP: image, the mean over the whole '
                           'image as whole-image inference has it (a first '
                           'pass over the tiles computes it: about twice '
                           'the time); tile, each tile\'s own (one pass).',
                           dict(enum_values=list(
                               common.TILE_IMAGE_POOLING_CHOICES))),
}


def _unsupported(kind, default, reason):
  return (kind, reason, dict(default=default))


# The original's flags for what this project does differently or not at all.
# They are defined with the original's defaults, so job scripts and flag files
# written for the original parse unchanged; another value is an error that
# says what to use instead.
UNSUPPORTED_MODEL_FLAGS = {
    'nas_stem_output_num_conv_filters': _unsupported(
        'integer', 20, 'NAS backbones are not built here.'),
    'nas_use_classification_head': _unsupported(
        'boolean', False, 'NAS backbones are not built here.'),
    'nas_remove_os32_stride': _unsupported(
        'boolean', False, 'NAS backbones are not built here.'),
}
_MASTER = _unsupported('string', '', 'TF1 session masters do not exist in '
                       'TF2; several machines train with TF_CONFIG '
                       '(--distribution_strategy=multi_worker).')
UNSUPPORTED_TRAIN_FLAGS = {
    'clone_on_cpu': _unsupported(
        'boolean', False, 'Clones go on the visible devices '
        '(--distribution_strategy=mirrored); hide GPUs with '
        'CUDA_VISIBLE_DEVICES= to train on the CPU.'),
    'num_replicas': _unsupported(
        'integer', 1, 'Workers are described by TF_CONFIG '
        '(--distribution_strategy=multi_worker), not counted by a flag.'),
    'startup_delay_steps': _unsupported(
        'integer', 15, 'Ignored: synchronous tf.distribute workers start '
        'together.'),
    'num_ps_tasks': _unsupported(
        'integer', 0, 'Parameter servers are not used; workers train '
        'synchronously (--distribution_strategy=multi_worker).'),
    'master': _MASTER,
    'task': _unsupported('integer', 0, 'The task index comes from TF_CONFIG '
                         '(--distribution_strategy=multi_worker).'),
    'profile_logdir': _unsupported(
        'string', None, 'Profiling with a TF1 profiler hook is not '
        'supported; use the TensorBoard profiler.'),
    'drop_path_keep_prob': _unsupported(
        'float', 1.0, 'NAS backbones (drop path) are not built here.'),
}
UNSUPPORTED_INFERENCE_FLAGS = {'master': _MASTER}

# Flags accepted at any value (nothing to refuse), listed for the help.
IGNORED_FLAGS = ('startup_delay_steps',)


def check_unsupported(groups, flag_values=None):
  """Raises ValueError naming the first unsupported flag set to another value
  than the original's default, with what to use instead."""
  fv = flags.FLAGS if flag_values is None else flag_values
  for group in groups:
    if not group.unsupported:
      continue
    for name, (_, reason, extra) in group.specs.items():
      if name in IGNORED_FLAGS or not fv[name].present:
        continue
      if fv[name].value != extra['default']:
        raise ValueError('--%s=%r is a flag of the original that is not '
                         'supported here. %s' % (name, fv[name].value, reason))


# Flags several scripts share (one definition each).
_DATASET_FLAGS = {
    'dataset': ('string', 'Name of the segmentation dataset, a dataset.json '
                'path, or tfds:<name>.'),
    'dataset_dir': ('string', 'Where the dataset reside.'),
}
# The original's eval scales and flips (eval, vis, predict, model_stats):
# `common.InferenceOptions` fields.
SCALES_FLAGS = {
    'eval_scales': ('multi_float', 'The scales to resize images for '
                    'evaluation.'),
    'add_flipped_images': ('boolean', 'Add flipped images for evaluation or '
                           'not.'),
}
_POLLING_FLAGS = {
    'checkpoint_dir': ('string', 'Directory of model checkpoints (polled), '
                       'or one checkpoint prefix.'),
    'eval_interval_secs': ('integer', 'How often (in seconds) to look for a '
                           'new checkpoint.'),
}

TRAIN_FLAGS = dict(_DATASET_FLAGS, **{
    'train_logdir': ('string', 'Where the checkpoint and logs are stored.'),
    'train_split': ('string', 'Which split of the dataset to be used for '
                    'training.'),
    'train_batch_size': ('integer', 'The number of images in each (global) '
                         'batch during training.'),
    'train_crop_size': ('crop_size', 'Image crop size [height, width] during '
                        'training.'),
    'training_number_of_steps': ('integer', 'The number of steps used for '
                                 'training.'),
    'num_clones': ('integer', 'Number of clones (replicas) on this machine.'),
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
    'momentum': ('float', 'The momentum value to use.'),
    'adam_learning_rate': ('float', 'Learning rate for the adam optimizer.'),
    'adam_epsilon': ('float', 'Adam optimizer epsilon.'),
    'weight_decay': ('float', 'The value of the weight decay for training '
                     '(4e-5 for Xception/MobileNet, 1e-4 for ResNet).'),
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
})

TRAIN_EXTRA_FLAGS = {
    'slow_start_burnin_type': ('enum', 'none, or linear from the slow start '
                               'rate to the base rate.',
                               dict(enum_values=['none', 'linear'])),
    'save_interval_steps': ('integer', 'Save every this many steps (0: use '
                            'save_interval_secs).'),
    'save_summaries_steps': ('integer', 'Also write TensorBoard summaries '
                             'every this many steps (0: by '
                             '--save_summaries_secs only), so that short '
                             'runs show curves.'),
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
    'deterministic': ('boolean', 'Reproducible runs: seeds (0 unless given), '
                      'deterministic ops and, without a GPU, one thread per '
                      'op.'),
    'num_readers': ('integer', 'Parallel TFRecord readers.'),
    'out_of_range_labels': ('enum', 'Label values that are neither a class '
                            'id nor the ignore label: error (stop, naming '
                            'the image) or ignore (train as ignored).',
                            dict(enum_values=['error', 'ignore'])),
}

EVAL_FLAGS = dict(_POLLING_FLAGS, **_DATASET_FLAGS, **SCALES_FLAGS, **{
    'eval_logdir': ('string', 'Where to write the metrics and event logs '
                    '(default: <checkpoint_dir>/eval).'),
    'eval_split': ('string', 'Which split of the dataset is used for '
                   'evaluation.'),
    'eval_batch_size': ('integer', 'The number of images in each batch '
                        'during evaluation.'),
    'eval_crop_size': ('crop_size', 'Image crop size [height, width] for '
                       'evaluation (at least the largest image).'),
    'max_number_of_evaluations': ('integer', 'Maximum number of eval '
                                  'iterations. Will loop indefinitely upon '
                                  'nonpositive values.'),
})

EVAL_EXTRA_FLAGS = {
    'trimap_widths': ('list', 'Also report mIoU in bands of these widths '
                      '(pixels) around void boundaries (paper Fig. 5).'),
    'max_images': ('integer', 'Evaluate at most this many images (0: the '
                   'whole split).'),
}

_ALLOW_LARGE = ('Read images above Pillow\'s decompression-bomb limit '
                '(about 89 megapixels; trust the files first).')

VIS_FLAGS = dict(_POLLING_FLAGS, **_DATASET_FLAGS, **SCALES_FLAGS, **{
    'vis_logdir': ('string', 'Where to write the images.'),
    'vis_split': ('string', 'Which split of the dataset is used for '
                  'visualizing results.'),
    'vis_batch_size': ('integer', 'The number of images in each batch '
                       'during visualization.'),
    'vis_crop_size': ('crop_size', 'Crop size [height, width] for '
                      'visualization.'),
    'colormap_type': ('enum', 'Visualization colormap type (default: the '
                      'dataset\'s).',
                      dict(enum_values=sorted(colormaps.COLORMAPS))),
    'also_save_raw_predictions': ('boolean', 'Also save raw predictions '
                                  '(Cityscapes: label ids).'),
    'max_number_of_iterations': ('integer', 'Maximum number of visualization '
                                 'iterations (one pass over the split per '
                                 'checkpoint). Will loop indefinitely upon '
                                 'nonpositive values.'),
})

VIS_EXTRA_FLAGS = {
    'max_images': ('integer', 'Visualize at most this many images per pass '
                   '(0: the whole split).'),
    'save_overlays': ('boolean', 'Also write the image blended with the '
                      'colour map (%06d_overlay.png).'),
    'overlay_alpha': ('float', 'Weight of the colours in overlays.'),
    'image_path': ('string', 'An image file, folder or glob to visualize '
                   'instead of a TFRecord split.'),
    'num_classes': ('integer', 'Number of classes with --image_path '
                    '(default: the checkpoint\'s).'),
    'allow_large_images': ('boolean', _ALLOW_LARGE),
}

EXPORT_FLAGS = {
    'checkpoint_path': ('string', 'Checkpoint prefix or directory (original '
                        'TF1 checkpoints or ours).'),
    'export_path': ('string', 'Folder of the SavedModel, a .pb file for '
                    'the original\'s frozen inference graph, or a .onnx '
                    'file (the onnx extra).'),
    'num_classes': ('integer', 'Number of classes.'),
    'crop_size': ('crop_size', 'Crop size [height, width]: images are '
                  'padded to it (larger ones to their size).'),
    'inference_scales': ('multi_float', 'The scales to resize images for '
                         'inference.'),
    'add_flipped_images': ('boolean', 'Add flipped images during inference '
                           'or not.'),
    'save_inference_graph': ('boolean', 'Save inference graph in text proto '
                             '(beside a .pb export).'),
}

EXPORT_EXTRA_FLAGS = {
    'tflite': ('boolean', 'Also write model.tflite (float32).'),
    'tflite_quantize': ('enum', 'Also write model_int8.tflite, calibrated '
                        'on --representative_images (needed either way); a '
                        'model trained with --quantize_delay_step keeps its '
                        'learned ranges where it has them and is '
                        'calibrated only for the other tensors (resizes, '
                        'concats, the input).',
                        dict(enum_values=['none', 'int8'])),
    'representative_images': ('string', 'Image folder or glob for int8 '
                              'calibration and the TFLite agreement report.'),
    'num_representative_images': ('integer', 'At most this many.'),
    'onnx_probabilities': ('boolean', 'With a .onnx --export_path: also '
                           'output SemanticProbabilities.'),
    'onnx_quantize': ('enum', 'With a .onnx --export_path: also write '
                      '<name>_int8.onnx (ONNX Runtime static quantization: '
                      'int8 convolution weights per channel, uint8 '
                      'activations calibrated on --representative_images).',
                      dict(enum_values=['none', 'int8'])),
}

PREDICT_FLAGS = dict(SCALES_FLAGS, **{
    'checkpoint': ('string', 'TF1 checkpoint prefix, directory, or project '
                   'checkpoint.'),
    'image': ('string', 'An image file (PNG, JPEG, ...), a folder of images '
              'or a glob; several images need --output_dir.'),
    'output_dir': ('string', 'Where to write, for each image, '
                   '<name>_prediction.png (colours), <name>_labels.png (ids) '
                   'and <name>_overlay.png.'),
    'output_npz': ('string', 'Where to write logits and label ids '
                   '(predictions) of one image.'),
    'output_png': ('string', 'Where to write the predictions of one image as '
                   'a colour image (the --colormap colours, not label ids; '
                   '--output_label_png writes ids).'),
    'output_label_png': ('string', 'Where to write the label ids of one '
                         'image as a single-channel PNG.'),
    'num_classes': ('integer', 'Number of classes; without it, the '
                    'checkpoint\'s (21 for an original checkpoint).'),
    'eval_crop_size': ('crop_size', 'Crop [height, width] to pad the image to '
                       '(the original evaluation path); default: the image '
                       'size.'),
    'colormap': ('enum', 'Colour map of the colour outputs (default: the '
                 'training run\'s dataset colours, else pascal).',
                 dict(enum_values=sorted(colormaps.COLORMAPS))),
    'allow_large_images': ('boolean', _ALLOW_LARGE),
})


class CropSizeParser(flags.ArgumentParser):
  """Crop sizes written either way the original's versions took them:
  `--eval_crop_size=513,513` (a list flag) or `--eval_crop_size=513
  --eval_crop_size=513` (a multi flag)."""

  def parse(self, argument):
    if isinstance(argument, (list, tuple)):
      return [int(v) for v in argument]
    try:
      return [int(v) for v in str(argument).split(',') if v.strip()]
    except ValueError:
      raise ValueError('expected integers "H,W", got %r'
                       % (argument,)) from None

  def flag_type(self):
    return 'crop size'


def flatten(value):
  """A crop-size flag's value ([[H, W]] or [[H], [W]]) as [H, W]."""
  if isinstance(value, list) and value and all(
      isinstance(v, list) for v in value):
    return [x for v in value for x in v]
  return value


def _sub_config(field):
  """The default instance of a config field that is a config itself (a
  shared group of flags: `common.InferenceOptions`, `common.ResizeOptions`),
  else None."""
  if field.default_factory is dataclasses.MISSING:
    return None
  value = field.default_factory()
  return value if dataclasses.is_dataclass(value) else None


flag_name = common.flag_name


def _defaults(config):
  """{flag name: default} of a config class, sub-configs flattened."""
  if config is None:
    return {}
  out = {}
  for field in dataclasses.fields(config):
    sub = _sub_config(field)
    if sub is not None:
      for sub_field in dataclasses.fields(sub):
        out[flag_name(config, field.name, sub_field.name)] = getattr(
            sub, sub_field.name)
    elif field.default is not dataclasses.MISSING:
      out[field.name] = field.default
    elif field.default_factory is not dataclasses.MISSING:
      out[field.name] = field.default_factory()
  return out


def _absl_default(kind, value):
  if value is None:
    return None
  if kind == 'list':
    return ','.join(str(v) for v in value)
  if kind.startswith('multi_'):
    return list(value)
  return value


def define_group(group, flag_values=None):
  """Registers a group's flags (skipping names already defined)."""
  fv = flags.FLAGS if flag_values is None else flag_values
  defaults = _defaults(group.config)
  for name, spec in group.specs.items():
    kind, help_text = spec[0], spec[1]
    extra = dict(spec[2]) if len(spec) > 2 else {}
    default = extra.pop('default', defaults.get(name))
    if name in fv:
      continue
    if kind == 'crop_size':
      flags.DEFINE_multi(CropSizeParser(), flags.CsvListSerializer(','),
                         name, _absl_default('list', default), help_text,
                         flag_values=fv)
    else:
      getattr(flags, 'DEFINE_' + kind)(name, _absl_default(kind, default),
                                       help=help_text, flag_values=fv,
                                       **extra)
  return fv


def define_groups(groups, flag_values=None):
  for group in groups:
    define_group(group, flag_values)
  return flags.FLAGS if flag_values is None else flag_values


def model_group(output_stride=16):
  """The model flags, with a script's default output stride (the original
  exports at 8, trains and evaluates at 16)."""
  specs = dict(MODEL_FLAGS)
  specs['output_stride'] = specs['output_stride'][:2] + (
      dict(default=output_stride),)
  return FlagGroup('Model (the original\'s common.py)', specs,
                   common.ModelOptions)


def unsupported_group(specs):
  return FlagGroup('The original\'s flags for what is done differently here '
                   '(accepted at their defaults)', specs, unsupported=True)


def resize_group(config):
  return FlagGroup('Input resizing', RESIZE_FLAGS, config)


def inference_group(config):
  return FlagGroup('Inference (beyond the original)', INFERENCE_FLAGS,
                   config)


def _flag_value(fv, name):
  value = flatten(fv[name].value)
  return tuple(value) if isinstance(value, list) else value


def config_from_flags(config_cls, flag_values=None):
  """A config dataclass from every flag named like one of its fields (the
  fields of its sub-configs too, `flag_name`); fields without a flag keep
  their defaults."""
  fv = flags.FLAGS if flag_values is None else flag_values
  values = {}
  for field in dataclasses.fields(config_cls):
    sub = _sub_config(field)
    if sub is None:
      if field.name in fv:
        values[field.name] = _flag_value(fv, field.name)
      continue
    given = {}
    for sub_field in dataclasses.fields(sub):
      name = flag_name(config_cls, field.name, sub_field.name)
      if name in fv:
        given[sub_field.name] = _flag_value(fv, name)
    values[field.name] = dataclasses.replace(sub, **given)
  config = config_cls(**values)
  return config.validate() if hasattr(config, 'validate') else config


def _model_flag_values(fv):
  """ModelOptions fields given by the model flags: {field: (value, set?)}."""
  out = {}
  for field in dataclasses.fields(common.ModelOptions):
    if field.name in fv:
      out[field.name] = (_flag_value(fv, field.name), fv[field.name].present)
  if 'dense_prediction_cell_json' in fv and fv.dense_prediction_cell_json:
    out['dense_prediction_cell_config'] = (
        {'json': fv.dense_prediction_cell_json}, True)
  if 'num_classes' in fv and fv.num_classes is not None:
    out['outputs_to_num_classes'] = (
        {common.OUTPUT_TYPE: fv.num_classes}, fv['num_classes'].present)
  return out


def _run_folder(checkpoint):
  import os  # pylint: disable=g-import-not-at-top
  if not checkpoint:
    return None
  folder = checkpoint if os.path.isdir(checkpoint) else os.path.dirname(
      checkpoint)
  return folder if folder and os.path.isdir(folder) else None


def run_dataset(checkpoint):
  """(dataset, dataset_dir) a checkpoint's run was trained or published on
  (its `train_config.json`, or a model-zoo import's `zoo.json`), else
  (None, None)."""
  import json  # pylint: disable=g-import-not-at-top
  import os  # pylint: disable=g-import-not-at-top
  folder = _run_folder(checkpoint)
  if folder is None:
    return None, None
  path = os.path.join(folder, trainer.CONFIG_FILE)
  if os.path.exists(path):
    try:
      with open(path) as f:
        config = json.load(f)
      return config.get('dataset'), config.get('dataset_dir')
    except (OSError, ValueError):
      return None, None
  from deeplab import zoo  # pylint: disable=g-import-not-at-top
  info = zoo.read_zoo_file(folder) or {}
  return info.get('dataset'), None


def saved_run_defaults(checkpoint):
  """Flag values saved with a checkpoint's run, {flag: value}.

  A training logdir gives its dataset and dataset folder (so eval, vis and
  export follow the run) and, where the dataset recorded its largest image,
  the evaluation crop; a model-zoo import (`zoo.json`) gives its published
  evaluation: dataset, split, crop, eval scales, flips, resizing, colour
  map.
  """
  folder = _run_folder(checkpoint)
  if folder is None:
    return {}
  from deeplab import zoo  # pylint: disable=g-import-not-at-top
  from deeplab.data import datasets  # pylint: disable=g-import-not-at-top
  out = {}
  dataset, dataset_dir = run_dataset(checkpoint)
  if dataset:
    out['dataset'] = dataset
    if dataset_dir:
      out['dataset_dir'] = dataset_dir
    try:
      crop = datasets.get_dataset(dataset, dataset_dir).eval_crop_size()
    except (ValueError, FileNotFoundError):
      crop = None
    if crop:
      out.update(eval_crop_size=crop, vis_crop_size=crop, crop_size=crop)
  info = zoo.read_zoo_file(folder) or {}
  out.update(info.get('defaults', {}))
  return out


# Saved settings that belong to the run's dataset.
_DATASET_SETTINGS = ('dataset', 'dataset_dir', 'eval_crop_size',
                     'vis_crop_size', 'crop_size', 'eval_split', 'vis_split',
                     'colormap', 'colormap_type', 'min_resize_value',
                     'max_resize_value', 'resize_factor')


def apply_run_defaults(flag_values, checkpoint, log=True):
  """The one rule of saved run settings: flags the user did not set take
  the values saved with the checkpoint's run (`saved_run_defaults`); flags
  the user set win.

  Returns:
    {flag: value} of the flags that took a saved value.
  """
  fv = flag_values
  applied = {}
  # Another dataset than the run's: nothing that follows from the run's.
  other_data = any(name in fv and fv[name].present
                   for name in ('dataset', 'dataset_dir'))
  for name, value in saved_run_defaults(checkpoint).items():
    if name not in fv or fv[name].present or value is None:
      continue
    if other_data and name in _DATASET_SETTINGS:
      continue
    kind = fv[name].flag_type()
    if kind == 'multi crop size':
      value = [list(value)]
    elif isinstance(value, (list, tuple)):
      value = list(value)
    elif kind == 'enum' and value not in (fv[name].parser.enum_values or ()):
      continue  # E.g. a dataset's own list of colours: not a flag value.
    fv[name].value = value
    applied[name] = value
  if log and applied:
    logging.info('Settings saved with %s: %s', checkpoint, '; '.join(
        '--%s=%s' % (k, ','.join(str(x) for x in _flat(v))
                     if isinstance(v, list) else v)
        for k, v in sorted(applied.items())))
  return applied


def _flat(value):
  out = []
  for v in value:
    out.extend(_flat(v) if isinstance(v, list) else [v])
  return out


def model_options(flag_values=None, *, crop_size=None, checkpoint=None,
                  num_classes=None, log=True):
  """The model options of a run: flags, saved options, defaults.

  The one merge rule of every script: a model flag the user set wins; a
  project checkpoint's saved options (`model_options.json` beside it, e.g. a
  training logdir) fill the flags that were not set; flag defaults fill the
  rest. So `eval.py --checkpoint_dir=<train_logdir>` needs no model flags,
  and `--output_stride=8 --atrous_rates=12 ...` there evaluates at OS8.

  Args:
    flag_values: Parsed absl flags holding the model flags.
    crop_size: The crop of this run (not a saved option).
    checkpoint: A checkpoint prefix or folder whose saved options to use.
    num_classes: Classes when neither a flag nor the checkpoint gives them
      (e.g. from the dataset).
    log: Log each option that did not come from its default, and where from.

  Returns:
    (`ModelOptions`, {field: 'flag' | 'checkpoint' | 'default'}).
  """
  fv = flags.FLAGS if flag_values is None else flag_values
  from deeplab import checkpoints  # pylint: disable=g-import-not-at-top
  saved = checkpoints.load_options(checkpoint) if checkpoint else None
  given = _model_flag_values(fv)
  values, sources = {}, {}
  for field in dataclasses.fields(common.ModelOptions):
    name = field.name
    value, is_set = given.get(name, (None, False))
    if is_set:
      values[name], sources[name] = value, 'flag'
    elif saved is not None:
      values[name], sources[name] = getattr(saved, name), 'checkpoint'
    elif name in given:
      values[name], sources[name] = value, 'default'
  if sources.get('outputs_to_num_classes') != 'flag' and saved is None and (
      num_classes):
    values['outputs_to_num_classes'] = {common.OUTPUT_TYPE: num_classes}
    sources['outputs_to_num_classes'] = 'data'
  values['crop_size'] = crop_size
  sources['crop_size'] = 'run'
  options = common.ModelOptions(**values)
  if log:
    described = ['%s=%s (%s)' % (name, getattr(options, name), source)
                 for name, source in sorted(sources.items())
                 if source in ('flag', 'checkpoint', 'data')]
    logging.info('Model options%s: %s', (' (saved beside %s)' % checkpoint)
                 if saved is not None else '', '; '.join(described) or
                 'all defaults')
  return options, sources
