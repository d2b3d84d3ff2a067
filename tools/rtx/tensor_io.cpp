// SPDX-License-Identifier: Apache-2.0
// Input preparation and output writing for `rtx` runs (see tensor_io.hpp).
#include "tools/rtx/tensor_io.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

#include "ir/onnx/tensor_proto.hpp"
#include "tools/rtx/errors.hpp"
#include "tools/rtx/npy.hpp"

namespace rtx::cli {
namespace {

[[noreturn]] void fail(const char* id, std::string message) {
  throw Exception(id, std::move(message));
}

std::string in_quotes(std::string_view s) {
  return "'" + std::string(s) + "'";
}

std::string name_list(const std::vector<TensorDesc>& inputs) {
  std::string s;
  for (const auto& d : inputs) s += (s.empty() ? "" : ", ") + d.name;
  return s.empty() ? "(none)" : s;
}

std::string dims_text(const std::vector<int64_t>& dims) {
  return dims_to_string(dims);
}

// Checks `shape` against the input's declared dims and profile.
void check_shape(const TensorDesc& d, const std::vector<int64_t>& shape, const std::string& from) {
  if (shape.size() != d.dims.size()) {
    fail(errors::kShapeInvalid, "input " + in_quotes(d.name) + " has rank " +
                                    std::to_string(d.dims.size()) + " (" + dims_text(d.dims) +
                                    ") but " + from + " gives " + dims_text(shape));
  }
  for (size_t i = 0; i < shape.size(); ++i) {
    if (d.dims[i] >= 0 && d.dims[i] != shape[i]) {
      fail(errors::kShapeInvalid, "input " + in_quotes(d.name) + " is " + dims_text(d.dims) +
                                      " but " + from + " gives " + dims_text(shape) + " (dim " +
                                      std::to_string(i) + " is fixed at " +
                                      std::to_string(d.dims[i]) + ")");
    }
    if (!d.min.empty() && (shape[i] < d.min[i] || shape[i] > d.max[i])) {
      fail(errors::kShapeInvalid, "input " + in_quotes(d.name) + ": " + from + " gives " +
                                      dims_text(shape) + ", outside the profile [" +
                                      dims_text(d.min) + ", " + dims_text(d.max) + "]");
    }
  }
}

std::vector<uint8_t> read_file(const std::string& path, const std::string& input) {
  std::error_code ec;
  std::ifstream in(path, std::ios::binary);
  if (!in || std::filesystem::is_directory(path, ec)) {
    fail(errors::kInputRead,
         "--loadInputs: cannot read " + in_quotes(path) + " for input " + in_quotes(input));
  }
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool is_npy_path(const std::string& path) {
  return path.size() >= 4 && path.compare(path.size() - 4, 4, ".npy") == 0;
}

bool is_pb_path(const std::string& path) {
  return path.size() >= 3 && path.compare(path.size() - 3, 3, ".pb") == 0;
}

// An ONNX TensorProto file (the input_N.pb of ONNX test data sets). ONNX has every rtx dtype, so
// the dtype must match exactly.
HostTensor read_tensor_proto(const TensorDesc& d, const std::string& path) {
  const auto bytes = read_file(path, d.name);
  HostTensor t;
  try {
    t = onnx::tensor_from_bytes(bytes.data(), bytes.size(), path);
  } catch (const Exception& e) {
    fail(errors::kInputRead, "--loadInputs: " + path + " is not a readable ONNX TensorProto (" +
                                 e.error().to_string() + ")");
  }
  if (t.dtype() != d.dtype) {
    fail(errors::kInputDtype, "input " + in_quotes(d.name) + " is " +
                                  std::string(to_string(d.dtype)) + " but " + path + " holds " +
                                  std::string(to_string(t.dtype())));
  }
  return t;
}

// A .npy tensor converted to the input's dtype where numpy has no such dtype.
HostTensor adapt_npy(const TensorDesc& d, HostTensor t, const std::string& path,
                     std::string& note) {
  if (t.dtype() == d.dtype) return t;
  if (!npy_descr(d.dtype) && t.dtype() == npy_storage_type(d.dtype)) {
    note = " (" + std::string(to_string(t.dtype())) + " rounded to " +
           std::string(to_string(d.dtype)) + ")";
    const auto values = t.to_doubles();
    return HostTensor::from_doubles(d.dtype, t.shape(), values);
  }
  std::string hint;
  if (auto descr = npy_descr(d.dtype)) {
    hint = "; save it with a.astype('" + std::string(*descr) + "')";
  } else {
    hint = "; numpy has no " + std::string(to_string(d.dtype)) + " dtype: save the values as " +
           std::string(to_string(npy_storage_type(d.dtype))) + " and rtx rounds them";
  }
  fail(errors::kInputDtype, "input " + in_quotes(d.name) + " is " +
                                std::string(to_string(d.dtype)) + " but " + path + " holds " +
                                std::string(to_string(t.dtype())) + hint);
}

}  // namespace

uint64_t Rng::next() {
  uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double Rng::uniform() {
  return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

HostTensor random_tensor(DataType dtype, const std::vector<int64_t>& shape, Rng& rng) {
  HostTensor t(dtype, shape);
  const int64_t n = t.element_count();
  if (is_floating(dtype)) {
    for (int64_t i = 0; i < n; ++i) t.set_double(i, 2.0 * rng.uniform() - 1.0);
  } else {
    for (int64_t i = 0; i < n; ++i) t.set_int(i, static_cast<int64_t>(rng.next() >> 63));
  }
  return t;
}

Expected<std::vector<std::pair<std::string, InputChoice>>> prepare_inputs(
    const std::vector<TensorDesc>& inputs, const Options& options) {
  return detail::catch_errors(
      errors::kInputRead, [&]() -> Expected<std::vector<std::pair<std::string, InputChoice>>> {
        const auto find_input = [&](const std::string& name) -> const TensorDesc* {
          for (const auto& d : inputs) {
            if (d.name == name) return &d;
          }
          return nullptr;
        };
        for (const auto& [name, dims] : options.shapes) {
          if (!find_input(name))
            fail(errors::kUnknownTensor,
                 "--shapes: " + in_quotes(name) +
                     " is not an input of the model (inputs: " + name_list(inputs) + ")");
        }
        for (const auto& f : options.load_inputs) {
          if (!find_input(f.name))
            fail(errors::kUnknownTensor,
                 "--loadInputs: " + in_quotes(f.name) +
                     " is not an input of the model (inputs: " + name_list(inputs) + ")");
        }
        for (const auto& [name, dims] : options.opt_shapes) {
          if (!find_input(name))
            fail(errors::kUnknownTensor,
                 "--optShapes: " + in_quotes(name) +
                     " is not an input of the model (inputs: " + name_list(inputs) + ")");
        }

        std::vector<std::pair<std::string, InputChoice>> out;
        std::vector<std::optional<std::vector<int64_t>>> shapes(inputs.size());
        std::vector<std::string> shape_from(inputs.size());
        std::map<std::string, int64_t> named_dims;
        const auto learn = [&](size_t k) {
          const auto& d = inputs[k];
          for (size_t i = 0; i < d.dim_names.size() && i < shapes[k]->size(); ++i) {
            if (!d.dim_names[i].empty()) named_dims.emplace(d.dim_names[i], (*shapes[k])[i]);
          }
        };
        std::vector<HostTensor> loaded(inputs.size());
        std::vector<std::string> sources(inputs.size());

        // Pass 1: shapes that are stated (a .npy file, --shapes, static dims).
        for (size_t k = 0; k < inputs.size(); ++k) {
          const auto& d = inputs[k];
          const InputFile* file = nullptr;
          for (const auto& f : options.load_inputs) {
            if (f.name == d.name) file = &f;
          }
          const auto* given = find_shape(options.shapes, d.name);
          if (file && (is_npy_path(file->path) || is_pb_path(file->path))) {
            if (is_npy_path(file->path)) {
              auto t = read_npy(file->path);
              if (!t) return t.error();
              std::string note;
              loaded[k] = adapt_npy(d, std::move(*t), file->path, note);
              sources[k] = file->path + note;
            } else {
              loaded[k] = read_tensor_proto(d, file->path);
              sources[k] = file->path + " (ONNX TensorProto)";
            }
            shapes[k] = loaded[k].shape();
            shape_from[k] = file->path;
            if (given && *given != loaded[k].shape()) {
              fail(errors::kShapeInvalid, "input " + in_quotes(d.name) + ": --shapes says " +
                                              dims_text(*given) + " but " + file->path + " holds " +
                                              dims_text(loaded[k].shape()));
            }
          } else if (given) {
            shapes[k] = *given;
            shape_from[k] = "--shapes";
          } else if (std::all_of(d.dims.begin(), d.dims.end(), [](int64_t v) { return v >= 0; })) {
            shapes[k] = d.dims;
            shape_from[k] = "the model";
          }
          if (shapes[k]) learn(k);
        }
        // Pass 2: dynamic inputs without a stated shape: dim names fixed by another input, else the
        // profile's opt shape.
        for (size_t k = 0; k < inputs.size(); ++k) {
          if (shapes[k]) continue;
          const auto& d = inputs[k];
          std::vector<int64_t> s = d.dims;
          bool complete = true;
          for (size_t i = 0; i < s.size(); ++i) {
            if (s[i] >= 0) continue;
            auto it = i < d.dim_names.size() ? named_dims.find(d.dim_names[i]) : named_dims.end();
            if (it != named_dims.end())
              s[i] = it->second;
            else
              complete = false;
          }
          if (complete) {
            shapes[k] = s;
            shape_from[k] = "dim names shared with other inputs";
          } else if (const auto* opt = find_shape(options.opt_shapes, d.name)) {
            shapes[k] = *opt;
            shape_from[k] = "--optShapes";
          } else if (!d.opt.empty()) {
            shapes[k] = d.opt;
            shape_from[k] = "the profile's opt shape";
          } else {
            std::string example;
            for (int64_t v : d.dims)
              example += (example.empty() ? "" : "x") + std::to_string(v < 0 ? 1 : v);
            fail(errors::kShapeNeeded,
                 "input " + in_quotes(d.name) + " has dynamic dims " + dims_text(d.dims) +
                     ": give its shape, e.g. --shapes=" + d.name + ":" + example);
          }
          learn(k);
        }
        // Pass 3: check shapes, load raw files, make random values.
        Rng rng(options.seed);
        for (size_t k = 0; k < inputs.size(); ++k) {
          const auto& d = inputs[k];
          check_shape(d, *shapes[k], shape_from[k]);
          InputChoice choice;
          if (loaded[k].valid()) {
            choice.tensor = loaded[k];
            choice.source = sources[k];
          } else {
            const InputFile* file = nullptr;
            for (const auto& f : options.load_inputs) {
              if (f.name == d.name) file = &f;
            }
            if (file) {
              auto bytes = read_file(file->path, d.name);
              HostTensor t(d.dtype, *shapes[k]);
              if (bytes.size() != t.byte_size()) {
                fail(errors::kRawSize,
                     "--loadInputs: " + file->path + " has " + std::to_string(bytes.size()) +
                         " bytes but input " + in_quotes(d.name) + " (" +
                         std::string(to_string(d.dtype)) + " " + dims_text(*shapes[k]) +
                         ") needs " + std::to_string(t.byte_size()) +
                         " (raw files hold little-endian values of the input's dtype; .npy files "
                         "carry their own shape)");
              }
              if (!bytes.empty()) std::memcpy(t.mutable_data(), bytes.data(), bytes.size());
              choice.tensor = std::move(t);
              choice.source = "raw file " + file->path;
            } else {
              choice.tensor = random_tensor(d.dtype, *shapes[k], rng);
              choice.source = "random (seed " + std::to_string(options.seed) + ")";
            }
          }
          out.emplace_back(d.name, std::move(choice));
        }
        return out;
      });
}

std::string safe_file_name(const std::string& tensor_name) {
  std::string s;
  for (char c : tensor_name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
    s += ok ? c : '_';
  }
  if (s.empty() || s == "." || s == "..") s = "_" + s;
  return s;
}

Expected<std::vector<std::string>> save_outputs_npy(
    const std::string& dir, const std::vector<std::pair<std::string, HostTensor>>& outputs) {
  return detail::catch_errors(errors::kOutputWrite, [&]() -> Expected<std::vector<std::string>> {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec || !std::filesystem::is_directory(dir)) {
      fail(errors::kOutputWrite, "--saveOutputs: cannot create the folder " + in_quotes(dir) +
                                     (ec ? ": " + ec.message() : ""));
    }
    std::vector<std::string> written;
    std::map<std::string, std::string> used;
    for (const auto& [name, t] : outputs) {
      const std::string file = safe_file_name(name);
      auto [it, fresh] = used.emplace(file, name);
      if (!fresh) {
        fail(errors::kOutputWrite, "--saveOutputs: outputs " + in_quotes(it->second) + " and " +
                                       in_quotes(name) + " both map to the file name " + file +
                                       ".npy");
      }
      const auto path = (std::filesystem::path(dir) / (file + ".npy")).string();
      auto r = write_npy(path, t);
      if (!r) fail(errors::kOutputWrite, "--saveOutputs: " + r.error().message);
      written.push_back(path);
    }
    return written;
  });
}

std::string format_value(const HostTensor& t, int64_t i) {
  const DataType dt = t.dtype();
  if (dt == DataType::kBOOL || is_integer(dt)) return std::to_string(t.get_int(i));
  const double v = t.get_double(i);
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  // Narrower floats are exact in f32, so the shortest f32 text reads back to the same value.
  const auto r = dt == DataType::kF64
                     ? std::to_chars(buf, buf + sizeof(buf), v)
                     : std::to_chars(buf, buf + sizeof(buf), static_cast<float>(v));
  return std::string(buf, r.ptr);
}

std::string output_json(const std::vector<std::pair<std::string, HostTensor>>& outputs) {
  std::ostringstream os;
  os << "[\n";
  const char* sep = "  ";
  for (const auto& [name, t] : outputs) {
    std::string escaped;
    for (char c : name) {
      if (c == '"' || c == '\\') escaped += '\\';
      if (static_cast<unsigned char>(c) < 0x20) {
        char b[8];
        std::snprintf(b, sizeof(b), "\\u%04x", c);
        escaped += b;
        continue;
      }
      escaped += c;
    }
    os << sep << "{ \"name\" : \"" << escaped << "\"\n";
    sep = ", ";
    os << "  , \"dimensions\" : \"" << dims_to_string(t.shape()) << "\"\n";
    os << "  , \"values\" : [ ";
    for (int64_t i = 0; i < t.element_count(); ++i) os << (i ? ", " : "") << format_value(t, i);
    os << " ]\n  }\n";
  }
  os << "]\n";
  return os.str();
}

Expected<void> write_text_file(const std::string& path, const std::string& text,
                               const char* error_id) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Error{error_id, "cannot open " + in_quotes(path) + " for writing"};
  out << text;
  out.close();
  if (!out) return Error{error_id, "cannot write " + in_quotes(path)};
  return {};
}

std::string summarize(const HostTensor& t, int head) {
  std::ostringstream s;
  s << to_string(t.dtype()) << " " << dims_to_string(t.shape());
  const int64_t n = t.element_count();
  if (n == 0) return s.str() + " (empty)";
  double lo = std::numeric_limits<double>::infinity(), hi = -lo, sum = 0;
  int64_t finite = 0, nan = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = t.get_double(i);
    if (std::isnan(v)) {
      ++nan;
      continue;
    }
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    if (std::isfinite(v)) {
      sum += v;
      ++finite;
    }
  }
  if (nan < n) {
    s << ": min " << lo << ", max " << hi;
    if (finite) s << ", mean " << sum / static_cast<double>(finite);
  }
  if (nan) s << ", " << nan << " NaN";
  s << "; [";
  for (int64_t i = 0; i < std::min<int64_t>(n, head); ++i)
    s << (i ? ", " : "") << format_value(t, i);
  if (n > head) s << ", ...";
  s << "]";
  return s.str();
}

void dump_values(std::ostream& out, const HostTensor& t) {
  const int64_t n = t.element_count();
  const int64_t row = t.shape().empty() || t.shape().back() == 0 ? 1 : t.shape().back();
  for (int64_t i = 0; i < n; ++i) {
    out << format_value(t, i) << ((i + 1) % row == 0 || i + 1 == n ? "\n" : " ");
  }
}

}  // namespace rtx::cli
