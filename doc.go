// Package hakmem is a manual memory allocator for Go: malloc and free for
// memory that lives outside the garbage-collected heap.
//
// Memory from hakmem is mapped from the operating system (mmap) and is
// invisible to the garbage collector: the GC neither scans it nor frees it,
// so a large live set held here costs no GC time, and a block lives until
// you Free it. It suits services that hold big caches or buffers,
// databases and interpreters: anyone whose GC cost grows with a large live
// heap.
//
// # Safety rules
//
// The price is the C rules:
//   - Never store a Go pointer (a pointer, slice, map, string, interface,
//     channel or func) in hakmem memory: the GC cannot see it there and may
//     free what it points to. New and MakeSlice refuse such types
//     (ErrPointerType). Store indexes, offsets or uintptr handles instead.
//   - Free exactly once, and do not use a block after freeing it. A double
//     free, a foreign pointer (Go heap, stack, C) or an interior pointer is
//     reported (ErrDoubleFree, ErrInvalidPointer) and changes nothing; a
//     stale free of a block that was handed out again cannot be detected.
//     A write into a freed block cannot make hakmem hand out foreign or
//     live memory; a freed block written over is dropped (ErrCorrupted).
//     Two goroutines freeing one block at the same instant may both
//     succeed: hakmem stays consistent, but the block may reach two owners.
//   - Every block is 16-byte aligned; every function is goroutine-safe, and
//     a block may be freed on another goroutine.
//
// # API families
//
//   - Alloc, Calloc, Realloc, Free, UsableSize: byte slices. The plain
//     functions panic on error; TryAlloc, TryCalloc, TryRealloc and TryFree
//     return an *Error that matches one of the Err* sentinels (errors.Is).
//   - New, Delete, MakeSlice, FreeSlice: typed values and slices of
//     pointer-free types.
//   - NewHeap: a heap one goroutine owns (no pin, no atomic per call; its
//     blocks may be freed anywhere; Close frees them all, Detach keeps
//     them, its slabs left to the next heap). NewArena: bump allocation
//     freed at once (Reset, Close). Buffer: an off-heap bytes.Buffer.
//     CloneString, Append, AlignedAlloc.
//   - NewSite: a named allocation site, counted apart, with its own
//     BigCache list and routing threshold (learned in the learning mode).
//   - SetMemoryLimit bounds what hakmem maps; ShareMemoryLimit (or
//     HAKMEM_MEMORY_LIMIT=auto) shares one budget with the Go runtime's
//     memory limit (GOMEMLIMIT, the cgroup's limit). Release returns cached
//     memory to the OS now; StopScavenger and StopLearner stop the
//     background goroutines.
//   - Checked mode (HAKMEM_CHECK=1, tag hakmem_check) finds bugs: reports
//     go to OnCheckFailure; Describe names the block at an address.
//     WriteHeapProfile and Leaks show live memory in every mode (exact when
//     checked); package hakmemtest checks a test for leaks.
//   - ReadStats and WriteStats: every counter, and a report for people. The
//     subpackage metrics exports them (runtime/metrics-style names, expvar);
//     the module github.com/hakmem-go/hakmem/metrics/prometheus is a
//     Prometheus collector.
//   - Configure, SetMode, Settings, CheckEnvironment: the configuration.
//     SavePolicy and LoadPolicy carry what the learners learned across
//     restarts; Leaderboard shows it.
//
// # Modes and configuration
//
// A Mode is a preset of the options: Minimal (no caches), Fast, Balanced
// (the default), Learning and Research. Choose one with HAKMEM_MODE or
// Configure before first use, or SetMode at any time; each option also has
// a HAKMEM_* environment variable, read once at first use. The README
// lists them all; Settings returns the effective values with their source.
// HAKMEM_DEBUG writes a debug log of slow-path events through log/slog
// (SetLogger chooses the handler; stderr text by default).
//
// Build tags: hakmem_nolinkname replaces runtime.procPin with a portable
// per-P emulation (also used under -race); hakmem_nommap backs memory with
// the Go heap instead of mmap.
//
// # More
//
// The README (https://github.com/hakmem-go/hakmem#readme) has the tour and
// the configuration table; DESIGN.md has the design, file by file; and
// docs/BENCHMARKS.md has the measured figures, including where hakmem
// loses.
package hakmem
