"""The layout of the code (docs/layout.md): layers that import only
downward, no import circle, every module importable on its own, small
modules whose docstrings cite what exists, commands that start without
TensorFlow."""
import ast
import json
import os
import re
import sys

import pytest

import helpers

PACKAGE = os.path.join(helpers.ROOT, 'deeplab')
MAX_LINES = 500


def _modules():
  """{module name: path} of every module of the package."""
  out = {}
  for root, _, names in os.walk(PACKAGE):
    for name in names:
      if name.endswith('.py'):
        path = os.path.join(root, name)
        module = os.path.relpath(path, helpers.ROOT)[:-3].replace(os.sep, '.')
        out[module[:-len('.__init__')] if module.endswith('.__init__')
            else module] = path
  return out


MODULES = _modules()


def _imports(module):
  """The package's modules `module` imports, at any depth of its code
  (inside functions too); a module's own package is not counted."""
  path = MODULES[module]
  is_package = path.endswith('__init__.py')
  found = set()
  for node in ast.walk(ast.parse(open(path).read())):
    if isinstance(node, ast.Import):
      found.update(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ''
      if node.level:
        parts = module.split('.') if is_package else module.split('.')[:-1]
        parts = parts[:len(parts) - node.level + 1]
        base = '.'.join(parts + ([base] if base else []))
      found.add(base)
      found.update(base + '.' + alias.name for alias in node.names)
  return {name for name in found if name in MODULES and name != module and
          not (MODULES[name].endswith('__init__.py') and
               module.startswith(name + '.'))}


def _layers():
  """[(layer name, [module patterns])] of docs/layout.md's table, in
  order."""
  with open(os.path.join(helpers.ROOT, 'docs', 'layout.md')) as f:
    text = f.read()
  table = text[text.index('<!-- layers -->'):].split('\n\n')[0]
  layers = []
  for row in table.splitlines()[3:]:
    cells = [c.strip() for c in row.strip('|').split('|')]
    layers.append((cells[0], re.findall(r'`([\w.*]+)`', cells[1])))
  return layers


def _layer_of(module, layers):
  if module.endswith('.__main__'):  # A package's command-line entry.
    return next(i for i, (_, patterns) in enumerate(layers)
                if '*.__main__' in patterns)
  matches = []
  for index, (_, patterns) in enumerate(layers):
    for pattern in patterns:
      if pattern.endswith('.*'):
        hit = module == pattern[:-2] or module.startswith(pattern[:-1])
      else:
        hit = module == pattern
      if hit:
        matches.append((len(pattern), index))
  assert matches, '%s is in no layer of docs/layout.md' % module
  return max(matches)[1]  # The most specific pattern.


def test_every_import_goes_to_its_own_layer_or_one_above():
  layers = _layers()
  assert [name for name, _ in layers][-1] == 'command line'
  wrong = []
  for module in sorted(MODULES):
    own = _layer_of(module, layers)
    for target in sorted(_imports(module)):
      if _layer_of(target, layers) > own:
        wrong.append('%s (%s) imports %s (%s)' % (
            module, layers[own][0], target,
            layers[_layer_of(target, layers)][0]))
  assert wrong == []


def test_no_import_circle():
  graph = {module: _imports(module) for module in MODULES}
  circles = []

  def visit(module, path, on_path, done):
    if module in on_path:
      circles.append(' -> '.join(path[path.index(module):] + [module]))
      return
    if module in done:
      return
    on_path.add(module)
    for target in sorted(graph[module]):
      visit(target, path + [module], on_path, done)
    on_path.discard(module)
    done.add(module)

  done = set()
  for module in sorted(graph):
    visit(module, [], set(), done)
  assert circles == []


_IMPORT_EACH = r'''
import importlib, json, os, sys, traceback
import tensorflow  # Third-party start-up, once, before the forks.
import keras
failed = {}
for module in json.loads(sys.argv[1]):
  read, write = os.pipe()
  pid = os.fork()
  if pid == 0:
    os.close(read)
    try:
      importlib.import_module(module)
      message = ''
    except BaseException:
      message = traceback.format_exc()[-2000:]
    os.write(write, message.encode())
    os._exit(0)
  os.close(write)
  with os.fdopen(read) as pipe:
    message = pipe.read()
  os.waitpid(pid, 0)
  if message:
    failed[module] = message
print(json.dumps(failed))
'''


def test_every_module_imports_on_its_own():
  """Each module imported first in a process of its own (forked after
  TensorFlow's start-up, before any of this package): no module works only
  because another was imported before it."""
  modules = [m for m in sorted(MODULES) if not m.endswith('.__main__')]
  out = helpers.run(['-c', _IMPORT_EACH, json.dumps(modules)], timeout=600)
  assert out.returncode == 0, out.stderr[-3000:]
  failed = json.loads(out.stdout.strip().splitlines()[-1])
  assert failed == {}


def _commands():
  with open(os.path.join(helpers.ROOT, 'setup.py')) as f:
    text = f.read()
  body = text[text.index("'console_scripts'"):]
  body = re.sub(r"'\s*\n\s*'", '', body[:body.index(']')])
  return re.findall(r"'(deeplab-[a-z0-9-]+)=", body)


@pytest.mark.parametrize('args', [[c, '--help'] for c in _commands()] + [
    ['deeplab-zoo', '--list'], ['deeplab-zoo', '--list', '--json']])
def test_help_and_the_zoo_list_import_no_tensorflow(args):
  """`python -X importtime` of the command: no TensorFlow module among what
  it imported."""
  command = helpers.argv(args)
  with open(command[0]) as f:  # The console script runs its module's main.
    assert 'deeplab.cli' in f.read()
  out = helpers.run([sys.executable, '-X', 'importtime'] + command)
  assert out.returncode == 0, out.stderr[-2000:]
  imported = [line.split('|')[-1].strip() for line in out.stderr.splitlines()
              if line.startswith('import time:')]
  assert 'deeplab.cli' in imported, out.stderr[-2000:]
  assert not [m for m in imported if m.split('.')[0] in (
      'tensorflow', 'keras')], args


@pytest.mark.parametrize('module', sorted(MODULES))
def test_modules_are_small_and_say_their_job(module):
  path = MODULES[module]
  with open(path) as f:
    text = f.read()
  assert len(text.splitlines()) <= MAX_LINES, (module, 'holds two jobs?')
  docstring = ast.get_docstring(ast.parse(text))
  assert docstring and len(docstring) > 20, module


def _short_names():
  """{last name of a module: module} where that name is unique."""
  seen = {}
  for module in MODULES:
    seen.setdefault(module.split('.')[-1], []).append(module)
  return {short: found[0] for short, found in seen.items()
          if len(found) == 1}


def _defined(module):
  """Names a module defines or imports, and its submodules."""
  tree = ast.parse(open(MODULES[module]).read())
  names = set()
  for node in tree.body:
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
      names.add(node.name)
    elif isinstance(node, ast.Assign):
      names.update(t.id for t in node.targets if isinstance(t, ast.Name))
      if any(isinstance(t, ast.Name) and t.id == '__all__'
             for t in node.targets):  # Names a package loads when used.
        names.update(ast.literal_eval(node.value))
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
      names.update((a.asname or a.name).split('.')[0] for a in node.names)
  names.update(m[len(module) + 1:].split('.')[0] for m in MODULES
               if m.startswith(module + '.'))
  return names


# Citations of an object's attribute, not of a module's name.
_ATTRIBUTES = {'model.save', 'inference.eval_scales',
               'factory.image_pooling_inputs'}
_FILE = re.compile(r'\.(py|json|ckpt|pb|onnx|png|md|txt|tflite|flags)$')


def test_docstrings_cite_names_that_exist():
  """`module.name` in a docstring of the package names something that
  module has (docstrings outlive renames otherwise)."""
  short = _short_names()
  missing = []
  for module, path in sorted(MODULES.items()):
    for node in ast.walk(ast.parse(open(path).read())):
      if not isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)):
        continue
      docstring = ast.get_docstring(node) or ''
      for cited in re.findall(r'`([A-Za-z_][\w.]*\.[A-Za-z_]\w*)', docstring):
        if cited in _ATTRIBUTES or _FILE.search(cited):
          continue
        parts = cited.split('.')
        if cited.startswith('deeplab.'):
          target = next((('.'.join(parts[:i]), parts[i])
                         for i in range(len(parts) - 1, 0, -1)
                         if '.'.join(parts[:i]) in MODULES), None)
        elif parts[0] in short:
          target = (short[parts[0]], parts[1])
        else:
          continue
        if target and target[1] not in _defined(target[0]):
          missing.append('%s cites `%s`' % (module, cited))
  assert missing == []
