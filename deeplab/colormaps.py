"""Label colour maps of the original (PASCAL VOC, Cityscapes)."""
import numpy as np

_CITYSCAPES = [
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156),
    (190, 153, 153), (153, 153, 153), (250, 170, 30), (220, 220, 0),
    (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
    (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100),
    (0, 0, 230), (119, 11, 32)]


def pascal_colormap(size=256):
  """PASCAL VOC colour map: label bits spread over the RGB high bits."""
  colormap = np.zeros((size, 3), dtype=np.int64)
  ind = np.arange(size, dtype=np.int64)
  for shift in reversed(range(8)):
    for channel in range(3):
      colormap[:, channel] |= ((ind >> channel) & 1) << shift
    ind >>= 3
  return colormap.astype(np.uint8)


def cityscapes_colormap(size=256):
  """Cityscapes train-id colours (other ids black)."""
  colormap = np.zeros((size, 3), dtype=np.uint8)
  colormap[:len(_CITYSCAPES)] = _CITYSCAPES
  return colormap


COLORMAPS = {'pascal': pascal_colormap, 'cityscapes': cityscapes_colormap}


def get_colormap(name='pascal'):
  if name not in COLORMAPS:
    raise ValueError('Unknown colormap %r; choose one of %s.'
                     % (name, ', '.join(sorted(COLORMAPS))))
  return COLORMAPS[name]()


def label_to_color_image(label, colormap='pascal'):
  """Colours a 2-D integer label map.

  Raises:
    ValueError: If the label is not 2-D or has values the map cannot colour.
  """
  label = np.asarray(label)
  if label.ndim != 2:
    raise ValueError('Expect a 2-D label, got shape %s.' % (label.shape,))
  cmap = get_colormap(colormap)
  if label.size and (label.min() < 0 or label.max() >= len(cmap)):
    raise ValueError('Label values must be in [0, %d), got [%d, %d].'
                     % (len(cmap), label.min(), label.max()))
  return cmap[label]
