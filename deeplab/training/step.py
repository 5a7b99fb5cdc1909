"""The training step: the forward pass, the original's losses and gradient
rules, and the optimizer update, compiled once per run."""
import tensorflow as tf

from deeplab.core import names
from deeplab.training import learning_rate as lr_lib
from deeplab.training import losses


def make_train_step(model, optimizer, strategy, global_step, config,
                    num_classes, ignore_label, label_weights=None):
  """The compiled training step: batch dict -> dict of summed losses.

  Forward in training mode, the per-scale losses plus weight decay, the
  gradient (loss-scaled under mixed_float16), the original's gradient
  multipliers, the optimizer update (gradients all-reduced across
  replicas) and the global step increment.
  """
  replicas = strategy.num_replicas_in_sync
  variables = model.trainable_variables
  # Per-variable gradient multipliers (biases x2, last layers), by name.
  name_of = {id(v): n for n, v in names.tf1_variable_map(model).items()}
  multipliers = lr_lib.gradient_multipliers(
      [name_of.get(id(v), v.name) for v in variables],
      names.get_extra_layer_scopes(config.last_layers_contain_logits_only),
      config.last_layer_gradient_multiplier)
  factors = [multipliers.get(name_of.get(id(v), v.name), 1.0)
             for v in variables]
  regularized = losses.regularized_variables(model)
  loss_kwargs = dict(num_classes=num_classes, ignore_label=ignore_label,
                     label_weights=label_weights,
                     upsample_logits=config.upsample_logits,
                     top_k_percent_pixels=config.top_k_percent_pixels,
                     hard_example_mining_step=config.hard_example_mining_step)

  def step_fn(images, labels):
    with tf.GradientTape() as tape:
      outputs = model(images, training=True)
      per_scale = losses.scale_losses(outputs, labels, step=global_step,
                                      **loss_kwargs)
      regularization = losses.weight_decay_loss(
          regularized, config.weight_decay) / replicas
      total = tf.add_n(list(per_scale.values())) + regularization
      scaled = (optimizer.scale_loss(total)
                if config.precision == 'mixed_float16' else total)
    grads = tape.gradient(scaled, variables)
    grads = [g if f == 1.0 or g is None else g * f
             for g, f in zip(grads, factors)]
    optimizer.apply_gradients(zip(grads, variables))
    result = {'total_loss': total, 'regularization_loss': regularization}
    result.update({'loss/' + k: v for k, v in per_scale.items()})
    return result

  @tf.function
  def train_step(batch):
    per_replica = strategy.run(step_fn, args=(batch['image'], batch['label']))
    global_step.assign_add(1)
    return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
            for k, v in per_replica.items()}

  return train_step
