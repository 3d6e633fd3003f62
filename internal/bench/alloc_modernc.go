package bench

import (
	"fmt"
	"sync"

	"modernc.org/memory"
)

// moderncAlloc is modernc.org/memory: malloc/free in pure Go over mmap. Its
// Allocator is not safe for concurrent use, so it sits behind a mutex, as
// its users must put it.
type moderncAlloc struct {
	mu sync.Mutex
	a  memory.Allocator // guarded by mu
}

func init() {
	register("modernc", "modernc: modernc.org/memory v1.12.1 behind a sync.Mutex", true,
		func() (Allocator, error) { return &moderncAlloc{}, nil })
}

func (*moderncAlloc) Name() string { return "modernc" }

func (m *moderncAlloc) Alloc(n int) []byte {
	m.mu.Lock()
	b, err := m.a.Malloc(n)
	m.mu.Unlock()
	if err != nil {
		panic(fmt.Sprintf("modernc: Malloc(%d): %v", n, err))
	}
	return b
}

func (m *moderncAlloc) Free(b []byte) {
	m.mu.Lock()
	err := m.a.Free(b)
	m.mu.Unlock()
	if err != nil {
		panic(fmt.Sprintf("modernc: Free: %v", err))
	}
}

// Settle unmaps the empty regions modernc retains.
func (m *moderncAlloc) Settle() {
	m.mu.Lock()
	defer m.mu.Unlock()
	_ = m.a.Trim()
}

// Close unmaps everything.
func (m *moderncAlloc) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.a.Close()
}
