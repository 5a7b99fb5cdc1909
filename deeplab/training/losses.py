"""The training loss, as the original's `train_utils` computes it.

Per scale (the merged logits, and each pyramid scale when `image_pyramid`
is used): softmax cross-entropy per pixel, weighted per class
(`label_weights`) and zero on ignored pixels, then either the mean over the
non-ignored pixels or, for hard pixel mining, the mean of the top-k pixel
losses. Weight decay is slim's L2 regulariser on the weights the original
regularises.

Under `tf.distribute` the per-pixel normaliser is summed over replicas, so
the sum of the replicas' losses equals the loss of one replica on the whole
global batch (the original normalised per clone instead, which differs only
when clones see different numbers of labelled pixels).
"""
import tensorflow as tf

from deeplab.core import names
from deeplab.core import ops


def _global_sum(value):
  """Sums a scalar over the replicas of the current replica context."""
  ctx = tf.distribute.get_replica_context()
  if ctx is None or ctx.num_replicas_in_sync == 1:
    return value
  return ctx.all_reduce(tf.distribute.ReduceOp.SUM, value)


def _div_maybe_zero(total, count):
  # As the original: zero loss (not NaN) when a batch has no labelled pixel.
  return tf.cast(count > 0, tf.float32) * total / tf.maximum(1e-5, count)


def label_weight_mask(labels, ignore_label, num_classes, label_weights=None):
  """Per-pixel weights: `label_weights[label]`, and 0 where ignored.

  Args:
    labels: int tensor of flat labels.
    ignore_label: Label that gets weight 0.
    num_classes: Number of classes (length of `label_weights`).
    label_weights: None (all 1), a float, or one float per class.

  Raises:
    ValueError: If `label_weights` does not have `num_classes` entries.
  """
  not_ignored = tf.cast(tf.not_equal(labels, ignore_label), tf.float32)
  if label_weights is None:
    return not_ignored
  if isinstance(label_weights, (int, float)):
    return not_ignored * float(label_weights)
  label_weights = [float(w) for w in label_weights]
  if len(label_weights) != num_classes:
    raise ValueError('--label_weights has %d values, the dataset has %d '
                     'classes.' % (len(label_weights), num_classes))
  # Ignored labels index out of range: clip them (their weight is 0 anyway).
  safe = tf.clip_by_value(labels, 0, num_classes - 1)
  return tf.gather(tf.constant(label_weights, tf.float32), safe) * not_ignored


def top_k_fraction(top_k_percent_pixels, hard_example_mining_step, step):
  """The share of pixels kept: ramps from 1 to `top_k_percent_pixels`."""
  if hard_example_mining_step == 0:
    return tf.constant(float(top_k_percent_pixels), tf.float32)
  ratio = tf.minimum(1.0, tf.cast(step, tf.float32) / hard_example_mining_step)
  return ratio * top_k_percent_pixels + (1.0 - ratio)


def softmax_cross_entropy(logits, labels, num_classes, ignore_label,
                          label_weights=None, upsample_logits=True,
                          top_k_percent_pixels=1.0, hard_example_mining_step=0,
                          step=0):
  """The loss of one scale's logits.

  Args:
    logits: [B, h, w, C] logits.
    labels: [B, H, W, 1] (or [B, H, W]) integer labels.
    num_classes: C.
    ignore_label: Label excluded from the loss and its normaliser.
    label_weights: None, a float, or one weight per class.
    upsample_logits: Resize logits to the labels (bilinear, align corners);
      otherwise labels are resized to the logits (nearest, align corners).
    top_k_percent_pixels: Keep only this share of the hardest pixels.
    hard_example_mining_step: Steps over which the share ramps down from 1.
    step: The current training step (for the ramp).

  Returns:
    Scalar float32 loss (this replica's share under tf.distribute).
  """
  logits = tf.cast(logits, tf.float32)
  if labels.shape.rank == 3:
    labels = labels[..., None]
  if upsample_logits:
    logits = ops.resize_bilinear(logits, tf.shape(labels)[1:3])
  else:
    labels = ops.resize_nearest(labels, tf.shape(logits)[1:3])
  labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
  logits = tf.reshape(logits, [-1, num_classes])
  weights = label_weight_mask(labels, ignore_label, num_classes, label_weights)
  keep = tf.cast(tf.not_equal(labels, ignore_label), tf.float32)
  one_hot = tf.one_hot(tf.where(keep > 0, labels, 0), num_classes)
  pixel_losses = tf.nn.softmax_cross_entropy_with_logits(
      labels=tf.stop_gradient(one_hot), logits=logits)
  weighted = pixel_losses * weights
  if top_k_percent_pixels == 1.0:
    return _div_maybe_zero(tf.reduce_sum(weighted),
                           _global_sum(tf.reduce_sum(keep)))
  num_pixels = tf.cast(tf.shape(logits)[0], tf.float32)
  fraction = top_k_fraction(top_k_percent_pixels, hard_example_mining_step,
                            step)
  k = tf.cast(fraction * num_pixels, tf.int32)
  top_k_losses, _ = tf.nn.top_k(weighted, k=k, sorted=True)
  # As the original: the normaliser counts the kept pixels with a non-zero
  # loss (ignored pixels have zero weight, so they drop out here).
  present = tf.reduce_sum(tf.cast(tf.not_equal(top_k_losses, 0.0),
                                  tf.float32))
  return _div_maybe_zero(tf.reduce_sum(top_k_losses), _global_sum(present))


def scale_losses(scales_to_logits, labels, **kwargs):
  """One loss per scale (the original's `..._loss_for_each_scale`).

  Args:
    scales_to_logits: dict scale name -> logits, or one logits tensor.
    labels: The labels.
    **kwargs: Passed to `softmax_cross_entropy`.

  Returns:
    dict scale name -> scalar loss.
  """
  if not isinstance(scales_to_logits, dict):
    scales_to_logits = {'merged_logits': scales_to_logits}
  return {name: softmax_cross_entropy(logits, labels, **kwargs)
          for name, logits in sorted(scales_to_logits.items())}


def regularized_variables(model):
  """The variables the original L2-regularises: conv `weights`.

  slim puts the regulariser on conv2d / pointwise / logits weights; the
  depthwise weights (`depthwise_weights`), BatchNorm parameters and biases
  are not regularised.
  """
  return [var for name, var in sorted(names.tf1_variable_map(model).items())
          if name.endswith('/weights')]


def weight_decay_loss(variables, weight_decay):
  """slim's `l2_regularizer(weight_decay)`: wd * sum(w^2) / 2 over `variables`."""
  if not weight_decay or not variables:
    return tf.constant(0.0, tf.float32)
  return weight_decay * tf.add_n(
      [tf.nn.l2_loss(tf.cast(v, tf.float32)) for v in variables])
