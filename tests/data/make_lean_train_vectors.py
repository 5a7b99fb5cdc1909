"""Writes tests/data/train_vectors/ from the original's training vectors.

  python tests/data/make_lean_train_vectors.py ../shared/reference/train_vectors

The full T1 files (40 MB: every variable, slot and gradient) stay outside the
repository. The lean copy keeps, for every tensor, its scale (max |x|), the
values at up to SAMPLES fixed positions and PROJECTIONS sums of all its
elements with fixed random signs: enough to check a reimplementation to
1e-5 of each tensor's scale without shipping the tensors. Positions and signs
come from `fingerprint_plan` (crc32 of the tensor name), which the tests use
too. Logits, inputs and the sidecar JSON are copied whole.
"""
import os
import shutil
import sys
import zlib

import numpy as np

SAMPLES = 512
PROJECTIONS = 4
NAME = 'T1_mobilenet_v2_zoo_3steps_nodropout'
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'train_vectors')


def fingerprint_plan(key, size):
  """(sample positions, [PROJECTIONS, size] signs) of a tensor (flattened)."""
  rng = np.random.RandomState(zlib.crc32(key.encode('utf-8')) & 0xFFFFFFFF)
  positions = (np.arange(size) if size <= SAMPLES else
               np.sort(rng.choice(size, SAMPLES, replace=False)))
  signs = rng.randint(0, 2, size=(PROJECTIONS, size)).astype(np.float64) * 2 - 1
  return positions, signs


def fingerprint(key, value):
  flat = np.asarray(value, np.float64).reshape(-1)
  positions, signs = fingerprint_plan(key, flat.size)
  return {'scale/' + key: np.abs(flat).max() if flat.size else 0.0,
          'sample/' + key: flat[positions],
          'proj/' + key: signs @ flat}


def main(source):
  os.makedirs(OUT, exist_ok=True)
  state = np.load(os.path.join(source, NAME + '.npz'))
  grads = np.load(os.path.join(source, NAME + '_grads.npz'))
  lean = {}
  for key in state.files:
    if key.startswith('_'):
      lean[key] = state[key]  # Inputs and logits, whole.
    elif key != 'global_step':
      lean.update(fingerprint('state/' + key, state[key]))
  lean['global_step'] = state['global_step']
  for key in grads.files:
    if key.startswith('step0/'):
      lean.update(fingerprint('grad/' + key, grads[key]))
  np.savez_compressed(os.path.join(OUT, NAME + '_lean.npz'), **lean)
  shutil.copy(os.path.join(source, NAME + '.json'), OUT)
  print('wrote', OUT, len(lean), 'arrays')


if __name__ == '__main__':
  main(sys.argv[1])
