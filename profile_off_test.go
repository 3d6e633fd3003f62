package hakmem

import "os"

// The heap profile draws samples at random and moves a sampled block into
// a sample segment, which the tests that count blocks in the engine's own
// structures (the census of recount_test.go, exact per-class counts) do
// not know about. As the Go runtime's tests set runtime.MemProfileRate to
// 0, this package's tests run with the profile off unless
// HAKMEM_PROFILE_RATE is set; the profile's own tests (heapprof_test.go)
// run in child processes with the default rate.
func init() {
	if _, ok := os.LookupEnv("HAKMEM_PROFILE_RATE"); !ok && os.Getenv("HAKMEM_PROFILE_CHILD") == "" {
		os.Setenv("HAKMEM_PROFILE_RATE", "0")
	}
}
