// SPDX-License-Identifier: Apache-2.0
// Op kind names (the ONNX op types) and the reverse lookup.
#include "ir/op_kind.hpp"

#include <array>

namespace rtx::ir {
namespace {
constexpr std::array<std::string_view, kOpKindCount> kNames = {
#define RTX_IR_OP_NAME(kind, name) name,
    RTX_IR_OPS(RTX_IR_OP_NAME)
#undef RTX_IR_OP_NAME
};
}  // namespace

std::string_view op_name(OpKind kind) {
  const auto i = static_cast<size_t>(kind);
  return i < kNames.size() ? kNames[i] : std::string_view("?");
}

std::optional<OpKind> op_from_name(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == name) return static_cast<OpKind>(i);
  return std::nullopt;
}

}  // namespace rtx::ir
