"""From pieces to training data: split by piece, duplicates, transposition, windows, statistics."""
