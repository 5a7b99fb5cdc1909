"""The original's flags (tensorflow/models research/deeplab, final TF1
version): per script, name -> (kind, default). Facts read from the original
(names, kinds, defaults), kept here so that a drift of this project's flags
fails CI. Kinds are absl's DEFINE_ kinds."""

COMMON = {
    'min_resize_value': ('integer', None),
    'max_resize_value': ('integer', None),
    'resize_factor': ('integer', None),
    'keep_aspect_ratio': ('boolean', True),
    'logits_kernel_size': ('integer', 1),
    'model_variant': ('string', 'mobilenet_v2'),
    'image_pyramid': ('multi_float', None),
    'add_image_level_feature': ('boolean', True),
    'image_pooling_crop_size': ('list', None),
    'image_pooling_stride': ('list', ['1', '1']),
    'aspp_with_batch_norm': ('boolean', True),
    'aspp_with_separable_conv': ('boolean', True),
    'multi_grid': ('multi_integer', None),
    'depth_multiplier': ('float', 1.0),
    'divisible_by': ('integer', None),
    'decoder_output_stride': ('list', None),
    'decoder_use_separable_conv': ('boolean', True),
    'merge_method': ('enum', 'max'),
    'prediction_with_upsampled_logits': ('boolean', True),
    'dense_prediction_cell_json': ('string', ''),
    'nas_stem_output_num_conv_filters': ('integer', 20),
    'nas_use_classification_head': ('boolean', False),
    'nas_remove_os32_stride': ('boolean', False),
    'use_bounded_activation': ('boolean', False),
    'aspp_with_concat_projection': ('boolean', True),
    'aspp_with_squeeze_and_excitation': ('boolean', False),
    'aspp_convs_filters': ('integer', 256),
    'decoder_use_sum_merge': ('boolean', False),
    'decoder_filters': ('integer', 256),
    'decoder_output_is_logits': ('boolean', False),
    'image_se_uses_qsigmoid': ('boolean', False),
    'label_weights': ('multi_float', None),
    'batch_norm_decay': ('float', 0.9997),
}

TRAIN = dict(COMMON, **{
    'num_clones': ('integer', 1),
    'clone_on_cpu': ('boolean', False),
    'num_replicas': ('integer', 1),
    'startup_delay_steps': ('integer', 15),
    'num_ps_tasks': ('integer', 0),
    'master': ('string', ''),
    'task': ('integer', 0),
    'train_logdir': ('string', None),
    'log_steps': ('integer', 10),
    'save_interval_secs': ('integer', 1200),
    'save_summaries_secs': ('integer', 600),
    'save_summaries_images': ('boolean', False),
    'profile_logdir': ('string', None),
    'optimizer': ('enum', 'momentum'),
    'learning_policy': ('enum', 'poly'),
    'base_learning_rate': ('float', 0.0001),
    'decay_steps': ('float', 0.0),
    'end_learning_rate': ('float', 0.0),
    'learning_rate_decay_factor': ('float', 0.1),
    'learning_rate_decay_step': ('integer', 2000),
    'learning_power': ('float', 0.9),
    'training_number_of_steps': ('integer', 30000),
    'momentum': ('float', 0.9),
    'adam_learning_rate': ('float', 0.001),
    'adam_epsilon': ('float', 1e-08),
    'train_batch_size': ('integer', 8),
    'weight_decay': ('float', 4e-05),
    'train_crop_size': ('list', ['513', '513']),
    'last_layer_gradient_multiplier': ('float', 1.0),
    'upsample_logits': ('boolean', True),
    'drop_path_keep_prob': ('float', 1.0),
    'tf_initial_checkpoint': ('string', None),
    'initialize_last_layer': ('boolean', True),
    'last_layers_contain_logits_only': ('boolean', False),
    'slow_start_step': ('integer', 0),
    'slow_start_learning_rate': ('float', 0.0001),
    'fine_tune_batch_norm': ('boolean', True),
    'min_scale_factor': ('float', 0.5),
    'max_scale_factor': ('float', 2.0),
    'scale_factor_step_size': ('float', 0.25),
    'atrous_rates': ('multi_integer', None),
    'output_stride': ('integer', 16),
    'hard_example_mining_step': ('integer', 0),
    'top_k_percent_pixels': ('float', 1.0),
    'quantize_delay_step': ('integer', -1),
    'dataset': ('string', 'pascal_voc_seg'),
    'train_split': ('string', 'train'),
    'dataset_dir': ('string', None),
})

# What eval.py and vis.py share.
_POLLING = dict(COMMON, **{
    'master': ('string', ''),
    'checkpoint_dir': ('string', None),
    'eval_interval_secs': ('integer', 300),
    'atrous_rates': ('multi_integer', None),
    'output_stride': ('integer', 16),
    'eval_scales': ('multi_float', [1.0]),
    'add_flipped_images': ('boolean', False),
    'quantize_delay_step': ('integer', -1),
    'dataset': ('string', 'pascal_voc_seg'),
    'dataset_dir': ('string', None),
})

EVAL = dict(_POLLING, **{
    'eval_logdir': ('string', None),
    'eval_batch_size': ('integer', 1),
    'eval_crop_size': ('list', ['513', '513']),
    'eval_split': ('string', 'val'),
    'max_number_of_evaluations': ('integer', 0),
})

VIS = dict(_POLLING, **{
    'vis_logdir': ('string', None),
    'vis_batch_size': ('integer', 1),
    'vis_crop_size': ('list', ['513', '513']),
    'vis_split': ('string', 'val'),
    'colormap_type': ('enum', 'pascal'),
    'also_save_raw_predictions': ('boolean', False),
    'max_number_of_iterations': ('integer', 0),
})

EXPORT = dict(COMMON, **{
    'checkpoint_path': ('string', None),
    'export_path': ('string', None),
    'num_classes': ('integer', 21),
    'crop_size': ('multi_integer', [513, 513]),
    'atrous_rates': ('multi_integer', None),
    'output_stride': ('integer', 8),
    'inference_scales': ('multi_float', [1.0]),
    'add_flipped_images': ('boolean', False),
    'quantize_delay_step': ('integer', -1),
    'save_inference_graph': ('boolean', False),
})

# build_data.py's flags come with every converter.
_FORMATS = {'image_format': ('enum', 'png'), 'label_format': ('enum', 'png')}
CONVERTERS = {
    'build_voc2012_data': dict(_FORMATS, **{
        'image_folder': ('string', './VOCdevkit/VOC2012/JPEGImages'),
        'semantic_segmentation_folder': (
            'string', './VOCdevkit/VOC2012/SegmentationClassRaw'),
        'list_folder': ('string', './VOCdevkit/VOC2012/ImageSets/Segmentation'),
        'output_dir': ('string', './tfrecord'),
    }),
    'build_cityscapes_data': dict(_FORMATS, **{
        'cityscapes_root': ('string', './cityscapes'),
        'output_dir': ('string', './tfrecord'),
    }),
    'build_ade20k_data': dict(_FORMATS, **{
        'train_image_folder': (
            'string', './ADE20K/ADEChallengeData2016/images/training'),
        'train_image_label_folder': (
            'string', './ADE20K/ADEChallengeData2016/annotations/training'),
        'val_image_folder': (
            'string', './ADE20K/ADEChallengeData2016/images/validation'),
        'val_image_label_folder': (
            'string', './ADE20K/ADEChallengeData2016/annotations/validation'),
        'output_dir': ('string', './ADE20K/tfrecord'),
    }),
    'remove_gt_colormap': {
        'original_gt_folder': ('string', './VOCdevkit/VOC2012/SegmentationClass'),
        'segmentation_format': ('string', 'png'),
        'output_dir': ('string', './VOCdevkit/VOC2012/SegmentationClassRaw'),
    },
}

# Where this project deliberately differs (also listed in docs/parity.md):
# (script, flag) -> what differs and why.
DIFFERENCES = {
    ('vis', 'colormap_type'): 'default: the dataset\'s colour map (cityscapes '
                              'for Cityscapes, ...) instead of always pascal',
    ('build_voc2012_data', 'image_format'): 'default jpg (VOC\'s JPEGImages; '
                                            'the original\'s download script '
                                            'always passes --image_format=jpg)',
}
