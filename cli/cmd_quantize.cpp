// axe quantize: a float model to a .axe file.
#include "commands.h"
#include "api_handles.h"
#include "quant_flags.h"

namespace cli {

int cmd_quantize(int argc, char** argv) {
  ModelFlags mf;
  std::string out;
  QuantFlags qf;
  axe_quantize_params& qp = qf.params;
  std::string algo = "rtn";
  bool acc_given = false;
  ArgParser p("quantize",
              "-m MODEL -o OUT.axe [--algo rtn|optq|gpfq] [--axe|--search|--naive|--ep-init] --wbits M --abits N "
              "[--act asym|sym] [--group G [--act-group G]] [--tile T] [--acc P_I[,P_O]] [--plan contiguous|lanes] [--calib FILE "
              "--calib-samples S --calib-len L] [--act-order] [--damp 0.01] [--full-error] [-s SEED] [-t THREADS]",
              "Quantizes the linear layers of a float model (per-row MSE scales) by round to nearest, or by OPTQ\n"
              "(GPTQ) or GPFQ calibrated block by block on --calib text, and writes a .axe file with the\n"
              "accumulation plan and a per-layer certificate. With --axe every tile of every dot product is\n"
              "constrained to fit a P_I-bit accumulator (and the row a P_O-bit one); --search also tries, per\n"
              "layer, narrower activation and weight widths under AXE and keeps the lowest calibration error.\n"
              "--naive and --ep-init are the paper's baselines. Without any of them the plan is only certified\n"
              "(use 'axe verify' to see whether it holds).\n"
              "The default plan is 'lanes' with 16 tiles: the partition both int16 kernels respect.");
  p.add({"-m", "--model"}, "FILE", "float model (llama2.c .bin)", [&](auto&, auto& v) { mf.model_path = v; });
  p.add({"--tokenizer"}, "FILE", "tokenizer.bin", [&](auto&, auto& v) { mf.tokenizer_path = v; });
  p.add({"-o", "--output"}, "FILE",
        "the .axe file to write; a name ending in .gguf writes GGUF Q8_0/Q4_0 for llama.cpp (needs --group 32)",
        [&](auto&, auto& v) { out = v; });
  p.add({"--algo"}, "rtn|optq|gpfq", "quantization algorithm (default rtn)", [&](auto& f, auto& v) {
    if (v != "rtn" && v != "optq" && v != "gpfq")
      throw UsageError("invalid value '" + v + "' for " + f + ": expected rtn, optq or gpfq");
    algo = v;
  });
  p.add_switch({"--axe"}, "enforce the accumulation plan (AXE soft threshold and hard clip)", [&] { qp.axe = 1; });
  p.add_switch({"--search"}, "AXE, plus a per-layer search over narrower --abits/--wbits (optq, gpfq)",
               [&] { qp.search = 1; });
  p.add_switch({"--naive"}, "baseline: lower --abits, then --wbits until any weights fit --acc (no constraint)",
               [&] { qp.naive = 1; });
  p.add_switch({"--ep-init"}, "baseline: round toward zero, then project each tile onto the l1 ball of --acc",
               [&] { qp.ep_init = 1; });
  p.add({"--acc"}, "P_I[,P_O]", "accumulator widths (default 32,32; P_O defaults to 32)", [&](auto& f, auto& v) {
    const auto w = parse_int_list(f, v, 2, 32);
    if (w.size() > 2) throw UsageError("invalid value '" + v + "' for " + f + ": expected P_I or P_I,P_O");
    qp.inner_bits = static_cast<int32_t>(w[0]);
    qp.outer_bits = w.size() == 2 ? static_cast<int32_t>(w[1]) : 32;
    if (qp.outer_bits < qp.inner_bits) throw UsageError(f + ": P_O must be at least P_I");
    acc_given = true;
  });
  p.add({"-t", "--threads"}, "N", "threads (default: physical cores)",
        [&](auto& f, auto& v) { qp.n_threads = static_cast<int32_t>(parse_int(f, v, 1, 1024)); });
  p.add({"--target"}, "NAME", "SIMD target of the float products (the file depends on it): auto, avx512-vnni, avx512, avx2, scalar",
        [&](auto&, auto& v) { mf.target = v; });
  qf.add_to(p);
  if (!p.parse(argc, argv, 2)) return 0;
  mf.require_model(p);
  if (out.empty()) throw UsageError("missing -o OUT.axe (see 'axe quantize --help')");
  qf.check();
  qf.apply_group_defaults();
  if (qp.axe + qp.naive + qp.ep_init + qp.search > 1)
    throw UsageError("--axe, --search, --naive and --ep-init are alternatives");
  if ((qp.axe || qp.naive || qp.ep_init || qp.search) && !acc_given)
    throw UsageError("--axe, --search, --naive and --ep-init need --acc P_I[,P_O]: the accumulator to fit");
  if (qp.search && algo == "rtn") throw UsageError("--search needs a calibrated algorithm: --algo optq or gpfq");
  qp.algo = algo.c_str();
  if (!mf.target.empty()) qp.target = mf.target.c_str();
  qf.load_calibration(algo);
  qf.show_progress();

  // The quantizer reads each float weight once (into its own matrices): the
  // file's pages in place, rather than a copy into fresh huge pages that
  // the kernel must first zero (4.4 GB for TinyLlama: ~10 s).
  mf.use_mmap = true;
  ModelPtr model = load_model(mf);
  check(axe_quantize(model.get(), out.c_str(), &qp), model.get());
  std::fprintf(stderr, "\n");
  if (out.size() > 5 && out.compare(out.size() - 5, 5, ".gguf") == 0) {
    // GGUF: the block check of 'axe verify FILE.gguf' at the plan's P_I.
    axe_gguf_check_result g{};
    g.struct_size = sizeof g;
    size_t n = 0;
    const axe_status st = axe_verify_gguf(out.c_str(), static_cast<uint32_t>(qp.inner_bits), qp.act_bits,
                                          qp.act_signed, &g, nullptr, 0, &n);
    if (st != AXE_OK && st != AXE_ERR_BUFFER_TOO_SMALL) throw ApiError(axe_last_error());
    std::printf("wrote %s: %llu Q8_0/Q4_0 tensors (%llu others), every block of 32 fits %u bits; P_I=%d %s\n", out.c_str(),
                static_cast<unsigned long long>(g.tensors_checked), static_cast<unsigned long long>(g.tensors_skipped),
                g.min_inner_bits, qp.inner_bits, g.overflowing_blocks == 0 ? "holds" : "does NOT hold");
    return 0;
  }
  axe_verify_result r{};
  r.struct_size = sizeof r;
  if (axe_verify(out.c_str(), &r) != AXE_OK) throw ApiError(axe_last_error());
  std::printf("wrote %s: %llu layers, plan %s, worst tile budget use %.4f, row %.4f, %s\n", out.c_str(),
              static_cast<unsigned long long>(r.layers), r.plan, r.worst_inner_use, r.worst_outer_use,
              r.inner_violations + r.outer_violations == 0 ? "plan holds" : "plan does NOT hold (int32 kernels only)");
  return 0;
}

}  // namespace cli
