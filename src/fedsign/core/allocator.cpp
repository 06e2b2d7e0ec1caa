#include "fedsign/core/allocator.h"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace fedsign {

bool keep_freed_memory_mapped() {
  const char* choice = std::getenv("FEDSIGN_MALLOC");
  if (choice != nullptr && std::strcmp(choice, "system") == 0) return false;
#if defined(__GLIBC__)
  // Order matters little; both return 1 on success. M_MMAP_MAX = 0: no block gets its own
  // mapping (a thread arena that cannot hold a large block hands it to the main heap).
  const bool no_mmap = mallopt(M_MMAP_MAX, 0) == 1;
  const bool trim = mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
  return no_mmap && trim;
#else
  return false;
#endif
}

}  // namespace fedsign
