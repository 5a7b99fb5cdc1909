"""Every command-line flag of the model, training, evaluation,
visualisation, export and prediction, in one place.

Names, kinds and help are the original's (tensorflow/models,
research/deeplab); flags marked "beyond the original" are this project's.
Defaults come from the config dataclasses (`flags.FlagGroup`). The group
builders at the end assemble a command's groups.
"""
from absl import flags

from deeplab import colormaps
from deeplab import common
from deeplab import configs
from deeplab.cli import flags as flag_lib


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
                            dict(enum_values=list(
                                common.INFERENCE_PRECISIONS))),
    'fold_batch_norm': ('boolean', 'Run inference with BatchNorm folded into '
                        'the convolutions (same outputs up to float '
                        'rounding, about 10-20% faster on CPU).'),
    'dilated_depthwise': ('enum', 'With --fold_batch_norm: how dilated '
                          'depthwise convs run. auto: a native dilated '
                          'kernel for rates up to 6 where the CPU kernel '
                          'supports it, else space_to_batch (runs on any '
                          'TensorFlow build); padded: a pad, then the native '
                          'kernel (ONNX and OpenVINO exports use it).',
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
    'memory_budget_mb': ('integer', 'Without --tile_size, an image whose '
                         'whole-image inference would need more memory than '
                         'this many MB (an estimate) is segmented in tiles '
                         '(predict, vis of image files); 0: always whole '
                         '(default: half of this machine\'s memory).'),
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
                  dict(enum_values=list(configs.OPTIMIZERS))),
    'learning_policy': ('enum', 'Learning rate policy for training.',
                        dict(enum_values=list(configs.LEARNING_POLICIES))),
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
    'take_over_lock': ('boolean', 'Take over the logdir\'s lock from a job '
                       'known to be dead (its machine or container stopped) '
                       'before its heartbeat goes stale; a lock a live '
                       'process of this machine holds is never taken.'),
    'distribution_strategy': ('enum', 'auto: multi_worker when TF_CONFIG '
                              'names several workers, mirrored when '
                              'num_clones > 1, else default.',
                              dict(enum_values=list(configs.STRATEGIES))),
    'tpu': ('string', 'TPU name or address (distribution_strategy=tpu).'),
    'sync_batch_norm': ('boolean', 'Batch statistics over all replicas '
                        '(with fine_tune_batch_norm).'),
    'dropout_keep_prob': ('float', 'Keep probability of the dropout after '
                          'the ASPP projection (the original: 0.9).'),
    'train_batch_norm_decay': ('float', 'Override every BatchNorm\'s '
                               'moving-average decay for this run (e.g. 0.9 '
                               'for short runs from scratch).'),
    'precision': ('enum', 'float32, mixed_float16 or mixed_bfloat16.',
                  dict(enum_values=list(configs.TRAINING_PRECISIONS))),
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
    'export_path': ('string', 'SavedModel folder; a .pb (the original\'s '
                    'frozen graph), .onnx (onnx extra) or .xml file '
                    '(OpenVINO, its .bin beside it; openvino extra).'),
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
    'onnx_probabilities': ('boolean', 'With a .onnx or .xml --export_path: '
                           'also output SemanticProbabilities.'),
    'onnx_input_size': ('crop_size', 'With a .onnx --export_path: a fixed '
                        'input "H,W" (batch 1), every shape static (for '
                        'TensorRT, edge compilers). Default: any size.'),
    'onnx_quantize': ('enum', 'With a .onnx --export_path: also write '
                      '<name>_int8.onnx (ONNX Runtime static quantization: '
                      'int8 convolution weights per channel, uint8 '
                      'activations calibrated on --representative_images).',
                      dict(enum_values=['none', 'int8'])),
}

PREDICT_FLAGS = dict(SCALES_FLAGS, **{
    'checkpoint': ('string', 'A run or zoo folder, or a checkpoint of the '
                   'original (prefix or directory).'),
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


def model_group(output_stride=16):
  """The model flags, with a script's default output stride (the original
  exports at 8, trains and evaluates at 16)."""
  specs = dict(MODEL_FLAGS)
  specs['output_stride'] = specs['output_stride'][:2] + (
      dict(default=output_stride),)
  return flag_lib.FlagGroup('Model (the original\'s common.py)', specs,
                            common.ModelOptions)


def unsupported_group(specs):
  return flag_lib.FlagGroup('The original\'s flags for what is done '
                            'differently here (accepted at their defaults)',
                            specs, unsupported=True)


def resize_group(config):
  return flag_lib.FlagGroup('Input resizing', RESIZE_FLAGS, config)


def inference_group(config):
  return flag_lib.FlagGroup('Inference (beyond the original)', INFERENCE_FLAGS,
                            config)


def inference_command_groups(job, script, original, beyond, config_cls,
                             output_stride, unsupported):
  """The flag groups of eval, vis and export: the script's own (the
  original's, then this project's), model, resizing, inference speed, and
  the original's unsupported ones."""
  return [flag_lib.FlagGroup('%s (the original\'s %s)' % (job, script),
                             original, config_cls),
          flag_lib.FlagGroup('%s, beyond the original' % job, beyond,
                             config_cls),
          model_group(output_stride),
          resize_group(config_cls),
          inference_group(config_cls),
          unsupported_group(dict(unsupported, **UNSUPPORTED_MODEL_FLAGS))]
