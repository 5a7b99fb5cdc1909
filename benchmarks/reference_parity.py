r"""Parity with the original on every reference vector, through the loader.

  python benchmarks/reference_parity.py [--vectors=P1,P2,...]

For each vector: regenerate the seed-0 TF1 checkpoint from its manifest,
load it with `deeplab.checkpoints.load_weights` (via `deeplab.inference`), run
the original's evaluation path and print the max |logits - reference|, the
tolerance (1e-3 x std of the reference logits) and the mismatching pixels
(all, and outside near-ties whose reference top-2 margin is < 1e-4).
"""
import os
import sys
import tempfile

from absl import app
from absl import flags
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'tests'))
import reference  # pylint: disable=g-import-not-at-top,wrong-import-position

from deeplab import inference  # pylint: disable=g-import-not-at-top

flags.DEFINE_list('vectors', list(reference.VECTOR_IDS), 'Vectors to check.')
FLAGS = flags.FLAGS


def main(unused_argv):
  with tempfile.TemporaryDirectory() as root:
    for vector_id in FLAGS.vectors:
      arrays, sidecar = reference.load_vector(vector_id)
      manifest = reference.vector_manifest_name(sidecar)
      prefix = reference.write_reference_checkpoint(
          manifest, os.path.join(root, manifest))
      options = reference.options_from_build_kwargs(sidecar['variant'],
                                                    sidecar['build_kwargs'])
      result = inference.predict_image(arrays['image'], options, prefix)
      ref = arrays['logits']
      err = float(np.abs(result['logits'] - ref).max())
      ties = reference.near_tie_mask(ref, tuple(sidecar['crop_size']),
                                     arrays['image'].shape[:2])
      mismatch = result['predictions'] != arrays['predictions']
      print('%s %-20s max_err %.3g  tol %.3g  (%.4f of tol)  mismatching '
            'pixels %d (outside near-ties %d)' % (
                vector_id, sidecar['variant'], err, 1e-3 * ref.std(),
                err / (1e-3 * ref.std()), int(mismatch.sum()),
                int((mismatch & ~ties).sum())))


if __name__ == '__main__':
  app.run(main)
