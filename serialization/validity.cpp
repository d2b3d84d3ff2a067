// SPDX-License-Identifier: Apache-2.0
// Engine validity from the 64-byte header, and the CUDA device query behind the public
// Runtime::engine_validity (through jit::device_info). The query never creates a CUDA context
// (cudaMemGetInfo would, costing hundreds of milliseconds and device memory), which is also why
// memory is compared with the device's total, not its momentary free memory.
#include "serialization/validity.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>

#include "jit/device.hpp"
#include "serialization/engine_model.hpp"
#include "serialization/errors.hpp"

namespace rtx::serialization {

Expected<DeviceFacts> query_device_facts() {
  // The current device, as the runtime will use it (cudaSetDevice is the caller's choice).
  int ordinal = 0;
  if (cudaGetDevice(&ordinal) != cudaSuccess) {
    cudaGetLastError();  // clear cudart's sticky per-thread error; device_info reports the cause
    ordinal = 0;
  }
  auto info = jit::device_info(ordinal);
  if (!info)
    return Error{errors::kDeviceQuery, "cannot query the CUDA device: " + info.error().to_string()};
  DeviceFacts f;
  f.cc = static_cast<uint32_t>(info->sm());
  f.total_memory_bytes = info->total_memory;
  f.driver_version = static_cast<uint32_t>(info->driver_version);
  f.runtime_version = static_cast<uint32_t>(info->runtime_version);
  return f;
}

EngineValidity engine_validity(std::span<const uint8_t> bytes,
                               const std::function<Expected<DeviceFacts>()>& device,
                               uint64_t* diagnostics) {
  uint64_t diag = 0;
  const auto finish = [&](EngineValidity v) {
    if (diagnostics != nullptr) *diagnostics = diag;
    return v;
  };
  EngineHeader h;
  try {
    h = decode_header(bytes.first(std::min<size_t>(bytes.size(), kHeaderSize)));
  } catch (const Exception& e) {
    diag |= diagnostic_bit(e.error().id == errors::kFormatVersion
                               ? EngineDiagnostics::kVERSION_MISMATCH
                               : EngineDiagnostics::kMALFORMED_ENGINE);
    return finish(EngineValidity::kINVALID);
  }
  // The one size rule the header can check alone: header and section table fit in the file.
  if (h.file_size < kHeaderSize + kSectionEntrySize * uint64_t(h.section_count)) {
    diag |= diagnostic_bit(EngineDiagnostics::kMALFORMED_ENGINE);
    return finish(EngineValidity::kINVALID);
  }

  Expected<DeviceFacts> facts = Error{errors::kDeviceQuery, "no device query"};
  if (device) {
    try {
      facts = device();
    } catch (...) {
      facts = Error{errors::kDeviceQuery, "device query failed"};
    }
  }
  if (!facts) {
    diag |= diagnostic_bit(EngineDiagnostics::kCUDA_ERROR);
    return finish(EngineValidity::kINVALID);
  }

  bool invalid = false;
  bool suboptimal = false;
  const bool ptx = h.has(EngineFlag::kPTX_PRESENT);
  const int bit = cubin_mask_bit(facts->cc);
  const bool has_cubin = bit >= 0 && ((h.cubin_cc_mask >> bit) & 1u) != 0;
  // An engine without any image has no kernels (the reader enforces it) and runs anywhere.
  const bool no_kernels = h.cubin_cc_mask == 0 && !ptx;
  if (!has_cubin && !no_kernels) {
    if (ptx && h.min_ptx_cc <= facts->cc) {
      suboptimal = true;
    } else {
      diag |= diagnostic_bit(EngineDiagnostics::kUNSUPPORTED_CC);
      invalid = true;
    }
  }
  if (facts->driver_version < h.min_driver_version) {
    diag |= diagnostic_bit(EngineDiagnostics::kOLD_CUDA_DRIVER);
    invalid = true;
  }
  if (facts->runtime_version < h.min_runtime_version) {
    diag |= diagnostic_bit(EngineDiagnostics::kOLD_CUDA_RUNTIME);
    invalid = true;
  }
  // Under weight streaming only the weights that cannot stream must fit.
  const uint64_t needed =
      h.has(EngineFlag::kWEIGHT_STREAMING)
          ? h.device_memory_bytes - std::min(h.streamable_weight_bytes, h.device_memory_bytes)
          : h.device_memory_bytes;
  if (needed > facts->total_memory_bytes) {
    diag |= diagnostic_bit(EngineDiagnostics::kINSUFFICIENT_GPU_MEMORY);
    invalid = true;
  }
  return finish(invalid      ? EngineValidity::kINVALID
                : suboptimal ? EngineValidity::kSUBOPTIMAL
                             : EngineValidity::kVALID);
}

}  // namespace rtx::serialization

namespace rtx {

std::string_view to_string(EngineValidity v) {
  switch (v) {
    case EngineValidity::kVALID:
      return "valid";
    case EngineValidity::kSUBOPTIMAL:
      return "suboptimal";
    case EngineValidity::kINVALID:
      return "invalid";
  }
  return "?";
}

std::string describe_diagnostics(uint64_t mask) {
  static constexpr std::pair<EngineDiagnostics, const char*> kNames[] = {
      {EngineDiagnostics::kVERSION_MISMATCH, "engine format version mismatch"},
      {EngineDiagnostics::kUNSUPPORTED_CC, "unsupported compute capability"},
      {EngineDiagnostics::kOLD_CUDA_DRIVER, "CUDA driver too old"},
      {EngineDiagnostics::kOLD_CUDA_RUNTIME, "CUDA runtime too old"},
      {EngineDiagnostics::kINSUFFICIENT_GPU_MEMORY, "insufficient GPU memory"},
      {EngineDiagnostics::kMALFORMED_ENGINE, "malformed engine"},
      {EngineDiagnostics::kCUDA_ERROR, "CUDA error (no driver or no device)"},
  };
  std::string s;
  for (const auto& [bit, name] : kNames) {
    if (!has_diagnostic(mask, bit)) continue;
    if (!s.empty()) s += ", ";
    s += name;
  }
  const uint64_t known = (1ull << 7) - 1;
  if ((mask & ~known) != 0) s += s.empty() ? "unknown diagnostics" : ", unknown diagnostics";
  return s.empty() ? "none" : s;
}

EngineValidity Runtime::engine_validity(const void* bytes, size_t size,
                                        uint64_t* diagnostics) const noexcept {
  try {
    if (bytes == nullptr) size = 0;
    const std::span<const uint8_t> span(static_cast<const uint8_t*>(bytes), size);
    return serialization::engine_validity(span, serialization::query_device_facts, diagnostics);
  } catch (...) {
    if (diagnostics != nullptr) *diagnostics = diagnostic_bit(EngineDiagnostics::kMALFORMED_ENGINE);
    return EngineValidity::kINVALID;
  }
}

}  // namespace rtx
