"""Training a model into a run folder: the loop, callbacks, tf.distribute, background jobs, presets."""
