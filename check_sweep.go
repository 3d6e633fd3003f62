package hakmem

import "time"

// The quarantine's background sweep (HAKMEM_CHECK_SWEEP_MS): a goroutine
// that verifies the poison of every quarantined block periodically, so
// that a write after free into a block that stays in the quarantine for
// long (a quiet program, a large quarantine) is still found. It starts
// with the first block quarantined and runs until StopScavenger. A
// failure it finds is reported with Background set: the default handler
// logs and counts it, never panics (a panic on hakmem's goroutine would
// kill the process). The sweep marks the block (recSwept) so that it
// reports it once and leaves its bytes as found: the program's own call
// that meets the block later (its leaving the quarantine, CheckQuarantine,
// Release) reports it again, on the program's goroutine.

// recSwept is checkRec.flags: the background sweep reported this block.
const recSwept = 4

var checkSweeper worker

// checkSweepStart starts the sweep if it is on and not running (one
// atomic load when it runs).
func checkSweepStart() {
	if !checkSweeper.running.Load() && cfg().checkSweep > 0 {
		checkSweeper.start(checkSweepLoop)
	}
}

func checkSweepLoop(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(cfg().checkSweep)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		checkSweep()
	}
}

// checkSweep is one pass: every shard's quarantine, one shard locked at a
// time; the reports are delivered after its lock is released.
func checkSweep() int {
	n := 0
	for i := range chk.shards {
		sh := &chk.shards[i]
		var reps []CheckReport
		sh.mu.Lock()
		for q := sh.qhead; q != 0; {
			qr := recFor(q)
			if qr.flags&recSwept == 0 {
				qu := usableOf(q, qr)
				if off, want, got := verifyPoison(q, qu, qr.class != classLarge); off >= 0 {
					rep := CheckReport{Err: ErrUseAfterFree, Op: "background sweep", Block: q, Offset: off, Want: want, Got: got, Usable: int(qu), Background: true}
					rep.fill(qr)
					reps = append(reps, rep)
					qr.flags |= recSwept
				}
			}
			q = qr.next
		}
		sh.mu.Unlock()
		for _, rep := range reps {
			deliver(rep)
		}
		n += len(reps)
	}
	return n
}
