"""The command-line reference of the docs, generated from the flag
definitions themselves, so that it cannot drift from `--help`.

  python -m deeplab.cli.reference                   # every command, Markdown
  python -m deeplab.cli.reference deeplab-export    # one command

Each command is described in a process of its own: the converters define
their flags in absl's global flag registry, where two of them share names.
The docs site builds `reference/cli.md` with it (`docs/hooks.py`).
"""
import importlib
import subprocess
import sys

from absl import flags

from deeplab.cli import command
from deeplab.cli import flags as flag_lib

# The console commands and their modules, as setup.py installs them.
COMMANDS = (
    ('deeplab-quickstart', 'deeplab.cli.quickstart'),
    ('deeplab-train', 'deeplab.cli.train'),
    ('deeplab-eval', 'deeplab.cli.evaluate'),
    ('deeplab-vis', 'deeplab.cli.vis'),
    ('deeplab-predict', 'deeplab.cli.predict'),
    ('deeplab-export', 'deeplab.cli.export_model'),
    ('deeplab-zoo', 'deeplab.cli.zoo'),
    ('deeplab-check-data', 'deeplab.cli.check_data'),
    ('deeplab-build-custom-data', 'deeplab.cli.build_custom_data'),
    ('deeplab-build-voc2012-data', 'deeplab.cli.build_voc2012_data'),
    ('deeplab-build-cityscapes-data', 'deeplab.cli.build_cityscapes_data'),
    ('deeplab-build-ade20k-data', 'deeplab.cli.build_ade20k_data'),
    ('deeplab-remove-gt-colormap', 'deeplab.cli.remove_gt_colormap'),
    ('deeplab-convert-checkpoint', 'deeplab.cli.convert_checkpoint'),
    ('deeplab-model-stats', 'deeplab.cli.model_stats'),
)


def command_flags(module_name):
  """(description, [(group title, [absl Flag])]) of a command's own flags.

  Defines them in this process: call once per process.
  """
  module = importlib.import_module(module_name)
  doc = getattr(module, 'DOC', None) or module.__doc__
  groups = getattr(module, 'GROUPS', None)
  if groups is not None:
    fv = flag_lib.define_groups(groups, flags.FlagValues())
    return doc, [(g.title, [fv[name] for name in g.specs]) for g in groups]
  module.define_flags()  # A converter: absl's registry, its own module.
  return doc, [('Flags', flags.FLAGS.get_flags_for_module(module_name))]


def _cell(text):
  return ' '.join(str(text).split()).replace('|', '\\|')


def command_markdown(name, module_name):
  """The Markdown section of one command."""
  doc, groups = command_flags(module_name)
  lines = ['## %s' % name, '', '```text', doc.strip(), '```', '']
  for title, group in groups:
    lines += ['**%s**' % title, '', '| Flag | Description | Notes |',
              '|---|---|---|']
    for flag in group:
      help_text, notes = command.flag_notes(flag)
      lines.append('| `%s` | %s | %s |' % (
          command.flag_name(flag), _cell(help_text), _cell('; '.join(notes))))
    lines.append('')
  lines.append('Every command also takes `--flagfile=FILE` (flags read from '
               'a file), `-v`/`--verbosity` and `--helpfull`.')
  return '\n'.join(lines) + '\n'


def markdown():
  """The whole reference: one section per command, each made in a process
  of its own."""
  parts = ['# Command-line reference', '',
           'Every flag of every command, generated from the flag '
           'definitions (the same text as `--help`). Commands are also '
           'installed as the original\'s scripts (`train.py`, `eval.py`, '
           '`vis.py`, `export_model.py` and the converters under '
           '`datasets/`), with the same flags.', '']
  for name, _ in COMMANDS:
    parts.append(subprocess.run(
        [sys.executable, '-m', 'deeplab.cli.reference', name], check=True,
        capture_output=True, text=True).stdout)
  return '\n'.join(parts)


def main(argv=None):
  argv = sys.argv if argv is None else argv
  if len(argv) > 1:
    modules = dict(COMMANDS)
    if argv[1] not in modules:
      sys.exit('unknown command %s; one of: %s' % (
          argv[1], ', '.join(modules)))
    sys.stdout.write(command_markdown(argv[1], modules[argv[1]]))
  else:
    sys.stdout.write(markdown())


if __name__ == '__main__':
  main()
