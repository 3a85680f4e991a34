// An independent, deliberately plain reference of the Llama forward pass for
// tests: reads a legacy llama2.c checkpoint with fread into vectors and runs
// one token at a time in double precision, sharing no code with the library.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace reference {

class Llama {
 public:
  explicit Llama(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw std::runtime_error("cannot open " + path);
    int32_t h[7];
    if (std::fread(h, 4, 7, f) != 7) throw std::runtime_error("short header");
    dim = h[0], hidden = h[1], layers = h[2], heads = h[3], kv_heads = h[4], vocab = std::abs(h[5]), seq = h[6];
    const bool shared = h[5] > 0;
    hs = dim / heads;
    kv_dim = hs * kv_heads;
    auto rd = [&](std::vector<float>& v, size_t n) {
      v.resize(n);
      if (std::fread(v.data(), 4, n, f) != n) throw std::runtime_error("short read");
    };
    rd(emb, size_t(vocab) * dim);
    rd(rms_att, size_t(layers) * dim);
    rd(wq, size_t(layers) * dim * dim);
    rd(wk, size_t(layers) * dim * kv_dim);
    rd(wv, size_t(layers) * dim * kv_dim);
    rd(wo, size_t(layers) * dim * dim);
    rd(rms_ffn, size_t(layers) * dim);
    rd(w1, size_t(layers) * dim * hidden);
    rd(w2, size_t(layers) * dim * hidden);
    rd(w3, size_t(layers) * dim * hidden);
    rd(rms_final, dim);
    std::vector<float> skip;
    rd(skip, size_t(seq) * hs);
    if (shared) wcls = emb;
    else rd(wcls, size_t(vocab) * dim);
    std::fclose(f);
    kc.assign(size_t(layers) * seq * kv_dim, 0.0);
    vc.assign(size_t(layers) * seq * kv_dim, 0.0);
  }

  // Logits after feeding `token` at position `pos` (positions in order).
  std::vector<double> step(int token, int pos) {
    std::vector<double> x(dim), xb(dim), q(dim), att(pos + 1), hb(hidden), hb2(hidden), out(dim);
    for (int i = 0; i < dim; ++i) x[i] = emb[size_t(token) * dim + i];
    for (int l = 0; l < layers; ++l) {
      norm(x, &rms_att[size_t(l) * dim], xb);
      double* k = &kc[(size_t(l) * seq + pos) * kv_dim];
      double* v = &vc[(size_t(l) * seq + pos) * kv_dim];
      matvec(&wq[size_t(l) * dim * dim], xb, dim, dim, q.data());
      matvec(&wk[size_t(l) * dim * kv_dim], xb, dim, kv_dim, k);
      matvec(&wv[size_t(l) * dim * kv_dim], xb, dim, kv_dim, v);
      for (int i = 0; i < dim; i += 2) {
        const int j = i % hs;
        const double freq = 1.0 / std::pow(10000.0, double(j) / hs);
        const double c = std::cos(pos * freq), s = std::sin(pos * freq);
        for (int which = 0; which < (i < kv_dim ? 2 : 1); ++which) {
          double* vec = which == 0 ? q.data() : k;
          const double a = vec[i], b = vec[i + 1];
          vec[i] = a * c - b * s;
          vec[i + 1] = a * s + b * c;
        }
      }
      for (int h = 0; h < heads; ++h) {
        const int kvh = h / (heads / kv_heads);
        double mx = -1e300;
        for (int t = 0; t <= pos; ++t) {
          double s = 0;
          for (int i = 0; i < hs; ++i) s += q[h * hs + i] * kc[(size_t(l) * seq + t) * kv_dim + kvh * hs + i];
          att[t] = s / std::sqrt(double(hs));
          mx = std::max(mx, att[t]);
        }
        double sum = 0;
        for (int t = 0; t <= pos; ++t) sum += att[t] = std::exp(att[t] - mx);
        for (int i = 0; i < hs; ++i) {
          double o = 0;
          for (int t = 0; t <= pos; ++t) o += att[t] / sum * vc[(size_t(l) * seq + t) * kv_dim + kvh * hs + i];
          xb[h * hs + i] = o;
        }
      }
      matvec(&wo[size_t(l) * dim * dim], xb, dim, dim, out.data());
      for (int i = 0; i < dim; ++i) x[i] += out[i];
      norm(x, &rms_ffn[size_t(l) * dim], xb);
      matvec(&w1[size_t(l) * dim * hidden], xb, dim, hidden, hb.data());
      matvec(&w3[size_t(l) * dim * hidden], xb, dim, hidden, hb2.data());
      for (int i = 0; i < hidden; ++i) hb[i] = hb[i] / (1.0 + std::exp(-hb[i])) * hb2[i];
      matvec(&w2[size_t(l) * dim * hidden], hb, hidden, dim, out.data());
      for (int i = 0; i < dim; ++i) x[i] += out[i];
    }
    norm(x, rms_final.data(), xb);
    std::vector<double> logits(vocab);
    matvec(wcls.data(), xb, dim, vocab, logits.data());
    return logits;
  }

  int dim, hidden, layers, heads, kv_heads, vocab, seq, hs, kv_dim;

 private:
  static void matvec(const float* w, const std::vector<double>& x, int n, int d, double* out) {
    for (int i = 0; i < d; ++i) {
      double s = 0;
      for (int j = 0; j < n; ++j) s += double(w[size_t(i) * n + j]) * x[j];
      out[i] = s;
    }
  }
  void norm(const std::vector<double>& x, const float* w, std::vector<double>& out) const {
    double ss = 0;
    for (int i = 0; i < dim; ++i) ss += x[i] * x[i];
    const double inv = 1.0 / std::sqrt(ss / dim + 1e-5);
    for (int i = 0; i < dim; ++i) out[i] = x[i] * inv * w[i];
  }
  std::vector<float> emb, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, wcls;
  std::vector<double> kc, vc;
};

}  // namespace reference
