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
  return worst <= 1e-4 ? 0 : 1;
}
