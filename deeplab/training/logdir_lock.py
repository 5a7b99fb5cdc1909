"""One training job per logdir: a lock file held while a job trains there.

`<train_logdir>/.train.lock` is created by the job and locked with
`fcntl.flock` for the job's lifetime; it holds who the job is (host, pid,
start time, command line). A second job on the same logdir finds the lock
held and stops, naming the holder. A job that was killed releases its
`flock` with its process, so the next job detects the lock as stale, says
whose it was, and takes it over.

On file systems where `flock` is not shared between machines (some network
file systems), and for a job of another host name (a container), the
holder's heartbeat decides: the holding job rewrites the lock's time stamp
as it trains, and such a lock is stale once its heartbeat is older than
`STALE_SECS`. A user who knows that job is dead takes its lock over at once
(`take_over`, `--take_over_lock`); a lock that a live process of this
machine holds (`flock`) is never taken.
"""
import errno
import json
import os
import socket
import sys
import time

try:
  import fcntl
except ImportError:  # Not on POSIX: heartbeat only.
  fcntl = None

from deeplab import rundir  # pylint: disable=g-bad-import-order
# A lock from another host whose heartbeat is older than this is stale.
STALE_SECS = 600
HEARTBEAT_SECS = 30


class LogdirLockedError(RuntimeError):
  """Another live job trains in the logdir (the message names it)."""


def _describe(info):
  return 'pid %s on %s, started %s (%s)' % (
      info.get('pid'), info.get('host'),
      time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(
          info.get('started', 0))), info.get('command', '?'))


def _clock(when):
  return time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(when))


def _duration(seconds):
  seconds = max(0, int(seconds))
  return ('%d s' % seconds if seconds < 120 else '%d min' % (seconds // 60))


def _read(path):
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError):
    return {}


class LogdirLock:
  """The lock of one training logdir (a context manager).

  Attributes:
    path: The lock file.
    taken_over: What the stale lock that was taken over said, or None.
  """

  def __init__(self, logdir, take_over=False):
    self.path = os.path.join(logdir, rundir.LOCK_FILE)
    self.take_over = take_over
    self.fd = None
    self.taken_over = None
    self._last_beat = 0.0

  def acquire(self):
    """Takes the lock, or raises `LogdirLockedError` naming its holder."""
    while True:
      fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
      try:
        if fcntl is not None:
          try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
          except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
              raise
            raise LogdirLockedError(self._held_message(_read(self.path),
                                                       live=True))
        # The file may have been removed by its releasing holder between our
        # open and flock: then the lock is on a dead inode; start again.
        try:
          same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
          same = False
        if not same:
          os.close(fd)
          continue
      except BaseException:
        if fd is not None:
          try:
            os.close(fd)
          except OSError:
            pass
        raise
      break
    previous = _read(self.path)
    if previous and previous.get('pid') != os.getpid():
      if fcntl is None or previous.get('host') != socket.gethostname():
        # flock says nothing across machines: trust a fresh heartbeat.
        if time.time() - previous.get('heartbeat', 0) < STALE_SECS and not (
            previous.get('host') == socket.gethostname() and
            not _alive(previous.get('pid'))) and not self.take_over:
          os.close(fd)
          raise LogdirLockedError(self._held_message(previous))
      self.taken_over = previous
    self.fd = fd
    self._write()
    return self

  def _held_message(self, info, live=False):
    """Who holds the lock and what to do: with a live holder on this
    machine, wait or stop it; with a heartbeat, when the lock goes stale by
    itself and how to take it over now."""
    text = ('Another training job holds %s: %s. Two jobs on one '
            '--train_logdir would overwrite each other\'s checkpoints. '
            % (self.path, _describe(info) if info else 'a running job'))
    if live or not info.get('heartbeat'):
      return text + ('A running process of this machine holds it: wait for '
                     'it, stop it, or train in another --train_logdir.')
    beat = info['heartbeat']
    return text + (
        'Its last heartbeat was %s (%s ago); the lock goes stale at %s, and '
        'a job started then takes it over by itself. If that job is dead '
        '(its machine or container stopped), take the lock over now: run '
        'the same command with --take_over_lock; else wait for it, or '
        'train in another --train_logdir.' % (
            _clock(beat), _duration(time.time() - beat),
            _clock(beat + STALE_SECS)))

  def _write(self):
    now = time.time()
    info = {'pid': os.getpid(), 'host': socket.gethostname(),
            'started': getattr(self, '_started', now), 'heartbeat': now,
            'command': ' '.join(sys.argv)[:500]}
    self._started = info['started']
    data = json.dumps(info).encode()
    os.ftruncate(self.fd, 0)
    os.pwrite(self.fd, data, 0)
    self._last_beat = now

  def heartbeat(self):
    """Refreshes the time stamp (cheap; at most every `HEARTBEAT_SECS`)."""
    if self.fd is not None and time.time() - self._last_beat >= HEARTBEAT_SECS:
      self._write()

  def release(self):
    """Removes the lock file and releases the lock."""
    if self.fd is None:
      return
    try:
      if _read(self.path).get('pid') == os.getpid():
        os.remove(self.path)
    except OSError:
      pass
    os.close(self.fd)  # Closing releases the flock.
    self.fd = None

  def __enter__(self):
    return self.acquire()

  def __exit__(self, *exc):
    self.release()
    return False


def _alive(pid):
  try:
    os.kill(int(pid), 0)
  except (OSError, TypeError, ValueError) as e:
    return isinstance(e, PermissionError)
  return True
