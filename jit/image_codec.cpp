// SPDX-License-Identifier: Apache-2.0
// CompiledImage byte encoding; see image_codec.hpp. Counts and times travel as decimal text:
// there is no float byte order to get wrong, a malformed number is easy to reject, and
// to_chars/from_chars ignore the locale.
#include "jit/image_codec.hpp"

#include <charconv>

namespace rtx::jit::codec {
namespace {

bool parse_count(const std::string& text, size_t& out) {
  if (text.empty() || text.size() > 9) return false;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

}  // namespace

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out += char(uint8_t(v >> (8 * i)));
}

uint64_t get_u64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t(uint8_t(p[i])) << (8 * i);
  return v;
}

void put_field(std::string& out, std::string_view field) {
  put_u64(out, field.size());
  out += field;
}

std::string FieldReader::next() {
  if (!ok_ || data_.size() < 8) {
    ok_ = false;
    return {};
  }
  const uint64_t n = get_u64(data_.data());
  data_.remove_prefix(8);
  if (n > data_.size()) {
    ok_ = false;
    return {};
  }
  std::string out(data_.substr(0, size_t(n)));
  data_.remove_prefix(size_t(n));
  return out;
}

void put_image(std::string& out, const CompiledImage& image, bool keep_seconds) {
  put_field(out, image.target.to_string());
  put_field(
      out, std::string_view(reinterpret_cast<const char*>(image.image.data()), image.image.size()));
  put_field(out, image.log);
  char seconds[64];
  const double value = keep_seconds ? image.seconds : 0.0;
  const auto r = std::to_chars(seconds, seconds + sizeof(seconds), value);
  put_field(out, std::string_view(seconds, size_t(r.ptr - seconds)));
  put_field(out, std::to_string(image.lowered_names.size()));
  for (const auto& [expr, lowered] : image.lowered_names) {
    put_field(out, expr);
    put_field(out, lowered);
  }
}

bool get_image(FieldReader& in, CompiledImage& out) {
  auto target = Target::parse(in.next());
  if (!target) return false;
  out.target = *target;
  const std::string image = in.next();
  out.image.assign(image.begin(), image.end());
  out.log = in.next();
  const std::string seconds = in.next();
  const auto r = std::from_chars(seconds.data(), seconds.data() + seconds.size(), out.seconds);
  if (seconds.empty() || r.ec != std::errc() || r.ptr != seconds.data() + seconds.size()) {
    return false;
  }
  size_t count = 0;
  if (!parse_count(in.next(), count)) return false;
  out.lowered_names.clear();
  for (size_t i = 0; i < count && in.ok(); ++i) {
    std::string expr = in.next();
    std::string lowered = in.next();
    out.lowered_names.emplace_back(std::move(expr), std::move(lowered));
  }
  return in.ok() && !out.image.empty();
}

}  // namespace rtx::jit::codec
