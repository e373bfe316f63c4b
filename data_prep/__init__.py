"""Everything that reads data: sources (TFDS, VOCdevkit, image folders), the tf.data
pipeline that turns photos into model inputs and targets, and the colour-bin priors."""
