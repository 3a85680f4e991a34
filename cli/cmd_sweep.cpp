// axe sweep: perplexity against accumulator width for AXE and the baselines.
// For each method and each P_I it quantizes the float model (into a
// temporary .axe beside the CSV), verifies the plan from the stored integers
// and scores the evaluation text; writes a CSV and an SVG plot.
#include <algorithm>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "commands.h"
#include "api_handles.h"
#include "clock.h"
#include "perplexity_flags.h"
#include "quant_flags.h"
#include "svg_plot.h"

namespace cli {
namespace {

struct Method {
  std::string name, algo, constraint;  // constraint: "", axe, search, naive, ep
};

Method parse_method(const std::string& flag, const std::string& s) {
  Method m{s, s, ""};
  if (const auto dash = s.find('-'); dash != std::string::npos) {
    m.constraint = s.substr(0, dash);
    m.algo = s.substr(dash + 1);
  }
  const bool algo_ok = m.algo == "rtn" || m.algo == "optq" || m.algo == "gpfq";
  const bool constraint_ok = m.constraint.empty() || m.constraint == "axe" || m.constraint == "search" ||
                             m.constraint == "naive" || m.constraint == "ep";
  if (!algo_ok || !constraint_ok || (m.constraint == "search" && m.algo == "rtn"))
    throw UsageError("invalid method '" + s + "' for " + flag +
                     ": expected ALGO or CONSTRAINT-ALGO with ALGO rtn|optq|gpfq and CONSTRAINT axe|search|naive|ep "
                     "(search needs optq or gpfq)");
  return m;
}

struct Row {
  std::string method;
  int inner_bits = 0;  // 0: no constraint (a reference line)
  std::string plan;
  double ppl = 0, ppl_error = 0, worst_inner_use = 0, seconds = 0;
  double kld = -1, same_top = -1;  // against the float model (-1: not measured, --score all)
  bool holds = false;
};

// Removes the temporary model however the sweep ends.
struct TempFile {
  std::string path;
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};

}  // namespace

int cmd_sweep(int argc, char** argv) {
  ModelFlags mf;
  QuantFlags qf;
  axe_quantize_params& base = qf.params;
  base.weight_bits = 4;
  std::string eval_path, csv_path, svg_path;
  std::vector<int64_t> widths;
  std::vector<Method> methods;
  for (const char* m : {"optq", "gpfq", "axe-optq", "axe-gpfq", "search-optq", "search-gpfq", "naive-optq", "ep-optq"})
    methods.push_back(parse_method("--methods", m));
  int32_t outer = 32;
  PerplexityFlags pf;
  ArgParser p("sweep",
              "-m MODEL --calib FILE -f EVAL --acc P_I,P_I,... -o OUT.csv [--svg OUT.svg] [--methods LIST] "
              "[--outer P_O] [-c CTX] [--chunks N] [--score half|all] [quantize options]",
              "Quantizes the float model once per method and accumulator width P_I, checks the plan from the\n"
              "stored integers and measures perplexity on EVAL (with --score half also the KL divergence from\n"
              "the float model and how often the top token is the float model's, as llama-perplexity\n"
              "--kl-divergence computes them); writes one CSV row per run (and the float model)\n"
              "and, with --svg, a plot of perplexity against P_I. Methods are ALGO (unconstrained: one run, a\n"
              "reference line) or CONSTRAINT-ALGO: axe, search (AXE with the per-layer width search), naive or\n"
              "ep (EP-init), with ALGO rtn, optq or gpfq. Default methods: optq,gpfq,axe-optq,axe-gpfq,\n"
              "search-optq,search-gpfq,naive-optq,ep-optq; default weights W4 (--wbits), activations A8.");
  mf.add_to(p, false);
  qf.add_to(p);
  p.add({"-f", "--file"}, "FILE", "evaluation text", [&](auto&, auto& v) { eval_path = v; });
  p.add({"-o", "--output"}, "FILE", "the CSV to write", [&](auto&, auto& v) { csv_path = v; });
  p.add({"--svg"}, "FILE", "the plot to write", [&](auto&, auto& v) { svg_path = v; });
  p.add({"--acc"}, "LIST", "inner accumulator widths P_I, comma-separated",
        [&](auto& f, auto& v) { widths = parse_int_list(f, v, 2, 32); });
  p.add({"--outer"}, "P_O", "outer accumulator width (default 32)",
        [&](auto& f, auto& v) { outer = static_cast<int32_t>(parse_int(f, v, 2, 32)); });
  p.add({"--methods"}, "LIST", "methods, comma-separated (see above)", [&](auto& f, auto& v) {
    methods.clear();
    std::stringstream ss(v);
    for (std::string item; std::getline(ss, item, ',');) methods.push_back(parse_method(f, item));
  });
  bool no_kld = false;
  p.add_switch({"--no-kld"},
               "skip the KL divergence (it scores each run twice and keeps the float model's log-probabilities "
               "beside the CSV while it runs: chunks x n_ctx/2 x (vocab + 4) x 2 bytes)",
               [&] { no_kld = true; });
  pf.add_to(p);
  if (!p.parse(argc, argv, 2)) return 0;
  mf.require_model(p);
  if (eval_path.empty()) throw UsageError("missing -f EVAL (see 'axe sweep --help')");
  if (csv_path.empty()) throw UsageError("missing -o OUT.csv (see 'axe sweep --help')");
  qf.check();
  qf.apply_group_defaults();
  if (widths.empty()) throw UsageError("missing --acc P_I,P_I,... (see 'axe sweep --help')");
  if (methods.empty()) throw UsageError("--methods: no method given");
  if (mf.acc_sim_inner) throw UsageError("--acc-sim is not supported (each run's plan is verified from its integers)");
  for (int64_t w : widths)
    if (w > outer) throw UsageError("--acc: P_I = " + std::to_string(w) + " is wider than P_O = " + std::to_string(outer));
  for (const Method& m : methods) qf.load_calibration(m.algo);
  base.n_threads = mf.threads;
  const std::string text = read_file(eval_path);

  ModelPtr model = load_model(mf);
  // With llama.cpp's protocol, every run is also scored by its KL divergence
  // from the float model, whose log-probabilities are written once (the
  // float run) to a temporary base file.
  const bool with_kld = pf.params.score == AXE_SCORE_HALF && !no_kld;
  TempFile kld_base{csv_path + ".base.kld"};
  auto score = [&](axe_model* m, Row& row, bool is_float) {
    axe_perplexity_params q;
    ContextPtr ctx = pf.make_scoring_context(m, mf, &q);
    axe_perplexity_result r{};
    r.struct_size = sizeof r;
    if (with_kld && is_float) q.kld = AXE_KLD_WRITE_BASE, q.kld_base = kld_base.path.c_str();
    check(axe_perplexity(ctx.get(), text.data(), text.size(), &q, &r), ctx.get());
    row.ppl = r.ppl;
    row.ppl_error = r.ppl_error;
    if (!with_kld) return;
    if (is_float) {
      row.kld = 0, row.same_top = 1;
      return;
    }
    q.kld = AXE_KLD_SCORE;
    q.kld_base = kld_base.path.c_str();
    check(axe_perplexity(ctx.get(), nullptr, 0, &q, &r), ctx.get());
    row.kld = r.kld_mean;
    row.same_top = r.same_top;
  };
  std::vector<Row> rows;
  auto report = [&](const Row& r) {
    char kld[64] = "";
    if (r.kld >= 0) std::snprintf(kld, sizeof kld, "  KLD %.6f  top %.2f%%", r.kld, 100 * r.same_top);
    std::fprintf(stderr, "sweep: %-12s %-6s PPL %10.4f%s  %s  (%.1f s)\n", r.method.c_str(),
                 r.inner_bits ? ("P_I=" + std::to_string(r.inner_bits)).c_str() : "-", r.ppl, kld,
                 r.inner_bits ? (r.holds ? "plan holds" : "plan does not hold") : "", r.seconds);
    rows.push_back(r);
  };
  {
    Row f{"float", 0, "float", 0, 0, 0, 0, true};
    const double t0 = now_seconds();
    score(model.get(), f, true);
    f.seconds = now_seconds() - t0;
    report(f);
  }
  TempFile tmp{csv_path + ".sweep.axe"};
  for (const Method& m : methods) {
    const std::vector<int64_t> runs = m.constraint.empty() ? std::vector<int64_t>{0} : widths;
    for (int64_t w : runs) {
      axe_quantize_params q = base;
      q.algo = m.algo.c_str();
      q.axe = m.constraint == "axe";
      q.search = m.constraint == "search";
      q.naive = m.constraint == "naive";
      q.ep_init = m.constraint == "ep";
      q.inner_bits = w ? static_cast<int32_t>(w) : 32;
      q.outer_bits = w ? outer : 32;
      q.progress = nullptr;
      if (!mf.target.empty()) q.target = mf.target.c_str();
      Row row;
      row.method = m.name;
      row.inner_bits = static_cast<int>(w);
      const double t0 = now_seconds();
      check(axe_quantize(model.get(), tmp.path.c_str(), &q), model.get());
      axe_verify_result v{};
      v.struct_size = sizeof v;
      if (axe_verify(tmp.path.c_str(), &v) != AXE_OK) throw ApiError(axe_last_error());
      row.plan = v.plan;
      if (std::strcmp(v.rotation, "none") != 0) row.plan += std::string("; rotation ") + v.rotation;
      row.worst_inner_use = v.worst_inner_use;
      row.holds = v.inner_violations + v.outer_violations == 0;
      ModelFlags qm = mf;
      qm.model_path = tmp.path;
      qm.tokenizer_path.clear();
      ModelPtr quantized = load_model(qm);
      score(quantized.get(), row, false);
      row.seconds = now_seconds() - t0;
      report(row);
    }
  }

  // The plan text's commas become semicolons: every field is then plain.
  std::string csv = "method,inner_bits,outer_bits,plan,ppl,ppl_error,worst_tile_use,plan_holds,seconds,kld,same_top\n";
  for (Row r : rows) {
    std::replace(r.plan.begin(), r.plan.end(), ',', ';');
    char b[512], k[64] = "";
    if (r.kld >= 0) std::snprintf(k, sizeof k, "%.6f,%.6f", r.kld, r.same_top);
    else std::snprintf(k, sizeof k, ",");
    std::snprintf(b, sizeof b, "%s,%s,%s,%s,%.6f,%.6f,%.6f,%s,%.2f,%s\n", r.method.c_str(),
                  r.inner_bits ? std::to_string(r.inner_bits).c_str() : "", r.inner_bits ? std::to_string(outer).c_str() : "",
                  r.plan.c_str(), r.ppl, r.ppl_error, r.worst_inner_use, r.inner_bits ? (r.holds ? "yes" : "no") : "",
                  r.seconds, k);
    csv += b;
  }
  write_file_atomic(csv_path, csv);
  std::printf("wrote %s: %zu runs\n", csv_path.c_str(), rows.size());
  if (!svg_path.empty()) {
    const auto [lo, hi] = std::minmax_element(widths.begin(), widths.end());
    std::vector<PlotSeries> series;
    for (const Row& r : rows)
      if (!r.inner_bits)  // a reference line across the sweep
        series.push_back({r.method + (r.method == "float" ? "" : " (no constraint)"),
                          {{double(*lo), r.ppl}, {double(*hi), r.ppl}}, true});
    for (const Method& m : methods) {
      if (m.constraint.empty()) continue;
      PlotSeries s{m.name, {}, false};
      for (const Row& r : rows)
        if (r.method == m.name && r.inner_bits) s.points.push_back({double(r.inner_bits), r.ppl});
      series.push_back(s);
    }
    PlotSpec spec{"Perplexity against accumulator width (W" + std::to_string(base.weight_bits) + "A" +
                      std::to_string(base.act_bits) + ", " + (base.tiles == AXE_TILES_LANES ? "lanes " : "contiguous ") +
                      std::to_string(base.tile) + (base.rotate && std::strcmp(base.rotate, "hadamard") == 0 ? ", Hadamard-rotated" : "") + ")",
                  "inner accumulator bits P_I", "perplexity", true, true};
    write_file_atomic(svg_path, svg_line_plot(spec, series));
    std::printf("wrote %s\n", svg_path.c_str());
  }
  return 0;
}

}  // namespace cli
