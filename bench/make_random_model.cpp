// Writes a llama2.c legacy checkpoint with random weights at a given shape,
// for speed measurements at real sizes. Output is written to a temporary file
// and renamed.
//   axe_make_random_model OUT.bin DIM HIDDEN LAYERS HEADS KV_HEADS VOCAB SEQ [SEED] [--untied]
//   axe_make_random_model OUT.bin --preset stories15M|stories110M|tinyllama-1.1B [--untied]
// By default the classifier is the embedding (tied, a positive vocab in the
// header). --untied writes a separate random classifier after freq_cis and a
// negative vocab in the header, as llama2.c's export does for untied models
// (models/formats/llama2c.cpp and llama.cpp's convert-llama2c-to-ggml both read
// it so); the tensors before it are the same bytes as without --untied.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

struct Shape {
  int32_t dim, hidden, layers, heads, kv_heads, vocab, seq;
};

bool preset(const std::string& name, Shape* s) {
  if (name == "stories15M") *s = {288, 768, 6, 6, 6, 32000, 256};
  else if (name == "stories110M") *s = {768, 2048, 12, 12, 12, 32000, 1024};
  else if (name == "tinyllama-1.1B") *s = {2048, 5632, 22, 32, 4, 32000, 2048};
  else return false;
  return true;
}

}  // namespace

int main(int argc_in, char** argv_in) {
  // --untied may stand anywhere after OUT.bin; the rest is positional.
  std::vector<char*> args;
  bool untied = false;
  for (int i = 0; i < argc_in; ++i) {
    if (i > 1 && std::strcmp(argv_in[i], "--untied") == 0) untied = true;
    else args.push_back(argv_in[i]);
  }
  const int argc = static_cast<int>(args.size());
  char** argv = args.data();
  Shape s{};
  uint64_t seed = 1;
  if (argc == 4 && std::strcmp(argv[2], "--preset") == 0) {
    if (!preset(argv[3], &s)) {
      std::fprintf(stderr, "unknown preset '%s' (stories15M, stories110M, tinyllama-1.1B)\n", argv[3]);
      return 2;
    }
  } else if (argc == 9 || argc == 10) {
    int32_t* f[7] = {&s.dim, &s.hidden, &s.layers, &s.heads, &s.kv_heads, &s.vocab, &s.seq};
    for (int i = 0; i < 7; ++i) *f[i] = std::atoi(argv[2 + i]);
    if (argc == 10) seed = std::strtoull(argv[9], nullptr, 10);
  } else {
    std::fprintf(stderr,
                 "usage: %s OUT.bin DIM HIDDEN LAYERS HEADS KV_HEADS VOCAB SEQ [SEED] [--untied]\n"
                 "       %s OUT.bin --preset stories15M|stories110M|tinyllama-1.1B [--untied]\n"
                 "Writes a llama2.c legacy checkpoint with random weights. --untied stores a separate\n"
                 "classifier after freq_cis (negative vocab in the header); the default ties it to the\n"
                 "embedding.\n",
                 argv[0], argv[0]);
    return 2;
  }
  if (s.dim <= 0 || s.heads <= 0 || s.kv_heads <= 0 || s.vocab <= 0 || s.dim % s.heads || s.heads % s.kv_heads) {
    std::fprintf(stderr, "inconsistent shape\n");
    return 2;
  }
  const std::string out = argv[1], tmp = out + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    std::perror(tmp.c_str());
    return 1;
  }
  const int32_t header[7] = {s.dim, s.hidden, s.layers, s.heads, s.kv_heads, untied ? -s.vocab : s.vocab, s.seq};
  bool ok = std::fwrite(header, 4, 7, f) == 7;
  const uint64_t D = s.dim, H = s.hidden, L = s.layers, V = s.vocab, HD = D / s.heads, KV = HD * s.kv_heads;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> buf;
  auto write = [&](uint64_t n, float scale, bool ones) {
    buf.resize(1 << 20);
    while (n && ok) {
      const uint64_t k = std::min<uint64_t>(n, buf.size());
      for (uint64_t i = 0; i < k; ++i) buf[i] = ones ? 1.0f + 0.1f * normal(rng) : scale * normal(rng);
      ok = std::fwrite(buf.data(), 4, k, f) == k;
      n -= k;
    }
  };
  const float sd = 1.0f / std::sqrt(static_cast<float>(D)), sdh = 1.0f / std::sqrt(static_cast<float>(H));
  write(V * D, 1.0f, false);          // embedding
  write(L * D, 0, true);              // rms_att
  write(L * D * D, sd, false);        // wq
  write(L * KV * D, sd, false);       // wk
  write(L * KV * D, sd, false);       // wv
  write(L * D * D, sd, false);        // wo
  write(L * D, 0, true);              // rms_ffn
  write(L * H * D, sd, false);        // w1
  write(L * D * H, sdh, false);       // w2
  write(L * H * D, sd, false);        // w3
  write(D, 0, true);                  // rms_final
  write(uint64_t(s.seq) * HD, 0, false);  // freq_cis (unused)
  if (untied) write(V * D, sd, false);    // wcls, scaled like the other linear layers
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), out.c_str()) != 0) {
    std::perror(out.c_str());
    std::remove(tmp.c_str());
    return 1;
  }
  return 0;
}
