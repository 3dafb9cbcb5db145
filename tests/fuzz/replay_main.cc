// A main() for the libFuzzer harnesses of tests/fuzz, for builds without
// libFuzzer (any C++17 compiler): it feeds every file named on the command
// line, and every file inside every directory named, to
// LLVMFuzzerTestOneInput once. A harness check that fails aborts the program.
//
//   c++ -std=c++17 -I. -o replay tests/fuzz/metadata_reader_fuzz.cc tests/fuzz/replay_main.cc
//       delegate/metadata/metadata_reader.cc delegate/packing/pattern_pack.cc
//       delegate/runtime/weight_checks.cc   (one line)
//   ./replay tests/fuzz/corpus/metadata_reader
//
// tests/test_fuzz_corpus.py builds and runs it over the committed corpus.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg(argv[i]);
    if (fs::is_directory(arg)) {
      for (const auto& entry : fs::directory_iterator(arg)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
    } else if (fs::is_regular_file(arg)) {
      files.push_back(arg);
    } else {
      std::fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
      return 2;
    }
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // An exactly sized heap copy, as libFuzzer passes its inputs.
    std::vector<uint8_t> data(bytes.begin(), bytes.end());
    std::printf("replay: %s (%zu bytes)\n", f.string().c_str(), data.size());
    std::fflush(stdout);
    LLVMFuzzerTestOneInput(data.data(), data.size());
  }
  std::printf("replay: %zu inputs, no failure\n", files.size());
  return 0;
}
