"""Drawing new music from a trained model: sampling steps, the decoding loop, composing from a run."""
