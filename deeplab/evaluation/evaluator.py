"""The evaluation job: the original's eval.py.

`evaluate_checkpoint` runs the evaluation graph (eval scales, flips) over a
split and returns the metrics; `run` evaluates once or keeps polling a
checkpoint directory, writing TensorBoard scalars and JSON files:
  <eval_logdir>/metrics_latest.json
  <eval_logdir>/metrics-<global step>.json
  <eval_logdir>/confusion_matrix-<global step>.npy
"""
import os
import time

import numpy as np
import tensorflow as tf
from absl import logging

from deeplab import checkpoint_state
from deeplab import checkpoints
from deeplab import files
from deeplab import inference
from deeplab import runtime
from deeplab.data import data_generator
from deeplab.evaluation import metrics


def predictions_tag(eval_scales, add_flipped_images):
  """The original's summary tag, e.g. 'miou_1.00' or 'miou_0.50_1.00_flipped'."""
  tag = 'miou_' + '_'.join('%.2f' % s for s in eval_scales)
  return tag + ('_flipped' if add_flipped_images else '')


def _global_step(prefix):
  """The training step of a checkpoint (from its name or its content)."""
  base = os.path.basename(prefix)
  if '-' in base and base.rsplit('-', 1)[1].isdigit():
    return int(base.rsplit('-', 1)[1])
  reader = tf.train.load_checkpoint(prefix)
  for key in ('global_step', 'global_step/.ATTRIBUTES/VARIABLE_VALUE'):
    if reader.has_tensor(key):
      return int(reader.get_tensor(key))
  return 0


def make_dataset(config, model_variant):
  return data_generator.Dataset.from_config(
      config, config.eval_split, config.eval_crop_size,
      config.eval_batch_size, model_variant, should_shuffle=False,
      should_repeat=False, require_labels=True)


def evaluate_checkpoint(config, options, checkpoint, cache=None,
                        progress=True, dataset=None):
  """Evaluates one checkpoint on the split.

  Args:
    config: `configs.EvalConfig`.
    options: `ModelOptions` (classes and crop are set from the data/config).
    checkpoint: Checkpoint prefix or directory.
    cache: A dict kept across the checkpoints of one run: the graphs are
      built once and refilled (`runtime.load`).
    progress: Log a progress line.
    dataset: The split's `Dataset` (made from the config when None).

  Returns:
    dict of metrics (see `metrics.summarize`), plus 'trimap' (width ->
    metrics) when asked, 'confusion_matrix', 'checkpoint', 'global_step',
    'num_images', 'seconds'.
  """
  dataset = dataset or make_dataset(config, options.model_variant)
  checkpoints.check_num_classes(checkpoint, dataset.num_classes,
                                config.dataset)
  options = options.for_data(dataset.num_classes, config.eval_crop_size)
  num_classes = options.num_classes
  prefix = checkpoints.resolve_checkpoint(checkpoint)
  if config.inference.tile_size:  # Tiles and crops of any size.
    options = options.replace(crop_size=None)
  runner, _ = runtime.load(options, prefix, config.inference, cache)
  predict = inference.batch_predictor(runner, options.model_variant)
  total = metrics.ConfusionMatrix(num_classes, dataset.ignore_label)
  bands = {w: metrics.ConfusionMatrix(num_classes, dataset.ignore_label)
           for w in config.trimap_widths}
  split_size = dataset.descriptor.splits_to_sizes.get(config.eval_split) if (
      dataset.descriptor) else None
  start = last_log = time.time()
  count = 0
  for batch in dataset:
    predictions = predict(batch['image'])
    labels = batch['label'].numpy()[..., 0]
    names = batch['image_name'].numpy()
    for i in range(labels.shape[0]):
      name = names[i].decode('utf-8', 'replace')
      total.update(labels[i], predictions[i], name=name)
      for width, matrix in bands.items():
        matrix.update(labels[i], predictions[i],
                      mask=metrics.trimap_band(labels[i], width,
                                               dataset.ignore_label),
                      name=name)
    count += labels.shape[0]
    now = time.time()
    if progress and (now - last_log > 10 or count == split_size):
      rate = count / max(now - start, 1e-9)
      logging.info('eval %d%s images, %.1f images/s, mIoU so far %.4f',
                   count, '/%d' % split_size if split_size else '', rate,
                   metrics.mean_iou(total.matrix))
      last_log = now
    if config.max_images and count >= config.max_images:
      break
  if count == 0:
    raise ValueError('Split %r of %s has no images.' % (config.eval_split,
                                                        config.dataset_dir))
  if not total.matrix.sum():
    raise data_generator.DataError(
        'Split %r of %s has no labelled pixel in its %d images (every label '
        'is the ignore label %d): its mIoU would mean nothing.'
        % (config.eval_split, config.dataset_dir, count,
           dataset.ignore_label))
  result = metrics.summarize(total.matrix)
  result.update({
      'confusion_matrix': total.matrix.tolist(),
      'checkpoint': prefix,
      'global_step': _global_step(prefix),
      'num_images': count,
      'seconds': time.time() - start,
      'eval_scales': list(config.inference.eval_scales),
      'add_flipped_images': config.inference.add_flipped_images,
      'model_options': options.to_dict(),
      'class_names': (list(dataset.descriptor.class_names)
                      if dataset.descriptor and
                      getattr(dataset.descriptor, 'class_names', None)
                      else None),
  })
  if bands:
    result['trimap'] = {str(w): metrics.summarize(m.matrix)
                        for w, m in bands.items()}
  return result


def write_results(result, eval_logdir, writer=None):
  """metrics-<step>.json, metrics_latest.json, the confusion matrix, and
  TensorBoard scalars under the original's tags."""
  os.makedirs(eval_logdir, exist_ok=True)
  step = result['global_step']
  files.write_json(os.path.join(eval_logdir, 'metrics-%d.json' % step),
                   result, indent=1)
  files.write_json(os.path.join(eval_logdir, 'metrics_latest.json'), result,
                   indent=1)
  files.save_npy(os.path.join(eval_logdir, 'confusion_matrix-%d.npy' % step),
                 np.asarray(result['confusion_matrix'], np.int64))
  if writer is not None:
    tag = predictions_tag(result['eval_scales'], result['add_flipped_images'])
    with writer.as_default(step=step):
      tf.summary.scalar('eval/%s_overall' % tag, result['miou'])
      names = result.get('class_names') or []
      for c, iou in enumerate(result['per_class_iou']):
        if iou is not None:
          tf.summary.scalar('eval/%s_class_%d' % (tag, c), iou)
          if c < len(names):  # The same figure under the class's name.
            tf.summary.scalar('eval/class_iou/%s' % names[c], iou)
      tf.summary.scalar('eval/pixel_accuracy', result['pixel_accuracy'])
      for width, values in result.get('trimap', {}).items():
        tf.summary.scalar('eval/trimap_%s_miou' % width, values['miou'])
    writer.flush()


def format_result(result):
  """A few human-readable lines."""
  lines = ['%s (step %d, %d images): mIoU %.4f, pixel accuracy %.4f, mean '
           'class accuracy %.4f, fwIoU %.4f' % (
               result['checkpoint'], result['global_step'],
               result['num_images'], result['miou'],
               result['pixel_accuracy'], result['mean_class_accuracy'],
               result['frequency_weighted_iou'])]
  names = result.get('class_names') or [str(i) for i in range(
      len(result['per_class_iou']))]
  lines.append('  per-class IoU: ' + ', '.join(
      '%s %s' % (n, 'n/a' if v is None else '%.3f' % v)
      for n, v in zip(names, result['per_class_iou'])))
  for width, values in sorted(result.get('trimap', {}).items(),
                              key=lambda kv: int(kv[0])):
    lines.append('  trimap band %s px: mIoU %.4f (%d pixels)'
                 % (width, values['miou'], values['num_pixels']))
  return '\n'.join(lines)


def run(config, options):
  """Evaluates once (max_number_of_evaluations=1) or polls for checkpoints.

  Returns:
    The list of results, one per evaluated checkpoint.
  """
  config.validate()
  eval_logdir = config.eval_logdir or os.path.join(config.checkpoint_dir,
                                                   'eval')
  writer = tf.summary.create_file_writer(eval_logdir)
  state = {}

  def evaluate(path):
    if 'options' not in state:
      # Beside a training job: options (and the model) once its first
      # checkpoint, and so its model_options.json, exist.
      run_options = checkpoint_state.resolve_options(options)
      state['options'] = run_options
      state['dataset'] = make_dataset(config, run_options.model_variant)
    result = evaluate_checkpoint(config, state['options'], path,
                                 cache=state.setdefault('graphs', {}),
                                 dataset=state['dataset'])
    write_results(result, eval_logdir, writer)
    print(format_result(result), flush=True)
    warn_if_degenerate(result)
    return result

  return checkpoint_state.for_each_checkpoint(
      config.checkpoint_dir, evaluate, config.max_number_of_evaluations,
      config.eval_interval_secs, '--max_number_of_evaluations',
      finished=checkpoint_state.run_finished)


def warn_if_degenerate(result):
  """Says why every pixel got the same class, when it did."""
  matrix = np.asarray(result['confusion_matrix'])
  predicted = np.flatnonzero(matrix.sum(axis=0))
  if len(predicted) == 1 and np.count_nonzero(matrix.sum(axis=1)) > 1:
    logging.warning(
        'Every pixel was predicted as class %d.%s', predicted[0],
        checkpoints.DEGENERATE_ADVICE)
