// SPDX-License-Identifier: Apache-2.0
// .npy reading and writing (see npy.hpp). The header is a Python dict literal; rather than accept
// "anything Python could evaluate", the reader takes the grammar numpy.save writes: a brace, the
// three keys 'descr', 'fortran_order' and 'shape' in any order, string / bool / int-tuple values,
// an optional trailing comma, spaces, and a final newline. Anything else is a malformed header,
// which keeps a hand-edited or truncated file from being read as something it is not.
#include "tools/rtx/npy.hpp"

#include <cstring>
#include <fstream>
#include <limits>

#include "tools/rtx/errors.hpp"

namespace rtx::cli {
namespace {

constexpr uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

[[noreturn]] void fail(const char* id, std::string message) {
  throw Exception(id, std::move(message));
}

struct Descr {
  std::string_view text;
  DataType dtype;
};

// Native byte order is little-endian on every machine rtx runs on; 1-byte types use '|'.
constexpr Descr kDescrs[] = {
    {"<f8", DataType::kF64},   {"<f4", DataType::kF32},   {"<f2", DataType::kF16},
    {"|i1", DataType::kINT8},  {"|u1", DataType::kUINT8}, {"<i4", DataType::kINT32},
    {"<i8", DataType::kINT64}, {"|b1", DataType::kBOOL},
};

// The header dictionary's values.
struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::string_view what) : s_(text), what_(what) {}

  Header parse() {
    Header h;
    bool have_descr = false, have_fortran = false, have_shape = false;
    skip_spaces();
    expect('{');
    while (true) {
      skip_spaces();
      if (peek() == '}') break;
      const std::string key = string_literal();
      skip_spaces();
      expect(':');
      skip_spaces();
      if (key == "descr") {
        if (have_descr) error("key 'descr' appears twice");
        have_descr = true;
        h.descr = string_literal();
      } else if (key == "fortran_order") {
        if (have_fortran) error("key 'fortran_order' appears twice");
        have_fortran = true;
        h.fortran_order = boolean();
      } else if (key == "shape") {
        if (have_shape) error("key 'shape' appears twice");
        have_shape = true;
        h.shape = tuple();
      } else {
        error("unexpected key '" + key +
              "' (a .npy header has exactly 'descr', 'fortran_order' and 'shape')");
      }
      skip_spaces();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_spaces();
      if (peek() != '}') error("expected ',' or '}' at byte " + std::to_string(pos_));
      break;
    }
    expect('}');
    // numpy pads with spaces and ends the header with one newline.
    while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
    if (pos_ + 1 != s_.size() || s_[pos_] != '\n')
      error("the header must end with spaces and a newline after '}'");
    if (!have_descr) error("key 'descr' is missing");
    if (!have_fortran) error("key 'fortran_order' is missing");
    if (!have_shape) error("key 'shape' is missing");
    return h;
  }

 private:
  [[noreturn]] void error(const std::string& m) const {
    fail(errors::kNpyHeader, std::string(what_) + ": malformed .npy header: " + m);
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_spaces() {
    while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
  }
  void expect(char c) {
    if (peek() != c) error(std::string("expected '") + c + "' at byte " + std::to_string(pos_));
    ++pos_;
  }
  std::string string_literal() {
    const char q = peek();
    if (q != '\'' && q != '"') error("expected a quoted string at byte " + std::to_string(pos_));
    ++pos_;
    const size_t end = s_.find(q, pos_);
    if (end == std::string_view::npos) error("unterminated string");
    std::string out(s_.substr(pos_, end - pos_));
    if (out.find('\\') != std::string::npos) error("escapes in strings are not supported");
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    if (s_.substr(pos_).starts_with("True")) {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_).starts_with("False")) {
      pos_ += 5;
      return false;
    }
    error("'fortran_order' must be True or False");
  }
  std::vector<int64_t> tuple() {
    expect('(');
    std::vector<int64_t> dims;
    bool trailing_comma = false;
    while (true) {
      skip_spaces();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') error("shape entries must be non-negative integers");
      int64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        const int digit = peek() - '0';
        if (v > (std::numeric_limits<int64_t>::max() - digit) / 10)
          error("a shape entry overflows int64");
        v = v * 10 + digit;
        ++pos_;
      }
      dims.push_back(v);
      trailing_comma = false;
      skip_spaces();
      if (peek() == ',') {
        ++pos_;
        trailing_comma = true;
        continue;
      }
      if (peek() != ')') error("expected ',' or ')' in the shape tuple");
    }
    // Python writes a 1-tuple as "(3,)": "(3)" is an int, not a tuple.
    if (dims.size() == 1 && !trailing_comma)
      error("a one-dimensional shape is written (n,), with a comma");
    expect(')');
    if (dims.size() > 8)
      error("shape has " + std::to_string(dims.size()) + " dims; rtx tensors have at most 8");
    return dims;
  }

  std::string_view s_;
  std::string_view what_;
  size_t pos_ = 0;
};

uint64_t checked_elements(const std::vector<int64_t>& shape, std::string_view what) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d != 0 && n > std::numeric_limits<uint64_t>::max() / 8 / static_cast<uint64_t>(d)) {
      fail(errors::kNpySize, std::string(what) + ": the shape's element count overflows");
    }
    n *= static_cast<uint64_t>(d);
  }
  return n;
}

}  // namespace

std::optional<std::string_view> npy_descr(DataType dtype) {
  for (const auto& d : kDescrs) {
    if (d.dtype == dtype) return d.text;
  }
  return std::nullopt;
}

DataType npy_storage_type(DataType dtype) {
  if (npy_descr(dtype)) return dtype;
  if (dtype == DataType::kINT4) return DataType::kINT8;
  if (dtype == DataType::kUINT4) return DataType::kUINT8;
  return DataType::kF32;  // bf16, fp8 e4m3/e5m2, fp4 e2m1: subsets of f32
}

Expected<HostTensor> parse_npy(std::span<const uint8_t> bytes, std::string_view what) {
  return detail::catch_errors(errors::kNpyHeader, [&]() -> Expected<HostTensor> {
    if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic, 6) != 0) {
      fail(errors::kNpyMagic, std::string(what) + ": not a .npy file (no \\x93NUMPY magic)");
    }
    const int major = bytes[6], minor = bytes[7];
    size_t header_len = 0, prefix = 0;
    if (major == 1 && minor == 0) {
      header_len = bytes[8] | size_t(bytes[9]) << 8;
      prefix = 10;
    } else if ((major == 2 || major == 3) && minor == 0) {
      if (bytes.size() < 12)
        fail(errors::kNpyHeader, std::string(what) + ": truncated .npy header");
      header_len =
          bytes[8] | size_t(bytes[9]) << 8 | size_t(bytes[10]) << 16 | size_t(bytes[11]) << 24;
      prefix = 12;
    } else {
      fail(errors::kNpyMagic, std::string(what) + ": .npy format version " + std::to_string(major) +
                                  "." + std::to_string(minor) +
                                  " is not one rtx reads (1.0, 2.0, 3.0)");
    }
    if (header_len > bytes.size() - prefix) {
      fail(errors::kNpyHeader, std::string(what) + ": the .npy header says " +
                                   std::to_string(header_len) + " bytes but the file has only " +
                                   std::to_string(bytes.size() - prefix) + " after it");
    }
    const std::string_view text(reinterpret_cast<const char*>(bytes.data() + prefix), header_len);
    for (char c : text) {
      if (static_cast<unsigned char>(c) >= 0x80 || (c < 0x20 && c != '\n')) {
        fail(errors::kNpyHeader,
             std::string(what) + ": malformed .npy header: non-ASCII or control byte");
      }
    }
    const Header h = HeaderParser(text, what).parse();
    if (h.fortran_order) {
      fail(errors::kNpyFortran, std::string(what) +
                                    ": Fortran-ordered (column-major) data; save a C-ordered "
                                    "array instead: np.save(f, np.ascontiguousarray(a))");
    }
    std::optional<DataType> dtype;
    for (const auto& d : kDescrs) {
      if (h.descr == d.text) dtype = d.dtype;
    }
    // numpy never writes '<i1', but the meaning is clear; accept it for 1-byte types.
    if (!dtype && h.descr.size() == 3 && h.descr[0] == '<' && h.descr[2] == '1') {
      for (const auto& d : kDescrs) {
        if (d.text.substr(1) == std::string_view(h.descr).substr(1)) dtype = d.dtype;
      }
    }
    if (!dtype) {
      std::string hint;
      if (!h.descr.empty() && h.descr[0] == '>')
        hint = "; it is big-endian: save with a.astype(a.dtype.newbyteorder('<'))";
      else if (h.descr.starts_with("<V") || h.descr.starts_with("|V"))
        hint = "; bfloat16/fp8 arrays (ml_dtypes) are read as float32: save a.astype(np.float32)";
      else
        hint = "; rtx reads float64, float32, float16, int8, uint8, int32, int64 and bool";
      fail(errors::kNpyDtype,
           std::string(what) + ": dtype '" + h.descr + "' is not supported" + hint);
    }
    const uint64_t count = checked_elements(h.shape, what);
    const uint64_t need = storage_bytes(*dtype, count);
    const uint64_t have = bytes.size() - prefix - header_len;
    if (have != need) {
      fail(errors::kNpySize, std::string(what) + ": shape " + shape_to_string(h.shape) + " of '" +
                                 h.descr + "' needs " + std::to_string(need) +
                                 " data bytes, the file has " + std::to_string(have) +
                                 (have < need ? " (truncated)" : " (trailing bytes)"));
    }
    HostTensor t(*dtype, h.shape);
    if (need) std::memcpy(t.mutable_data(), bytes.data() + prefix + header_len, need);
    if (*dtype == DataType::kBOOL) {
      const auto* p = reinterpret_cast<const uint8_t*>(t.data());
      for (uint64_t i = 0; i < need; ++i) {
        if (p[i] > 1) {
          fail(errors::kNpyDtype, std::string(what) + ": bool element " + std::to_string(i) +
                                      " is " + std::to_string(p[i]) + ", not 0 or 1");
        }
      }
    }
    return t;
  });
}

Expected<HostTensor> read_npy(const std::filesystem::path& path) {
  return detail::catch_errors(errors::kNpyOpen, [&]() -> Expected<HostTensor> {
    std::ifstream in(path, std::ios::binary);
    std::error_code ec;
    if (!in || std::filesystem::is_directory(path, ec))
      fail(errors::kNpyOpen, path.string() + ": cannot open for reading");
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
    if (in.bad()) fail(errors::kNpyOpen, path.string() + ": read error");
    return parse_npy(bytes, path.string());
  });
}

std::vector<uint8_t> encode_npy(const HostTensor& tensor) {
  const DataType storage = npy_storage_type(tensor.dtype());
  HostTensor data = tensor;
  if (storage != tensor.dtype()) {
    const auto values = tensor.to_doubles();  // exact: every source value is representable
    data = HostTensor::from_doubles(storage, tensor.shape(), values);
  }
  std::string header =
      "{'descr': '" + std::string(*npy_descr(storage)) + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < tensor.shape().size(); ++i) {
    header += std::to_string(tensor.shape()[i]);
    header += tensor.shape().size() == 1 ? "," : (i + 1 < tensor.shape().size() ? ", " : "");
  }
  header += "), }";
  size_t prefix = 10;
  if (header.size() + 1 + prefix > 65535) prefix = 12;  // version 2.0: 32-bit header length
  const size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  header.append(total - prefix - header.size() - 1, ' ');
  header += '\n';
  std::vector<uint8_t> out(kMagic, kMagic + 6);
  out.push_back(prefix == 10 ? 1 : 2);
  out.push_back(0);
  const size_t len = header.size();
  out.push_back(static_cast<uint8_t>(len));
  out.push_back(static_cast<uint8_t>(len >> 8));
  if (prefix == 12) {
    out.push_back(static_cast<uint8_t>(len >> 16));
    out.push_back(static_cast<uint8_t>(len >> 24));
  }
  out.insert(out.end(), header.begin(), header.end());
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  out.insert(out.end(), p, p + data.byte_size());
  return out;
}

Expected<void> write_npy(const std::filesystem::path& path, const HostTensor& tensor) {
  return detail::catch_errors(errors::kNpyWrite, [&]() -> Expected<void> {
    const auto bytes = encode_npy(tensor);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) fail(errors::kNpyWrite, path.string() + ": cannot open for writing");
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) fail(errors::kNpyWrite, path.string() + ": write failed");
    return {};
  });
}

}  // namespace rtx::cli
