"""A one-line progress report on the console (images, tiles, checks)."""
import sys
import time


class Progress:
  """A one-line progress report on stderr, at most every `interval` s."""

  def __init__(self, total, label, interval=2.0, stream=None, unit='images'):
    self.total, self.label, self.interval = total, label, interval
    self.unit = unit
    self.stream = stream or sys.stderr
    self.start = self.last = time.time()
    self.done = -1

  def update(self, done, force=False):
    now = time.time()
    if done == self.done or (not force and now - self.last < self.interval
                             and done < self.total):
      return
    self.done = done
    self.last = now
    rate = done / max(now - self.start, 1e-9)
    eta = (self.total - done) / rate if rate > 0 else 0
    self.stream.write('\r>> %s: %d/%d %s (%.1f/s, ETA %ds)' % (
        self.label, done, self.total, self.unit, rate, eta))
    if done >= self.total:
      self.stream.write('\n')
    self.stream.flush()
