// Machine facts: thread counts and memory.
#pragma once
#include <cstdint>

namespace axe {
// Physical cores available to this process (SMT siblings counted once).
int physical_core_count();
// Bytes of physical memory of this machine (the limit resource requests are
// checked against before anything is allocated).
uint64_t physical_memory_bytes();
}  // namespace axe
