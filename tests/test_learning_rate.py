"""Learning-rate policies against their formulas; gradient multipliers."""
import math

import numpy as np
import pytest
import tensorflow as tf

from deeplab.core import names
from deeplab.training import learning_rate
from deeplab.training import optimizers

STEPS = [0, 1, 5, 9, 10, 11, 57, 99, 100, 150]


def _rates(**kw):
  schedule = learning_rate.DeepLabLearningRate(**kw)
  return [float(schedule(s)) for s in STEPS]


def test_poly_with_slow_start():
  got = _rates(learning_policy='poly', base_learning_rate=0.007,
               training_number_of_steps=100, learning_power=0.9,
               slow_start_step=10, slow_start_learning_rate=1e-4)
  want = [1e-4 if s < 10 else
          0.007 * (1 - min(s - 10, 90) / 90) ** 0.9 for s in STEPS]
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-9)


def test_poly_with_end_rate_and_decay_steps():
  got = _rates(learning_policy='poly', base_learning_rate=0.01,
               training_number_of_steps=100, decay_steps=50.0,
               end_learning_rate=0.001, learning_power=2.0)
  want = [(0.01 - 0.001) * (1 - min(s, 50) / 50) ** 2 + 0.001 for s in STEPS]
  np.testing.assert_allclose(got, want, rtol=1e-5)


def test_step_policy():
  got = _rates(learning_policy='step', base_learning_rate=0.1,
               learning_rate_decay_step=10, learning_rate_decay_factor=0.5,
               training_number_of_steps=100)
  want = [0.1 * 0.5 ** (s // 10) for s in STEPS]
  np.testing.assert_allclose(got, want, rtol=1e-5)


def test_cosine_policy_with_linear_burn_in():
  got = _rates(learning_policy='cosine', base_learning_rate=0.02,
               training_number_of_steps=100, slow_start_step=10,
               slow_start_learning_rate=0.002, slow_start_burnin_type='linear')
  want = [0.002 + (0.02 - 0.002) * s / 10 if s < 10 else
          0.02 * 0.5 * (1 + math.cos(math.pi * min(s - 10, 90) / 90))
          for s in STEPS]
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-9)


def test_bad_policy_names_the_flag():
  with pytest.raises(ValueError, match='--learning_policy'):
    learning_rate.DeepLabLearningRate(learning_policy='exp')


def test_gradient_multipliers_follow_the_original():
  variables = ['xception_65/entry_flow/conv1_1/weights', 'aspp0/weights',
               'aspp1_depthwise/depthwise_weights', 'logits/semantic/weights',
               'logits/semantic/biases', 'decoder/feature_projection0/weights']
  all_last = learning_rate.gradient_multipliers(
      variables, names.get_extra_layer_scopes(False), 10.0)
  assert all_last == {'aspp0/weights': 10.0,
                      'aspp1_depthwise/depthwise_weights': 10.0,
                      'logits/semantic/weights': 10.0,
                      'logits/semantic/biases': 20.0,
                      'decoder/feature_projection0/weights': 10.0}
  logits_only = learning_rate.gradient_multipliers(
      variables, names.get_extra_layer_scopes(True), 1.0)
  # Biases are doubled even with multiplier 1 (the original always does).
  assert logits_only == {'logits/semantic/biases': 2.0}


def test_momentum_is_the_tf1_update_rule():
  var = tf.Variable([1.0, -2.0])
  rates = [0.1, 0.05, 0.02]
  opt = optimizers.Momentum(learning_rate=0.1, momentum=0.9)
  grads = [np.array([0.5, 1.0]), np.array([-1.0, 0.2]), np.array([0.3, 0.3])]
  w, acc = np.array([1.0, -2.0]), np.zeros(2)
  for lr, g in zip(rates, grads):
    opt.learning_rate = lr
    opt.apply_gradients([(tf.constant(g, tf.float32), var)])
    acc = 0.9 * acc + g
    w = w - lr * acc
  np.testing.assert_allclose(var.numpy(), w, rtol=1e-6)
