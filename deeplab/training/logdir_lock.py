"""One training job per logdir: a lock file held while a job trains there.

`<train_logdir>/.train.lock` is created by the job and locked with
`fcntl.flock` for the job's lifetime; it holds who the job is (host, pid,
start time, command line). A second job on the same logdir finds the lock
held and stops, naming the holder. A job that was killed releases its
`flock` with its process, so the next job detects the lock as stale, says
whose it was, and takes it over.

On file systems where `flock` is not shared between machines (some network
file systems), the holder's heartbeat decides: the holding job rewrites the
lock's time stamp as it trains, and a lock from another host is stale once
its heartbeat is older than `STALE_SECS`.
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

  def __init__(self, logdir):
    self.path = os.path.join(logdir, rundir.LOCK_FILE)
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
            raise LogdirLockedError(self._held_message(_read(self.path)))
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
            not _alive(previous.get('pid'))):
          os.close(fd)
          raise LogdirLockedError(self._held_message(previous))
      self.taken_over = previous
    self.fd = fd
    self._write()
    return self

  def _held_message(self, info):
    return ('Another training job holds %s: %s. Two jobs on one '
            '--train_logdir would overwrite each other\'s checkpoints. Wait '
            'for it, stop it, or train in another --train_logdir.'
            % (self.path, _describe(info) if info else 'a running job'))

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
