"""Errors every layer raises: an unknown key in a file the project reads,
an optional package that is not installed."""
import difflib


def check_keys(keys, known, source, what='key'):
  """Raises ValueError naming the first of `keys` that is not `known` (in a
  file the project reads: `source`), and the nearest known one; a misspelt
  key must not be dropped without a word."""
  known = list(known)
  for key in keys:
    if key in known:
      continue
    near = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    raise ValueError('%s: unknown %s "%s"%s; the known ones: %s.' % (
        source, what, key, ' (did you mean "%s"?)' % near[0] if near else '',
        ', '.join(sorted(known))))


class MissingExtraError(ImportError):
  """An optional package (an extra: onnx, tflite) is not installed; the
  message says how to install it."""
