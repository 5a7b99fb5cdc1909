"""Label colour maps of the original (PASCAL VOC, Cityscapes, ADE20K,
Mapillary Vistas) and colour overlays."""
import numpy as np

_CITYSCAPES = [
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156),
    (190, 153, 153), (153, 153, 153), (250, 170, 30), (220, 220, 0),
    (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
    (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100),
    (0, 0, 230), (119, 11, 32)]

# ADE20K benchmark colours, index 0 ('other') first; R G B per entry.
_ADE20K = """
0 0 0  120 120 120  180 120 120  6 230 230  80 50 50  4 200 3  120 120 80
140 140 140  204 5 255  230 230 230  4 250 7  224 5 255  235 255 7  150 5 61
120 120 70  8 255 51  255 6 82  143 255 140  204 255 4  255 51 7  204 70 3
0 102 200  61 230 250  255 6 51  11 102 255  255 7 71  255 9 224  9 7 230
220 220 220  255 9 92  112 9 255  8 255 214  7 255 224  255 184 6  10 255 71
255 41 10  7 255 255  224 255 8  102 8 255  255 61 6  255 194 7  255 122 8
0 255 20  255 8 41  255 5 153  6 51 255  235 12 255  160 150 20  0 163 255
140 140 140  250 10 15  20 255 0  31 255 0  255 31 0  255 224 0  153 255 0
0 0 255  255 71 0  0 235 255  0 173 255  31 0 255  11 200 200  255 82 0
0 255 245  0 61 255  0 255 112  0 255 133  255 0 0  255 163 0  255 102 0
194 255 0  0 143 255  51 255 0  0 82 255  0 255 41  0 255 173  10 0 255
173 255 0  0 255 153  255 92 0  255 0 255  255 0 245  255 0 102  255 173 0
255 0 20  255 184 184  0 31 255  0 255 61  0 71 255  255 0 204  0 255 194
0 255 82  0 10 255  0 112 255  51 0 255  0 194 255  0 122 255  0 255 163
255 153 0  0 255 10  255 112 0  143 255 0  82 0 255  163 255 0  255 235 0
8 184 170  133 0 255  0 255 92  184 0 255  255 0 31  0 184 255  0 214 255
255 0 112  92 255 0  0 224 255  112 224 255  70 184 160  163 0 255
153 0 255  71 255 0  255 0 163  255 204 0  255 0 143  0 255 235  133 255 0
255 0 235  245 0 255  255 0 122  255 245 0  10 190 212  214 255 0
0 204 255  20 0 255  255 255 0  0 153 255  0 41 255  0 255 204  41 0 255
41 255 0  173 0 255  0 245 255  71 0 255  122 0 255  0 255 184  0 92 255
184 255 0  0 133 255  255 214 0  25 194 194  102 255 0  92 0 255
"""

# Mapillary Vistas (66 classes) colours.
_MAPILLARY_VISTAS = """
165 42 42  0 192 0  196 196 196  190 153 153  180 165 180  102 102 156
102 102 156  128 64 255  140 140 200  170 170 170  250 170 160  96 96 96
230 150 140  128 64 128  110 110 110  244 35 232  150 100 100  70 70 70
150 120 90  220 20 60  255 0 0  255 0 0  255 0 0  200 128 128  255 255 255
64 170 64  128 64 64  70 130 180  255 255 255  152 251 152  107 142 35
0 170 30  255 255 128  250 0 30  0 0 0  220 220 220  170 170 170
222 40 40  100 170 30  40 40 40  33 33 33  170 170 170  0 0 142
170 170 170  210 170 100  153 153 153  128 128 128  0 0 142  250 170 30
192 192 192  220 220 0  180 165 180  119 11 32  0 0 142  0 60 100
0 0 142  0 0 90  0 0 230  0 80 100  128 64 64  0 0 110  0 0 70  0 0 192
32 32 32  0 0 0  0 0 0
"""


def _table(text):
  return np.array(text.split(), dtype=np.uint8).reshape(-1, 3)


def pascal_colormap(size=512):
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


def ade20k_colormap():
  """ADE20K colours: 151 entries (0 = 'other')."""
  return _table(_ADE20K)


def mapillary_vistas_colormap():
  """Mapillary Vistas colours: 66 entries."""
  return _table(_MAPILLARY_VISTAS)


COLORMAPS = {'pascal': pascal_colormap, 'cityscapes': cityscapes_colormap,
             'ade20k': ade20k_colormap,
             'mapillary_vistas': mapillary_vistas_colormap}

def get_colormap(name='pascal'):
  """The [N, 3] uint8 table of a colour map name (or of a list of colours)."""
  if not isinstance(name, str):
    table = np.asarray(name)
    if table.ndim != 2 or table.shape[1] != 3 or table.min() < 0 or (
        table.max() > 255):
      raise ValueError('A colour map list needs [r, g, b] entries in 0..255.')
    return table.astype(np.uint8)
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


def overlay(image, label, colormap='pascal', alpha=0.5, ignore_label=None):
  """The image blended with the colour-mapped label.

  Args:
    image: [H, W, 3] uint8 image.
    label: [H, W] integer labels.
    colormap: Colour map name or list of [r, g, b] colours.
    alpha: Weight of the label colours.
    ignore_label: Pixels with this label keep the image unchanged.

  Returns:
    [H, W, 3] uint8.
  """
  image = np.asarray(image)
  label = np.asarray(label)
  if image.shape[:2] != label.shape:
    raise ValueError('Image %s and label %s sizes differ.'
                     % (image.shape[:2], label.shape))
  out = np.empty(image.shape[:2] + (3,), np.uint8)
  # A band of rows at a time: the float temporaries of a huge image would
  # take several times its size.
  for top in range(0, label.shape[0], _OVERLAY_ROWS):
    rows = slice(top, top + _OVERLAY_ROWS)
    part, picture = label[rows], image[rows]
    colors = label_to_color_image(np.where(part == ignore_label, 0, part)
                                  if ignore_label is not None else part,
                                  colormap).astype(np.float32)
    blended = (1 - alpha) * picture.astype(np.float32) + alpha * colors
    if ignore_label is not None:
      blended[part == ignore_label] = picture[part == ignore_label]
    out[rows] = np.clip(np.round(blended), 0, 255).astype(np.uint8)
  return out


_OVERLAY_ROWS = 512
