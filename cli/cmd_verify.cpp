// axe verify: prove a .axe file's accumulation plan from its stored integers,
// or check a GGUF file's Q8_0/Q4_0 blocks for a narrow accumulator.
#include <cstring>
#include <vector>

#include "api_handles.h"
#include "commands.h"

namespace cli {
namespace {

bool is_gguf(const std::string& path) {
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0) return true;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  char magic[4] = {};
  const bool gguf = std::fread(magic, 1, 4, f) == 4 && std::memcmp(magic, "GGUF", 4) == 0;
  std::fclose(f);
  return gguf;
}

int verify_gguf(const std::string& path, uint32_t inner_bits, int act_bits, bool act_signed) {
  axe_gguf_check_result r{};
  r.struct_size = sizeof r;
  size_t n = 0;
  axe_status st = axe_verify_gguf(path.c_str(), inner_bits, act_bits, act_signed, &r, nullptr, 0, &n);
  std::vector<axe_gguf_tensor_check> t(n);
  if (st == AXE_ERR_BUFFER_TOO_SMALL) st = axe_verify_gguf(path.c_str(), inner_bits, act_bits, act_signed, &r, t.data(), n, &n);
  if (st != AXE_OK) throw ApiError(axe_last_error());
  std::printf("datapath: blocks of 32 codes, each an accumulator tile of P_I = %u bits, activations %s%d\n", inner_bits,
              act_signed ? "sym" : "asym", act_bits);
  std::printf("| tensor | type | rows | blocks | worst block | smallest P_I | blocks over P_I |\n");
  std::printf("| ------ | ---- | ---: | -----: | ----------: | -----------: | --------------: |\n");
  for (const axe_gguf_tensor_check& c : t) {
    if (!c.checked) {
      std::printf("| %s | %s | %llu | - | - | - | %s |\n", c.name, c.type, static_cast<unsigned long long>(c.rows), c.note);
      continue;
    }
    std::printf("| %s | %s | %llu | %llu | %lld | %u | %llu |\n", c.name, c.type, static_cast<unsigned long long>(c.rows),
                static_cast<unsigned long long>(c.blocks), static_cast<long long>(c.worst_magnitude), c.min_inner_bits,
                static_cast<unsigned long long>(c.overflowing_blocks));
  }
  std::printf("checked: %llu tensors of Q8_0/Q4_0 blocks (%llu blocks); %llu tensors not checked (other types, lookups)\n",
              static_cast<unsigned long long>(r.tensors_checked), static_cast<unsigned long long>(r.blocks),
              static_cast<unsigned long long>(r.tensors_skipped));
  if (r.tensors_checked == 0) {
    std::printf("FAIL: no Q8_0 or Q4_0 tensor to check\n");
    return 1;
  }
  std::printf("smallest accumulator that holds every block: %u bits\n", r.min_inner_bits);
  if (r.overflowing_blocks == 0) {
    std::printf("OK: every block fits a %u-bit accumulator\n", inner_bits);
    return 0;
  }
  std::printf("FAIL: %llu blocks can overflow a %u-bit accumulator (AXE-quantizing the float model for P_I = %u would "
              "constrain them)\n",
              static_cast<unsigned long long>(r.overflowing_blocks), inner_bits, inner_bits);
  return 1;
}

}  // namespace

int cmd_verify(int argc, char** argv) {
  std::string path, act = "sym8";
  int64_t acc = -1;
  ArgParser p("verify", "FILE.axe | FILE.gguf --acc P_I [--act sym8|asym8]",
              "FILE.axe: recomputes every tile's and row's positive and negative code sums from the stored integers\n"
              "and checks the accumulation plan's conditions.\n"
              "FILE.gguf: for every Q8_0/Q4_0 tensor, the smallest accumulator width at which no block of 32 can\n"
              "overflow for that activation range (llama.cpp's Q8_0 activations are sym8), and whether --acc holds.\n"
              "Exit status 0 when everything holds, 1 on any violation or a damaged file.");
  p.add({"--acc"}, "P_I", "GGUF: the accumulator width to check (2..32)",
        [&](auto& f, auto& v) { acc = parse_int(f, v, 2, 32); });
  p.add({"--act"}, "sym8|asym8", "GGUF: the activations: signed narrow 8-bit codes (default) or unsigned with a zero point",
        [&](auto& f, auto& v) {
          if (v != "sym8" && v != "asym8") throw UsageError("invalid value '" + v + "' for " + f + ": expected sym8 or asym8");
          act = v;
        });
  if (argc >= 3 && argv[2][0] != '-') {
    path = argv[2];
    if (!p.parse(argc, argv, 3)) return 0;
  } else if (!p.parse(argc, argv, 2)) {
    return 0;
  }
  if (path.empty()) throw UsageError("missing FILE.axe or FILE.gguf (see 'axe verify --help')");
  if (is_gguf(path)) {
    if (acc < 0) throw UsageError("a GGUF file needs --acc P_I, the accumulator width to check");
    return verify_gguf(path, static_cast<uint32_t>(acc), 8, act == "sym8");
  }
  if (acc >= 0 || act != "sym8") throw UsageError("--acc and --act are for GGUF files; a .axe file carries its plan");
  axe_verify_result r{};
  r.struct_size = sizeof r;
  if (axe_verify(path.c_str(), &r) != AXE_OK) throw ApiError(axe_last_error());
  std::printf("plan: %s\n", r.plan);
  if (std::strcmp(r.rotation, "none") != 0)
    std::printf("rotation: %s (the plan is proven on the rotated integers the kernels read)\n", r.rotation);
  std::printf("checked: %llu layers, %llu rows, %llu tiles\n", static_cast<unsigned long long>(r.layers),
              static_cast<unsigned long long>(r.rows), static_cast<unsigned long long>(r.tiles));
  std::printf("worst budget use: tile %.6f, row %.6f\n", r.worst_inner_use, r.worst_outer_use);
  std::printf("violations: %llu tiles, %llu rows%s%s\n", static_cast<unsigned long long>(r.inner_violations),
              static_cast<unsigned long long>(r.outer_violations), r.first_violation[0] ? "; first: " : "",
              r.first_violation);
  if (!r.certificate_matches) std::printf("warning: the stored certificate disagrees with the recomputation\n");
  const bool ok = r.inner_violations + r.outer_violations == 0;
  std::printf("%s\n", ok ? "OK: the plan holds" : "FAIL: the plan does not hold");
  return ok ? 0 : 1;
}

}  // namespace cli
