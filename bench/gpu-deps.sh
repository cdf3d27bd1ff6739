#!/usr/bin/env bash
# Makes .deps/root: the Debian packages backprop builds with (headers, libraries, the GoogleTest
# sources), unpacked with dpkg -x rather than installed. For machines that can build CUDA code
# but have no package registry, such as the lent GPU machine: carry .deps (and data/mnist), and
# bench/gpu-check.sh points CMake at it. Run here, where apt-get works.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(zlib1g-dev libpng-dev libpng16-16 libblis-openmp-dev libblis4-openmp libgomp1 libcli11-dev nlohmann-json3-dev googletest libgtest-dev
      libbenchmark-dev libbenchmark1debian)
rm -rf .deps && mkdir -p .deps/debs .deps/root
(cd .deps/debs && apt-get download "${pkgs[@]}" >/dev/null)
for deb in .deps/debs/*.deb; do dpkg -x "$deb" .deps/root; done
rm -rf .deps/debs .deps/root/usr/share/doc .deps/root/usr/share/man
# Static BLIS and the reference-BLAS shim are not needed: the shared libblis is linked.
rm -f .deps/root/usr/lib/x86_64-linux-gnu/blis-openmp/libblis.a .deps/root/usr/lib/x86_64-linux-gnu/blis-openmp/libblas.so*
grep -qx '/.deps/' .gitignore || echo '/.deps/' >> .gitignore
echo "gpu-deps: $(du -sh .deps | cut -f1) in .deps/root"
