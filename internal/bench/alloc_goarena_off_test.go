//go:build !goexperiment.arenas

package bench

import (
	"context"
	"errors"
	"testing"
)

// TestGoArenaNotBuilt: without GOEXPERIMENT=arenas the goarena entry says
// so, and the battle shows it as "not built".
func TestGoArenaNotBuilt(t *testing.T) {
	if _, err := NewAllocator("goarena"); !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("NewAllocator(goarena): %v", err)
	}
	sc, err := LookupScenario("arena")
	if err != nil {
		t.Fatal(err)
	}
	sc.Params.Steps = 1
	sc.Allocators = []string{"goarena"}
	res, err := RunBattle(context.Background(), Config{Scenarios: []Scenario{sc}, Runs: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 1 || res.Entries[0].Status != "not built" {
		t.Fatalf("entries: %+v", res.Entries)
	}
}
