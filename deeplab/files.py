"""Writing files the house way: only what the job owns, atomically.

Every file the project writes goes to a temporary name beside its target and
is renamed into place, so a killed or failed job leaves the previous file
(or nothing), never half of one. A folder that replaces an existing one (an
export) is swapped in only when the existing one is recognisably this
project's own output (`replace_folder`); anything else at the path is left
alone and named in the error.
"""
import errno
import json
import os
import re
import sys
import shutil
import tempfile

import numpy as np


class NotOursError(ValueError):
  """A path that a job would replace holds something it did not write."""


def _temporary(path):
  return os.path.join(os.path.dirname(os.path.abspath(path)),
                      '.%s.tmp-%d' % (os.path.basename(path), os.getpid()))


def write_atomically(path, write):
  """Calls `write(temporary_path)`, then renames the result to `path`.

  The folder is created when missing. On any error (or Ctrl-C) the
  temporary file is removed and `path` is untouched.
  """
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  if os.path.isdir(path):
    raise IsADirectoryError(21, 'Is a directory (expected a file path)', path)
  tmp = _temporary(path)
  try:
    write(tmp)
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
  return path


def write_bytes(path, data):
  """Writes `data` to `path` atomically."""

  def write(tmp):
    with open(tmp, 'wb') as f:
      f.write(data)

  return write_atomically(path, write)


def write_json(path, value, **kwargs):
  """Writes `value` as JSON to `path` atomically (kwargs: `json.dump`'s)."""

  def write(tmp):
    with open(tmp, 'w') as f:
      json.dump(value, f, **kwargs)

  return write_atomically(path, write)


def save_png(array, path):
  """Writes an image array as PNG atomically."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  return write_atomically(path, lambda tmp: Image.fromarray(
      np.asarray(array)).save(tmp, format='PNG'))


def save_npy(path, array):
  """Writes an array as .npy atomically."""

  def write(tmp):
    with open(tmp, 'wb') as f:
      np.save(f, array)

  return write_atomically(path, write)


def listing(path, limit=3):
  """A few entries of a folder, for messages ('a, b, c and 7 more')."""
  names = sorted(os.listdir(path))
  shown = ', '.join(names[:limit])
  return shown + (' and %d more' % (len(names) - limit)
                  if len(names) > limit else '')


def _staging_prefix(target):
  return '.%s.staging-' % os.path.basename(os.path.abspath(target))


def _old_name(target):
  return os.path.abspath(target).rstrip('/') + '.old-%d' % os.getpid()


def _is_old_name(path, target):
  base = os.path.abspath(target).rstrip('/') + '.old-'
  return path.startswith(base) and path[len(base):].isdigit()


def recover_folder(target, is_ours):
  """Repairs what a killed `replace_folder` left beside `target`.

  A swap interrupted between its two renames is rolled back (the previous
  folder returns to `target`); the swap's leftovers (`<target>.old-<pid>`
  and staging folders) are removed, but only when `is_ours` recognises
  them: nothing else is ever deleted.

  Returns:
    The folder restored to `target`, or None.
  """
  target = os.path.abspath(target).rstrip('/')
  parent = os.path.dirname(target)
  olds = sorted((p for p in (os.path.join(parent, n) for n in (
      os.listdir(parent) if os.path.isdir(parent) else ()))
                 if _is_old_name(p, target) and os.path.isdir(p) and
                 is_ours(p)), key=os.path.getmtime)
  restored = None
  if olds and not os.path.exists(target):
    restored = olds.pop()
    os.replace(restored, target)
  for old in olds:
    shutil.rmtree(old, ignore_errors=True)
  prefix = _staging_prefix(target)
  for name in (os.listdir(parent) if os.path.isdir(parent) else ()):
    staging = os.path.join(parent, name)
    if name.startswith(prefix) and os.path.isdir(staging):
      shutil.rmtree(staging, ignore_errors=True)
  return restored


def replace_folder(target, write, is_ours, flag='path'):
  """Writes a folder in staging and swaps it into `target`.

  An existing `target` is replaced only when it is empty or `is_ours(target)`
  says this project wrote it; anything else raises `NotOursError` naming
  the path and a few of its entries, before anything is written. The swap
  is two renames (a folder cannot replace a non-empty one in one); a kill
  between them is repaired by the next call (`recover_folder`).

  Args:
    target: The folder to write.
    write: Called with the staging folder to fill.
    is_ours: Folder path -> whether this project wrote it.
    flag: The flag that named `target`, for messages.

  Returns:
    `target`.
  """
  parent = os.path.dirname(os.path.abspath(target))
  os.makedirs(parent, exist_ok=True)
  recover_folder(target, is_ours)
  check_replaceable(target, is_ours, flag)
  staging = tempfile.mkdtemp(prefix=_staging_prefix(target), dir=parent)
  # mkdtemp's 0700 would become the folder's own once renamed: a model
  # server running as another user could not read an export.
  os.chmod(staging, 0o777 & ~current_umask())
  try:
    write(staging)
    if os.path.exists(target):
      check_replaceable(target, is_ours, flag)  # It may have changed.
      old = _old_name(target)
      os.replace(target, old)
      os.replace(staging, target)
      shutil.rmtree(old, ignore_errors=True)
    else:
      os.replace(staging, target)
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return target


def current_umask():
  """The process's umask (read by setting it and setting it back)."""
  mask = os.umask(0o022)
  os.umask(mask)
  return mask


def check_replaceable(target, is_ours, flag='path'):
  """Raises `NotOursError` unless `target` is absent, an empty folder, or
  something `is_ours` recognises."""
  if not os.path.lexists(target):
    return
  if os.path.isdir(target) and not os.path.islink(target):
    if not os.listdir(target) or is_ours(target):
      return
    raise NotOursError(
        '--%s=%s is a folder that holds files this project did not write (%s);'
        ' it is left untouched. Choose a new path, or move that folder away '
        'yourself.' % (flag, target, listing(target)))
  raise NotOursError(
      '--%s=%s is an existing %s, not a folder this project wrote; it is left '
      'untouched. Choose a new path.'
      % (flag, target, 'link' if os.path.islink(target) else 'file'))


# Write errors after which the files written before are whole: every file
# is written under a temporary name and renamed.
_WRITE_ERRORS = {errno.ENOSPC: 'the disk is full',
                 errno.EDQUOT: 'the disk quota is exceeded',
                 errno.EROFS: 'the file system is read-only'}


class WriteError(RuntimeError):
  """A job could not write its output (full disk, read-only folder); the
  message says what is intact."""


# TensorFlow's C++ file errors carry the OS's words in their message.
_TF_WRITE_WORDS = {
    'No space left on device': errno.ENOSPC,
    'Disk quota exceeded': errno.EDQUOT,
    'Read-only file system': errno.EROFS,
    'Permission denied': errno.EACCES,
}


def as_os_error(error):
  """An OSError for a TensorFlow op error that is a file-system error (full
  disk, read-only, permission), else None."""
  message = str(error).splitlines()[0] if str(error) else ''
  for words, number in _TF_WRITE_WORDS.items():
    if words in message:
      body = re.sub(r'^\{\{function_node [^}]*\}\}\s*', '', message)
      path = body.split(';')[0].split(' [Op:')[0].strip()
      return OSError(number, words, path if os.path.isabs(path) else None)
  return None


def tensorflow_os_error(error):
  """The OSError of a TensorFlow op error that is a file-system error (full
  disk, read-only, permission), else None; TensorFlow is not imported by a
  command that did not import it."""
  tf = sys.modules.get('tensorflow')
  if tf is None or not isinstance(error, tf.errors.OpError):
    return None
  return as_os_error(error)


def os_error_message(error):
  """One line for an OSError: the file, what went wrong, what is intact."""
  where = error.filename or ''
  if error.filename2:
    where += ' -> %s' % error.filename2
  reason = _WRITE_ERRORS.get(error.errno, error.strerror or str(error))
  if error.errno == errno.EEXIST:
    reason = 'it exists and is not a folder'
  elif error.errno == errno.ENOTDIR:
    reason = 'a part of the path is a file, not a folder'
  message = 'cannot %s %s: %s.' % (
      'write' if error.errno in _WRITE_ERRORS or error.errno in (
          errno.EACCES, errno.EPERM, errno.EEXIST, errno.EISDIR) else 'use',
      where or 'a file', reason)
  if error.errno in _WRITE_ERRORS or error.errno in (errno.EACCES,
                                                     errno.EPERM):
    message += (' Nothing was left half-written: files are written under a '
                'temporary name and renamed when whole, so earlier results '
                'are intact.')
  return message
