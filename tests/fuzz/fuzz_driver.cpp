// A standalone driver for the libFuzzer targets when they are built without libFuzzer (GCC,
// the normal build): replays every file of the given corpus folders, then runs a bounded number
// of random mutations of them (bit flips, byte changes, inserts, erases, splices, repeats), so
// `make test` smokes every target in seconds. `make fuzz` links the same targets with clang's
// libFuzzer instead (coverage-guided, unbounded).
//
//   fuzz_<target> [--runs N] [--seed S] [--max-len L] CORPUS_DIR...
//
// Exit status 0 when every input returned; a target that finds a problem aborts (as under
// libFuzzer), which fails the test.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void run_one(const std::string& input) {
  // A copy in a buffer of exactly its size, so ASan sees reads past the end.
  std::vector<std::uint8_t> buf(input.begin(), input.end());
  LLVMFuzzerTestOneInput(buf.empty() ? nullptr : buf.data(), buf.size());
}

std::string mutate(std::string s, const std::vector<std::string>& corpus, std::mt19937_64& rng,
                   std::size_t max_len) {
  auto pick = [&](std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng() % n); };
  static const char* const tokens[] = {"\n",
                                       "\r\n",
                                       "\0",
                                       ":",
                                       "\\",
                                       "\\c",
                                       "\\n",
                                       "\\r",
                                       "\\t",
                                       "\\\\",
                                       "content-length:",
                                       "0",
                                       "4294967296",
                                       "18446744073709551616",
                                       "-1",
                                       ","};
  const int rounds = 1 + static_cast<int>(pick(4));
  for (int r = 0; r < rounds; ++r) {
    switch (pick(8)) {
    case 0: // flip a bit
      if (!s.empty())
        s[pick(s.size())] ^= static_cast<char>(1u << pick(8));
      break;
    case 1: // set a byte
      if (!s.empty())
        s[pick(s.size())] = static_cast<char>(rng());
      break;
    case 2: // insert random bytes
      s.insert(pick(s.size() + 1), std::string(1 + pick(8), static_cast<char>(rng())));
      break;
    case 3: // erase a range
      if (!s.empty()) {
        std::size_t at = pick(s.size());
        s.erase(at, 1 + pick(std::min<std::size_t>(16, s.size() - at)));
      }
      break;
    case 4: { // insert a token that matters to the grammars
      const char* t = tokens[pick(std::size(tokens))];
      std::string tok = (t[0] == '\0') ? std::string(1, '\0') : std::string(t);
      s.insert(pick(s.size() + 1), tok);
      break;
    }
    case 5: // splice with another corpus entry
      if (!corpus.empty()) {
        const std::string& o = corpus[pick(corpus.size())];
        std::size_t from = pick(o.size() + 1);
        s = s.substr(0, pick(s.size() + 1)) + o.substr(from, pick(o.size() - from + 1));
      }
      break;
    case 6: // repeat a range
      if (!s.empty()) {
        std::size_t at = pick(s.size());
        std::string part = s.substr(at, 1 + pick(32));
        for (std::size_t i = 1 + pick(8); i > 0; --i)
          s.insert(at, part);
      }
      break;
    default: // truncate
      s.resize(pick(s.size() + 1));
      break;
    }
  }
  if (s.size() > max_len)
    s.resize(max_len);
  return s;
}

} // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize)
    LLVMFuzzerInitialize(&argc, &argv);
  long runs = 2000;
  std::uint64_t seed = 1;
  std::size_t max_len = 64 * 1024;
  std::vector<std::string> corpus;
  std::size_t files = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) {
      runs = std::atol(argv[++i]);
    } else if (a == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--max-len" && i + 1 < argc) {
      max_len = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::filesystem::path p(a);
      if (std::filesystem::is_directory(p)) {
        std::vector<std::filesystem::path> names;
        for (const auto& e : std::filesystem::directory_iterator(p))
          if (e.is_regular_file())
            names.push_back(e.path());
        std::sort(names.begin(), names.end());
        for (const auto& n : names)
          corpus.push_back(read_file(n));
      } else if (std::filesystem::is_regular_file(p)) {
        corpus.push_back(read_file(p));
      } else {
        std::fprintf(stderr, "fuzz driver: %s: no such file or folder\n", a.c_str());
        return 2;
      }
    }
  }
  if (corpus.empty())
    corpus.emplace_back();
  for (const auto& c : corpus) {
    run_one(c);
    ++files;
  }
  std::mt19937_64 rng(seed);
  for (long i = 0; i < runs; ++i)
    run_one(mutate(corpus[rng() % corpus.size()], corpus, rng, max_len));
  std::printf("fuzz driver: %zu corpus inputs and %ld mutations (seed %llu) ran clean\n", files,
              runs, static_cast<unsigned long long>(seed));
  return 0;
}
