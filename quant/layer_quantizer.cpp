#include "quant/layer_quantizer.h"

#include <tbb/parallel_for.h>

#include "runtime/error.h"

namespace axe {

const char* algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::kRtn: return "rtn";
    case Algorithm::kOptq: return "optq";
    case Algorithm::kGpfq: return "gpfq";
  }
  return "?";
}

Algorithm parse_algorithm(std::string_view name) {
  for (Algorithm a : {Algorithm::kRtn, Algorithm::kOptq, Algorithm::kGpfq})
    if (name == algorithm_name(a)) return a;
  fail(AXE_ERR_INVALID_ARGUMENT, "unknown quantization algorithm '" + std::string(name) + "' (available: rtn, optq, gpfq)");
}

std::vector<int8_t> RtnQuantizer::quantize(const LayerJob& job, double*) const {
  const size_t rows = job.layer.rows(), cols = job.layer.cols();
  const float* w = job.layer.data();
  const int32_t qmax = (1 << (job.format.weight_bits - 1)) - 1;
  std::vector<int8_t> codes(rows * cols);
  job.arena.execute([&] {
    tbb::parallel_for(size_t{0}, rows, [&](size_t i) {
      for (size_t k = 0; k < cols; ++k) {
        const double v = w[i * cols + k];
        const float s = job.scales.at(i, k);
        const int32_t q = job.axe           ? job.axe->quantize(i, k, v, s)
                          : job.toward_zero ? trunc_clamp(v / s, qmax)
                                            : round_clamp(v / s, qmax);
        codes[i * cols + k] = static_cast<int8_t>(q);
      }
    });
  });
  return codes;
}

std::vector<int8_t> OptqQuantizer::quantize(const LayerJob& job, double* damping) const {
  OptqOptions o = options_;
  o.threads = job.threads;
  o.toward_zero = job.toward_zero;
  o.ops = &job.ops;
  // The layers reading one input share its statistics, and so the factor.
  if (!job.stats->optq_factor) job.stats->optq_factor = optq_factor(job.stats->h, o);
  const OptqFactor& f = *job.stats->optq_factor;
  if (damping) *damping = f.damping;
  return optq_quantize(job.layer.data(), job.layer.rows(), job.layer.cols(), f, job.scales, job.format.weight_bits,
                       job.axe, o);
}

std::vector<int8_t> GpfqQuantizer::quantize(const LayerJob& job, double*) const {
  GpfqOptions o = options_;
  o.threads = job.threads;
  o.toward_zero = job.toward_zero;
  o.ops = &job.ops;
  return gpfq_quantize(job.layer.data(), job.layer.rows(), job.layer.cols(), job.stats->h, job.stats->g, job.scales,
                       job.format.weight_bits, job.axe, o);
}

}  // namespace axe
