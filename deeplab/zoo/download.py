"""Downloading a zoo tarball and finding the checkpoint in it.

Downloads go to `$DEEPLAB_HOME` (default `~/.cache/deeplab`), resume where
they stopped, and are checked for size and completeness before use; a
tarball, a folder or a URL given instead (`source`) is used as it is.
"""
import os
import shutil
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zlib

from deeplab.zoo import catalog


def cache_dir():
  """Where downloads go: `$DEEPLAB_HOME`, else `~/.cache/deeplab`."""
  return os.environ.get('DEEPLAB_HOME') or os.path.join(
      os.path.expanduser('~'), '.cache', 'deeplab')


def tarball_problem(path):
  """Why `path` is not a whole tarball, or None.

  Every member is read to its end, so that the gzip checksum and the tar
  headers are checked: a copy damaged in the middle is corrupt, not an
  archive that happens to hold no checkpoint.
  """
  size = os.path.getsize(path) if os.path.exists(path) else 0
  members = []
  try:
    with tarfile.open(path, 'r:*') as tar:
      for member in tar:
        members.append(member)
        if member.isfile():
          with tar.extractfile(member) as f:
            while f.read(1 << 20):
              pass
      # To the end of the compressed stream: its checksum is checked there
      # (a damaged stored block decompresses without an error).
      while tar.fileobj.read(1 << 20):
        pass
  except (tarfile.TarError, EOFError, OSError, ValueError, zlib.error) as e:
    return ('it is corrupt or truncated (%d bytes; %s)'
            % (size, str(e) or type(e).__name__))
  if not members:
    return ('it is corrupt or truncated (%d bytes; no archive member could '
            'be read)' % size)
  if not any(m.name.endswith('.index') for m in members):
    return 'it holds no checkpoint (no .index file)'
  return None


class _Progress:
  """A one-line download progress report on stderr."""

  def __init__(self, label, total):
    self.label, self.total = label, total
    self.last = 0.0

  def __call__(self, done, force=False):
    now = time.time()
    if not force and now - self.last < 0.5:
      return
    self.last = now
    total = ' of %.1f MB' % (self.total / 1e6) if self.total else ''
    sys.stderr.write('\r>> downloading %s: %.1f MB%s' % (
        self.label, done / 1e6, total))
    if force:
      sys.stderr.write('\n')
    sys.stderr.flush()


def download(url, path, label=None):
  """Downloads `url` to `path`, resuming a `.part` file left by an earlier
  try and checking the size the server announced.

  Raises:
    ZooError: naming the URL, when it cannot be fetched.
  """
  part = path + '.part'
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  start = os.path.getsize(part) if os.path.exists(part) else 0
  request = urllib.request.Request(url)
  if start and not url.startswith('file:'):
    request.add_header('Range', 'bytes=%d-' % start)
  try:
    response = urllib.request.urlopen(request, timeout=60)
  except (urllib.error.URLError, OSError, ValueError) as e:
    raise catalog.ZooError(
        'Cannot download %s (%s). Without a network, fetch that file '
        'elsewhere and pass it: --source=/path/to/%s (a tarball, or the '
        'folder it was unpacked into).' % (
            url, getattr(e, 'reason', e), os.path.basename(url))) from e
  with response:
    status = getattr(response, 'status', 200)
    if start and status != 206:
      start = 0  # The server does not resume: start again.
    length = response.headers.get('Content-Length')
    total = start + int(length) if length else None
    progress = _Progress(label or os.path.basename(url), total)
    done = start
    with open(part, 'ab' if start else 'wb') as out:
      while True:
        chunk = response.read(1 << 20)
        if not chunk:
          break
        out.write(chunk)
        done += len(chunk)
        progress(done)
    progress(done, force=True)
  if total is not None and done != total:
    raise catalog.ZooError('The download of %s stopped at %d of %d bytes; '
                           'run the same command again to resume it.'
                           % (url, done, total))
  os.replace(part, path)
  return path


def fetch(entry, source=None):
  """A local tarball or folder holding `entry`'s checkpoint.

  Args:
    entry: The `Entry`.
    source: None (the cache, downloading the published URL when needed), a
      URL, a tarball path, or a folder with the unpacked checkpoint.
  """
  if source and os.path.isdir(source):
    return source
  if source and os.path.exists(source):
    problem = tarball_problem(source)
    if problem:
      raise catalog.ZooError('--source=%s cannot be used: %s. Download %s '
                             'again.' % (source, problem, entry.url))
    return source
  if source and '://' not in source:
    raise catalog.ZooError('--source=%s does not exist (give a URL, a tarball '
                           'or a folder).' % source)
  url = source or entry.url
  path = os.path.join(cache_dir(), os.path.basename(url.split('?')[0]))
  if os.path.exists(path):
    if tarball_problem(path) is None:
      return path
    os.remove(path)  # A broken copy in our own cache.
  download(url, path, entry.name)
  problem = tarball_problem(path)
  if problem:
    os.replace(path, path + '.part')  # Resumable, never used as is.
    raise catalog.ZooError('The download of %s is not usable: %s. Run the same '
                           'command again to resume it.' % (url, problem))
  return path


def _checkpoint_members(names):
  """The checkpoint prefix among archive or folder names (`model.ckpt`,
  `model.ckpt-30000`: the highest step when there are several)."""
  prefixes = [n[:-len('.index')] for n in names if n.endswith('.index')]
  if not prefixes:
    return None

  def step(prefix):
    tail = prefix.rsplit('-', 1)[-1]
    return int(tail) if '-' in os.path.basename(prefix) and tail.isdigit() \
        else -1

  return max(prefixes, key=step)


def unpack_checkpoint(source, workdir):
  """The checkpoint prefix of a tarball (its checkpoint files extracted to
  `workdir`) or of a folder."""
  if os.path.isdir(source):
    names = []
    for root, _, files in os.walk(source):
      names += [os.path.join(root, f) for f in files]
    prefix = _checkpoint_members(names)
    if prefix is None:
      raise catalog.ZooError('--source=%s holds no checkpoint (no .index file).'
                             % source)
    return prefix
  with tarfile.open(source, 'r:*') as tar:
    members = [m for m in tar.getmembers() if m.isfile()]
    prefix = _checkpoint_members([m.name for m in members])
    if prefix is None:
      raise catalog.ZooError('%s holds no checkpoint (no .index file).'
                             % source)
    base = os.path.basename(prefix)
    for member in members:
      name = os.path.basename(member.name)
      if os.path.dirname(member.name) != os.path.dirname(prefix) or not (
          name == base + '.index' or name.startswith(base + '.data-')):
        continue
      with tar.extractfile(member) as src, open(
          os.path.join(workdir, name), 'wb') as dst:
        shutil.copyfileobj(src, dst)
  return os.path.join(workdir, base)
