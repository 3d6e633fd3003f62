// Package hakmem is a manual memory allocator for Go: malloc and free for
// memory that lives outside the garbage-collected heap.
//
// Memory from hakmem is mapped from the operating system (mmap) and is
// invisible to the garbage collector: the GC neither scans it nor frees it,
// so a large live set held here costs no GC time, and a block lives until
// you Free it. The price is the C rules: free exactly once, do not use a
// block after freeing it, and never store a Go pointer (a pointer, slice,
// map, string, interface, channel or func) in hakmem memory, because the
// GC cannot see it there and may free what it points to. The typed helpers
// (New, MakeSlice) refuse types that contain Go pointers.
//
// # API
//
//	b := hakmem.Alloc(4096)   // len 4096, cap = UsableSize(b), contents unspecified
//	z := hakmem.Calloc(100)   // zeroed
//	b = hakmem.Realloc(b, 1<<20)
//	hakmem.Free(b)            // any reslice that starts at the block frees it
//
//	p := hakmem.New[Point]()  // zeroed *Point; Point must hold no Go pointers
//	hakmem.Delete(p)
//	v := hakmem.MakeSlice[float64](1000)
//	hakmem.FreeSlice(v)
//
//	hakmem.SetMemoryLimit(8 << 30) // past 8 GiB mapped, allocations fail (ErrMemoryLimit)
//	hakmem.Release()               // return cached memory to the OS now
//	hakmem.StopScavenger()         // stop the background goroutine (tests checking for leaks)
//
//	hakmem.Configure(hakmem.Config{Mode: hakmem.Fast}) // before first use; wins over HAKMEM_MODE
//	hakmem.SetMode(hakmem.Minimal) // at any time; HAKMEM_* and Configure options keep their values
//	hakmem.Settings()              // the effective configuration, with each value's source
//	hakmem.WriteStats(os.Stderr)   // a readable report of ReadStats()
//
//	hakmem.SavePolicy(f)           // what the learners learned: per site, and per-P caps (JSON)
//	hakmem.LoadPolicy(f)           // start FROZEN on it; a bad file changes nothing
//	hakmem.StopLearner()           // stop the learner goroutine (tests checking for leaks)
//	hakmem.Leaderboard()           // per learning site: state, threshold, transitions, ratings
//
// Errors are *Error values matching one of the Err* sentinels through
// errors.Is. The Try functions return them; the plain ones panic with the
// same value. A foreign pointer (Go heap, stack, C), an interior pointer, a
// double free, a negative or impossible size, exhausted memory and the
// memory limit are all reported, and the allocator keeps working
// afterwards: a rejected call changes nothing. Double frees are detected
// when the block is free at the time of the second Free; once a freed block
// has been handed out again, a stale Free of it cannot be told from a
// legitimate one (as in C).
//
// Semantics:
//   - Alignment: every block is 16-byte aligned; a power-of-two size up to
//     4 KiB is naturally aligned (Alloc(4096) is page-aligned); large
//     blocks (above 1 MiB, or above a site's routing threshold) are 2 MiB-aligned.
//   - Zero size: Alloc(0) returns a non-nil empty slice; freeing a slice of
//     capacity zero is a no-op.
//   - Goroutine safety: every function may be called from any goroutine; a
//     block may be freed on a different goroutine than allocated it.
//   - Realloc keeps the first min(len(b), size) bytes and may move the block.
package hakmem
