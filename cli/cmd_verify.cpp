// axe verify: prove a .axe file's accumulation plan from its stored integers.
#include <cstring>

#include "api_handles.h"
#include "commands.h"

namespace cli {

int cmd_verify(int argc, char** argv) {
  std::string path;
  ArgParser p("verify", "FILE.axe",
              "Recomputes every tile's and row's positive and negative code sums from the stored integers and\n"
              "checks the accumulation plan's conditions. Exit status 0 when the plan holds everywhere, 1 on\n"
              "any violation or a damaged file.");
  if (argc >= 3 && argv[2][0] != '-') {
    path = argv[2];
    if (!p.parse(argc, argv, 3)) return 0;
  } else if (!p.parse(argc, argv, 2)) {
    return 0;
  }
  if (path.empty()) throw UsageError("missing FILE.axe (see 'axe verify --help')");
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
