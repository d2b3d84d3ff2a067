#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs rtx from the build folder into a temporary root and builds a small program against it
# through pkg-config, as docs/using-rtx.md tells users to. Args: <build dir> <c++ compiler...>
set -euo pipefail
build_dir=$1
shift
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
meson install -C "$build_dir" --no-rebuild --destdir "$stage" --quiet >/dev/null
pc=$(find "$stage" -name rtx.pc | head -n1)
[ -n "$pc" ] || { echo "no rtx.pc installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$stage
cat > "$stage/app.cpp" <<'CPP'
#include <rtx/rtx.hpp>
#include <cstdio>
int main() {
  rtx::Network net;
  auto x = net.input<rtx::f32, 2>("x", {rtx::dynamic, 4});
  net.output(rtx::relu(x), "y");
  std::vector<double> v = {-1, 2, -3, 4};
  auto out = rtx::evaluate_reference(net, {{"x", rtx::HostTensor::from_doubles(rtx::DataType::kF32, {1, 4}, v)}});
  if (!out) { std::printf("%s\n", out.error().to_string().c_str()); return 1; }
  const auto& y = out->at("y");
  const bool ok = y.get_double(0) == 0 && y.get_double(1) == 2 && y.get_double(2) == 0 && y.get_double(3) == 4;
  std::printf("consumer: y = [%g, %g, %g, %g] %s\n", y.get_double(0), y.get_double(1), y.get_double(2),
              y.get_double(3), ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
CPP
libdir=$(dirname "$(dirname "$pc")")
# shellcheck disable=SC2046
"$@" -std=c++20 -Wall -Wextra -Werror "$stage/app.cpp" -o "$stage/app" $(pkg-config --cflags --libs rtx) \
  -Wl,-rpath,"$libdir"
"$stage/app"
