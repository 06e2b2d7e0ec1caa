// Process-wide memory allocator settings, applied once, first thing in main().
#pragma once

namespace fedsign {

// glibc's malloc serves every block above its mmap threshold (which grows to at most 32 MiB)
// with a fresh mmap and unmaps it on free. A batch loop over a CNN allocates and frees
// activations of 16-130 MiB per batch, so every batch touched newly mapped, zeroed pages:
// `fedsign evaluate` spent most of its time in kernel page faults (issue #19). This serves
// every block from the heap and trims the heap only when more than 1 GiB at its top is free, so
// freed pages stay mapped and are reused by the next batch. The process then keeps about its
// peak heap, as a caching allocator does.
//
// FEDSIGN_MALLOC=system in the environment leaves the C library's defaults (for the benchmark
// that compares both in one run, bench/eval_throughput.sh). Returns whether the settings were
// applied (false with FEDSIGN_MALLOC=system or a C library other than glibc).
bool keep_freed_memory_mapped();

}  // namespace fedsign
