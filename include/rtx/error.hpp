// SPDX-License-Identifier: Apache-2.0
// Errors: every failure in rtx is a value with a stable id ("rtx.onnx.104") and a message that
// names what and where. Public functions return `Expected<T>`; nothing aborts on bad input.
#pragma once

#include <exception>
#include <mutex>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace rtx {

/// One error: a stable id (documented per area) and a human-readable message.
struct Error {
  std::string id;       ///< e.g. "rtx.ir.101"; stable across releases, listed in docs
  std::string message;  ///< what went wrong and where, e.g. node and input names
  /// "rtx.ir.101: ..." as printed by the CLI.
  std::string to_string() const { return id + ": " + message; }
};

/// Exception carrying an Error. Thrown only by `Expected::value()` on an error and used
/// internally; public entry points catch it and return Expected.
class Exception : public std::exception {
 public:
  explicit Exception(Error e) : error_(std::move(e)), what_(error_.to_string()) {}
  Exception(std::string id, std::string message) : Exception(Error{std::move(id), std::move(message)}) {}
  const Error& error() const noexcept { return error_; }
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  Error error_;
  std::string what_;
};

/// Either a value or an Error (std::expected is C++23; this is the subset we need).
template <class T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::move(value)) {}
  Expected(Error error) : v_(std::move(error)) {}
  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  /// The value; throws rtx::Exception if this holds an error.
  T& value() & { check(); return std::get<0>(v_); }
  const T& value() const& { check(); return std::get<0>(v_); }
  T&& value() && { check(); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  /// The error; only meaningful when !has_value().
  const Error& error() const { return std::get<1>(v_); }

 private:
  void check() const {
    if (!has_value()) throw Exception(std::get<1>(v_));
  }
  std::variant<T, Error> v_;
};

/// Expected<void>: success or an Error.
template <>
class [[nodiscard]] Expected<void> {
 public:
  Expected() = default;
  Expected(Error error) : error_(std::move(error)), ok_(false) {}
  bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  void value() const {
    if (!ok_) throw Exception(error_);
  }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

/// Severity of a recorded message.
enum class Severity : uint8_t { kERROR = 0, kWARNING = 1, kINFO = 2 };

/// Collects errors and warnings from the builder, parser and runtime (TensorRT's
/// IErrorRecorder, simplified). Thread-safe. Subclass and override `report` to forward them.
class ErrorRecorder {
 public:
  struct Entry {
    Severity severity;
    Error error;
  };
  virtual ~ErrorRecorder() = default;
  virtual void report(Severity severity, const Error& error) {
    std::lock_guard lock(mutex_);
    entries_.push_back({severity, error});
  }
  std::vector<Entry> entries() const {
    std::lock_guard lock(mutex_);
    return entries_;
  }
  size_t error_count() const { return count(Severity::kERROR); }
  size_t warning_count() const { return count(Severity::kWARNING); }
  void clear() {
    std::lock_guard lock(mutex_);
    entries_.clear();
  }

 private:
  size_t count(Severity s) const {
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (const auto& e : entries_) n += e.severity == s;
    return n;
  }
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

namespace detail {
/// Runs `f` and turns an rtx::Exception (or std::bad_alloc and other std exceptions) into an
/// Error with id `fallback_id` for non-rtx exceptions. Used at every public entry point.
template <class F>
auto catch_errors(const char* fallback_id, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Exception& e) {
    return e.error();
  } catch (const std::bad_alloc&) {
    return Error{fallback_id, "out of host memory"};
  } catch (const std::exception& e) {
    return Error{fallback_id, std::string("internal error: ") + e.what()};
  }
}
}  // namespace detail

}  // namespace rtx
