//go:build !race

package hakmem_test

const raceEnabled = false
