#include "tinyxray/preprocess.h"

#include <cmath>
#include <cstring>

namespace {

// numpy.pad(mode="reflect") index mapping: mirror without repeating the edge,
// periodically when the pad exceeds the size.
inline int Reflect(int index, int length) {
  if (index >= 0 && index < length) return index;  // inside: the usual case
  if (length == 1) return 0;
  const int period = 2 * length - 2;
  int m = index % period;
  if (m < 0) m += period;
  return m >= length ? period - m : m;
}

// Output pixel i covers [i*L, (i+1)*L) and input pixel r covers
// [r*S, (r+1)*S) on an axis scaled by S*L, so overlaps are integers and the
// weights overlap/L of one output pixel sum to 1.
struct Span {
  int first;  // first padded input index
  int last;   // last padded input index (inclusive)
};

Span OutputSpan(int i, int size, int length) {
  const long begin = static_cast<long>(i) * length;
  const long end = begin + length;
  return {static_cast<int>(begin / size),
          static_cast<int>((end - 1) / size)};
}

uint32_t Overlap(int r, int i, int size, int length) {
  const long in_begin = static_cast<long>(r) * size;
  const long in_end = in_begin + size;
  const long out_begin = static_cast<long>(i) * length;
  const long out_end = out_begin + length;
  const long begin = in_begin > out_begin ? in_begin : out_begin;
  const long end = in_end < out_end ? in_end : out_end;
  return end > begin ? static_cast<uint32_t>(end - begin) : 0u;
}

}  // namespace

void PadResize(const uint8_t* source, int width, int height, uint8_t* output,
               int size) {
  const int length = width > height ? width : height;
  if (width == size && height == size) {  // step 3 is then the identity
    std::memcpy(output, source, static_cast<size_t>(size) * size);
    return;
  }
  // The short axis is padded by pad_total // 2 before the image.
  const int before_x = (length - width) / 2;
  const int before_y = (length - height) / 2;
  const uint32_t denominator =
      static_cast<uint32_t>(length) * static_cast<uint32_t>(length);
  for (int i = 0; i < size; ++i) {
    const Span rows = OutputSpan(i, size, length);
    for (int j = 0; j < size; ++j) {
      const Span cols = OutputSpan(j, size, length);
      uint32_t numerator = 0;
      for (int r = rows.first; r <= rows.last; ++r) {
        const uint32_t row_weight = Overlap(r, i, size, length);
        const uint8_t* row = source + static_cast<size_t>(
                                          Reflect(r - before_y, height)) *
                                          static_cast<size_t>(width);
        uint32_t row_sum = 0;
        for (int c = cols.first; c <= cols.last; ++c) {
          row_sum += Overlap(c, j, size, length) * row[Reflect(c - before_x, width)];
        }
        numerator += row_weight * row_sum;
      }
      // Round half up: floor(numerator / denominator + 1/2).
      const uint32_t quotient = numerator / denominator;
      const uint32_t remainder = numerator % denominator;
      const uint32_t value =
          quotient + (2u * remainder >= denominator ? 1u : 0u);
      output[static_cast<size_t>(i) * size + j] =
          static_cast<uint8_t>(value > 255u ? 255u : value);
    }
  }
}

void StretchLimits(const uint8_t* frame, size_t count, int* lo, int* hi) {
  uint32_t histogram[256] = {0};
  for (size_t i = 0; i < count; ++i) ++histogram[frame[i]];
  const size_t allowed = count * kStretchPercent / 100;
  size_t seen = 0;
  *lo = 255;
  for (int level = 0; level < 256; ++level) {
    seen += histogram[level];
    if (seen > allowed) {
      *lo = level;
      break;
    }
  }
  seen = 0;
  *hi = 0;
  for (int level = 255; level >= 0; --level) {
    seen += histogram[level];
    if (seen > allowed) {
      *hi = level;
      break;
    }
  }
}

void NormaliseIntensity(uint8_t* frame, size_t count, int method) {
  if (method != kIntensityStretch || count == 0) return;
  int lo = 0;
  int hi = 0;
  StretchLimits(frame, count, &lo, &hi);
  if (hi <= lo) return;  // a flat frame: nothing to stretch
  const uint32_t span = static_cast<uint32_t>(hi - lo);
  uint8_t table[256];
  for (int level = 0; level < 256; ++level) {
    if (level <= lo) {
      table[level] = 0;
    } else if (level >= hi) {
      table[level] = 255;
    } else {
      const uint32_t offset = static_cast<uint32_t>(level - lo);
      table[level] = static_cast<uint8_t>((2u * offset * 255u + span) / (2u * span));
    }
  }
  for (size_t i = 0; i < count; ++i) frame[i] = table[frame[i]];
}

void GaussianBlur(const uint8_t* input, int size, int kernel, float sigma,
                  uint8_t* output) {
  const size_t count = static_cast<size_t>(size) * size;
  if (kernel <= 1 || sigma <= 0.0f) {
    std::memcpy(output, input, count);
    return;
  }
  if (kernel > kMaxBlurKernel) kernel = kMaxBlurKernel;
  const int radius = kernel / 2;
  const int taps = 2 * radius + 1;
  // The weights as host/preprocess.py computes them (float64), once per call.
  const double s = static_cast<double>(sigma);
  double weights[kMaxBlurKernel];
  double sum = 0.0;
  for (int k = -radius; k <= radius; ++k) {
    weights[k + radius] = std::exp(-static_cast<double>(k * k) / (2.0 * s * s));
    sum += weights[k + radius];
  }
  for (int k = 0; k < taps; ++k) weights[k] /= sum;
  // The 2-D weights w_i * w_j in fixed point, 2^-52 units (each < 2^52, and
  // 255 times their sum < 2^61, so a pixel's sum fits in 64 bits). The blur is
  // then exact integer arithmetic per pixel, with no float in the per-pixel
  // loop (a libgcc call per operation on the soft-float Nano 33 BLE).
  constexpr int kFractionBits = 52;
  uint64_t coefficients[kMaxBlurKernel * kMaxBlurKernel];
  for (int i = 0; i < taps; ++i) {
    for (int j = 0; j < taps; ++j) {
      coefficients[i * taps + j] = static_cast<uint64_t>(
          std::llround(std::ldexp(weights[i] * weights[j], kFractionBits)));
    }
  }
  // Rounding half up at the end: floor(sum / 2^52 + 1/2). The result differs
  // from the host's float64 blur only for a value within ~1e-12 of a .5 tie;
  // for the default 3-tap, sigma 1 kernel the nearest tie any 3x3
  // neighbourhood reaches is 1.6e-7 away (tests/test_preprocess.py checks all
  // of them), so there the two are identical for every input.
  constexpr uint64_t kHalf = uint64_t{1} << (kFractionBits - 1);
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x) {
      uint64_t total = kHalf;
      const uint64_t* c = coefficients;
      for (int dy = -radius; dy <= radius; ++dy) {
        const uint8_t* row =
            input + static_cast<size_t>(Reflect(y + dy, size)) * size;
        for (int dx = -radius; dx <= radius; ++dx) {
          total += *c++ * row[Reflect(x + dx, size)];
        }
      }
      const uint64_t value = total >> kFractionBits;
      output[static_cast<size_t>(y) * size + x] =
          static_cast<uint8_t>(value > 255u ? 255u : value);
    }
  }
}

void ToInt8(const uint8_t* input, size_t count, float scale, int zero_point,
            int8_t* output) {
  // One value per possible pixel, computed as host/preprocess.py's to_int8
  // does (float64), so the per-pixel loop is a table lookup.
  int8_t table[256];
  for (int pixel = 0; pixel < 256; ++pixel) {
    long q;
    if (scale == 1.0f) {
      q = static_cast<long>(pixel) + zero_point;  // exact, the default
    } else {
      q = static_cast<long>(std::floor(pixel / static_cast<double>(scale) + 0.5)) +
          zero_point;
    }
    if (q < -128) q = -128;
    if (q > 127) q = 127;
    table[pixel] = static_cast<int8_t>(q);
  }
  for (size_t i = 0; i < count; ++i) output[i] = table[input[i]];
}

void PreprocessFrame(const uint8_t* source, int width, int height,
                     const PreprocessConfig& config, uint8_t* work,
                     int8_t* output) {
  const size_t count = static_cast<size_t>(config.size) * config.size;
  // The blurred uint8 frame is written over the int8 output, then converted
  // in place (char types may alias).
  auto* blurred = reinterpret_cast<uint8_t*>(output);
  PadResize(source, width, height, work, config.size);
  NormaliseIntensity(work, count, config.intensity);
  GaussianBlur(work, config.size, config.blur_kernel, config.blur_sigma,
               blurred);
  ToInt8(blurred, count, config.input_scale, config.input_zero_point, output);
}
