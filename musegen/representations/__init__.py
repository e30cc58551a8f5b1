"""How a Piece becomes what a model reads and writes (timed tokens, classic tokens, piano-roll frames), and back."""
