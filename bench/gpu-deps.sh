#!/usr/bin/env bash
# Makes .deps/root: the Debian packages backprop builds with (headers, libraries, the GoogleTest
# sources; Cairo with the libraries it loads and the DejaVu fonts, which fonts.conf there names
# for fontconfig), for machines that can build CUDA code but have no package registry, such as the lent
# GPU machine: carry .deps, and bench/gpu-check.sh points CMake at it. Where every package is
# installed here (scripts/install-deps installs them), their files are copied from this system,
# offline, in a second; otherwise they are downloaded (apt-get download) and unpacked (dpkg -x).
#
#   bench/gpu-deps.sh            make .deps (replacing an old one only once the new one is whole)
#   bench/gpu-deps.sh --list     print the packages, one a line
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(zlib1g-dev libpng-dev libpng16-16 libblis-openmp-dev libblis4-openmp libgomp1 libcli11-dev nlohmann-json3-dev googletest libgtest-dev
      libbenchmark-dev libbenchmark1debian libdeflate-dev libdeflate0
      # Cairo (the pictures), the libraries libcairo.so.2 loads, and a font
      libcairo2-dev libcairo2 libpixman-1-0 libfontconfig1 fontconfig-config libfreetype6 libbrotli1 libexpat1 libx11-6
      libx11-data libxcb1 libxcb-render0 libxcb-shm0 libxext6 libxrender1 libxau6 libxdmcp6 libbsd0 libmd0 fonts-dejavu-core)
if [ "${1:-}" = "--list" ]; then printf '%s\n' "${pkgs[@]}"; exit 0; fi

installed=1
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || installed=0
done

tmp=.deps.tmp
rm -rf "$tmp" && mkdir -p "$tmp/debs" "$tmp/root"
if [ "$installed" = 1 ]; then
  how="copied from the installed packages"
  # Every file and link the packages own (dpkg -L also lists folders and diversion notes: skipped).
  for p in "${pkgs[@]}"; do dpkg -L "$p"; done | grep '^/' | sort -u | while IFS= read -r f; do
    [ -d "$f" ] && [ ! -L "$f" ] && continue
    [ -e "$f" ] || [ -L "$f" ] || continue
    f="${f#/}"
    # Merged /usr (/lib a link to usr/lib): libexpat1's /lib files go where LD_LIBRARY_PATH looks.
    if [ -L /lib ]; then
      case "$f" in lib) continue ;; lib/*) f="usr/$f" ;; esac
    fi
    printf '%s\n' "$f"
  done | sort -u > "$tmp/files"
  tar -C / --no-recursion -cf - -T "$tmp/files" | tar -C "$tmp/root" -xf -
else
  how="downloaded and unpacked"
  (cd "$tmp/debs" && apt-get download "${pkgs[@]}" >/dev/null)
  for deb in "$tmp"/debs/*.deb; do dpkg -x "$deb" "$tmp/root"; done
  if [ -d "$tmp/root/lib" ] && [ ! -L "$tmp/root/lib" ]; then  # as above: /lib's files under usr/lib
    mkdir -p "$tmp/root/usr/lib" && cp -a "$tmp/root/lib/." "$tmp/root/usr/lib/" && rm -rf "$tmp/root/lib"
  fi
fi
rm -rf "$tmp/debs" "$tmp/files" "$tmp/root/usr/share/doc" "$tmp/root/usr/share/man"
# Static BLIS and the reference-BLAS shim are not needed: the shared libblis is linked.
rm -f "$tmp"/root/usr/lib/x86_64-linux-gnu/blis-openmp/libblis.a "$tmp"/root/usr/lib/x86_64-linux-gnu/blis-openmp/libblas.so*
# Cairo is found by its header and library (cmake/dependencies.cmake): cairo.pc would name the
# packages' /usr and require .pc files the bundle does not carry.
rm -f "$tmp"/root/usr/lib/x86_64-linux-gnu/pkgconfig/cairo*.pc "$tmp"/root/usr/lib/x86_64-linux-gnu/libcairo*.a
# Fontconfig reads this file (FONTCONFIG_FILE, set by gpu-check.sh): the bundle's fonts, wherever it is.
cat > "$tmp/root/fonts.conf" <<'CONF'
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <dir prefix="relative">usr/share/fonts</dir>
  <cachedir>/tmp/backprop-fontconfig-cache</cachedir>
</fontconfig>
CONF
[ -f "$tmp/root/usr/include/zlib.h" ] && [ -d "$tmp/root/usr/src/googletest" ] && [ -f "$tmp/root/usr/include/cairo/cairo.h" ] &&
  [ -f "$tmp/root/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf" ] || { echo "gpu-deps: the bundle is incomplete" >&2; exit 1; }
rm -rf .deps && mv "$tmp" .deps
grep -qx '/.deps/' .gitignore || echo '/.deps/' >> .gitignore
echo "gpu-deps: $(du -sh .deps | cut -f1) in .deps/root ($how)"
