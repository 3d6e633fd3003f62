package hakmem

import (
	"sync"
	"sync/atomic"
)

// worker is a background goroutine that starts lazily and stops on
// demand. hakmem has two: the scavenger (scavenger.go) and the learner
// (learn.go). Stopping waits for the goroutine to exit, so a test that
// checks for leaked goroutines can stop both first.
type worker struct {
	mu      sync.Mutex    // serialises start and halt
	stop    chan struct{} // closed by halt; guarded by mu
	done    chan struct{} // closed by the goroutine on exit; guarded by mu
	running atomic.Bool   // a goroutine is started; written under mu
	// exiting is the done channel of a goroutine halt stopped, until it
	// has exited; guarded by mu. start refuses meanwhile: the stopped
	// goroutine's last pass may ask for a start (the scavenger retires a
	// segment, which kicks the scavenger), and a second goroutine must not
	// run after StopScavenger returned.
	exiting chan struct{}
}

// start runs loop in a new goroutine unless one runs already. loop must
// return when stop is closed and close done on its way out.
func (w *worker) start(loop func(stop, done chan struct{})) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running.Load() {
		return
	}
	if w.exiting != nil {
		select {
		case <-w.exiting:
			w.exiting = nil
		default:
			return
		}
	}
	w.stop, w.done = make(chan struct{}), make(chan struct{})
	w.running.Store(true)
	go loop(w.stop, w.done)
}

// halt stops the goroutine, if one runs, and waits until it has exited.
func (w *worker) halt() {
	w.mu.Lock()
	if !w.running.Load() {
		w.mu.Unlock()
		return
	}
	close(w.stop)
	done := w.done
	w.exiting = done
	w.running.Store(false)
	w.mu.Unlock()
	<-done
}

// doneChan is the running goroutine's done channel, or nil (tests).
func (w *worker) doneChan() chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done
}
