// SPDX-License-Identifier: Apache-2.0
// The stable error ids of the engine format, one named constant each, in the order of the table
// in FORMAT.md ("Error ids"). Ids are never renumbered or reused; a retired check keeps its id
// reserved. `kAllErrorIds` lets the tests check that the spec lists every id and that every id
// has a handcrafted file or API call that triggers it.
#pragma once

#include <array>
#include <string_view>

namespace rtx::serialization::errors {

// 0xx: input/output
inline constexpr const char* kOpenFailed = "rtx.serialization.001";    // cannot open for reading
inline constexpr const char* kReadFailed = "rtx.serialization.002";    // fstat/mmap/read failed
inline constexpr const char* kWriteFailed = "rtx.serialization.003";   // temp file create/write
inline constexpr const char* kRenameFailed = "rtx.serialization.004";  // rename into place
inline constexpr const char* kDeviceQuery = "rtx.serialization.005";   // CUDA device query
inline constexpr const char* kInternal = "rtx.serialization.099";      // out of memory, bug
// 1xx: header
inline constexpr const char* kTooShort = "rtx.serialization.101";  // < 64 bytes
inline constexpr const char* kBadMagic = "rtx.serialization.102";
inline constexpr const char* kHeaderChecksum = "rtx.serialization.103";
inline constexpr const char* kByteOrder = "rtx.serialization.104";
inline constexpr const char* kFormatVersion = "rtx.serialization.105";
inline constexpr const char* kHeaderSize = "rtx.serialization.106";
inline constexpr const char* kReservedFlags = "rtx.serialization.107";
inline constexpr const char* kTruncated = "rtx.serialization.108";      // shorter than file_size
inline constexpr const char* kTrailingBytes = "rtx.serialization.109";  // longer than file_size
inline constexpr const char* kPtxFieldsDisagree = "rtx.serialization.110";
// 2xx: section table and sections
inline constexpr const char* kTablePastEnd = "rtx.serialization.201";
inline constexpr const char* kTableChecksum = "rtx.serialization.202";
inline constexpr const char* kSectionPastEnd = "rtx.serialization.203";
inline constexpr const char* kSectionMisaligned = "rtx.serialization.204";
inline constexpr const char* kSectionOverlap = "rtx.serialization.205";
inline constexpr const char* kSectionDuplicate = "rtx.serialization.206";
inline constexpr const char* kSectionMissing = "rtx.serialization.207";
inline constexpr const char* kSectionChecksum = "rtx.serialization.208";
inline constexpr const char* kStrayBytes = "rtx.serialization.209";  // non-zero padding
inline constexpr const char* kSectionReserved = "rtx.serialization.210";
inline constexpr const char* kWeightDataPresence = "rtx.serialization.211";
// 3xx: metadata
inline constexpr const char* kMetadataJson = "rtx.serialization.301";
inline constexpr const char* kMetadataNotObject = "rtx.serialization.302";
inline constexpr const char* kMetadataKeyMissing = "rtx.serialization.303";
inline constexpr const char* kMetadataKeyType = "rtx.serialization.304";
inline constexpr const char* kMetadataUnwritable = "rtx.serialization.305";
// 4xx: kernels and kernel images
inline constexpr const char* kKernelsTruncated = "rtx.serialization.401";
inline constexpr const char* kKernelsTrailing = "rtx.serialization.402";
inline constexpr const char* kImageKind = "rtx.serialization.403";
inline constexpr const char* kImagePastEnd = "rtx.serialization.404";
inline constexpr const char* kCubinNotElf = "rtx.serialization.405";
inline constexpr const char* kPtxNotTerminated = "rtx.serialization.406";
inline constexpr const char* kImageTarget = "rtx.serialization.407";
inline constexpr const char* kKernelName = "rtx.serialization.408";
inline constexpr const char* kKernelDuplicate = "rtx.serialization.409";
inline constexpr const char* kLaunchContract = "rtx.serialization.410";
inline constexpr const char* kImageIndex = "rtx.serialization.411";
inline constexpr const char* kKernelMissingTarget = "rtx.serialization.412";
inline constexpr const char* kKernelAmbiguousTarget = "rtx.serialization.413";
inline constexpr const char* kHeaderTargetsDisagree = "rtx.serialization.414";
inline constexpr const char* kImageMisaligned = "rtx.serialization.415";
inline constexpr const char* kImageOverlap = "rtx.serialization.416";
inline constexpr const char* kImageCompression = "rtx.serialization.417";  // bad zlib image
// 5xx: weights
inline constexpr const char* kWeightsTruncated = "rtx.serialization.501";
inline constexpr const char* kWeightsTrailing = "rtx.serialization.502";
inline constexpr const char* kWeightDtype = "rtx.serialization.503";
inline constexpr const char* kWeightShape = "rtx.serialization.504";
inline constexpr const char* kWeightByteSize = "rtx.serialization.505";
inline constexpr const char* kWeightMisaligned = "rtx.serialization.506";
inline constexpr const char* kWeightPastEnd = "rtx.serialization.507";
inline constexpr const char* kWeightOverlap = "rtx.serialization.508";
inline constexpr const char* kWeightDuplicate = "rtx.serialization.509";
inline constexpr const char* kWeightName = "rtx.serialization.510";
inline constexpr const char* kStreamableBytes = "rtx.serialization.511";
inline constexpr const char* kStreamableFlag = "rtx.serialization.512";
inline constexpr const char* kWeightFingerprint = "rtx.serialization.513";
inline constexpr const char* kWeightReserved = "rtx.serialization.514";
// 6xx: writer
inline constexpr const char* kWeightNoData = "rtx.serialization.601";
inline constexpr const char* kWeightDataMismatch = "rtx.serialization.602";
inline constexpr const char* kTooLarge = "rtx.serialization.603";
// 7xx: refit
inline constexpr const char* kRefitUnknownName = "rtx.serialization.701";
inline constexpr const char* kRefitDtype = "rtx.serialization.702";
inline constexpr const char* kRefitCount = "rtx.serialization.703";
inline constexpr const char* kRefitShape = "rtx.serialization.704";
inline constexpr const char* kRefitMissing = "rtx.serialization.705";
inline constexpr const char* kRefitFingerprintWarning = "rtx.serialization.706";
inline constexpr const char* kRefitFingerprintError = "rtx.serialization.707";
inline constexpr const char* kRefitNullData = "rtx.serialization.708";

/// Every id above, for the spec and coverage tests.
inline constexpr std::array<std::string_view, 74> kAllErrorIds = {
    kOpenFailed,
    kReadFailed,
    kWriteFailed,
    kRenameFailed,
    kDeviceQuery,
    kInternal,
    kTooShort,
    kBadMagic,
    kHeaderChecksum,
    kByteOrder,
    kFormatVersion,
    kHeaderSize,
    kReservedFlags,
    kTruncated,
    kTrailingBytes,
    kPtxFieldsDisagree,
    kTablePastEnd,
    kTableChecksum,
    kSectionPastEnd,
    kSectionMisaligned,
    kSectionOverlap,
    kSectionDuplicate,
    kSectionMissing,
    kSectionChecksum,
    kStrayBytes,
    kSectionReserved,
    kWeightDataPresence,
    kMetadataJson,
    kMetadataNotObject,
    kMetadataKeyMissing,
    kMetadataKeyType,
    kMetadataUnwritable,
    kKernelsTruncated,
    kKernelsTrailing,
    kImageKind,
    kImagePastEnd,
    kCubinNotElf,
    kPtxNotTerminated,
    kImageTarget,
    kKernelName,
    kKernelDuplicate,
    kLaunchContract,
    kImageIndex,
    kKernelMissingTarget,
    kKernelAmbiguousTarget,
    kHeaderTargetsDisagree,
    kImageMisaligned,
    kImageOverlap,
    kImageCompression,
    kWeightsTruncated,
    kWeightsTrailing,
    kWeightDtype,
    kWeightShape,
    kWeightByteSize,
    kWeightMisaligned,
    kWeightPastEnd,
    kWeightOverlap,
    kWeightDuplicate,
    kWeightName,
    kStreamableBytes,
    kStreamableFlag,
    kWeightFingerprint,
    kWeightReserved,
    kWeightNoData,
    kWeightDataMismatch,
    kTooLarge,
    kRefitUnknownName,
    kRefitDtype,
    kRefitCount,
    kRefitShape,
    kRefitMissing,
    kRefitFingerprintWarning,
    kRefitFingerprintError,
    kRefitNullData,
};

}  // namespace rtx::serialization::errors
