// Thread counts.
#pragma once

namespace axe {
// Physical cores available to this process (SMT siblings counted once).
int physical_core_count();
}  // namespace axe
