"""Learning-rate policies and gradient multipliers of the original.

  poly:   base * (1 - min(s, D) / D) ** power (+ end rate), D = decay steps
  step:   base * factor ** floor(s / decay_step)
  cosine: base * 0.5 * (1 + cos(pi * min(s, D) / D)), D = steps - slow start
with s = max(step - slow_start_step, 0); during the first `slow_start_step`
steps the rate is `slow_start_learning_rate` (or, with the linear burn-in,
rises from it to the base rate).
"""
import math

import keras
import tensorflow as tf

from deeplab import configs


class DeepLabLearningRate(keras.optimizers.schedules.LearningRateSchedule):
  """The original's `get_model_learning_rate` as a Keras schedule."""

  def __init__(self, learning_policy='poly', base_learning_rate=1e-4,
               learning_rate_decay_step=2000, learning_rate_decay_factor=0.1,
               training_number_of_steps=30000, learning_power=0.9,
               slow_start_step=0, slow_start_learning_rate=1e-4,
               slow_start_burnin_type='none', decay_steps=0.0,
               end_learning_rate=0.0):
    if learning_policy not in configs.LEARNING_POLICIES:
      raise ValueError('--learning_policy must be one of %s, got %r.'
                       % (', '.join(configs.LEARNING_POLICIES),
                          learning_policy))
    if slow_start_burnin_type not in ('none', 'linear'):
      raise ValueError('--slow_start_burnin_type must be none or linear, '
                       'got %r.' % slow_start_burnin_type)
    if training_number_of_steps <= slow_start_step and learning_policy in (
        'poly', 'cosine') and not decay_steps:
      raise ValueError('--training_number_of_steps (%d) must exceed '
                       '--slow_start_step (%d).' % (training_number_of_steps,
                                                    slow_start_step))
    self.learning_policy = learning_policy
    self.base_learning_rate = float(base_learning_rate)
    self.learning_rate_decay_step = int(learning_rate_decay_step)
    self.learning_rate_decay_factor = float(learning_rate_decay_factor)
    self.training_number_of_steps = int(training_number_of_steps)
    self.learning_power = float(learning_power)
    self.slow_start_step = int(slow_start_step)
    self.slow_start_learning_rate = float(slow_start_learning_rate)
    self.slow_start_burnin_type = slow_start_burnin_type
    self.decay_steps = float(decay_steps) or float(
        self.training_number_of_steps - self.slow_start_step)
    self.end_learning_rate = float(end_learning_rate)

  def __call__(self, step):
    step = tf.cast(step, tf.float32)
    adjusted = tf.maximum(step - self.slow_start_step, 0.0)
    base = self.base_learning_rate
    if self.learning_policy == 'step':
      rate = base * self.learning_rate_decay_factor ** tf.floor(
          adjusted / self.learning_rate_decay_step)
    elif self.learning_policy == 'poly':
      progress = tf.minimum(adjusted, self.decay_steps) / self.decay_steps
      rate = ((base - self.end_learning_rate) *
              (1.0 - progress) ** self.learning_power + self.end_learning_rate)
    else:
      total = float(self.training_number_of_steps - self.slow_start_step)
      progress = tf.minimum(adjusted, total) / total
      rate = base * 0.5 * (1.0 + tf.cos(math.pi * progress))
    slow = tf.constant(self.slow_start_learning_rate, tf.float32)
    if self.slow_start_burnin_type == 'linear' and self.slow_start_step:
      slow = slow + (base - slow) * step / self.slow_start_step
    return tf.where(step < self.slow_start_step, slow, rate)

  def get_config(self):
    return {k: getattr(self, k) for k in (
        'learning_policy', 'base_learning_rate', 'learning_rate_decay_step',
        'learning_rate_decay_factor', 'training_number_of_steps',
        'learning_power', 'slow_start_step', 'slow_start_learning_rate',
        'slow_start_burnin_type', 'decay_steps', 'end_learning_rate')}


def gradient_multipliers(variable_names, last_layers,
                         last_layer_gradient_multiplier):
  """Original name -> gradient multiplier, as `get_model_gradient_multipliers`.

  Biases get x2 (the original doubles their learning rate, a Caffe habit it
  kept; reproduced so training matches). Variables under a last-layer scope
  get `last_layer_gradient_multiplier` (x2 again for their biases). The match
  is the original's substring test on the variable name.
  """
  multipliers = {}
  for name in variable_names:
    if 'biases' in name:
      multipliers[name] = 2.0
    for layer in last_layers:
      if layer in name:
        multipliers[name] = last_layer_gradient_multiplier * (
            2.0 if 'biases' in name else 1.0)
        break
  return {k: v for k, v in multipliers.items() if v != 1.0}
