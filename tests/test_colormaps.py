"""Colour maps against the original's values; overlays."""
import numpy as np
import pytest

from deeplab import colormaps
from deeplab.data import datasets


def test_pascal_values():
  cmap = colormaps.get_colormap('pascal')
  assert cmap.shape == (512, 3)
  assert tuple(cmap[0]) == (0, 0, 0)
  assert tuple(cmap[1]) == (128, 0, 0)
  assert tuple(cmap[5]) == (128, 0, 128)
  assert tuple(cmap[15]) == (192, 128, 128)  # person
  assert tuple(cmap[255]) == (224, 224, 192)  # the VOC void colour


def test_cityscapes_ade20k_mapillary_values():
  city = colormaps.get_colormap('cityscapes')
  assert tuple(city[0]) == (128, 64, 128) and tuple(city[18]) == (119, 11, 32)
  assert tuple(city[19]) == (0, 0, 0)
  ade = colormaps.get_colormap('ade20k')
  assert ade.shape == (151, 3)
  assert tuple(ade[1]) == (120, 120, 120) and tuple(ade[150]) == (92, 0, 255)
  assert tuple(ade[13]) == (150, 5, 61)
  vistas = colormaps.get_colormap('mapillary_vistas')
  assert vistas.shape == (66, 3)
  assert tuple(vistas[0]) == (165, 42, 42) and tuple(vistas[52]) == (119, 11,
                                                                     32)


def test_default_colormap_per_dataset():
  assert datasets.colormap_for('cityscapes') == 'cityscapes'
  assert datasets.colormap_for('ade20k') == 'ade20k'
  assert datasets.colormap_for('my_data') == 'pascal'


def test_label_to_color_errors():
  with pytest.raises(ValueError, match='2-D'):
    colormaps.label_to_color_image(np.zeros((2, 2, 1), np.int64))
  with pytest.raises(ValueError, match='151'):
    colormaps.label_to_color_image(np.full((2, 2), 151), 'ade20k')


def test_overlay_blends_and_keeps_ignored_pixels():
  image = np.full((2, 2, 3), 100, np.uint8)
  label = np.array([[0, 1], [255, 1]])
  out = colormaps.overlay(image, label, 'pascal', alpha=0.5, ignore_label=255)
  assert tuple(out[0, 1]) == (114, 50, 50)  # (100 + 128) / 2, (100 + 0) / 2
  assert tuple(out[1, 0]) == (100, 100, 100)
