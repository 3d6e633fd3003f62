//go:build race

package hakmem_test

// raceEnabled reports a -race build: tests whose subject is a data race in
// the program (two goroutines freeing one block at once) skip there, since
// the race detector rightly reports the program's race.
const raceEnabled = true
