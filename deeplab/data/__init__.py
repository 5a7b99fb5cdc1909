"""Input: dataset descriptors, preprocessing, the tf.data pipeline, TFDS,
and a synthetic VOC-style dataset."""
