"""Running a dataset converter: its absl flags, its `--help`, one-line errors.

The converters (`deeplab-build-*-data`, `deeplab-remove-gt-colormap`, the
scripts in `datasets/`) take the original's flags and show absl's help
listing them; bad input, a write error or Ctrl-C ends a conversion with one
line that names the file and says what is complete. The conversion itself
is the library's (`deeplab.datasets`), imported only when it runs.
"""
import os
import sys

from absl import app
from absl import flags

from deeplab import files


def guarded(convert_fn, *args, **kwargs):
  """Runs a script's conversion: bad input, a write error or Ctrl-C ends it
  with one line naming the file and saying what is complete."""
  try:
    return convert_fn(*args, **kwargs)
  except (FileNotFoundError, ValueError) as e:  # Bad items are ValueErrors.
    _fail(str(e))
  except OSError as e:
    _fail(files.os_error_message(e))
  except Exception as e:  # pylint: disable=broad-except
    os_error = files.tensorflow_os_error(e)  # E.g. a full disk under a shard.
    if os_error is None:
      raise
    _fail(files.os_error_message(os_error))
  except KeyboardInterrupt as e:
    sys.stderr.write('%s: %s\n' % (os.path.basename(sys.argv[0]), str(e) or (
        'interrupted; every file it wrote is whole (written under a '
        'temporary name, then renamed).')))
    sys.exit(130)


def run_and_report(convert_fn, *args, **kwargs):
  """`guarded`, then the summary of the splits written."""
  from deeplab.datasets import build_data  # pylint: disable=g-import-not-at-top
  summaries = guarded(convert_fn, *args, **kwargs)
  build_data.print_summary(summaries)
  return summaries


def _fail(message):
  prog = os.path.basename(sys.argv[0])
  sys.stderr.write('%s: error: %s\nRun "%s --help" for its flags.\n'
                   % (prog, message, prog))
  sys.exit(1)


def define_format_flags():
  """The original build_data.py's --image_format and --label_format, for the
  converters that read every file's format from the file itself (Cityscapes,
  ADE20K): accepted so the original's command lines run, not used."""
  flags.DEFINE_enum('image_format', 'png', ['jpg', 'jpeg', 'png'],
                    'Image format (accepted for the original\'s command '
                    'lines; each file\'s format is read from the file).')
  flags.DEFINE_enum('label_format', 'png', ['png'],
                    'Segmentation label format.')


def run_script(define_flags, main):
  """Runs a converter script: its flags defined and listed by `--help`."""
  define_flags()
  fv = flags.FLAGS
  # absl's help describes the command with the main module's docstring; the
  # converter's own is the full one (the wrappers' are short).
  sys.modules['__main__'].__doc__ = sys.modules[define_flags.__module__].__doc__
  # absl's --help lists the key flags of the main module; the converters'
  # flags live in their library modules, so they are declared key flags of
  # whatever file was run (a datasets/ wrapper or a console script).
  for flag in fv.get_flags_for_module(define_flags.__module__):
    fv.register_key_flag_for_module(sys.argv[0], flag)
  if any(arg in ('--help', '-help', '-h', '-?', '--helpshort')
         for arg in sys.argv[1:]):
    app.usage(shorthelp=True, writeto_stdout=True, exitcode=0)

  def checked_main(argv):
    try:
      return main(argv)
    except app.UsageError as e:
      _fail(str(e))

  app.run(checked_main)
