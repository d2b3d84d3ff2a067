// SPDX-License-Identifier: Apache-2.0
// The stable error ids of the `rtx` command-line tool (rtx.cli.NNN), one named constant each and
// listed in docs/cli.md. The hundreds digit is the area: 0 command line, 1 .npy files, 2 inputs
// and outputs, 3 devices and missing features, 4 inspect, 5 --check. Ids are never renumbered
// or reused.
#pragma once

namespace rtx::cli::errors {

// 0xx: the command line
inline constexpr const char* kUnknownFlag = "rtx.cli.001";   // not a flag rtx knows
inline constexpr const char* kFlagValue = "rtx.cli.002";     // value missing, or given to a switch
inline constexpr const char* kBadValue = "rtx.cli.003";      // value does not parse / out of range
inline constexpr const char* kRepeatedFlag = "rtx.cli.004";  // a flag given twice
inline constexpr const char* kConflict = "rtx.cli.005";      // flags that contradict each other
inline constexpr const char* kMissing = "rtx.cli.006";       // no model, no file to inspect...
inline constexpr const char* kPositional = "rtx.cli.007";    // an argument that is not a flag
inline constexpr const char* kUnsupportedFlag = "rtx.cli.008";  // a trtexec flag rtx does not take
// 1xx: .npy files
inline constexpr const char* kNpyOpen = "rtx.cli.101";     // cannot open or read the file
inline constexpr const char* kNpyMagic = "rtx.cli.102";    // not .npy, or a version we do not read
inline constexpr const char* kNpyHeader = "rtx.cli.103";   // malformed header dictionary
inline constexpr const char* kNpyDtype = "rtx.cli.104";    // dtype rtx cannot represent
inline constexpr const char* kNpySize = "rtx.cli.105";     // data shorter or longer than the shape
inline constexpr const char* kNpyFortran = "rtx.cli.106";  // fortran_order: True
inline constexpr const char* kNpyWrite = "rtx.cli.107";    // cannot write the file
// 2xx: inputs and outputs
inline constexpr const char* kUnknownTensor =
    "rtx.cli.201";                                      // --shapes/--loadInputs name not an input
inline constexpr const char* kRawSize = "rtx.cli.202";  // raw input file of the wrong size
inline constexpr const char* kShapeNeeded = "rtx.cli.203";   // dynamic input without a shape
inline constexpr const char* kShapeInvalid = "rtx.cli.204";  // shape outside dims or profile
inline constexpr const char* kInputDtype = "rtx.cli.205";    // .npy dtype differs from the input's
inline constexpr const char* kOutputWrite = "rtx.cli.206";   // cannot write an output file
inline constexpr const char* kInputRead = "rtx.cli.207";     // cannot read an input file
// 3xx: devices and features
inline constexpr const char* kNoGpu = "rtx.cli.301";         // a GPU mode without a usable GPU
// rtx.cli.302 is retired (it was "a feature this build does not have"; every build has them all).
inline constexpr const char* kNoGraph = "rtx.cli.303";       // engine without a network graph
inline constexpr const char* kInternal = "rtx.cli.304";      // internal error (a bug in rtx)
inline constexpr const char* kCuda = "rtx.cli.305";          // a CUDA call of the benchmark failed
// 4xx: inspect
inline constexpr const char* kInspectRead = "rtx.cli.401";  // not an engine nor an ONNX model
// 5xx: --check
inline constexpr const char* kCheckFailed = "rtx.cli.501";  // an output differs from the reference

}  // namespace rtx::cli::errors
