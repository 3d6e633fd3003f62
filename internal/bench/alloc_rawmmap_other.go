//go:build !unix

package bench

import "fmt"

// raw-mmap needs mmap: on other systems it is a "not installed" row.
func init() {
	register("raw-mmap", "raw-mmap: one mmap of the whole amount carved by a bump pointer (unix only; gc-footprint only)", false,
		func() (Allocator, error) {
			return nil, fmt.Errorf("raw-mmap: mmap is unix only: %w", ErrNotInstalled)
		})
}
