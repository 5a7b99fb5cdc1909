"""MkDocs hooks of the documentation site (mkdocs.yml).

* The home page is README.md, its links rewritten for the site: the README
  stays the repository's front page and the site's, one text for both.
* The command-line reference (`reference/cli.md`) is generated from the
  flag definitions (`python -m deeplab.cli.reference`), so it cannot drift
  from `--help`.
* Pages link to the README as `../README.md` (what GitHub shows); on the
  site that is the home page.
"""
import os
import re
import subprocess
import sys

from mkdocs.structure.files import File

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _home_page():
  """README.md with links into docs/ made site-relative; links to other
  files of the repository become plain text (the site does not hold
  them)."""
  with open(os.path.join(_ROOT, 'README.md')) as f:
    text = f.read()
  text = text.replace('](docs/', '](').replace('src="docs/', 'src="')

  def local(match):
    label, target = match.group(1), match.group(2)
    if re.match(r'[a-z]+:|#', target) or target.endswith('.md') or (
        '.md#' in target):
      return match.group(0)
    return '%s (`%s`)' % (label, target)

  return re.sub(r'(?<!!)\[([^\]]+)\]\(([^)\s]+)\)', local, text)


def _cli_reference():
  return subprocess.run(
      [sys.executable, '-m', 'deeplab.cli.reference'], check=True,
      capture_output=True, text=True, cwd=_ROOT).stdout


def on_files(files, config):
  for path, content in (('index.md', _home_page()),
                        ('reference/cli.md', _cli_reference())):
    files.append(File.generated(config, path, content=content))
  return files


def on_page_markdown(markdown, page, config, files):
  del page, config, files  # Unused.
  return markdown.replace('](../README.md', '](index.md').replace(
      '](../../README.md', '](../index.md')
