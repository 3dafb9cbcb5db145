// The command line both int8 kernel sweeps share (int8_kernel_tests and
// int8_block_kernel_tests): the int8 variants named on the command line (all
// of `all` when none), each skipped where this build or CPU lacks it, the
// sweep run on each, and a final verdict line. Exits 0 when every case
// passed, 1 on any failure or when no requested variant is available, 2 on a
// bad argument.
#ifndef PATTERNLITE_TESTS_NATIVE_INT8_VARIANT_MAIN_H_
#define PATTERNLITE_TESTS_NATIVE_INT8_VARIANT_MAIN_H_

#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "delegate/kernels/conv_int8_kernel.h"

namespace patternlite {

// `sweep(variant)` runs one variant's cases, prints its summary line and
// returns how many failed; `program` names the binary in every line printed.
template <class Sweep>
int Int8VariantMain(int argc, char** argv, const char* program, std::initializer_list<Int8Variant> all,
                    Sweep sweep) {
  std::vector<Int8Variant> variants;
  for (int i = 1; i < argc; ++i) {
    bool found = false;
    for (Int8Variant v : all) {
      if (std::strcmp(argv[i], Int8VariantName(v)) == 0) {
        variants.push_back(v);
        found = true;
      }
    }
    if (!found) {
      std::string names;
      for (Int8Variant v : all) names += std::string(names.empty() ? "" : "|") + Int8VariantName(v);
      std::fprintf(stderr, "usage: %s [%s ...]\n", argv[0], names.c_str());
      return 2;
    }
  }
  if (variants.empty()) variants.assign(all.begin(), all.end());
  int failed = 0, tested = 0;
  for (Int8Variant v : variants) {
    if (!Int8VariantAvailable(v)) {
      std::printf("%s: %s not available here, skipped\n", program, Int8VariantName(v));
      continue;
    }
    ++tested;
    failed += sweep(v);
  }
  if (tested == 0) {
    std::printf("%s: no requested variant is available\n", program);
    return 1;
  }
  if (failed == 0) {
    std::printf("%s: all passed (bit-exact)\n", program);
  } else {
    std::printf("%s: %d FAILED\n", program, failed);
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace patternlite

#endif  // PATTERNLITE_TESTS_NATIVE_INT8_VARIANT_MAIN_H_
