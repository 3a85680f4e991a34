// Shared by the fuzz harnesses: quiet logging, the shared assets, a
// per-process temporary directory for loaders that take a path, a decode
// smoke test, and (without AXE_LIBFUZZER) a main that replays files.
//
// A non-OK status is a normal outcome for a damaged input. What counts as a
// finding: a crash, a sanitizer report, a leak, a timeout, or (only with
// AXE_FUZZ_ABORT_ON_INTERNAL=1 in the environment) AXE_ERR_INTERNAL, i.e. an
// exception that is not an axe::Error escaping to the C API.
#pragma once
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "axe/axe.h"

#ifndef AXE_SHARED_DIR
#define AXE_SHARED_DIR "../shared"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace axe_fuzz {

inline void quiet_log(axe_log_level, const char*, void*) {}

// AXE_FUZZ_SHARED_DIR overrides the compiled-in ../shared.
inline std::string shared_dir() {
  const char* e = std::getenv("AXE_FUZZ_SHARED_DIR");
  return e && *e ? e : AXE_SHARED_DIR;
}
inline std::string stories_model() { return shared_dir() + "/models/stories260K/stories260K.bin"; }
inline std::string stories_tokenizer() { return shared_dir() + "/models/stories260K/tok512.bin"; }

// Once per process: silence the library's log and make a private directory
// (in /dev/shm when there is one, so that writes stay in memory).
inline const std::string& work_dir() {
  static const std::string dir = [] {
    axe_set_log_callback(quiet_log, nullptr);
    // AXE_FUZZ_TMPDIR, else /dev/shm, else TMPDIR, else /tmp.
    const char* env = std::getenv("AXE_FUZZ_TMPDIR");
    const char* tmp = std::getenv("TMPDIR");
    std::string base = env && *env                        ? env
                       : access("/dev/shm", W_OK) == 0    ? "/dev/shm"
                       : tmp && *tmp                      ? tmp
                                                          : "/tmp";
    std::string templ = base + "/axe-fuzz-XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) {
      std::perror("axe fuzz: mkdtemp");
      std::abort();
    }
    std::string d = buf.data();
    // Removed at exit (files are unlinked after each input).
    static std::string at_exit_dir;
    at_exit_dir = d;
    std::atexit([] { rmdir(at_exit_dir.c_str()); });
    return d;
  }();
  return dir;
}

// A file holding the input, removed when this goes out of scope.
class TempFile {
 public:
  TempFile(const char* name, const uint8_t* data, size_t size) : path_(work_dir() + "/" + name) {
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
      std::perror(("axe fuzz: writing " + path_).c_str());
      std::abort();
    }
  }
  ~TempFile() { std::remove(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }
  const char* c_str() const { return path_.c_str(); }

 private:
  std::string path_;
};

inline void check_status(axe_status st, const char* what) {
  static const bool strict = [] {
    const char* e = std::getenv("AXE_FUZZ_ABORT_ON_INTERNAL");
    return e && *e == '1';
  }();
  if (strict && st == AXE_ERR_INTERNAL) {
    std::fprintf(stderr, "axe fuzz: %s returned AXE_ERR_INTERNAL: %s\n", what, axe_last_error());
    std::abort();
  }
}

// Loads were successful: context (n_ctx 16, one thread), a short prefill
// with every logit, a sampled decode step, optionally on an emulated
// datapath. Errors are normal outcomes.
inline void decode_smoke(axe_model* model, int acc_sim_inner = 0, int acc_sim_outer = 0) {
  axe_model_info info{};
  info.struct_size = sizeof info;
  if (axe_model_get_info(model, &info) != AXE_OK || info.n_vocab <= 0) return;
  axe_context_params cp = axe_context_default_params();
  cp.n_ctx = 16;
  cp.n_batch = 4;
  cp.n_threads = 1;
  cp.acc_sim_inner_bits = acc_sim_inner;
  cp.acc_sim_outer_bits = acc_sim_outer;
  axe_context* ctx = nullptr;
  axe_status st = axe_context_create(model, &cp, &ctx);
  check_status(st, "axe_context_create");
  if (st != AXE_OK) return;
  const int32_t v = info.n_vocab;
  const axe_token toks[5] = {axe_token_bos(model), 2 % v, 300 % v, v - 1, 0};
  const int32_t pos[5] = {0, 1, 2, 3, 4};
  const int8_t want[5] = {1, 1, 1, 1, 1};
  st = axe_decode(ctx, toks, pos, 5, want);  // 5 > n_batch: split
  check_status(st, "axe_decode");
  if (st == AXE_OK) {
    axe_sampler_params sp = axe_sampler_default_params();
    sp.temperature = 0.8f;
    sp.top_k = 40;
    sp.top_p = 0.9f;
    sp.seed = 1;
    axe_sampler* sampler = nullptr;
    axe_sampler_params greedy = axe_sampler_default_params();
    greedy.temperature = 0;
    axe_sampler* argmax = nullptr;
    if (axe_sampler_create(&sp, &sampler) == AXE_OK && axe_sampler_create(&greedy, &argmax) == AXE_OK) {
      for (int32_t i = 0; i < 5; ++i) {
        const float* logits = axe_get_logits(ctx, i);
        if (!logits) continue;
        axe_token t = 0;
        check_status(axe_sampler_sample(sampler, logits, v, &t), "axe_sampler_sample");
        check_status(axe_sampler_sample(argmax, logits, v, &t), "axe_sampler_sample");
      }
      axe_token next = 0;
      const float* last = axe_get_logits(ctx, -1);
      if (last && axe_sampler_sample(argmax, last, v, &next) == AXE_OK) {
        const int32_t p = 5;
        check_status(axe_decode(ctx, &next, &p, 1, nullptr), "axe_decode");
        // Decoding at an earlier position forgets the rest.
        const int32_t p2 = 2;
        check_status(axe_decode(ctx, &next, &p2, 1, nullptr), "axe_decode");
      }
    }
    axe_sampler_free(sampler);
    axe_sampler_free(argmax);
  }
  if (acc_sim_inner) {
    size_t n = 0;
    axe_context_overflows(ctx, nullptr, 0, &n);
    std::vector<axe_overflow_report> r(n);
    if (n) axe_context_overflows(ctx, r.data(), r.size(), &n);
  }
  axe_context_free(ctx);
}

}  // namespace axe_fuzz

#if !defined(AXE_LIBFUZZER) && !defined(AXE_FUZZ_NO_MAIN)
// Replay: runs the harness over every file named on the command line, or
// every file in a named directory (sorted; hidden files skipped). A missing
// path is an error; an empty directory is not.
namespace axe_fuzz {
inline bool replay_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    std::perror(path.c_str());
    return false;
  }
  std::vector<uint8_t> bytes;
  uint8_t buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.insert(bytes.end(), buf, buf + n);
  std::fclose(f);
  std::fprintf(stderr, "replay: %s (%zu bytes)\n", path.c_str(), bytes.size());
  // A copy sized exactly, so that ASan sees reads past the end.
  std::unique_ptr<uint8_t[]> exact(new uint8_t[bytes.size()]);
  if (!bytes.empty()) std::memcpy(exact.get(), bytes.data(), bytes.size());
  LLVMFuzzerTestOneInput(exact.get(), bytes.size());
  return true;
}
}  // namespace axe_fuzz

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
    return 2;
  }
  size_t count = 0;
  for (int i = 1; i < argc; ++i) {
    struct stat st {};
    if (stat(argv[i], &st) != 0) {
      std::perror(argv[i]);
      return 1;
    }
    if (S_ISDIR(st.st_mode)) {
      std::vector<std::string> files;
      if (DIR* d = opendir(argv[i])) {
        while (dirent* e = readdir(d)) {
          if (e->d_name[0] == '.') continue;
          const std::string p = std::string(argv[i]) + "/" + e->d_name;
          struct stat fs {};
          if (stat(p.c_str(), &fs) == 0 && S_ISREG(fs.st_mode)) files.push_back(p);
        }
        closedir(d);
      }
      std::sort(files.begin(), files.end());
      for (const auto& p : files) {
        if (!axe_fuzz::replay_file(p)) return 1;
        ++count;
      }
    } else {
      if (!axe_fuzz::replay_file(argv[i])) return 1;
      ++count;
    }
  }
  std::printf("replayed %zu inputs\n", count);
  return 0;
}
#endif
