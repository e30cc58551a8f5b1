"""Music out: MIDI files, FluidSynth audio, SoundFonts, pictures."""
