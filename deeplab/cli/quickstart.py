r"""The whole job on an embedded synthetic dataset, nothing downloaded.

  python -m deeplab.quickstart [--workdir=deeplab_quickstart]

1. generates a PASCAL-VOC-style dataset of coloured shapes (JPEG images,
   palette PNG labels with void boundaries, split lists);
2. converts it to TFRecords (datasets/build_voc2012_data.py), with a
   dataset.json naming its classes (background, red disk, green box, blue
   diamond, yellow ring) and their colours;
3. trains a small DeepLabv3+ (MobileNetV2, decoder at stride 4);
4. evaluates it (mIoU, beside the mIoU of always predicting background);
5. writes visualisations (vis.py's layout, with overlays);
6. exports a SavedModel (ImageTensor -> SemanticPredictions);
7. with --int8: fine-tunes the model with quantization-aware training
   (--quantize_delay_step=0 from the float checkpoint), writes int8 TFLite
   models quantized after training (PTQ) and from the QAT model, and
   compares their val labels and mIoU with the float model;
and prints where each result is. Each step is the library call the scripts
(train.py, eval.py, vis.py, export_model.py) make; the README lists the
equivalent commands for real data.
"""
from deeplab import common
from deeplab.cli import command
from deeplab.cli import flags as flag_lib

# Flags of `deeplab-quickstart`, defined when it runs (not on import, where
# they would clash with train.py's flags of the same names).
_FLAGS = {
    'workdir': ('string', 'Where everything goes.',
                dict(default='deeplab_quickstart')),
    'num_train': ('integer', 'Synthetic training images.', dict(default=48)),
    'num_val': ('integer', 'Synthetic validation images.', dict(default=12)),
    'training_number_of_steps': ('integer', 'Training steps.',
                                 dict(default=300)),
    'train_batch_size': ('integer', 'Training batch size.', dict(default=8)),
    'base_learning_rate': ('float', 'Base learning rate (poly).',
                           dict(default=0.02)),
    'quickstart_model_variant': ('enum', 'Backbone.',
                                 dict(default='mobilenet_v2',
                                      enum_values=list(
                                          common.MODEL_VARIANTS))),
    'seed': ('integer', 'Seed of the data and the training run.',
             dict(default=0)),
    'deterministic': ('boolean', 'Train with deterministic ops: the same '
                      'figures on every run on one machine (slower).',
                      dict(default=False)),
    'int8': ('boolean', 'Also quantize to int8 TFLite, after training and '
             'with quantization-aware training, and compare with float.',
             dict(default=False)),
    'qat_steps': ('integer', 'Quantization-aware fine-tuning steps (--int8).',
                  dict(default=100)),
}


def job(fv):
  """Runs the quickstart; the lines to print."""
  # pylint: disable=g-import-not-at-top
  from deeplab import quickstart
  from deeplab.data import synthetic
  out = quickstart.run_quickstart(fv.workdir, fv.num_train, fv.num_val,
                       fv.training_number_of_steps, fv.train_batch_size,
                       fv.base_learning_rate, fv.quickstart_model_variant,
                                  fv.seed, deterministic=fv.deterministic)
  names = synthetic.class_names(quickstart.NUM_OBJECT_CLASSES)
  present = [(names[c], v) for c, v in enumerate(out['per_class_iou'])
             if v is not None]
  return [
      '',
      'Done in %.0f s (data %.0f s, training %.0f s, eval %.0f s, vis %.0f s, '
      'export %.0f s).' % tuple(out['timings'][k] for k in (
          'total', 'data', 'train', 'eval', 'vis', 'export')),
      'val mIoU %.3f (always-background baseline %.3f); pixel accuracy %.3f; '
      'mIoU within 2 px of object boundaries %.3f' % (
          out['miou'], out['background_only_miou'], out['pixel_accuracy'],
          out['trimap_miou']),
      'per-class IoU: ' + ', '.join('%s %.2f' % p for p in present),
      'Results:'] + ['  %-26s %s' % kv for kv in out['paths'].items()] + [
          'Next: tensorboard --logdir %s' % fv.workdir] + (
              _int8_lines(quickstart.run_int8(fv.workdir, out, fv.qat_steps,
                                              seed=fv.seed))
              if fv.int8 else [])


def _int8_lines(int8):
  lines = ['int8 TFLite on the val split (never used for training or '
           'calibration); float model: mIoU %.4f, TFLite %d bytes' % (
               int8['float']['miou'], int8['float_tflite_bytes'])]
  for kind, title in (('ptq', 'after training (PTQ)'),
                      ('qat', 'quantization-aware (QAT)')):
    entry = int8[kind]
    lines.append('  %s: mIoU %.4f (%+.2f points), labels equal to the float '
                 "model's on %.2f%% of pixels, %d bytes: %s" % (
                     title, entry['miou'],
                     100 * (entry['miou'] - int8['float']['miou']),
                     100 * entry['agreement'], entry['bytes'], entry['path']))
  qat = int8['qat']
  lines.append('  (the QAT model in TensorFlow, fake-quant ops on: mIoU %.4f; '
               'int8 labels equal to its on %.2f%% of pixels)' % (
                   qat['simulated']['miou'],
                   100 * qat['agreement_with_simulated']))
  lines.append('  (the QAT weights run in float: mIoU %.4f; int8 labels equal '
               'to theirs on %.2f%% of pixels)' % (
                   qat['float_twin']['miou'],
                   100 * qat['agreement_with_float_twin']))
  return lines


GROUPS = [flag_lib.FlagGroup('Quickstart', _FLAGS)]


main = command.entry_point(__doc__, GROUPS, job)
