"""What a checkpoint that does not fit a model says (`checkpoints.load_weights`).

First the structural difference and the flags that fix it (a decoder, atrous
ASPP branches or image pooling on one side only, another backbone, another
number of classes), then the variables each side lacks and the shape
mismatches.
"""
from deeplab.core import feature_extractor
from deeplab.core import names


def _scopes(variable_names):
  """{top-level scope: its variable names}."""
  out = {}
  for name in variable_names:
    out.setdefault(name.split('/')[0], []).append(name)
  return out


def _variants_of(scope):
  """The --model_variant values whose backbone is under `scope`."""
  return [v for v, b in feature_extractor.BACKBONES.items()
          if b.scope == scope]


def structural_differences(missing, unexpected, mismatched,
                           initialize_last_layer=True, logits_only=False):
  """What differs between a model and a checkpoint that does not fit it,
  each with the flags that fix it: the backbone, the decoder, the ASPP
  branches, image pooling, separable convolutions, the classes."""
  model, ckpt = _scopes(missing), _scopes(unexpected)
  if names.LOGITS_SCOPE_NAME in model and (
      names.CONCAT_PROJECTION_SCOPE in model or names.ASPP_SCOPE + '0' in model):
    return ['the checkpoint holds no DeepLab head (no logits, no ASPP): an '
            'ImageNet (backbone) checkpoint loads with backbone_only=True '
            '(training as --tf_initial_checkpoint does so by itself)']
  found = []
  fresh = ('--initialize_last_layer=false --nolast_layers_contain_logits_only '
           'starts %s fresh from this checkpoint')
  if logits_only and not initialize_last_layer:
    fresh = ('--initialize_last_layer=false without '
             '--last_layers_contain_logits_only starts %s fresh from this '
             'checkpoint')
  backbones = {s for s in set(model) | set(ckpt) if _variants_of(s)}
  ours = [s for s in backbones if s in model and s not in ckpt]
  theirs = [s for s in backbones if s in ckpt and s not in model]
  if ours and theirs:
    found.append('the checkpoint\'s backbone is %s (--model_variant=%s), the '
                 'model\'s %s' % (theirs[0], '|'.join(_variants_of(theirs[0])),
                                  ours[0]))
  elif backbones & set(model) & set(ckpt) or any(
      m[0].split('/')[0] in backbones for m in mismatched):
    found.append('the backbones differ inside: check --model_variant (e.g. '
                 'xception_65 against xception_71) and --depth_multiplier')
  decoder = names.DECODER_SCOPE
  if decoder in model and decoder not in ckpt:
    found.append('the model has a decoder (--decoder_output_stride) and the '
                 'checkpoint none: leave out --decoder_output_stride to match '
                 'it, or ' + fresh % 'the decoder')
  elif decoder in ckpt and decoder not in model:
    found.append('the checkpoint has a decoder and the model none: give '
                 '--decoder_output_stride=4')
  elif decoder in model and decoder in ckpt:
    separable = ['_depthwise' in n for n in model[decoder] + ckpt[decoder]]
    if any(separable) and not all(separable):
      found.append('the decoders differ: check --decoder_use_separable_conv')
    else:
      found.append('the decoders differ: --decoder_output_stride gives one '
                   'output stride per decoder stage (the checkpoint\'s, e.g. '
                   '4)')
  aspp = names.ASPP_SCOPE
  model_branches = {s for s in model if s.startswith(aspp) and s != aspp + '0'}
  ckpt_branches = {s for s in ckpt if s.startswith(aspp) and s != aspp + '0'}
  if model_branches and ckpt_branches:
    found.append('the ASPP branches differ: check --aspp_with_separable_conv '
                 'and the number of --atrous_rates')
  elif model_branches:
    found.append('the model has atrous ASPP branches (--atrous_rates) and the '
                 'checkpoint none: leave out --atrous_rates to match it, or '
                 + fresh % 'them')
  elif ckpt_branches:
    found.append('the checkpoint has atrous ASPP branches the model has not: '
                 'give --atrous_rates (three of them, e.g. 6, 12 and 18 at '
                 'output stride 16)')
  pooling = names.IMAGE_POOLING_SCOPE
  if pooling in model and pooling not in ckpt:
    found.append('the model has image pooling and the checkpoint none: '
                 '--noadd_image_level_feature')
  elif pooling in ckpt and pooling not in model:
    found.append('the checkpoint has image pooling and the model none: '
                 '--add_image_level_feature')
  logits = [m for m in mismatched if m[0].startswith(
      names.LOGITS_SCOPE_NAME + '/') and m[0].endswith('/weights')]
  if logits:
    found.append('the checkpoint has %d classes and the model %d: give '
                 '--num_classes (or --dataset) of the checkpoint, or '
                 '--initialize_last_layer=false to train new logits' % (
                     logits[0][1][-1], logits[0][2][-1]))
  return found


def message(prefix, missing, unexpected, mismatched, backbone_only,
            initialize_last_layer, logits_only=False):
  """The error text of checkpoint `prefix` not fitting a model: the
  differences (`structural_differences`), the listings, and where no
  difference is recognised, the flags to check."""
  def listing(title, items, fmt=str):
    shown = [fmt(i) for i in items[:25]]
    more = ['... and %d more' % (len(items) - 25)] if len(items) > 25 else []
    return ['%s (%d):' % (title, len(items))] + ['  ' + s for s in shown + more]

  lines = ['Checkpoint %s does not fit the model.' % prefix]
  found = structural_differences(missing, unexpected, mismatched,
                                 initialize_last_layer, logits_only)
  for difference in found:
    lines.append('Difference: %s.' % difference)
  if missing:
    lines += listing('Model variables missing from the checkpoint', missing)
  if unexpected:
    lines += listing('Checkpoint variables the model does not have',
                     unexpected)
  if mismatched:
    lines += listing(
        'Shape mismatches', mismatched,
        lambda m: '%s: checkpoint %s, model %s' % (m[0], list(m[1]),
                                                   list(m[2])))
  if found:
    return '\n'.join(lines)
  hints = []
  if not backbone_only:
    hints.append('an ImageNet (backbone) checkpoint loads with '
                 'backbone_only=True')
  if initialize_last_layer:
    hints.append('a different number of classes loads with '
                 '--initialize_last_layer=false '
                 '[--last_layers_contain_logits_only]')
  hints.append('check --model_variant, --atrous_rates, '
               '--decoder_output_stride, --aspp_with_separable_conv, '
               '--decoder_use_separable_conv and --depth_multiplier')
  lines.append('Hint: ' + '; '.join(hints) + '.')
  return '\n'.join(lines)
