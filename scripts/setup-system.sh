#!/usr/bin/env bash
# Installs the Debian packages ægo needs, or prints the exact command when it cannot.
# Fast when nothing is missing: it only asks dpkg.
set -euo pipefail
PACKAGES=(
  libportaudio2 libsndfile1          # sound devices, audio files
  fluidsynth fluid-soundfont-gm      # the instrument dataset (FluidR3_GM.sf2)
  timgm6mb-soundfont                 # a second GM soundfont for held-out instrument tests
  libegl1 libegl-mesa0 libgl1-mesa-dri libgl1 xvfb   # OpenGL offscreen (EGL) and a virtual display
  fonts-dejavu-core                  # the monospace face of the visuals overlay (DejaVu Sans Mono)
  jackd2                             # real-time audio server (dummy driver in tests)
  liblo-tools                        # oscsend / oscdump: an independent OSC implementation
  socat                              # pseudo-terminal pairs for serial sensor tests
  sox                                # listening and measuring in the terminal
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" = 0 ]; then
  echo "make setup: installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # jackd2 asks about real-time priority through debconf; answer it ahead.
  echo "jackd2 jackd/tweak_rt_limits boolean false" | debconf-set-selections 2>/dev/null || true
  $cmd -qq
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  echo "make setup: installing system packages with sudo: ${missing[*]}"
  sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  sudo env DEBIAN_FRONTEND=noninteractive $cmd -qq
else
  echo "make setup: these system packages are missing; install them, then run make again:" >&2
  echo "  sudo apt-get update && sudo $cmd" >&2
  exit 1
fi
