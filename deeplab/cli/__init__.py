"""The command line: one module per command, each flags in and one library
call.

  train, evaluate, vis, export_model, predict   the original's scripts
  model_stats, convert_checkpoint, quickstart, zoo, check_data
  build_voc2012_data, build_cityscapes_data, build_ade20k_data,
  build_custom_data, remove_gt_colormap         the dataset converters

Each has `main(argv=None)` (the console entry points `deeplab-*`, and the
repository's `train.py`, `eval.py`, ... scripts) and `job(flags)`, which
builds the job's config from the flags and calls the library. The machinery
they share: `flags.py` (flags from the config dataclasses), `flag_tables.py`
(every flag), `run_settings.py` (the merge with what a run saved),
`command.py` (help, one-line errors), `converters.py` (the converters'
absl scripts). The library never imports this package; a command's `--help`
imports no TensorFlow.
"""
