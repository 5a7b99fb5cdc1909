"""Exports a trained DeepLab as a SavedModel (and TFLite) for serving.

The original's flags. Example:
  python export_model.py --checkpoint_path=/runs/voc \
    --export_path=/export/voc --model_variant=xception_65 \
    --atrous_rates=6 --atrous_rates=12 --atrous_rates=18 \
    --output_stride=16 --decoder_output_stride=4 --num_classes=21 \
    --crop_size=513,513 --inference_scales=1.0
"""
import json
import os
import sys

import numpy as np
from absl import app
from absl import flags
from absl import logging

from deeplab import common
from deeplab import export
from deeplab import predict
from deeplab import visualize

FLAGS = flags.FLAGS


def define_flags():
  # The original exports at output stride 8 by default.
  common.define_model_flags(output_stride_default=8)
  common.define_inference_flags(dilated_depthwise='space_to_batch')
  flags.DEFINE_string('checkpoint_path', None, 'Checkpoint prefix or '
                      'directory (original TF1 checkpoints or ours).')
  flags.DEFINE_string('export_path', None, 'Folder of the SavedModel.')
  flags.DEFINE_integer('num_classes', 21, 'Number of classes.')
  flags.DEFINE_list('crop_size', '513,513', 'Crop size [height, width]: '
                    'images are padded to it (larger ones to their size).')
  flags.DEFINE_multi_float('inference_scales', [1.0], 'The scales to resize '
                           'images for inference.')
  flags.DEFINE_bool('add_flipped_images', False, 'Add flipped images during '
                    'inference or not.')
  flags.DEFINE_bool('tflite', False, 'Also write model.tflite (float32).')
  flags.DEFINE_enum('tflite_quantize', 'none', ['none', 'int8'], 'Also write '
                    'model_int8.tflite (post-training quantisation).')
  flags.DEFINE_string('representative_images', None, 'Image folder or glob '
                      'for int8 calibration and the TFLite agreement report.')
  flags.DEFINE_integer('num_representative_images', 16, 'At most this many.')


def _padded_images(path, crop, variant, limit):
  images = []
  for file in visualize.list_images(path)[:limit]:
    image = predict.read_image(file)[:crop[0], :crop[1]]
    images.append(predict.pad_to_crop(image.astype(np.float32), crop, variant))
  return np.stack(images)


def main(argv):
  del argv
  logging.set_verbosity(logging.INFO)
  try:
    if not FLAGS.checkpoint_path or not FLAGS.export_path:
      raise ValueError('--checkpoint_path and --export_path are required.')
    crop = common.parse_crop_size(FLAGS.crop_size, 'crop_size')
    options = predict.options_from_flags_and_checkpoint(
        FLAGS, FLAGS.checkpoint_path, crop)
    module = export.DeepLabServing(
        options, FLAGS.checkpoint_path, crop,
        tuple(FLAGS.inference_scales), FLAGS.add_flipped_images,
        FLAGS.min_resize_value, FLAGS.max_resize_value, FLAGS.resize_factor,
        FLAGS.keep_aspect_ratio, FLAGS.fold_batch_norm,
        FLAGS.dilated_depthwise)
    export.export_saved_model(module, FLAGS.export_path)
    print('SavedModel: %s (%.1f MB); signature serving_default: %s uint8 '
          '[batch, height, width, 3] -> %s, %s' % (
              FLAGS.export_path, export.folder_size(FLAGS.export_path) / 1e6,
              export.INPUT_NAME, export.OUTPUT_NAME,
              export.PROBABILITIES_NAME))
    if not (FLAGS.tflite or FLAGS.tflite_quantize != 'none'):
      return
    model = export.tflite_model(options, FLAGS.checkpoint_path, crop,
                                tuple(FLAGS.inference_scales),
                                FLAGS.add_flipped_images)
    images = None
    if FLAGS.representative_images:
      images = _padded_images(FLAGS.representative_images, crop,
                              options.model_variant,
                              FLAGS.num_representative_images)
    report = {}
    variants = [('model.tflite', None)]
    if FLAGS.tflite_quantize == 'int8':
      if images is None:
        raise ValueError('--tflite_quantize=int8 needs '
                         '--representative_images.')
      variants.append(('model_int8.tflite', 'int8'))
    for name, quantize in variants:
      data = export.convert_tflite(model, quantize, images)
      path = export.write_bytes(os.path.join(FLAGS.export_path, name), data)
      entry = {'bytes': len(data)}
      if images is not None:
        entry['label_agreement'] = export.tflite_agreement(data, model, images)
      report[name] = entry
      print('%s: %.1f MB%s' % (path, len(data) / 1e6, (
          ', labels agree with the float model on %.2f%% of pixels (%d '
          'images)' % (100 * entry['label_agreement'], len(images)))
          if 'label_agreement' in entry else ''))
    with open(os.path.join(FLAGS.export_path, 'tflite_report.json'), 'w') as f:
      json.dump(report, f, indent=2)
  except (ValueError, FileNotFoundError) as e:
    raise app.UsageError(str(e)) from e


def run():
  """Console entry point (`deeplab-export`)."""
  define_flags()
  app.run(main, argv=sys.argv)


if __name__ == '__main__':
  run()
