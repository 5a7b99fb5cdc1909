"""One training job per logdir: held, refused, stale and taken over."""
import json
import os
import socket
import time

import pytest

import helpers
from deeplab import rundir
from deeplab.training import logdir_lock

_HOLD = '''
import sys, time
from deeplab.training import logdir_lock
with logdir_lock.LogdirLock(sys.argv[1]):
  print('HELD', flush=True)
  time.sleep(120)
'''


def test_a_held_lock_refuses_and_names_its_holder(tmp_path):
  holder = helpers.start(['-c', _HOLD, tmp_path])
  try:
    assert holder.stdout.readline().strip() == 'HELD'
    with pytest.raises(logdir_lock.LogdirLockedError,
                       match='pid %d on %s' % (holder.pid,
                                               socket.gethostname())):
      logdir_lock.LogdirLock(str(tmp_path)).acquire()
    # A live process of this machine holds it: never taken over.
    with pytest.raises(logdir_lock.LogdirLockedError,
                       match='A running process of this machine holds it'):
      logdir_lock.LogdirLock(str(tmp_path), take_over=True).acquire()
  finally:
    holder.kill()
    holder.wait()
  # Killed: its flock went with it; the lock is stale and taken over.
  lock = logdir_lock.LogdirLock(str(tmp_path)).acquire()
  try:
    assert lock.taken_over['pid'] == holder.pid
  finally:
    lock.release()
  assert not os.path.exists(lock.path)


def test_a_lock_from_another_host_counts_until_its_heartbeat_is_old(tmp_path):
  path = tmp_path / rundir.LOCK_FILE
  info = {'pid': 1, 'host': 'elsewhere', 'started': time.time(),
          'heartbeat': time.time(), 'command': 'train.py'}
  path.write_text(json.dumps(info))
  with pytest.raises(logdir_lock.LogdirLockedError, match='on elsewhere') as e:
    logdir_lock.LogdirLock(str(tmp_path)).acquire()
  # When it beat last, when it goes stale, how to take it over now.
  stale = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(
      info['heartbeat'] + logdir_lock.STALE_SECS))
  for words in ('Its last heartbeat was ', 's ago); the lock goes stale at '
                + stale, 'run the same command with --take_over_lock'):
    assert words in str(e.value), str(e.value)
  info['heartbeat'] = time.time() - logdir_lock.STALE_SECS - 1
  path.write_text(json.dumps(info))
  with logdir_lock.LogdirLock(str(tmp_path)) as lock:
    assert lock.taken_over['host'] == 'elsewhere'
    assert json.loads(path.read_text())['pid'] == os.getpid()


def test_a_dead_job_of_another_host_is_taken_over_when_asked(tmp_path):
  path = tmp_path / rundir.LOCK_FILE
  info = {'pid': 1, 'host': 'trainer-ctr-7f3a', 'started': time.time(),
          'heartbeat': time.time(), 'command': 'train.py'}
  path.write_text(json.dumps(info))
  with logdir_lock.LogdirLock(str(tmp_path), take_over=True) as lock:
    assert lock.taken_over['host'] == 'trainer-ctr-7f3a'
    assert json.loads(path.read_text())['pid'] == os.getpid()
  assert not path.exists()
