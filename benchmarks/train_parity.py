r"""T1: this project's train.py path next to the original's three steps.

  python benchmarks/train_parity.py

Runs the three steps of `tests/test_train_parity.py` (flags -> config ->
`trainer.train` from the make_checkpoint.py seed-0 weights on T1's fixed
batch) and prints, per step, the original's and this project's total,
cross-entropy and regularization losses and learning rates, then the largest
difference over every variable and Momentum slot after step 3 (relative to
the tensor's max |x|, on the fingerprints kept in tests/data/train_vectors).
"""
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'tests'))
import reference  # pylint: disable=g-import-not-at-top,wrong-import-position
import training_vectors as t1  # pylint: disable=g-import-not-at-top,wrong-import-position

from deeplab.core import names  # pylint: disable=g-import-not-at-top,wrong-import-position
from deeplab.training import trainer  # pylint: disable=g-import-not-at-top,wrong-import-position


def main():
  sidecar, arrays = t1.t1()
  with tempfile.TemporaryDirectory() as root:
    checkpoint = reference.write_reference_checkpoint(
        'mobilenet_v2_modelzoo', os.path.join(root, 'init'))
    config, options = t1.config_and_options(t1.t1_flags(
        checkpoint, os.path.join(root, 'train')))
    result = trainer.train(config, options, max_steps_this_run=3,
                           input_fn=t1.fixed_batches(arrays))
  print('step | total loss: original / ours | cross-entropy | '
        'regularization | learning rate')
  for ours, ref in zip(result['steps'], sidecar['per_step']):
    print('%d | %.7f / %.7f | %.7f / %.7f | %.8f / %.8f | %.9g / %.9g' % (
        ref['step'], ref['total_loss'], ours['total_loss'],
        ref['cross_entropy_loss'], ours['loss/merged_logits'],
        ref['regularization_loss'], ours['regularization_loss'],
        ref['learning_rate'], ours['learning_rate']))
  variables = {n: v.numpy() for n, v in names.tf1_variable_map(
      result['model']).items()}
  momentum = {n + '/Momentum': v.numpy() for n, v in t1.slots(
      result['optimizer'], names.tf1_variable_map(result['model'])).items()}
  for title, tensors in (('variables', variables),
                         ('Momentum slots', momentum)):
    errors = t1.fingerprint_errors('state/', tensors, arrays, 0.0)
    worst = max(errors, key=lambda e: e[1])
    print('%d %s: largest sampled difference %.3g of the tensor\'s max |x| '
          '(%s)' % (len(tensors), title, worst[1], worst[0]))
    head = [e for e in errors if not e[0].startswith('MobilenetV2/')]
    if head and title != 'variables':
      worst = max(head, key=lambda e: e[1])
      print('  head (ASPP, logits) only: %.3g (%s)' % (worst[1], worst[0]))
  print('BatchNorm moving statistics unchanged:', all(
      np.array_equal(v, reference.deterministic_value(n, v.shape))
      for n, v in variables.items() if 'moving_' in n))


if __name__ == '__main__':
  main()
