"""The whole job on an embedded synthetic dataset, nothing downloaded.

`run_quickstart(workdir)` generates a PASCAL-VOC-style dataset of coloured
shapes, converts it to TFRecords with a dataset.json, trains a small
DeepLabv3+ (MobileNetV2, decoder at stride 4), evaluates, visualises and
exports it, each step the library call the scripts make; `run_int8` adds
quantization-aware fine-tuning and int8 TFLite models measured against the
float model (`deeplab-quickstart`, `python -m deeplab.quickstart`).
"""
import os
import shutil
import time

import numpy as np
from PIL import Image

from deeplab import common
from deeplab import configs
from deeplab import export
from deeplab import imageio
from deeplab import inference
from deeplab import visualize
from deeplab.data import synthetic
from deeplab.datasets import build_voc2012_data
from deeplab.evaluation import evaluator
from deeplab.evaluation import metrics
from deeplab.training import trainer

NUM_OBJECT_CLASSES = 4

IMAGE_HEIGHT, IMAGE_WIDTH = 96, 128
TRAIN_CROP = (97, 97)
EVAL_CROP = (97, 129)  # Pads every image (the original evaluation never crops).


def background_only_miou(confusion):
  """mIoU of a model predicting class 0 everywhere, for comparison."""
  matrix = np.asarray(confusion)
  baseline = np.zeros_like(matrix)
  baseline[:, 0] = matrix.sum(axis=1)
  return metrics.mean_iou(baseline)


def model_options(model_variant='mobilenet_v2', **changes):
  """The quickstart's model: the backbone at output stride 16 with the
  decoder at stride 4 (ASPP rates 6, 12, 18 except for MobileNetV2)."""
  return common.ModelOptions(
      model_variant=model_variant, output_stride=16,
      atrous_rates=None if model_variant == 'mobilenet_v2' else (6, 12, 18),
      decoder_output_stride=(4,), **changes)


def train_config(train_logdir, dataset, records, training_number_of_steps=300,
                 train_batch_size=8, base_learning_rate=0.02, seed=0,
                 **changes):
  """The quickstart's training job (`changes`: other `TrainConfig` fields)."""
  fields = dict(
      train_logdir=train_logdir, dataset=dataset, dataset_dir=records,
      train_split='train', train_crop_size=TRAIN_CROP,
      train_batch_size=train_batch_size,
      training_number_of_steps=training_number_of_steps,
      base_learning_rate=base_learning_rate, log_steps=50,
      save_interval_secs=120, save_summaries_steps=10, seed=seed,
      min_scale_factor=0.75, max_scale_factor=1.25, weight_decay=4e-5,
      fine_tune_batch_norm=True, train_batch_norm_decay=0.9)
  fields.update(changes)
  return configs.TrainConfig(**fields)


def run_quickstart(workdir, num_train=48, num_val=12,
                   training_number_of_steps=300, train_batch_size=8,
                   base_learning_rate=0.02, model_variant='mobilenet_v2',
                   seed=0, log=lambda line: print(line, flush=True),
                   deterministic=False):
  """Runs every step; returns a dict of results and paths."""
  timings = {}
  start = time.time()
  raw = os.path.join(workdir, 'raw')
  records = os.path.join(workdir, 'tfrecord')
  train_logdir = os.path.join(workdir, 'train')
  eval_logdir = os.path.join(workdir, 'eval')
  vis_logdir = os.path.join(workdir, 'vis')
  export_dir = os.path.join(workdir, 'export')

  log('[1/6] Generating %d + %d synthetic images in %s' % (num_train, num_val,
                                                          raw))
  folders = synthetic.generate(raw, num_train=num_train, num_val=num_val,
                               height=IMAGE_HEIGHT, width=IMAGE_WIDTH,
                               seed=seed)
  log('[2/6] Converting to TFRecords in %s' % records)
  summaries = build_voc2012_data.convert(
      folders['list_folder'], folders['image_folder'], folders['label_folder'],
      records)
  dataset = synthetic.write_description(
      records, {s.split: s.num_images for s in summaries}, NUM_OBJECT_CLASSES)
  timings['data'] = time.time() - start

  log('[3/6] Training %s for %d steps (logs: %s)' % (
      model_variant, training_number_of_steps, train_logdir))
  config = train_config(train_logdir, dataset, records,
                        training_number_of_steps, train_batch_size,
                        base_learning_rate, seed,
                        deterministic=deterministic)
  t = time.time()
  trained = trainer.train(config, model_options(model_variant))
  timings['train'] = time.time() - t

  log('[4/6] Evaluating on the val split (results: %s)' % eval_logdir)
  t = time.time()
  result = evaluator.run(configs.EvalConfig(
      checkpoint_dir=train_logdir, eval_logdir=eval_logdir, dataset=dataset,
      dataset_dir=records, eval_crop_size=EVAL_CROP,
      max_number_of_evaluations=1, trimap_widths=(2,)), trained['options'])[0]
  timings['eval'] = time.time() - t

  log('[5/6] Writing visualisations to %s' % vis_logdir)
  t = time.time()
  visualize.visualize_split(configs.VisConfig(
      checkpoint_dir=train_logdir, vis_logdir=vis_logdir, dataset=dataset,
      dataset_dir=records, vis_crop_size=EVAL_CROP, max_images=6),
                            trained['options'])
  timings['vis'] = time.time() - t

  log('[6/6] Exporting a SavedModel to %s' % export_dir)
  t = time.time()
  module = export.DeepLabServing(trained['options'], train_logdir,
                                 crop_size=EVAL_CROP)
  export.export_saved_model(module, export_dir)
  timings['export'] = time.time() - t
  timings['total'] = time.time() - start
  return {'miou': result['miou'], 'folders': folders, 'dataset': dataset,
          'background_only_miou': background_only_miou(
              result['confusion_matrix']),
          'pixel_accuracy': result['pixel_accuracy'],
          'trimap_miou': result['trimap']['2']['miou'],
          'per_class_iou': result['per_class_iou'],
          'final_loss': trained['loss'], 'timings': timings,
          'options': trained['options'],
          'paths': {'dataset (raw)': raw, 'TFRecords': records,
                    'checkpoints + TensorBoard': train_logdir,
                    'metrics': os.path.join(eval_logdir,
                                            'metrics_latest.json'),
                    'visualisations': os.path.join(
                        vis_logdir, visualize.SEMANTIC_FOLDER),
                    'SavedModel': export_dir}}


def _split_examples(folders, split):
  """(image paths, label arrays) of a split of the generated dataset."""
  with open(os.path.join(folders['list_folder'], split + '.txt')) as f:
    names = f.read().split()
  images = [os.path.join(folders['image_folder'], n + '.jpg') for n in names]
  labels = [np.asarray(Image.open(os.path.join(folders['label_folder'],
                                               n + '.png')))
            for n in names]
  return images, labels


def run_int8(workdir, results, qat_steps=100, qat_learning_rate=0.002,
             num_calibration=16, seed=0, log=lambda line: print(line,
                                                                flush=True)):
  """Step 7: int8 TFLite after training (PTQ) and with quantization-aware
  training (QAT), measured against the float model on the val split.

  Calibration uses training images only; val images are never seen by the
  training, the fine-tuning or the calibration.

  Args:
    workdir: The quickstart's folder.
    results: What `run_quickstart` returned.
    qat_steps: Fine-tuning steps with fake quantization from step 0.
    qat_learning_rate: Their base learning rate (poly).
    num_calibration: Training images calibrating the int8 ranges.
    seed: Seed of the fine-tuning.

  Returns:
    dict: 'float' -> {'miou'}; 'ptq' and 'qat' -> {'miou', 'agreement'
    (share of val pixels whose int8 label equals the float model's),
    'bytes', 'path'}, and for QAT 'simulated' ({'miou', 'agreement'} of
    the fine-tuned model with its fake-quant ops, in TensorFlow),
    'agreement_with_simulated', 'float_twin' (the same of the fine-tuned
    weights run in float) and 'agreement_with_float_twin';
    'float_tflite_bytes'; 'seconds' per phase.
  """
  paths = results['paths']
  folders = results['folders']
  records = paths['TFRecords']
  dataset = results['dataset']
  float_logdir = paths['checkpoints + TensorBoard']
  qat_logdir = os.path.join(workdir, 'train_qat')
  log('[7/7] int8: quantization-aware fine-tuning for %d steps (logs: %s), '
      'then TFLite export' % (qat_steps, qat_logdir))
  began = start = time.time()
  qat = trainer.train(
      train_config(qat_logdir, dataset, records, qat_steps,
                   base_learning_rate=qat_learning_rate, seed=seed,
                   tf_initial_checkpoint=float_logdir),
      results['options'].replace(quantize_delay_step=0))

  seconds = {'qat_training': time.time() - start}
  train_images, _ = _split_examples(folders, 'train')
  calibration = os.path.join(workdir, 'calibration')
  os.makedirs(calibration, exist_ok=True)
  for path in train_images[:num_calibration]:
    shutil.copy(path, calibration)
  val_paths, val_labels = _split_examples(folders, 'val')
  variant = results['options'].model_variant
  val_images = np.stack([
      inference.pad_to_crop(imageio.read_image(p).astype(np.float32),
                            EVAL_CROP, variant) for p in val_paths])

  def labels_of(model):
    return np.stack([model(image[None], training=False)['predictions'][0]
                     .numpy() for image in val_images])

  def report(predictions, reference):
    matrix = metrics.ConfusionMatrix(results['options'].num_classes)
    agree = total = 0
    for pred, ref, label in zip(predictions, reference, val_labels):
      h, w = label.shape
      matrix.update(label, pred[:h, :w])
      agree += int(np.sum(pred[:h, :w] == ref[:h, :w]))
      total += h * w
    return {'miou': metrics.mean_iou(matrix.matrix), 'agreement': agree / total}

  out = {}
  float_labels = None
  for kind, logdir, options in (('ptq', float_logdir, results['options']),
                                ('qat', qat_logdir, qat['options'])):
    folder = os.path.join(workdir, 'export_int8_' + kind)
    config = configs.ExportConfig(
        checkpoint_path=logdir, export_path=folder, crop_size=EVAL_CROP,
        tflite=True, tflite_quantize='int8',
        representative_images=calibration,
        num_representative_images=num_calibration).validate()
    start = time.time()
    export.export_tflite(config, options)
    seconds[kind + '_export'] = time.time() - start
    model = export.tflite_model(options, logdir, EVAL_CROP)
    path = os.path.join(folder, 'model_int8.tflite')
    with open(path, 'rb') as f:
      int8 = f.read()
    if float_labels is None:
      float_labels = labels_of(model)
      out['float'] = report(float_labels, float_labels)
      out['float_tflite_bytes'] = os.path.getsize(
          os.path.join(folder, 'model.tflite'))
    int8_labels = export.run_tflite(int8, val_images)
    entry = report(int8_labels, float_labels)
    entry.update(bytes=len(int8), path=path)
    if kind == 'qat':
      # The model as trained, fake-quant ops on, in TensorFlow: the int8
      # model should give what quantization-aware training optimised.
      simulated_labels = labels_of(model)
      entry['simulated'] = report(simulated_labels, float_labels)
      entry['agreement_with_simulated'] = report(
          int8_labels, simulated_labels)['agreement']
      # The same weights in float (fake-quant ops off): what quantizing
      # them changes, apart from what the fine-tuning changed.
      twin = export.tflite_model(options.replace(quantize_delay_step=-1),
                                 logdir, EVAL_CROP)
      twin_labels = labels_of(twin)
      entry['float_twin'] = report(twin_labels, float_labels)
      entry['agreement_with_float_twin'] = report(
          int8_labels, twin_labels)['agreement']
    out[kind] = entry
  seconds['total'] = time.time() - began
  out['seconds'] = seconds
  return out
