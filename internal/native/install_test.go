package native

import (
	"os/exec"
	"testing"
)

// TestInstallScriptParses checks scripts/install-peers.sh with bash -n (it is
// not run: installing packages is not a test's business).
func TestInstallScriptParses(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("skipping: no bash")
	}
	if out, err := exec.Command(bash, "-n", "../../scripts/install-peers.sh").CombinedOutput(); err != nil {
		t.Fatalf("bash -n scripts/install-peers.sh: %v\n%s", err, out)
	}
}
