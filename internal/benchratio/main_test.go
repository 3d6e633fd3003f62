package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	if s, ok := match("Pair/make/*", "Pair/make/64"); !ok || s != "64" {
		t.Fatal(s, ok)
	}
	if _, ok := match("Pair/make/*", "Pair/hakmem/64"); ok {
		t.Fatal("matched")
	}
	if median([]float64{3, 1, 2}) != 2 || median([]float64{4, 1, 2, 3}) != 2.5 {
		t.Fatal("median")
	}
}

// TestRatios runs the command on two synthetic interleaved runs.
func TestRatios(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	in := `BenchmarkPair/make/64-2   100  40.0 ns/op  0 B/op
BenchmarkPair/hakmem/64-2   100  10.0 ns/op  0 B/op
BenchmarkPair/make/64-2   100  30.0 ns/op  0 B/op
BenchmarkPair/hakmem/64-2   100  10.0 ns/op  0 B/op
`
	cmd := exec.Command("go", "run", ".", "-pair", "Pair/make/*=Pair/hakmem/*")
	cmd.Stdin = strings.NewReader(in)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "Pair/make/64                                     2     3.50     3.00     4.00") {
		t.Fatalf("output:\n%s", out)
	}
}
