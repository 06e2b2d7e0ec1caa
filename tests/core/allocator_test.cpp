// The allocator settings of main(): a large block comes from the heap, not from its own mapping,
// and stays mapped after it is freed, so the next batch reuses its pages (issue #19).
#include "fedsign/core/allocator.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace fedsign {
namespace {

#if defined(__GLIBC__)
TEST(Allocator, LargeBlocksComeFromTheHeapAndStayMappedAfterFree) {
  ASSERT_TRUE(keep_freed_memory_mapped());
  constexpr std::size_t kBlock = 96u << 20;  // an activation of a batch of 512 at 32 px
  const struct mallinfo2 before = mallinfo2();
  auto* block = static_cast<unsigned char*>(std::malloc(kBlock));
  ASSERT_NE(block, nullptr);
  std::memset(block, 1, kBlock);
  const struct mallinfo2 during = mallinfo2();
  // glibc's default would give this block its own mapping (hblkhd grows by 96 MiB).
  EXPECT_LT(during.hblkhd, before.hblkhd + kBlock) << "the block was mmapped";
  EXPECT_GE(during.arena, before.arena + kBlock - (16u << 20)) << "the block is not in the heap";
  std::free(block);
  const struct mallinfo2 after = mallinfo2();
  // Still mapped: freed bytes in the heap, not returned to the kernel by a trim.
  EXPECT_GE(after.arena, during.arena) << "the heap was trimmed after the free";
  EXPECT_GE(after.fordblks, kBlock) << "the freed block is not kept for reuse";
}
#endif

TEST(Allocator, TheSystemChoiceLeavesTheDefaults) {
  ::setenv("FEDSIGN_MALLOC", "system", 1);
  EXPECT_FALSE(keep_freed_memory_mapped());
  ::unsetenv("FEDSIGN_MALLOC");
}

}  // namespace
}  // namespace fedsign
