// SPDX-License-Identifier: Apache-2.0
// NVRTC compile service; see compiler.hpp. NVRTC is thread-safe but, as measured with NVRTC 13.0
// on a 16-core machine, runs one compile at a time per process: two threads compiling take as
// long as one doing both. So the thread pool's tasks each fork a worker process that runs NVRTC
// and returns the image through a pipe (Isolation::kSubprocess); in-process compiles remain for
// single-core machines, RTX_JIT_SUBPROCESS=0, AddressSanitizer builds (see resolve()), and as
// the fallback when no process can be made.
#include "jit/compiler.hpp"

#include <fcntl.h>
#include <nvrtc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

#include "jit/cache.hpp"
#include "jit/errors.hpp"
#include "jit/hash.hpp"
#include "jit/image_codec.hpp"
#include "jit/template_registry.hpp"
#include "jit/thread_pool.hpp"

#ifndef RTX_CUDA_ROOT
#define RTX_CUDA_ROOT ""
#endif

namespace rtx::jit {
namespace {

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool env_flag(const char* name) {
  const std::string v = env_or_empty(name);
  return !v.empty() && v != "0";
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

std::string quoted_list(const std::vector<std::string>& items) {
  if (items.empty()) return "(none)";
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    out += "'" + items[i] + "'";
  }
  return out;
}

/// The embedded headers as the parallel C arrays nvrtcCreateProgram takes; built once.
struct HeaderTable {
  std::vector<const char*> names;
  std::vector<const char*> sources;
  std::vector<std::string> name_storage;
};

const HeaderTable& header_table() {
  static const HeaderTable table = [] {
    HeaderTable t;
    const auto entries = embedded_templates();
    t.name_storage.reserve(entries.size());
    for (const auto& e : entries) t.name_storage.emplace_back(e.path);
    for (size_t i = 0; i < entries.size(); ++i) {
      t.names.push_back(t.name_storage[i].c_str());
      t.sources.push_back(entries[i].contents.data());  // NUL-terminated by the generator
    }
    return t;
  }();
  return table;
}

/// Owns an nvrtcProgram.
class ProgramHandle {
 public:
  ProgramHandle() = default;
  ~ProgramHandle() {
    if (prog_) nvrtcDestroyProgram(&prog_);
  }
  ProgramHandle(const ProgramHandle&) = delete;
  ProgramHandle& operator=(const ProgramHandle&) = delete;
  nvrtcProgram* out() { return &prog_; }
  nvrtcProgram get() const { return prog_; }

 private:
  nvrtcProgram prog_ = nullptr;
};

std::string program_log(nvrtcProgram prog) {
  size_t size = 0;
  if (nvrtcGetProgramLogSize(prog, &size) != NVRTC_SUCCESS || size <= 1) return {};
  std::string log(size, '\0');
  if (nvrtcGetProgramLog(prog, log.data()) != NVRTC_SUCCESS) return {};
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
  return log;
}

std::string sanitize_file_name(std::string_view name) {
  std::string out;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    out += ok ? c : '_';
  }
  if (out.empty() || out[0] == '.') out.insert(out.begin(), 'p');
  return out.substr(0, 80);
}

/// Writes the failing program and its log to $RTX_JIT_DUMP_DIR; returns a note for the error
/// message naming the files, or an empty string when dumping is off or failed (a dump is a
/// debugging aid: it never turns one error into another).
std::string dump_failure(const Program& p, const Target& target, std::string_view details) {
  const std::string dir = env_or_empty("RTX_JIT_DUMP_DIR");
  if (dir.empty()) return {};
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  const std::string stem = sanitize_file_name(p.name) + "-" + sha256_hex(p.source).substr(0, 12) +
                           "-" + target.to_string();
  const fs::path source_path = fs::path(dir) / (stem + ".cu");
  const fs::path log_path = fs::path(dir) / (stem + ".log");
  {
    std::ofstream f(source_path, std::ios::binary);
    f << p.source;
    if (!f) return {};
  }
  {
    std::ofstream f(log_path, std::ios::binary);
    f << details << "\n";
    if (!f) return {};
  }
  return "\nprogram and log written to " + source_path.string() + " and " + log_path.string();
}

/// "what failed" + the full request, shared by every error that has a program.
std::string describe(const Program& p, const Target& target) {
  return "program '" + p.name + "' for " + target.to_string() +
         "\noptions: " + join(p.options, " ") +
         "\nname expressions: " + quoted_list(p.name_expressions);
}

std::string nvrtc_call_error(const char* call, nvrtcResult r) {
  return std::string(call) + " failed: " + nvrtcGetErrorString(r);
}

std::string missing_cuda_note() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string inc = cuda_root() + "/include";
  if (fs::exists(inc + "/cuda_runtime_api.h", ec)) return {};
  return "\nnote: CUDA headers not found under '" + inc +
         "'; set CUDA_PATH to the CUDA toolkit root";
}

}  // namespace

std::string Target::to_string() const {
  return std::string(ptx ? "compute_" : "sm_") + std::to_string(sm) + (arch_specific ? "a" : "");
}

Expected<Target> Target::parse(std::string_view text) {
  Target t;
  std::string_view rest = text;
  if (starts_with(rest, "sm_")) {
    rest.remove_prefix(3);
  } else if (starts_with(rest, "compute_")) {
    rest.remove_prefix(8);
    t.ptx = true;
  } else {
    return Error{errc::kBadTarget, "target '" + std::string(text) +
                                       "' is not of the form sm_XX, sm_XXa or compute_XX"};
  }
  if (!rest.empty() && rest.back() == 'a') {
    t.arch_specific = true;
    rest.remove_suffix(1);
  }
  if (rest.size() < 2 || rest.size() > 3 ||
      !std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Error{errc::kBadTarget, "target '" + std::string(text) +
                                       "' is not of the form sm_XX, sm_XXa or compute_XX"};
  }
  t.sm = std::stoi(std::string(rest));
  return t;
}

const std::string* CompiledImage::lowered_name(std::string_view expression) const {
  for (const auto& [expr, lowered] : lowered_names) {
    if (expr == expression) return &lowered;
  }
  return nullptr;
}

std::string cuda_root() {
  std::string root = env_or_empty("CUDA_PATH");
  if (root.empty()) root = RTX_CUDA_ROOT;
  if (root.empty()) root = "/usr/local/cuda";
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return root;
}

std::string nvrtc_version() {
  int major = 0, minor = 0;
  if (nvrtcVersion(&major, &minor) != NVRTC_SUCCESS) return "unknown";
  return std::to_string(major) + "." + std::to_string(minor);
}

const std::vector<int>& supported_archs() {
  static const std::vector<int> archs = [] {
    std::vector<int> out;
    int n = 0;
    if (nvrtcGetNumSupportedArchs(&n) != NVRTC_SUCCESS || n <= 0) return out;
    out.resize(size_t(n));
    if (nvrtcGetSupportedArchs(out.data()) != NVRTC_SUCCESS) out.clear();
    std::sort(out.begin(), out.end());
    return out;
  }();
  return archs;
}

Expected<void> check_target(const Target& target) {
  const auto& archs = supported_archs();
  if (!std::binary_search(archs.begin(), archs.end(), target.sm)) {
    std::vector<std::string> names;
    for (int a : archs) names.push_back(std::to_string(a));
    return Error{errc::kBadTarget, "target " + target.to_string() + " is not supported by NVRTC " +
                                       nvrtc_version() + " (supported: " + join(names, ", ") + ")"};
  }
  if (target.arch_specific && target.sm < 90) {
    return Error{errc::kBadTarget, "target " + target.to_string() +
                                       ": arch-specific ('a') targets exist from sm_90 on"};
  }
  return {};
}

std::vector<Target> default_targets() {
  std::vector<Target> out;
  for (int sm : {80, 86, 89, 90, 100, 120}) {
    const Target t{sm, false, false};
    if (check_target(t)) out.push_back(t);
  }
  if (!out.empty()) out.push_back(Target{out.front().sm, false, true});
  return out;
}

Expected<std::vector<std::string>> canonical_options(std::span<const std::string> options) {
  std::vector<std::string> out;
  std::string std_option;
  for (const std::string& o : options) {
    if (o.size() < 2 || o[0] != '-' || o.find('\0') != std::string::npos) {
      return Error{errc::kBadOption, "NVRTC option '" + o +
                                         "' is not a single token starting with '-' (write "
                                         "'-Idir' or '--option=value', not separate words)"};
    }
    if (starts_with(o, "-arch") || starts_with(o, "--gpu-architecture") ||
        starts_with(o, "-gpu-architecture")) {
      return Error{errc::kBadOption, "NVRTC option '" + o +
                                         "' is not allowed: the compile targets choose the "
                                         "architecture"};
    }
    if (starts_with(o, "-std=") || starts_with(o, "--std=")) {
      const std::string value = o.substr(o.find('=') + 1);
      if (!std_option.empty() && std_option != value) {
        return Error{errc::kBadOption, "NVRTC options ask for two language standards: -std=" +
                                           std_option + " and -std=" + value};
      }
      std_option = value;
      continue;  // re-added below in one spelling
    }
    out.push_back(o);
  }
  out.push_back("-std=" + (std_option.empty() ? std::string("c++17") : std_option));
  out.push_back("-default-device");
  const std::string root = cuda_root();
  out.push_back("-I" + root + "/include");
  out.push_back("-I" + root + "/include/cccl");
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Expected<Program> canonicalize(const Program& program) {
  auto options = canonical_options(program.options);
  if (!options) return options.error();
  Program p;
  p.name = program.name.empty() ? std::string("rtx_program") : program.name;
  p.source = program.source;
  p.name_expressions = program.name_expressions;
  std::sort(p.name_expressions.begin(), p.name_expressions.end());
  p.name_expressions.erase(std::unique(p.name_expressions.begin(), p.name_expressions.end()),
                           p.name_expressions.end());
  for (const auto& e : p.name_expressions) {
    if (e.empty()) {
      return Error{errc::kBadRequest, "program '" + p.name + "' has an empty name expression"};
    }
  }
  p.options = std::move(*options);
  return p;
}

namespace {

/// One NVRTC run in this process. Callers check the target and the tripwire first, and hold
/// nvrtc_mutex() -- except a worker child, where the mutex is a locked copy nobody will release.
Expected<CompiledImage> nvrtc_compile(const Program& p, const Target& target) {
  return detail::catch_errors(errc::kInternal, [&]() -> Expected<CompiledImage> {
    const auto start = std::chrono::steady_clock::now();
    const HeaderTable& headers = header_table();
    ProgramHandle prog;
    nvrtcResult r =
        nvrtcCreateProgram(prog.out(), p.source.c_str(), p.name.c_str(), int(headers.names.size()),
                           headers.sources.data(), headers.names.data());
    if (r != NVRTC_SUCCESS) {
      return Error{errc::kNvrtcFailure,
                   nvrtc_call_error("nvrtcCreateProgram", r) + " for " + describe(p, target)};
    }
    for (const auto& e : p.name_expressions) {
      r = nvrtcAddNameExpression(prog.get(), e.c_str());
      if (r != NVRTC_SUCCESS) {
        return Error{errc::kNvrtcFailure, nvrtc_call_error("nvrtcAddNameExpression", r) + " for '" +
                                              e + "' in " + describe(p, target)};
      }
    }
    std::vector<std::string> options = p.options;
    options.push_back("-arch=" + target.to_string());
    std::vector<const char*> argv;
    for (const auto& o : options) argv.push_back(o.c_str());
    r = nvrtcCompileProgram(prog.get(), int(argv.size()), argv.data());
    const std::string log = program_log(prog.get());
    if (r != NVRTC_SUCCESS) {
      const char* id = r == NVRTC_ERROR_COMPILATION      ? errc::kCompileFailed
                       : r == NVRTC_ERROR_INVALID_OPTION ? errc::kBadOption
                                                         : errc::kNvrtcFailure;
      const std::string details = "NVRTC (" + std::string(nvrtcGetErrorString(r)) +
                                  ") failed to compile " + describe(p, target) + "\nlog:\n" +
                                  (log.empty() ? "(empty)" : log) + missing_cuda_note();
      return Error{id, details + dump_failure(p, target, details)};
    }

    CompiledImage out;
    out.target = target;
    out.log = log;
    size_t size = 0;
    if (target.ptx) {
      r = nvrtcGetPTXSize(prog.get(), &size);
      if (r == NVRTC_SUCCESS) {
        std::string ptx(size, '\0');
        r = nvrtcGetPTX(prog.get(), ptx.data());
        while (!ptx.empty() && ptx.back() == '\0') ptx.pop_back();
        out.image.assign(ptx.begin(), ptx.end());
      }
    } else {
      r = nvrtcGetCUBINSize(prog.get(), &size);
      if (r == NVRTC_SUCCESS) {
        out.image.resize(size);
        r = nvrtcGetCUBIN(prog.get(), reinterpret_cast<char*>(out.image.data()));
      }
    }
    if (r != NVRTC_SUCCESS || out.image.empty()) {
      return Error{errc::kNvrtcFailure, std::string("could not read the ") +
                                            (target.ptx ? "PTX" : "cubin") + " of " +
                                            describe(p, target) + ": " + nvrtcGetErrorString(r)};
    }
    for (const auto& e : p.name_expressions) {
      const char* lowered = nullptr;
      r = nvrtcGetLoweredName(prog.get(), e.c_str(), &lowered);
      if (r != NVRTC_SUCCESS || lowered == nullptr) {
        return Error{errc::kNvrtcFailure, nvrtc_call_error("nvrtcGetLoweredName", r) + " for '" +
                                              e + "' in " + describe(p, target)};
      }
      out.lowered_names.emplace_back(e, lowered);
    }
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return out;
  });
}

}  // namespace
namespace {

/// Held around every in-process NVRTC compile and around fork(): a worker child then never
/// starts with NVRTC's internal state half-updated by another thread of the parent. NVRTC
/// serialises compiles per process anyway, so this costs no parallelism.
std::mutex& nvrtc_mutex() {
  static std::mutex m;
  return m;
}

Expected<void> precheck(const Program& p, const Target& target) {
  if (auto ok = check_target(target); !ok) return ok.error();
  if (env_flag("RTX_ASSERT_NO_JIT")) {
    return Error{errc::kJitForbidden,
                 "RTX_ASSERT_NO_JIT is set, so JIT compilation is "
                 "forbidden, but " +
                     describe(p, target) + "\nwas not in the kernel cache"};
  }
  return {};
}

/// Writes all of `data` to `fd`; false if the reader went away.
bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(size_t(n));
  }
  return true;
}

/// The worker child: compile, send the result, leave without running the parent's exit handlers
/// or destructors (they belong to the parent's state, copied here).
[[noreturn]] void run_worker_child(const Program& p, const Target& target, int fd) {
  // A crash reporter installed by the application must not report NVRTC's crash as its own.
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) ::signal(sig, SIG_DFL);
  const Expected<CompiledImage> r = nvrtc_compile(p, target);
  std::string body;
  if (r) {
    codec::put_field(body, "ok");
    codec::put_image(body, *r);
  } else {
    codec::put_field(body, "error");
    codec::put_field(body, r.error().id);
    codec::put_field(body, r.error().message);
  }
  std::string message;
  codec::put_u64(message, body.size());  // lets the parent tell a complete result from a torn one
  message += body;
  _exit(write_all(fd, message) ? 0 : 1);
}

std::string describe_status(int status) {
  if (WIFSIGNALED(status)) {
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  }
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "ended abnormally";
}

/// Compiles in a forked child. Falls back to in-process NVRTC if no pipe or process can be made.
Expected<CompiledImage> compile_in_worker(const Program& p, const Target& target) {
  // Everything the child reads from lazily initialised statics must exist before the fork: a
  // static being initialised by another thread at fork time would stay locked in the child.
  (void)header_table();
  (void)supported_archs();
  // A first compile in this process loads NVRTC's lazily opened parts (builtins library), so
  // workers inherit them instead of each opening them again.
  static std::once_flag warm_up;
  std::call_once(warm_up, [] {
    std::lock_guard lock(nvrtc_mutex());
    Program tiny;
    tiny.name = "rtx_warm_up";
    tiny.source = "__global__ void rtx_warm_up() {}\n";
    (void)nvrtc_compile(tiny, Target{supported_archs().empty() ? 80 : supported_archs()[0]});
  });

  int fds[2] = {-1, -1};
  pid_t pid = -1;
  {
    // No other thread forks or runs NVRTC while this child is made, and no other child can
    // inherit this pipe's write end (which would delay our end-of-file until that child exits).
    std::lock_guard lock(nvrtc_mutex());
    if (::pipe2(fds, O_CLOEXEC) != 0) return nvrtc_compile(p, target);
    pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      run_worker_child(p, target, fds[1]);
    }
    ::close(fds[1]);
    if (pid < 0) {
      ::close(fds[0]);
      return nvrtc_compile(p, target);
    }
  }
  std::string data;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fds[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.append(buffer, size_t(n));
  }
  ::close(fds[0]);
  int status = 0;
  pid_t waited;
  do {
    waited = ::waitpid(pid, &status, 0);
  } while (waited < 0 && errno == EINTR);
  // waitpid fails with ECHILD when the application reaps children itself (SIGCHLD ignored or
  // handled): the result's own length prefix still says whether it is complete.
  const std::string how = waited == pid ? describe_status(status) : std::string("was reaped");

  if (data.size() >= 8 && codec::get_u64(data.data()) == data.size() - 8) {
    codec::FieldReader in(std::string_view(data).substr(8));
    const std::string kind = in.next();
    if (kind == "ok") {
      CompiledImage image;
      if (codec::get_image(in, image) && in.at_end() && image.target == target) return image;
    } else if (kind == "error") {
      std::string id = in.next();
      std::string message = in.next();
      if (in.ok() && in.at_end()) return Error{std::move(id), std::move(message)};
    }
  }
  return Error{errc::kNvrtcFailure, "the NVRTC worker process compiling " + describe(p, target) +
                                        "\n" + how + " without a complete result (" +
                                        std::to_string(data.size()) +
                                        " bytes); set RTX_JIT_SUBPROCESS=0 to compile in-process"};
}

}  // namespace

// AddressSanitizer's allocator (GCC 12's libasan) is not locked across fork(): a worker forked
// while another thread is inside malloc can deadlock in its first allocation, and the parent
// then waits on its pipe forever (seen in CI's sanitizer pass). Sanitizer builds compile in
// process; explicit kSubprocess requests are still honoured.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kForkUnsafeAllocator = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kForkUnsafeAllocator = true;
#else
constexpr bool kForkUnsafeAllocator = false;
#endif
#else
constexpr bool kForkUnsafeAllocator = false;
#endif

Isolation resolve(Isolation isolation) {
  if (isolation != Isolation::kAuto) return isolation;
  if (kForkUnsafeAllocator) return Isolation::kInProcess;
  const char* env = std::getenv("RTX_JIT_SUBPROCESS");
  if (env && std::string_view(env) == "0") return Isolation::kInProcess;
  return std::thread::hardware_concurrency() > 1 ? Isolation::kSubprocess : Isolation::kInProcess;
}

Expected<CompiledImage> compile_uncached(const Program& p, const Target& target,
                                         Isolation isolation) {
  return detail::catch_errors(errc::kInternal, [&]() -> Expected<CompiledImage> {
    if (auto ok = precheck(p, target); !ok) return ok.error();
    if (resolve(isolation) == Isolation::kSubprocess) return compile_in_worker(p, target);
    std::lock_guard lock(nvrtc_mutex());
    return nvrtc_compile(p, target);
  });
}

Expected<std::vector<CompiledImage>> compile(const Program& program,
                                             std::span<const Target> targets,
                                             const CompileOptions& options) {
  return detail::catch_errors(errc::kInternal, [&]() -> Expected<std::vector<CompiledImage>> {
    if (targets.empty()) {
      return Error{errc::kBadRequest, "program '" + program.name + "' has no compile targets"};
    }
    for (size_t i = 0; i < targets.size(); ++i) {
      if (auto ok = check_target(targets[i]); !ok) return ok.error();
      for (size_t j = 0; j < i; ++j) {
        if (targets[j] == targets[i]) {
          return Error{errc::kBadRequest, "program '" + program.name + "': target " +
                                              targets[i].to_string() + " is listed twice"};
        }
      }
    }
    auto canonical = canonicalize(program);
    if (!canonical) return canonical.error();

    std::vector<std::unique_ptr<Expected<CompiledImage>>> results(targets.size());
    ThreadPool& pool = options.pool ? *options.pool : ThreadPool::shared();
    pool.parallel_for(targets.size(), [&](size_t i) {
      results[i] = std::make_unique<Expected<CompiledImage>>(
          options.cache ? options.cache->get_or_compile(*canonical, targets[i], options.isolation)
                        : compile_uncached(*canonical, targets[i], options.isolation));
    });
    std::vector<CompiledImage> images;
    images.reserve(targets.size());
    for (auto& r : results) {
      if (!*r) return r->error();
      images.push_back(std::move(**r));
    }
    return images;
  });
}

}  // namespace rtx::jit
