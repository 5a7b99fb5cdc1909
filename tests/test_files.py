"""Writing only what the job owns: atomic writes, folder swaps that refuse
foreign folders, and the one-line messages of write errors."""
import errno
import os
import stat

import pytest
import tensorflow as tf

from deeplab import files


def _ours(path):
  return os.path.exists(os.path.join(path, 'OURS'))


def _fill(path):
  open(os.path.join(path, 'OURS'), 'w').close()
  open(os.path.join(path, 'new'), 'w').close()


def test_replace_folder_replaces_only_its_own(tmp_path):
  target = str(tmp_path / 'out')
  files.replace_folder(target, _fill, _ours)  # Absent: written.
  files.replace_folder(target, _fill, _ours)  # Ours: replaced.
  assert sorted(os.listdir(target)) == ['OURS', 'new']
  empty = tmp_path / 'empty'
  empty.mkdir()
  files.replace_folder(str(empty), _fill, _ours)  # Empty: nothing to lose.
  photos = tmp_path / 'photos'
  photos.mkdir()
  (photos / 'cat.jpg').write_bytes(b'cat')
  with pytest.raises(files.NotOursError, match=r'--out=.*photos.*cat\.jpg'):
    files.replace_folder(str(photos), _fill, _ours, 'out')
  assert os.listdir(photos) == ['cat.jpg']
  notes = tmp_path / 'notes.txt'
  notes.write_text('mine')
  with pytest.raises(files.NotOursError, match='existing file'):
    files.replace_folder(str(notes), _fill, _ours)
  assert notes.read_text() == 'mine'
  # Nothing but the targets was left beside them (no staging, no .old-*).
  assert sorted(os.listdir(tmp_path)) == ['empty', 'notes.txt', 'out',
                                          'photos']


def test_recover_folder_leaves_foreign_look_alikes(tmp_path):
  target = tmp_path / 'out'
  old = tmp_path / ('out.old-%d' % 123)  # A killed swap's previous folder.
  old.mkdir()
  (old / 'OURS').write_text('')
  foreign = tmp_path / 'out.old-notes'
  foreign.mkdir()
  not_ours = tmp_path / 'out.old-456'
  not_ours.mkdir()
  (not_ours / 'photo.jpg').write_text('')
  assert files.recover_folder(str(target), _ours) == str(old)
  assert os.path.exists(target / 'OURS')
  assert foreign.exists() and not_ours.exists()


def test_write_atomically_leaves_the_old_file_on_failure(tmp_path):
  path = tmp_path / 'result.json'
  files.write_json(str(path), {'a': 1})

  def failing(tmp):
    with open(tmp, 'w') as f:
      f.write('half')
    raise OSError(errno.ENOSPC, 'No space left on device', tmp)

  with pytest.raises(OSError):
    files.write_atomically(str(path), failing)
  assert path.read_text() == '{"a": 1}'
  assert os.listdir(tmp_path) == ['result.json']


def test_write_error_messages_name_the_file_and_what_is_intact():
  full = OSError(errno.ENOSPC, 'No space left on device', '/runs/a/x.png')
  message = files.os_error_message(full)
  assert message.startswith('cannot write /runs/a/x.png: the disk is full.')
  assert 'intact' in message
  exists = files.os_error_message(
      FileExistsError(errno.EEXIST, 'File exists', '/runs/notes.txt'))
  assert exists == ('cannot write /runs/notes.txt: it exists and is not a '
                    'folder.')
  tf_error = tf.errors.ResourceExhaustedError(
      None, None, '{{function_node __wrapped__SaveV2}} /runs/a/model.ckpt-3'
      '_temp/part-0; No space left on device [Op:SaveV2]')
  converted = files.as_os_error(tf_error)
  assert converted.errno == errno.ENOSPC
  assert converted.filename == '/runs/a/model.ckpt-3_temp/part-0'
  assert files.as_os_error(tf.errors.InvalidArgumentError(
      None, None, 'shapes differ')) is None


@pytest.mark.parametrize('umask', [0o022, 0o027])
def test_a_swapped_in_folder_follows_the_umask(tmp_path, umask):
  """An export or a zoo import is a staging folder renamed into place: it
  gets the permissions of any folder the user creates, not mkdtemp's 0700."""
  old = os.umask(umask)
  try:
    target = str(tmp_path / 'export')
    files.replace_folder(target, lambda d: files.write_bytes(
        os.path.join(d, 'saved_model.pb'), b'x'), lambda p: False)
  finally:
    os.umask(old)
  assert stat.S_IMODE(os.stat(target).st_mode) == 0o777 & ~umask
  assert stat.S_IMODE(os.stat(os.path.join(target, 'saved_model.pb')).st_mode
                      ) == 0o666 & ~umask
