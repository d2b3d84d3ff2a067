// SPDX-License-Identifier: Apache-2.0
// Exhaustive tests of rtx/numeric.hpp, the exact number-format conversions behind the reference
// evaluator. Expected values come from sources independent of the header's bit arithmetic: the
// format definitions evaluated with std::ldexp, a nearest-value search over sorted tables of every
// representable value, std::nextafter neighbours of every midpoint, hand-written constants, and
// the C++ float cast.
#include <doctest/doctest.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <rtx/numeric.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace rn = rtx::numeric;
using rtx::DataType;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool same_double(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) {
    return std::isnan(a) && std::isnan(b) && std::signbit(a) == std::signbit(b);
  }
  return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
}

double up(double x) {
  return std::nextafter(x, kInf);
}
double down(double x) {
  return std::nextafter(x, -kInf);
}

// Collects mismatches of a long loop and reports the first few, so one CHECK covers 65536 cases
// without drowning the log.
class Failures {
 public:
  template <class... Args>
  void add(const Args&... parts) {
    if (count_++ < 8) {
      std::ostringstream line;
      line.precision(17);
      (line << ... << parts);
      text_ += line.str() + "\n";
    }
  }
  int count() const { return count_; }
  const std::string& text() const { return text_; }

 private:
  int count_ = 0;
  std::string text_;
};

#define CHECK_NO_FAILURES(f) \
  do {                       \
    INFO((f).text());        \
    CHECK((f).count() == 0); \
  } while (false)

// A generic IEEE-style format described by its fields, evaluated by the textbook formula. This
// is the independent definition that the header is checked against.
struct Format {
  int exp_bits;
  int man_bits;
  int bias;
  bool ieee_specials;  // all-ones exponent is inf/NaN (f16, bf16, e5m2)
  bool e4m3fn;         // only all-ones (S.1111.111) is NaN, no inf
  bool finite_only;    // no inf/NaN at all (fp4)
};

constexpr Format kF16{5, 10, 15, true, false, false};
constexpr Format kBF16{8, 7, 127, true, false, false};
constexpr Format kE4M3{4, 3, 7, false, true, false};
constexpr Format kE5M2{5, 2, 15, true, false, false};
constexpr Format kE2M1{2, 1, 1, false, false, true};

double formula(const Format& f, uint32_t code) {
  const int total = 1 + f.exp_bits + f.man_bits;
  const bool negative = ((code >> (total - 1)) & 1) != 0;
  const uint32_t e = (code >> f.man_bits) & ((1u << f.exp_bits) - 1);
  const uint32_t m = code & ((1u << f.man_bits) - 1);
  const uint32_t e_max = (1u << f.exp_bits) - 1;
  double v = 0;
  if (f.ieee_specials && e == e_max) {
    v = m == 0 ? kInf : kNaN;
  } else if (f.e4m3fn && e == e_max && m == (1u << f.man_bits) - 1) {
    v = kNaN;
  } else if (e == 0) {
    v = std::ldexp(static_cast<double>(m), 1 - f.bias - f.man_bits);
  } else {
    v = std::ldexp(1.0 + std::ldexp(static_cast<double>(m), -f.man_bits),
                   static_cast<int>(e) - f.bias);
  }
  return negative ? -v : v;
}

// Every positive finite value of a format in increasing order, with its code, plus one virtual
// entry just past the largest finite value (its code is max + 1, its value max + one spacing) so
// that "rounds past the maximum" is visible to the oracle.
struct Table {
  std::vector<double> values;
  std::vector<uint32_t> codes;
  uint32_t max_code = 0;
};

Table make_table(const Format& f) {
  Table t;
  const uint32_t count = 1u << (f.exp_bits + f.man_bits);
  for (uint32_t c = 0; c < count; ++c) {
    const double v = formula(f, c);
    if (!std::isfinite(v)) break;  // codes are monotonic up to the specials
    t.values.push_back(v);
    t.codes.push_back(c);
  }
  t.max_code = t.codes.back();
  const size_t n = t.values.size();
  t.values.push_back(t.values[n - 1] + (t.values[n - 1] - t.values[n - 2]));
  t.codes.push_back(t.max_code + 1);
  return t;
}

// Round |x| to nearest by searching the table; ties go to the even code. Returns max_code + 1 when
// the correctly rounded value lies past the largest finite one.
uint32_t oracle_magnitude(const Table& t, double x) {
  const double a = std::fabs(x);
  if (a >= t.values.back()) return t.max_code + 1;
  size_t hi = 0;
  while (t.values[hi] < a) ++hi;  // tables are small enough; keeps the oracle obviously right
  if (t.values[hi] == a || hi == 0) return t.codes[hi];
  const size_t lo = hi - 1;
  const double dlo = a - t.values[lo];
  const double dhi = t.values[hi] - a;  // both exact: neighbours within a factor of two
  if (dlo < dhi) return t.codes[lo];
  if (dhi < dlo) return t.codes[hi];
  return (t.codes[lo] & 1) == 0 ? t.codes[lo] : t.codes[hi];
}

// Binary-search variant for the 16-bit tables (same rule, same tie handling).
uint32_t oracle_magnitude_bsearch(const Table& t, double x) {
  const double a = std::fabs(x);
  if (a >= t.values.back()) return t.max_code + 1;
  size_t lo = 0;
  size_t hi = t.values.size() - 1;  // values[hi] > a
  while (hi - lo > 1) {
    const size_t mid = (lo + hi) / 2;
    (t.values[mid] <= a ? lo : hi) = mid;
  }
  if (t.values[lo] == a) return t.codes[lo];
  const double dlo = a - t.values[lo];
  const double dhi = t.values[hi] - a;
  if (dlo < dhi) return t.codes[lo];
  if (dhi < dlo) return t.codes[hi];
  return (t.codes[lo] & 1) == 0 ? t.codes[lo] : t.codes[hi];
}

// Random doubles spread over a format's whole exponent range and beyond, both signs.
std::vector<double> random_doubles(int min_exp, int max_exp, int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> mantissa(1.0, 2.0);
  std::uniform_int_distribution<int> exponent(min_exp, max_exp);
  std::vector<double> out;
  out.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    const double v = std::ldexp(mantissa(rng), exponent(rng));
    out.push_back((rng() & 1) != 0 ? -v : v);
  }
  return out;
}

// Checks an encoder against the table oracle on the midpoints of every adjacent pair, their
// double neighbours, the table values themselves, and random values.
template <class Encode, class OverflowCode>
void check_against_oracle(const Table& t, Encode encode, OverflowCode overflow_code,
                          uint32_t sign_bit, const std::vector<double>& randoms,
                          Failures& failures) {
  auto check_one = [&](double x) {
    const uint32_t magnitude =
        t.values.size() > 300 ? oracle_magnitude_bsearch(t, x) : oracle_magnitude(t, x);
    uint32_t expected = magnitude > t.max_code ? overflow_code() : magnitude;
    if (std::signbit(x)) expected |= sign_bit;
    const uint32_t got = encode(x);
    if (got != expected) failures.add("x=", x, " expected code ", expected, " got ", got);
  };
  for (size_t i = 0; i + 1 < t.values.size(); ++i) {
    const double lo = t.values[i];
    const double hi = t.values[i + 1];
    const double mid = lo + (hi - lo) / 2;  // exact
    for (double x : {lo, mid, up(mid), down(mid), -mid, -up(mid), -down(mid), -lo}) check_one(x);
  }
  for (double x : randoms) check_one(x);
}

}  // namespace

// ---- compile-time checks: the header is usable in constant expressions ------------------------

static_assert(rn::f16_from_double(1.0) == 0x3C00);
static_assert(rn::f16_to_double(0x3C00) == 1.0);
static_assert(rn::bf16_from_double(-2.0) == 0xC000);
static_assert(rn::fp8e4m3_from_double(448.0) == 0x7E);
static_assert(rn::fp8e5m2_from_double(57344.0) == 0x7B);
static_assert(rn::fp4e2m1_from_double(-6.0) == 0xF);
static_assert(rn::round_half_even(2.5) == 2);
static_assert(rn::int4_from_nibble(0xF) == -1);
static_assert(rn::f32_from_double(0.1) == 0.1f);

// ---- fp8 e4m3 ---------------------------------------------------------------------------------

TEST_CASE("fp8 e4m3: every one of the 256 codes decodes to its formula value") {
  Failures failures;
  for (uint32_t c = 0; c < 256; ++c) {
    const double expected = formula(kE4M3, c);
    const double got = rn::fp8e4m3_to_double(static_cast<uint8_t>(c));
    if (!same_double(got, expected)) failures.add("code ", c, " expected ", expected, " got ", got);
  }
  CHECK_NO_FAILURES(failures);

  CHECK(rn::fp8e4m3_to_double(0x7E) == 448.0);
  CHECK(rn::fp8e4m3_to_double(0xFE) == -448.0);
  CHECK(rn::fp8e4m3_to_double(0x7D) == 416.0);
  CHECK(rn::fp8e4m3_to_double(0x08) == 0x1p-6);      // smallest normal
  CHECK(rn::fp8e4m3_to_double(0x07) == 7 * 0x1p-9);  // largest subnormal
  CHECK(rn::fp8e4m3_to_double(0x01) == 0x1p-9);      // smallest subnormal
  CHECK(rn::fp8e4m3_to_double(0x38) == 1.0);
  CHECK(rn::fp8e4m3_to_double(0x78) == 256.0);  // exponent field 15 is finite in e4m3fn
  CHECK(rn::fp8e4m3_to_double(0x00) == 0.0);
  CHECK(std::signbit(rn::fp8e4m3_to_double(0x80)));
  CHECK(rn::fp8e4m3_to_double(0x80) == 0.0);
  CHECK(std::isnan(rn::fp8e4m3_to_double(0x7F)));
  CHECK(std::isnan(rn::fp8e4m3_to_double(0xFF)));
  CHECK(std::signbit(rn::fp8e4m3_to_double(0xFF)));
  int nan_codes = 0;
  for (uint32_t c = 0; c < 256; ++c)
    nan_codes += std::isnan(rn::fp8e4m3_to_double(static_cast<uint8_t>(c)));
  CHECK(nan_codes == 2);
}

TEST_CASE("fp8 e5m2: every one of the 256 codes decodes to its formula value") {
  Failures failures;
  for (uint32_t c = 0; c < 256; ++c) {
    const double expected = formula(kE5M2, c);
    const double got = rn::fp8e5m2_to_double(static_cast<uint8_t>(c));
    if (!same_double(got, expected)) failures.add("code ", c, " expected ", expected, " got ", got);
  }
  CHECK_NO_FAILURES(failures);

  CHECK(rn::fp8e5m2_to_double(0x7C) == kInf);
  CHECK(rn::fp8e5m2_to_double(0xFC) == -kInf);
  CHECK(rn::fp8e5m2_to_double(0x7B) == 57344.0);
  CHECK(rn::fp8e5m2_to_double(0xFB) == -57344.0);
  CHECK(rn::fp8e5m2_to_double(0x04) == 0x1p-14);  // smallest normal
  CHECK(rn::fp8e5m2_to_double(0x01) == 0x1p-16);  // smallest subnormal
  CHECK(rn::fp8e5m2_to_double(0x3C) == 1.0);
  for (uint8_t c : {0x7D, 0x7E, 0x7F}) {
    CHECK(std::isnan(rn::fp8e5m2_to_double(c)));
    CHECK(std::isnan(rn::fp8e5m2_to_double(static_cast<uint8_t>(c | 0x80))));
  }
  CHECK(std::signbit(rn::fp8e5m2_to_double(0x80)));
}

TEST_CASE("fp8: encode(decode(c)) == c for every non-NaN code in both saturate modes") {
  Failures failures;
  for (uint32_t c = 0; c < 256; ++c) {
    const auto code = static_cast<uint8_t>(c);
    for (bool saturate : {true, false}) {
      const double v4 = rn::fp8e4m3_to_double(code);
      if (!std::isnan(v4) && rn::fp8e4m3_from_double(v4, saturate) != code) {
        failures.add("e4m3 code ", c, " saturate ", saturate);
      }
      const double v5 = rn::fp8e5m2_to_double(code);
      // inf is not a round trip when saturating: ONNX maps it to the largest finite value.
      if (!std::isnan(v5) && !(std::isinf(v5) && saturate) &&
          rn::fp8e5m2_from_double(v5, saturate) != code) {
        failures.add("e5m2 code ", c, " saturate ", saturate);
      }
    }
  }
  CHECK_NO_FAILURES(failures);
  CHECK(rn::fp8e4m3_from_double(-0.0) == 0x80);
  CHECK(rn::fp8e5m2_from_double(-0.0) == 0x80);
  CHECK(rn::fp8e4m3_from_double(0.0) == 0x00);
}

TEST_CASE("fp8: midpoints tie to the even code, neighbours round toward the nearer value") {
  const Table e4m3 = make_table(kE4M3);
  const Table e5m2 = make_table(kE5M2);
  CHECK(e4m3.max_code == 0x7E);
  CHECK(e4m3.values[e4m3.values.size() - 2] == 448.0);
  CHECK(e5m2.max_code == 0x7B);

  for (bool saturate : {true, false}) {
    CAPTURE(saturate);
    Failures failures;
    // Every adjacent pair below the maximum, explicitly: mid -> even, mid +- 1 double ulp ->
    // the upper / lower value. (check_against_oracle repeats this through the oracle.)
    for (const Table* t : {&e4m3, &e5m2}) {
      const bool is_e4m3 = t == &e4m3;
      auto enc = [&](double x) {
        return is_e4m3 ? rn::fp8e4m3_from_double(x, saturate)
                       : rn::fp8e5m2_from_double(x, saturate);
      };
      for (size_t i = 0; i + 2 < t->values.size(); ++i) {
        const uint32_t lo = t->codes[i];
        const uint32_t hi = t->codes[i + 1];
        const double mid = (t->values[i] + t->values[i + 1]) / 2;
        const uint32_t even = (lo & 1) == 0 ? lo : hi;
        if (enc(mid) != even) failures.add(is_e4m3 ? "e4m3" : "e5m2", " mid ", mid);
        if (enc(up(mid)) != hi) failures.add(is_e4m3 ? "e4m3" : "e5m2", " above mid ", mid);
        if (enc(down(mid)) != lo) failures.add(is_e4m3 ? "e4m3" : "e5m2", " below mid ", mid);
        if (enc(-mid) != (even | 0x80)) failures.add(is_e4m3 ? "e4m3" : "e5m2", " -mid ", mid);
        if (enc(-up(mid)) != (hi | 0x80)) failures.add(is_e4m3 ? "e4m3" : "e5m2", " -above ", mid);
        if (enc(-down(mid)) != (lo | 0x80))
          failures.add(is_e4m3 ? "e4m3" : "e5m2", " -below ", mid);
      }
    }
    CHECK_NO_FAILURES(failures);
  }

  // A few by hand: 1.0625 is the tie between 1.0 (0x38, even) and 1.125 (0x39).
  CHECK(rn::fp8e4m3_from_double(1.0625) == 0x38);
  CHECK(rn::fp8e4m3_from_double(1.1875) == 0x3A);  // tie between 0x39 and 0x3A (even)
  CHECK(rn::fp8e4m3_from_double(up(1.0625)) == 0x39);
  CHECK(rn::fp8e5m2_from_double(1.125) == 0x3C);  // tie between 1.0 and 1.25
  CHECK(rn::fp8e5m2_from_double(1.375) == 0x3E);  // tie between 1.25 (odd) and 1.5
  // Ties inside the subnormal range and across the subnormal/normal boundary.
  CHECK(rn::fp8e4m3_from_double(1.5 * 0x1p-9) == 0x02);
  CHECK(rn::fp8e4m3_from_double(2.5 * 0x1p-9) == 0x02);
  CHECK(rn::fp8e4m3_from_double(7.5 * 0x1p-9) == 0x08);  // rounds up into the smallest normal
}

TEST_CASE("fp8 e4m3: overflow and special values follow the ONNX Cast tables") {
  for (bool saturate : {true, false}) {
    CAPTURE(saturate);
    CHECK(rn::fp8e4m3_from_double(448.0, saturate) == 0x7E);
    CHECK(rn::fp8e4m3_from_double(-448.0, saturate) == 0xFE);
    // [x] (x rounded to 3 mantissa bits) is 448 up to and including the tie at 464.
    CHECK(rn::fp8e4m3_from_double(460.0, saturate) == 0x7E);
    CHECK(rn::fp8e4m3_from_double(464.0, saturate) == 0x7E);
    CHECK(rn::fp8e4m3_from_double(-464.0, saturate) == 0xFE);
    CHECK(rn::fp8e4m3_from_double(kNaN, saturate) == 0x7F);
    CHECK(rn::fp8e4m3_from_double(-kNaN, saturate) == 0xFF);
  }
  // saturate: past the maximum (after rounding) and +-inf -> +-448.
  for (double x : {up(464.0), 480.0, 500.0, 1e6, 1e300, std::numeric_limits<double>::max(), kInf}) {
    CAPTURE(x);
    CHECK(rn::fp8e4m3_from_double(x, true) == 0x7E);
    CHECK(rn::fp8e4m3_from_double(-x, true) == 0xFE);
    // !saturate: NaN with the input's sign (e4m3fn has no infinity).
    CHECK(rn::fp8e4m3_from_double(x, false) == 0x7F);
    CHECK(rn::fp8e4m3_from_double(-x, false) == 0xFF);
  }
}

TEST_CASE("fp8 e5m2: overflow and special values follow the ONNX Cast tables") {
  for (bool saturate : {true, false}) {
    CAPTURE(saturate);
    CHECK(rn::fp8e5m2_from_double(57344.0, saturate) == 0x7B);
    CHECK(rn::fp8e5m2_from_double(down(61440.0), saturate) == 0x7B);
    CHECK(rn::fp8e5m2_from_double(-down(61440.0), saturate) == 0xFB);
    CHECK(rn::fp8e5m2_from_double(kNaN, saturate) == 0x7E);
    CHECK(rn::fp8e5m2_from_double(-kNaN, saturate) == 0xFE);
  }
  // 61440 is the tie between 57344 (mantissa 11, odd) and 65536: it rounds past the maximum.
  for (double x : {61440.0, 65536.0, 1e9, std::numeric_limits<double>::max(), kInf}) {
    CAPTURE(x);
    CHECK(rn::fp8e5m2_from_double(x, true) == 0x7B);
    CHECK(rn::fp8e5m2_from_double(-x, true) == 0xFB);
    CHECK(rn::fp8e5m2_from_double(x, false) == 0x7C);
    CHECK(rn::fp8e5m2_from_double(-x, false) == 0xFC);
  }
}

TEST_CASE("fp8: values below half the smallest subnormal round to signed zero") {
  for (bool saturate : {true, false}) {
    CAPTURE(saturate);
    // e4m3: smallest subnormal 2^-9; the tie at 2^-10 goes to zero (even).
    CHECK(rn::fp8e4m3_from_double(0x1p-10, saturate) == 0x00);
    CHECK(rn::fp8e4m3_from_double(-0x1p-10, saturate) == 0x80);
    CHECK(rn::fp8e4m3_from_double(down(0x1p-10), saturate) == 0x00);
    CHECK(rn::fp8e4m3_from_double(up(0x1p-10), saturate) == 0x01);
    CHECK(rn::fp8e4m3_from_double(-up(0x1p-10), saturate) == 0x81);
    CHECK(rn::fp8e4m3_from_double(1e-300, saturate) == 0x00);
    CHECK(rn::fp8e4m3_from_double(-1e-300, saturate) == 0x80);
    CHECK(rn::fp8e4m3_from_double(std::numeric_limits<double>::denorm_min(), saturate) == 0x00);
    CHECK(rn::fp8e4m3_from_double(-std::numeric_limits<double>::denorm_min(), saturate) == 0x80);
    // e5m2: smallest subnormal 2^-16.
    CHECK(rn::fp8e5m2_from_double(0x1p-17, saturate) == 0x00);
    CHECK(rn::fp8e5m2_from_double(-0x1p-17, saturate) == 0x80);
    CHECK(rn::fp8e5m2_from_double(up(0x1p-17), saturate) == 0x01);
    CHECK(rn::fp8e5m2_from_double(-1e-300, saturate) == 0x80);
  }
}

TEST_CASE("fp8: random values agree with the nearest-value table oracle") {
  const Table e4m3 = make_table(kE4M3);
  const Table e5m2 = make_table(kE5M2);
  const auto r4 = random_doubles(-13, 10, 50000, 41);
  const auto r5 = random_doubles(-20, 17, 50000, 52);
  for (bool saturate : {true, false}) {
    CAPTURE(saturate);
    Failures failures;
    check_against_oracle(
        e4m3, [&](double x) { return uint32_t{rn::fp8e4m3_from_double(x, saturate)}; },
        [&] { return saturate ? 0x7Eu : 0x7Fu; }, 0x80, r4, failures);
    check_against_oracle(
        e5m2, [&](double x) { return uint32_t{rn::fp8e5m2_from_double(x, saturate)}; },
        [&] { return saturate ? 0x7Bu : 0x7Cu; }, 0x80, r5, failures);
    CHECK_NO_FAILURES(failures);
  }
}

// ---- fp4 e2m1 ---------------------------------------------------------------------------------

TEST_CASE("fp4 e2m1: all 16 codes, ties to even, saturation, NaN") {
  constexpr std::array<double, 8> kValues{0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0};
  for (uint8_t c = 0; c < 16; ++c) {
    CAPTURE(int{c});
    const double expected = (c & 8) != 0 ? -kValues[c & 7] : kValues[c & 7];
    CHECK(same_double(rn::fp4e2m1_to_double(c), expected));
    CHECK(same_double(rn::fp4e2m1_to_double(c), formula(kE2M1, c)));
    CHECK(rn::fp4e2m1_from_double(expected) == c);  // round trip, -0 included
  }
  CHECK(rn::fp4e2m1_to_double(0xF7) == 6.0);  // only the low nibble counts

  // Every midpoint goes to the even code; just above / below goes to the nearer value.
  const std::array<double, 7> mids{0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0};
  const std::array<uint8_t, 7> even{0x0, 0x2, 0x2, 0x4, 0x4, 0x6, 0x6};
  for (size_t i = 0; i < mids.size(); ++i) {
    CAPTURE(mids[i]);
    CHECK(rn::fp4e2m1_from_double(mids[i]) == even[i]);
    CHECK(rn::fp4e2m1_from_double(-mids[i]) == (even[i] | 0x8));
    const auto lower = static_cast<uint8_t>(i);
    const auto upper = static_cast<uint8_t>(i + 1);
    CHECK(rn::fp4e2m1_from_double(up(mids[i])) == upper);
    CHECK(rn::fp4e2m1_from_double(down(mids[i])) == lower);
    CHECK(rn::fp4e2m1_from_double(-up(mids[i])) == (upper | 0x8));
    CHECK(rn::fp4e2m1_from_double(-down(mids[i])) == (lower | 0x8));
  }
  // Saturation: no infinity, everything beyond 6 (including the tie at 7) is +-6.
  for (double x : {down(7.0), 7.0, 8.0, 1e30, kInf}) {
    CAPTURE(x);
    CHECK(rn::fp4e2m1_from_double(x) == 0x7);
    CHECK(rn::fp4e2m1_from_double(-x) == 0xF);
  }
  // No NaN either: ONNX (and CUDA) turn NaN into +6 whatever its sign.
  CHECK(rn::fp4e2m1_from_double(kNaN) == 0x7);
  CHECK(rn::fp4e2m1_from_double(-kNaN) == 0x7);
  CHECK(rn::fp4e2m1_from_double(0.1) == 0x0);
  CHECK(rn::fp4e2m1_from_double(-0.1) == 0x8);

  const Table t = make_table(kE2M1);
  CHECK(t.max_code == 7);
  Failures failures;
  check_against_oracle(
      t, [](double x) { return uint32_t{rn::fp4e2m1_from_double(x)}; }, [] { return 0x7u; }, 0x8,
      random_doubles(-5, 4, 20000, 4), failures);
  CHECK_NO_FAILURES(failures);
}

// ---- f16 / bf16 / f32 -------------------------------------------------------------------------

TEST_CASE("f16: all 65536 codes decode by formula and round-trip") {
  Failures failures;
  for (uint32_t c = 0; c < 65536; ++c) {
    const auto code = static_cast<uint16_t>(c);
    const double expected = formula(kF16, c);
    const double v = rn::f16_to_double(code);
    if (!same_double(v, expected)) failures.add("decode ", c, " expected ", expected, " got ", v);
    const uint16_t back = rn::f16_from_double(v);
    const uint16_t want = std::isnan(v) ? static_cast<uint16_t>((c & 0x8000) | 0x7E00) : code;
    if (back != want) failures.add("round trip ", c, " got ", back);
  }
  CHECK_NO_FAILURES(failures);
  CHECK(rn::f16_to_double(0x7BFF) == 65504.0);
  CHECK(rn::f16_to_double(0x0001) == 0x1p-24);
  CHECK(rn::f16_to_double(0x0400) == 0x1p-14);
  CHECK(rn::f16_to_double(0x7C00) == kInf);
  CHECK(rn::f16_to_double(0xFC00) == -kInf);
}

TEST_CASE("f16: midpoints of every adjacent pair, thresholds, subnormals, NaN") {
  const Table t = make_table(kF16);
  CHECK(t.max_code == 0x7BFF);
  Failures failures;
  check_against_oracle(
      t, [](double x) { return uint32_t{rn::f16_from_double(x)}; }, [] { return 0x7C00u; }, 0x8000,
      random_doubles(-27, 17, 100000, 16), failures);
  CHECK_NO_FAILURES(failures);

  // Overflow threshold: 65520 is the tie between 65504 (odd) and 65536 -> inf.
  CHECK(rn::f16_from_double(65504.0) == 0x7BFF);
  CHECK(rn::f16_from_double(65519.99) == 0x7BFF);
  CHECK(rn::f16_from_double(down(65520.0)) == 0x7BFF);
  CHECK(rn::f16_from_double(65520.0) == 0x7C00);
  CHECK(rn::f16_from_double(-65520.0) == 0xFC00);
  CHECK(rn::f16_from_double(1e300) == 0x7C00);
  CHECK(rn::f16_from_double(kInf) == 0x7C00);
  CHECK(rn::f16_from_double(-kInf) == 0xFC00);
  // Subnormals and underflow.
  CHECK(rn::f16_from_double(0x1p-24) == 0x0001);
  CHECK(rn::f16_from_double(0x1p-25) == 0x0000);  // tie with zero -> even
  CHECK(rn::f16_from_double(up(0x1p-25)) == 0x0001);
  CHECK(rn::f16_from_double(-0x1p-26) == 0x8000);       // signed zero
  CHECK(rn::f16_from_double(3 * 0x1p-25) == 0x0002);    // tie between 1 and 2 ulps -> even
  CHECK(rn::f16_from_double(down(0x1p-14)) == 0x0400);  // rounds up into the smallest normal
  // NaN: quiet, sign kept, payload dropped.
  CHECK(rn::f16_from_double(kNaN) == 0x7E00);
  CHECK(rn::f16_from_double(-kNaN) == 0xFE00);
  CHECK(rn::f16_from_double(std::bit_cast<double>(uint64_t{0x7FF0000000000001})) == 0x7E00);
  CHECK(std::signbit(rn::f16_to_double(0xFE01)));
  CHECK(std::isnan(rn::f16_to_double(0xFE01)));
}

TEST_CASE("f16: rounding is done once from double, never through float") {
  // 1 + 3*2^-11 is the tie between 0x3C01 (odd) and 0x3C02. A value 2^-40 below it is closer to
  // 0x3C01, but float keeps only 23 fraction bits and would turn it into the tie itself, which
  // then goes to the even 0x3C02.
  const double below_tie = 1.0 + 3 * 0x1p-11 - 0x1p-40;
  CHECK(static_cast<double>(static_cast<float>(below_tie)) == 1.0 + 3 * 0x1p-11);
  CHECK(rn::f16_from_double(below_tie) == 0x3C01);
  // Same from above: 1 + 2^-11 + 2^-40 is past the tie between 1.0 (even) and 0x3C01.
  const double above_tie = 1.0 + 0x1p-11 + 0x1p-40;
  CHECK(static_cast<double>(static_cast<float>(above_tie)) == 1.0 + 0x1p-11);
  CHECK(rn::f16_from_double(above_tie) == 0x3C01);
  CHECK(rn::f16_from_double(1.0 + 0x1p-11) == 0x3C00);
}

TEST_CASE("bf16: all 65536 codes, every midpoint, thresholds, double rounding, NaN") {
  Failures failures;
  for (uint32_t c = 0; c < 65536; ++c) {
    const auto code = static_cast<uint16_t>(c);
    const double expected = formula(kBF16, c);
    const double v = rn::bf16_to_double(code);
    if (!same_double(v, expected)) failures.add("decode ", c, " expected ", expected, " got ", v);
    // bf16 is the top half of a float: an independent decode.
    const double as_float = static_cast<double>(std::bit_cast<float>(c << 16));
    if (!std::isnan(v) && v != as_float) failures.add("float view ", c);
    const uint16_t back = rn::bf16_from_double(v);
    const uint16_t want = std::isnan(v) ? static_cast<uint16_t>((c & 0x8000) | 0x7FC0) : code;
    if (back != want) failures.add("round trip ", c, " got ", back);
  }
  CHECK_NO_FAILURES(failures);

  const Table t = make_table(kBF16);
  CHECK(t.max_code == 0x7F7F);
  Failures oracle_failures;
  check_against_oracle(
      t, [](double x) { return uint32_t{rn::bf16_from_double(x)}; }, [] { return 0x7F80u; }, 0x8000,
      random_doubles(-136, 129, 100000, 17), oracle_failures);
  CHECK_NO_FAILURES(oracle_failures);

  const double max = rn::bf16_to_double(0x7F7F);
  CHECK(max == (2.0 - 0x1p-7) * 0x1p127);
  const double tie = (2.0 - 0x1p-8) * 0x1p127;
  CHECK(rn::bf16_from_double(down(tie)) == 0x7F7F);
  CHECK(rn::bf16_from_double(tie) == 0x7F80);
  CHECK(rn::bf16_from_double(-tie) == 0xFF80);
  CHECK(rn::bf16_from_double(0x1p-133) == 0x0001);  // smallest subnormal
  CHECK(rn::bf16_from_double(0x1p-134) == 0x0000);
  CHECK(rn::bf16_from_double(-0.0) == 0x8000);
  // 1 + 2^-8 + 2^-40: through float it becomes the tie 1 + 2^-8 and goes to 1.0; directly it is
  // above the tie and goes to 0x3F81.
  CHECK(rn::bf16_from_double(1.0 + 0x1p-8 + 0x1p-40) == 0x3F81);
  CHECK(rn::bf16_from_double(1.0 + 0x1p-8) == 0x3F80);
  CHECK(rn::bf16_from_double(1.0 + 3 * 0x1p-8 - 0x1p-40) == 0x3F81);
  CHECK(rn::bf16_from_double(kNaN) == 0x7FC0);
  CHECK(rn::bf16_from_double(-kNaN) == 0xFFC0);
  CHECK(rn::bf16_from_double(kInf) == 0x7F80);
}

TEST_CASE("f32: agrees with the C++ cast in range, defined past it") {
  Failures failures;
  for (double x : random_doubles(-160, 126, 200000, 32)) {
    const float got = rn::f32_from_double(x);
    const float want = static_cast<float>(x);  // in range: RNE on IEEE hardware
    if (std::bit_cast<uint32_t>(got) != std::bit_cast<uint32_t>(want)) failures.add("x=", x);
  }
  CHECK_NO_FAILURES(failures);
  const double fmax = std::numeric_limits<float>::max();
  const double tie = fmax + 0x1p103;  // FLT_MAX + half an ulp
  CHECK(rn::f32_from_double(fmax) == std::numeric_limits<float>::max());
  CHECK(rn::f32_from_double(down(tie)) == std::numeric_limits<float>::max());
  CHECK(std::isinf(rn::f32_from_double(tie)));
  CHECK(rn::f32_from_double(-1e300) == -std::numeric_limits<float>::infinity());
  CHECK(rn::f32_from_double(0x1p-149) == std::numeric_limits<float>::denorm_min());
  CHECK(rn::f32_from_double(0x1p-150) == 0.0f);
  CHECK(std::signbit(rn::f32_from_double(-0x1p-151)));
  CHECK(std::bit_cast<uint32_t>(rn::f32_from_double(-kNaN)) == 0xFFC00000u);
}

// ---- integers ---------------------------------------------------------------------------------

TEST_CASE("round_half_even and saturate_int") {
  CHECK(rn::round_half_even(2.5) == 2);
  CHECK(rn::round_half_even(-2.5) == -2);
  CHECK(rn::round_half_even(3.5) == 4);
  CHECK(rn::round_half_even(-3.5) == -4);
  CHECK(rn::round_half_even(0.5) == 0);
  CHECK(rn::round_half_even(-0.5) == 0);
  CHECK(rn::round_half_even(1.5) == 2);
  CHECK(rn::round_half_even(2.4999999999999996) == 2);
  CHECK(rn::round_half_even(up(2.5)) == 3);
  CHECK(rn::round_half_even(-up(2.5)) == -3);
  CHECK(rn::round_half_even(0x1p52 + 1) == 4503599627370497);
  CHECK(rn::round_half_even(0x1p52 - 0.5) == 4503599627370496);  // tie, even
  CHECK(rn::round_half_even(0x1p52 - 1.5) == 4503599627370494);  // tie, even
  CHECK(rn::round_half_even(kNaN) == 0);
  CHECK(rn::round_half_even(kInf) == std::numeric_limits<int64_t>::max());
  CHECK(rn::round_half_even(-kInf) == std::numeric_limits<int64_t>::min());
  CHECK(rn::round_half_even(0x1p63) == std::numeric_limits<int64_t>::max());
  CHECK(rn::round_half_even(-0x1p63) == std::numeric_limits<int64_t>::min());
  CHECK(rn::round_half_even(down(0x1p63)) == 9223372036854774784);

  CHECK(rn::saturate_int(127.5, -128, 127) == 127);
  CHECK(rn::saturate_int(126.5, -128, 127) == 126);
  CHECK(rn::saturate_int(-128.5, -128, 127) == -128);
  CHECK(rn::saturate_int(-1e300, -128, 127) == -128);
  CHECK(rn::saturate_int(kInf, 0, 255) == 255);
  CHECK(rn::saturate_int(-0.7, 0, 255) == 0);
  CHECK(rn::saturate_int(kNaN, -8, 7) == 0);
  CHECK(rn::saturate_int(7.5, -8, 7) == 7);
  CHECK(rn::saturate_int(6.5, -8, 7) == 6);
  CHECK(rn::saturate_int(-8.5, -8, 7) == -8);

  CHECK(rn::truncate_saturate_int(2.7, -128, 127) == 2);
  CHECK(rn::truncate_saturate_int(-2.7, -128, 127) == -2);
  CHECK(rn::truncate_saturate_int(300.0, -128, 127) == 127);
  CHECK(rn::truncate_saturate_int(kNaN, -128, 127) == 0);
  CHECK(rn::truncate_saturate_int(-kInf, std::numeric_limits<int64_t>::min(), 0) ==
        std::numeric_limits<int64_t>::min());

  CHECK(rn::int_range(DataType::kINT4).lo == -8);
  CHECK(rn::int_range(DataType::kINT4).hi == 7);
  CHECK(rn::int_range(DataType::kUINT4).lo == 0);
  CHECK(rn::int_range(DataType::kUINT4).hi == 15);
  CHECK(rn::int_range(DataType::kINT8).lo == -128);
  CHECK(rn::int_range(DataType::kUINT8).hi == 255);
  CHECK(rn::int_range(DataType::kINT32).lo == -2147483648LL);
  CHECK(rn::int_range(DataType::kINT32).hi == 2147483647LL);
  CHECK(rn::int_range(DataType::kINT64).hi == std::numeric_limits<int64_t>::max());
  CHECK(rn::int_range(DataType::kBOOL).lo == 0);
  CHECK(rn::int_range(DataType::kBOOL).hi == 1);
}

TEST_CASE("4-bit packing: nibble order, sign extension, odd element counts") {
  CHECK(rn::int4_from_nibble(0x0) == 0);
  CHECK(rn::int4_from_nibble(0x7) == 7);
  CHECK(rn::int4_from_nibble(0x8) == -8);
  CHECK(rn::int4_from_nibble(0xF) == -1);
  CHECK(rn::int4_from_nibble(0x19) == -7);  // high bits ignored

  // Five int4 elements in three bytes: the last byte's high nibble belongs to nobody and must
  // survive every write.
  std::array<uint8_t, 3> packed{0x00, 0x00, 0xA0};
  const std::array<int, 5> values{1, -2, 7, -8, -1};
  for (int64_t i = 0; i < 5; ++i) {
    rn::set_nibble(packed.data(), i, static_cast<uint8_t>(values[static_cast<size_t>(i)] & 0xF));
  }
  CHECK(packed[0] == 0xE1);
  CHECK(packed[1] == 0x87);
  CHECK(packed[2] == 0xAF);
  for (int64_t i = 0; i < 5; ++i) {
    CHECK(rn::int4_from_nibble(rn::get_nibble(packed.data(), i)) == values[static_cast<size_t>(i)]);
  }
  rn::set_nibble(packed.data(), 1, 0x3F);  // only the low 4 bits are written
  CHECK(packed[0] == 0xF1);

  // Through the generic interface: encode rounds and saturates, decode sign-extends.
  std::array<std::byte, 3> bytes{std::byte{0}, std::byte{0}, std::byte{0x50}};
  const std::array<double, 5> in{2.5, -9.0, 7.6, kNaN, -3.5};
  const std::array<double, 5> out{2, -8, 7, 0, -4};
  for (int64_t i = 0; i < 5; ++i)
    rn::encode(DataType::kINT4, bytes.data(), i, in[static_cast<size_t>(i)]);
  for (int64_t i = 0; i < 5; ++i) {
    CHECK(rn::decode(DataType::kINT4, bytes.data(), i) == out[static_cast<size_t>(i)]);
  }
  CHECK(bytes[0] == std::byte{0x82});
  CHECK(bytes[1] == std::byte{0x07});
  CHECK(bytes[2] == std::byte{0x5C});

  std::array<std::byte, 2> ubytes{};
  const std::array<double, 3> uin{-1.0, 15.5, 8.5};
  for (int64_t i = 0; i < 3; ++i)
    rn::encode(DataType::kUINT4, ubytes.data(), i, uin[static_cast<size_t>(i)]);
  CHECK(ubytes[0] == std::byte{0xF0});
  CHECK(ubytes[1] == std::byte{0x08});
  CHECK(rn::decode(DataType::kUINT4, ubytes.data(), 1) == 15.0);
}

// ---- generic decode / encode ------------------------------------------------------------------

TEST_CASE("decode/encode cover every DataType") {
  struct Case {
    DataType type;
    double in;
    double out;
  };
  const std::array<Case, 26> cases{{
      {DataType::kF64, 0.1, 0.1},
      {DataType::kF64, -kInf, -kInf},
      {DataType::kF32, 0.1, static_cast<double>(0.1f)},
      {DataType::kF32, 1e300, kInf},
      {DataType::kF16, 1.0 / 3, 0.333251953125},
      {DataType::kF16, 1e5, kInf},
      {DataType::kBF16, 1.0 / 3, 0.333984375},
      {DataType::kFP8E4M3, 500.0, 448.0},
      {DataType::kFP8E4M3, 0.3, 0.3125},
      {DataType::kFP8E5M2, 1e6, 57344.0},
      {DataType::kFP8E5M2, -0.3, -0.3125},
      {DataType::kFP4E2M1, 2.6, 3.0},
      {DataType::kFP4E2M1, -100.0, -6.0},
      {DataType::kINT4, 7.5, 7.0},
      {DataType::kUINT4, 3.5, 4.0},
      {DataType::kINT8, -127.5, -128.0},
      {DataType::kINT8, 1000.0, 127.0},
      {DataType::kUINT8, 254.5, 254.0},
      {DataType::kUINT8, -3.0, 0.0},
      {DataType::kINT32, 3e9, 2147483647.0},
      {DataType::kINT32, -2.5, -2.0},
      {DataType::kINT64, 0x1p62 + 0x1p10, 0x1p62 + 0x1p10},
      {DataType::kINT64, -kInf, -0x1p63},
      {DataType::kBOOL, -0.5, 1.0},
      {DataType::kBOOL, -0.0, 0.0},
      {DataType::kBOOL, kNaN, 1.0},
  }};
  for (const Case& c : cases) {
    CAPTURE(static_cast<int>(c.type));
    CAPTURE(c.in);
    // Element 1 of a buffer wide enough for any type, so indexing is exercised too.
    std::array<std::byte, 32> buffer{};
    rn::encode(c.type, buffer.data(), 1, c.in);
    CHECK(same_double(rn::decode(c.type, buffer.data(), 1), c.out));
    CHECK(rn::decode(c.type, buffer.data(), 0) == 0.0);  // neighbour untouched
  }
  int covered = 0;  // every DataType value appears above
  for (int t = 0; t < rtx::kDataTypeCount; ++t) {
    bool found = false;
    for (const Case& c : cases) found = found || static_cast<int>(c.type) == t;
    covered += found;
  }
  CHECK(covered == rtx::kDataTypeCount);

  // saturate applies to fp8 only.
  std::array<std::byte, 4> b{};
  rn::encode(DataType::kFP8E4M3, b.data(), 0, 1000.0, false);
  CHECK(std::isnan(rn::decode(DataType::kFP8E4M3, b.data(), 0)));
  rn::encode(DataType::kFP8E5M2, b.data(), 1, -1000000.0, false);
  CHECK(rn::decode(DataType::kFP8E5M2, b.data(), 1) == -kInf);
  rn::encode(DataType::kINT8, b.data(), 2, 1000.0, false);
  CHECK(rn::decode(DataType::kINT8, b.data(), 2) == 127.0);
  // A bool byte other than 0/1 still reads as true.
  b[3] = std::byte{0x40};
  CHECK(rn::decode(DataType::kBOOL, b.data(), 3) == 1.0);
  CHECK(rn::decode_int(DataType::kBOOL, b.data(), 3) == 1);
}

TEST_CASE("encode_int wraps integers like a C cast, decode_int is exact") {
  std::array<std::byte, 16> b{};
  rn::encode_int(DataType::kINT8, b.data(), 0, 200);
  CHECK(rn::decode_int(DataType::kINT8, b.data(), 0) == -56);
  rn::encode_int(DataType::kUINT8, b.data(), 0, -1);
  CHECK(rn::decode_int(DataType::kUINT8, b.data(), 0) == 255);
  rn::encode_int(DataType::kINT32, b.data(), 1, (int64_t{1} << 32) + 5);
  CHECK(rn::decode_int(DataType::kINT32, b.data(), 1) == 5);
  rn::encode_int(DataType::kINT32, b.data(), 1, 2147483648LL);
  CHECK(rn::decode_int(DataType::kINT32, b.data(), 1) == -2147483648LL);
  rn::encode_int(DataType::kINT64, b.data(), 1, std::numeric_limits<int64_t>::max());
  CHECK(rn::decode_int(DataType::kINT64, b.data(), 1) == std::numeric_limits<int64_t>::max());
  rn::encode_int(DataType::kINT64, b.data(), 0, std::numeric_limits<int64_t>::min());
  CHECK(rn::decode_int(DataType::kINT64, b.data(), 0) == std::numeric_limits<int64_t>::min());

  b.fill(std::byte{0});
  rn::encode_int(DataType::kINT4, b.data(), 0, 9);   // 1001 -> -7
  rn::encode_int(DataType::kINT4, b.data(), 1, -9);  // ...0111 -> 7
  rn::encode_int(DataType::kUINT4, b.data(), 2, 17);
  CHECK(rn::decode_int(DataType::kINT4, b.data(), 0) == -7);
  CHECK(rn::decode_int(DataType::kINT4, b.data(), 1) == 7);
  CHECK(rn::decode_int(DataType::kUINT4, b.data(), 2) == 1);
  CHECK(b[0] == std::byte{0x79});
  rn::encode_int(DataType::kBOOL, b.data(), 4, -5);
  CHECK(rn::decode_int(DataType::kBOOL, b.data(), 4) == 1);
  rn::encode_int(DataType::kBOOL, b.data(), 4, 0);
  CHECK(rn::decode_int(DataType::kBOOL, b.data(), 4) == 0);

  // Floating types: one correct rounding even for |value| > 2^53, where int64 -> double would
  // round first. 2^62 + 2^38 + 1 lies just past the f32 tie 2^62 + 2^38; as a double it would
  // become the tie exactly and round down to 2^62.
  const int64_t big = (int64_t{1} << 62) + (int64_t{1} << 38) + 1;
  rn::encode_int(DataType::kF32, b.data(), 0, big);
  CHECK(rn::decode(DataType::kF32, b.data(), 0) == 0x1p62 + 0x1p39);
  rn::encode_int(DataType::kF32, b.data(), 0, -big);
  CHECK(rn::decode(DataType::kF32, b.data(), 0) == -(0x1p62 + 0x1p39));
  rn::encode_int(DataType::kF32, b.data(), 0, (int64_t{1} << 62) + (int64_t{1} << 38));
  CHECK(rn::decode(DataType::kF32, b.data(), 0) == 0x1p62);  // the exact tie goes to even
  rn::encode_int(DataType::kBF16, b.data(), 0, (int64_t{1} << 62) + (int64_t{1} << 54) + 1);
  CHECK(rn::decode(DataType::kBF16, b.data(), 0) == 0x1p62 + 0x1p55);
  rn::encode_int(DataType::kF16, b.data(), 0, 65519);
  CHECK(rn::decode(DataType::kF16, b.data(), 0) == 65504.0);
  rn::encode_int(DataType::kF16, b.data(), 0, 65520);
  CHECK(rn::decode(DataType::kF16, b.data(), 0) == kInf);
  rn::encode_int(DataType::kFP8E4M3, b.data(), 0, 465);
  CHECK(rn::decode(DataType::kFP8E4M3, b.data(), 0) == 448.0);
  rn::encode_int(DataType::kFP8E4M3, b.data(), 0, 465, false);
  CHECK(std::isnan(rn::decode(DataType::kFP8E4M3, b.data(), 0)));
  rn::encode_int(DataType::kFP4E2M1, b.data(), 1, -5);
  CHECK(rn::decode(DataType::kFP4E2M1, b.data(), 1) == -4.0);
  rn::encode_int(DataType::kF64, b.data(), 1, -12345);
  CHECK(rn::decode(DataType::kF64, b.data(), 1) == -12345.0);

  // decode_int of floating types truncates toward zero like a C cast, NaN -> 0.
  rn::encode(DataType::kF32, b.data(), 0, -2.75);
  CHECK(rn::decode_int(DataType::kF32, b.data(), 0) == -2);
  rn::encode(DataType::kF16, b.data(), 0, kNaN);
  CHECK(rn::decode_int(DataType::kF16, b.data(), 0) == 0);
  rn::encode(DataType::kF64, b.data(), 0, 1e300);
  CHECK(rn::decode_int(DataType::kF64, b.data(), 0) == std::numeric_limits<int64_t>::max());
  rn::encode(DataType::kFP8E4M3, b.data(), 3, -448.0);
  CHECK(rn::decode_int(DataType::kFP8E4M3, b.data(), 3) == -448);
}
