"""Where music comes from: SMF decoding, zips, files and folders, the built-in corpus, uploads.

Everything ends as a :class:`~musegen.notes.Piece`.
"""
