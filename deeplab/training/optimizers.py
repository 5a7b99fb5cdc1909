"""Optimizers with the original's update rules."""
import keras
from keras import ops

from deeplab import configs


class Momentum(keras.optimizers.Optimizer):
  """TF1 `MomentumOptimizer`: a <- m * a + g;  w <- w - lr * a.

  Keras' SGD folds the learning rate into the accumulator
  (a <- m * a - lr * g), which differs whenever the rate changes (poly
  decay changes it every step); this keeps the original's trajectory.
  """

  def __init__(self, learning_rate=0.01, momentum=0.9, name='Momentum',
               **kwargs):
    super().__init__(learning_rate=learning_rate, name=name, **kwargs)
    if not 0.0 <= momentum <= 1.0:
      raise ValueError('--momentum must be in [0, 1], got %r.' % momentum)
    self.momentum = float(momentum)

  def build(self, variables):
    if self.built:
      return
    super().build(variables)
    self.accumulators = self.add_optimizer_variables(variables, 'momentum')

  def update_step(self, gradient, variable, learning_rate):
    learning_rate = ops.cast(learning_rate, variable.dtype)
    gradient = ops.cast(gradient, variable.dtype)
    accumulator = self.accumulators[self._get_variable_index(variable)]
    self.assign(accumulator, ops.add(
        ops.multiply(accumulator, ops.cast(self.momentum, variable.dtype)),
        gradient))
    self.assign_sub(variable, ops.multiply(accumulator, learning_rate))

  def get_config(self):
    config = super().get_config()
    config['momentum'] = self.momentum
    return config


def make_optimizer(name, learning_rate, momentum=0.9, adam_learning_rate=1e-3,
                   adam_epsilon=1e-8):
  """The optimizer of `--optimizer` (momentum with the LR policy, or Adam).

  As in the original, Adam uses the constant `--adam_learning_rate`.
  """
  if name == 'momentum':
    return Momentum(learning_rate=learning_rate, momentum=momentum)
  if name == 'adam':
    return keras.optimizers.Adam(learning_rate=adam_learning_rate,
                                 epsilon=adam_epsilon)
  raise ValueError('--optimizer must be one of %s, got %r.'
                   % (', '.join(configs.OPTIMIZERS), name))
