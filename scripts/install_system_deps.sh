#!/usr/bin/env bash
# Installs the system packages musegen needs, when they are missing.
#   libfluidsynth3  the FluidSynth synthesizer library (always)
#   chromium        the browser of the end-to-end tests (only with --test)
# As root with apt-get it installs them; otherwise it prints the exact command to run.
set -euo pipefail

want_browser=0
[ "${1:-}" = "--test" ] && want_browser=1

missing=()
if ! /sbin/ldconfig -p 2>/dev/null | grep -q 'libfluidsynth\.so'; then
  if [ "$(uname -s)" = "Darwin" ]; then
    if ! ls /opt/homebrew/lib/libfluidsynth*.dylib /usr/local/lib/libfluidsynth*.dylib >/dev/null 2>&1; then
      echo "FluidSynth is missing. Install it with:  brew install fluid-synth" >&2
    fi
    exit 0
  fi
  missing+=(libfluidsynth3)
fi
if [ "$want_browser" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  missing+=(chromium)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "Missing system packages: ${missing[*]}. Install them with:" >&2
  echo "  sudo apt-get install --no-install-recommends ${missing[*]}    # Debian/Ubuntu" >&2
  echo "  brew install fluid-synth                                        # macOS" >&2
  echo "musegen still runs: without FluidSynth it plays a plain fallback synthesis." >&2
fi
