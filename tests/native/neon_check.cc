// Cross-ISA check for CPUs the CI machine does not have (arm64 NEON): runs
// the "neon" kernel and the scalar reference through the library's C entry
// point on random pattern-sparse convs and compares them. Built and run under
// qemu-user by tests/test_neon_emulated.py when an aarch64 cross compiler and
// qemu are installed.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

extern "C" int patternlite_conv2d(const float* input, int batch, int in_h, int in_w, int in_c, const float* filter,
                                  int out_c, const float* bias, int stride_h, int stride_w, int padding_same,
                                  int activation, const char* isa_name, int num_threads, int repeats, float* output,
                                  double* median_seconds);

extern "C" int patternlite_block_conv(int kind, const float* input, int batch, int in_h, int in_w, int in_c,
                                      const float* filter, int out_c, const float* bias, int stride_h, int stride_w,
                                      int padding_same, int activation, const char* isa_name, int repeats,
                                      float* output, double* median_seconds);

// The channel-block kernels (1x1 and depthwise), neon against scalar; returns
// the worst scaled error, or a negative value when a kernel refused.
double CheckBlockKernels(std::mt19937& rng, int* cases) {
  std::normal_distribution<float> normal;
  double worst = 0;
  for (int kind : {1, 2}) {
    for (int h : {1, 4, 9, 23}) {
      for (int c : {1, 7, 16, 37, 64}) {
        for (int o : {1, 16, 21, 40}) {
          for (int s : {1, 2}) {
            const int out_c = kind == 1 ? o : c;
            if (kind == 2 && o != 16) continue;  // depthwise: out_c is c, one pass
            const int same = h >= 3 ? (h + s + c) % 2 : 1;
            std::vector<float> x(size_t(2) * h * h * c), b(out_c);
            std::vector<float> w(kind == 1 ? size_t(out_c) * c : size_t(9) * c, 0.f);
            for (float& v : x) v = normal(rng);
            for (float& v : b) v = normal(rng);
            for (size_t i = 0; i < w.size(); ++i) {
              if ((i * 7 + size_t(h)) % 3 != 0) w[i] = normal(rng);
            }
            const int k = kind == 1 ? 1 : 3;
            const int oh = same ? (h + s - 1) / s : (h - k) / s + 1;
            std::vector<float> ref(size_t(2) * oh * oh * out_c), out(ref.size());
            if (patternlite_block_conv(kind, x.data(), 2, h, h, c, w.data(), out_c, b.data(), s, s, same, 3,
                                       "scalar", 1, ref.data(), nullptr) != 0 ||
                patternlite_block_conv(kind, x.data(), 2, h, h, c, w.data(), out_c, b.data(), s, s, same, 3, "neon",
                                       1, out.data(), nullptr) != 0) {
              std::printf("FAIL: block kernel refused kind=%d h=%d c=%d o=%d s=%d\n", kind, h, c, out_c, s);
              return -1;
            }
            double scale = 1e-6, err = 0;
            for (size_t i = 0; i < ref.size(); ++i) {
              scale = std::fmax(scale, std::fabs(ref[i]));
              err = std::fmax(err, std::fabs(ref[i] - out[i]));
            }
            worst = std::fmax(worst, err / scale);
            ++*cases;
          }
        }
      }
    }
  }
  return worst;
}

int main() {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  const int taps[4] = {1, 3, 4, 5};  // a plus-shaped pattern without the bottom tap
  double worst = 0;
  int cases = 0;
  for (int h : {1, 5, 8, 17, 40}) {
    for (int c : {1, 3, 16, 37}) {
      for (int o : {1, 8, 21, 140}) {  // 140: two channel-major filter blocks
        for (int s : {1, 2}) {
          for (int same : {0, 1}) {
            if (!same && h < 3) continue;
            std::vector<float> x(size_t(2) * h * h * c), w(size_t(o) * 9 * c, 0.f), b(o);
            for (float& v : x) v = normal(rng);
            for (float& v : b) v = normal(rng);
            for (int oc = 0; oc < o; ++oc)
              for (int ic = 0; ic < c; ++ic)
                if ((oc + ic) % 3 != 0)
                  for (int t : taps) w[(size_t(oc) * 9 + t) * c + ic] = normal(rng);
            const int oh = same ? (h + s - 1) / s : (h - 3) / s + 1;
            std::vector<float> ref(size_t(2) * oh * oh * o), out(ref.size());
            if (patternlite_conv2d(x.data(), 2, h, h, c, w.data(), o, b.data(), s, s, same, 1, "scalar", 1, 1,
                                   ref.data(), nullptr) != 0 ||
                patternlite_conv2d(x.data(), 2, h, h, c, w.data(), o, b.data(), s, s, same, 1, "neon", 2, 1,
                                   out.data(), nullptr) != 0) {
              std::printf("FAIL: kernel refused h=%d c=%d o=%d s=%d same=%d\n", h, c, o, s, same);
              return 1;
            }
            double scale = 1e-6, err = 0;
            for (size_t i = 0; i < ref.size(); ++i) {
              scale = std::fmax(scale, std::fabs(ref[i]));
              err = std::fmax(err, std::fabs(ref[i] - out[i]));
            }
            worst = std::fmax(worst, err / scale);
            ++cases;
          }
        }
      }
    }
  }
  std::printf("neon vs scalar: %d cases, max scaled error %.3g\n", cases, worst);
  int block_cases = 0;
  const double block_worst = CheckBlockKernels(rng, &block_cases);
  if (block_worst < 0) return 1;
  std::printf("neon vs scalar, 1x1 and depthwise: %d cases, max scaled error %.3g\n", block_cases, block_worst);
  return worst <= 1e-4 && block_worst <= 1e-4 ? 0 : 1;
}
