"""Running a command: flags in, one job, a few lines out, one-line errors.

`run_command` defines a command's flag groups (`flags.py`), parses the
command line, runs the job and prints its lines. `--help` describes the
command and lists its own flags by group; a bad flag value or input, a
write error or Ctrl-C ends it with one line that names the flag, file or
record (and a pointer to `--help`), never a traceback or a page of help.
"""
import contextlib
import os
import re
import signal
import sys
import textwrap

from absl import app
from absl import flags
from absl import logging

from deeplab import errors
from deeplab import console
from deeplab import files
from deeplab.cli import flag_tables
from deeplab.cli import flags as flag_lib
from deeplab.training import logdir_lock

FLAGS = flags.FLAGS

# Errors that are the user's input, reported as one line (the project's
# own, a checkpoint that does not fit or data that cannot be read among
# them, are ValueErrors).
USER_ERRORS = (ValueError, FileNotFoundError, FloatingPointError,
               logdir_lock.LogdirLockedError, files.WriteError,
               errors.MissingExtraError)
_HELP_ARGS = ('--help', '-help', '-h', '-?', '--helpshort', '--help_short')


def flag_notes(flag):
  """(help, notes) of an absl flag as `--help` shows them: its help text
  and its kind, allowed values and default."""
  kind = flag.flag_type()
  notes = []
  enum_values = getattr(flag.parser, 'enum_values', None)
  if enum_values:
    notes.append('one of: ' + ', '.join(enum_values))
  if kind == 'multi crop size':
    notes.append('"H,W", or the flag twice')
  elif kind.startswith('multi'):
    notes.append('repeat the flag for several values')
  elif kind == 'list':
    notes.append('comma separated')
  default = flag_lib.flatten(flag.default)
  if isinstance(default, (list, tuple)):
    default = ','.join(str(v) for v in default) if default else None
  elif isinstance(default, str):
    default = repr(default)
  notes.append('default: %s' % ('none' if default is None else default))
  # absl appends its own note to the help of multi flags.
  help_text = re.sub(r';\s*repeat this option to specify a list of values',
                     '', flag.help)
  return help_text, notes


def flag_name(flag):
  """`--name`, or `--[no]name` for a boolean."""
  return ('--[no]' if flag.flag_type() == 'bool' else '--') + flag.name


def _format_flag(flag):
  help_text, notes = flag_notes(flag)
  body = textwrap.fill(help_text, 74, initial_indent='      ',
                       subsequent_indent='      ')
  return '  %s\n%s\n      (%s)' % (flag_name(flag), body, '; '.join(notes))


def help_text(prog, doc, groups, flag_values=None):
  """The command's description and its own flags, group by group."""
  fv = FLAGS if flag_values is None else flag_values
  lines = [doc.strip(), '']
  for group in groups:
    lines.append(group.title + ':')
    lines.extend(_format_flag(fv[name]) for name in group.specs)
    lines.append('')
  lines.append('%s also takes --flagfile=FILE (flags read from a file), '
               '-v/--verbosity, and --helpfull (every flag, TensorFlow\'s '
               'and absl\'s too).' % prog)
  return '\n'.join(lines)


def run_command(doc, groups, job, argv=None):
  """Defines the flags of `groups`, parses `argv` and runs `job(FLAGS)`.

  `job` returns the lines to print. User errors (`USER_ERRORS`) end the
  program with status 1 and one message line naming the flag, file or
  record.
  """
  argv = resolve_recipes(list(sys.argv if argv is None else argv))
  prog = os.path.basename(argv[0]) if argv else 'deeplab'
  flag_lib.define_groups(groups)
  if any(arg in _HELP_ARGS for arg in argv[1:]):
    print(help_text(prog, doc, groups))
    sys.exit(0)

  def main(args):
    if len(args) > 1:
      _fail(prog, 'unexpected arguments %s (flags are written --name=value).'
            % ' '.join(args[1:]))
    logging.set_verbosity(logging.INFO)
    # This project's progress at INFO; the libraries' own INFO lines (saver
    # sharding, input renaming) are noise here, their warnings stay.
    console.quiet_library_info()
    try:
      with interrupt_on_sigterm():
        flag_tables.check_unsupported(groups, FLAGS)
        lines = job(FLAGS)
    except USER_ERRORS as e:
      _fail(prog, str(e))
    except OSError as e:
      _fail(prog, files.os_error_message(e))
    except Exception as e:  # pylint: disable=broad-except
      os_error = files.tensorflow_os_error(e)
      if os_error is None:
        raise
      _fail(prog, files.os_error_message(os_error))
    except KeyboardInterrupt as e:
      sys.stderr.write('%s: %s\n' % (prog, str(e) or (
          'interrupted; every file it wrote is whole (written under a '
          'temporary name, then renamed).')))
      sys.exit(130)
    for line in lines or ():
      print(line, flush=True)

  app.run(main, argv=argv)


def entry_point(doc, groups, job):
  """The `main(argv=None)` of a command: `run_command` with its
  description, flag groups and job."""

  def main(argv=None):
    run_command(doc, groups, job, argv)

  return main


@contextlib.contextmanager
def interrupt_on_sigterm():
  """SIGTERM (a scheduler stopping the job) ends it as Ctrl-C does: with
  what was kept said, not mid-write."""
  try:
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
  except ValueError:  # Not the main thread: leave signals alone.
    yield
    return
  try:
    yield
  finally:
    signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum, frame):
  del signum, frame
  raise KeyboardInterrupt


RECIPES_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'recipes')


def recipes():
  """{name: path} of the flag files shipped with the package."""
  return {n[:-len('.flags')]: os.path.join(RECIPES_DIR, n)
          for n in sorted(os.listdir(RECIPES_DIR)) if n.endswith('.flags')}


def resolve_recipes(argv):
  """`--flagfile=NAME` of a shipped recipe (`deeplab/recipes/NAME.flags`)
  becomes its path; paths that exist are left as they are."""
  out = []
  for arg in argv:
    if arg.startswith('--flagfile='):
      name = arg[len('--flagfile='):]
      known = recipes()
      if not os.path.exists(name) and name in known:
        arg = '--flagfile=' + known[name]
      elif not os.path.exists(name):
        _fail(os.path.basename(argv[0]) if argv else 'deeplab',
              '--flagfile=%s: no such file, and not a recipe (%s).'
              % (name, ', '.join(known)))
    out.append(arg)
  return out


def _fail(prog, message):
  sys.stderr.write('%s: error: %s\nRun "%s --help" for its flags.\n'
                   % (prog, message, prog))
  sys.exit(1)
