package hakmem

import (
	"errors"
	"io"
	"unicode/utf8"
)

// Buffer is a growable byte buffer in hakmem memory, off the Go heap, in
// the manner of bytes.Buffer: writes append, reads (Read, WriteTo) consume
// from the front. Its zero value is an empty buffer ready to use; it holds
// no memory until the first write. It grows through Realloc, so a buffer
// above 1 MiB grows by remapping its pages (mremap), not by copying.
// Free gives the memory back; the Buffer is then empty and usable again.
//
// The slices Bytes returns point into the buffer's memory: they are valid
// until the next call that writes, grows, resets or frees the buffer. A
// Buffer is used by one goroutine at a time.
type Buffer struct {
	buf []byte // the hakmem block, buf[:len] written; nil before the first write and after Free
	off int    // read offset: buf[off:] is unread
}

// minBufferCap is the capacity of a buffer's first block.
const minBufferCap = 64

// errBufferTooLarge is the panic of a Grow past MaxAlloc.
var errBufferTooLarge = errors.New("hakmem.Buffer: too large")

// Len is the number of unread bytes.
func (b *Buffer) Len() int { return len(b.buf) - b.off }

// Cap is the capacity of the buffer's memory.
func (b *Buffer) Cap() int { return cap(b.buf) }

// Bytes returns the unread bytes (see the Buffer documentation for how
// long they stay valid).
func (b *Buffer) Bytes() []byte { return b.buf[b.off:] }

// String returns the unread bytes as a Go string (a copy on the Go heap).
func (b *Buffer) String() string {
	if b == nil {
		return "<nil>"
	}
	return string(b.buf[b.off:])
}

// Reset empties the buffer and keeps its memory.
func (b *Buffer) Reset() {
	b.buf = b.buf[:0]
	b.off = 0
}

// Free empties the buffer and gives its memory back to hakmem.
func (b *Buffer) Free() {
	if cap(b.buf) > 0 {
		Free(b.buf)
	}
	b.buf, b.off = nil, 0
}

// Grow makes room for n more bytes without another allocation. It panics
// with ErrNegativeSize for n < 0 and with an *Error when memory is
// exhausted.
func (b *Buffer) Grow(n int) {
	if n < 0 {
		panic(newError("Buffer.Grow", 0, n, ErrNegativeSize, ""))
	}
	b.grow(n)
}

// grow makes room for n more bytes and returns the length before them.
func (b *Buffer) grow(n int) int {
	m := b.Len()
	if m == 0 && b.off != 0 {
		b.Reset()
	}
	if n <= cap(b.buf)-len(b.buf) {
		return len(b.buf)
	}
	if b.off > 0 && n <= cap(b.buf)-m {
		// Enough room once the read bytes are dropped: slide down.
		copy(b.buf, b.buf[b.off:])
		b.buf, b.off = b.buf[:m], 0
		return m
	}
	if n > MaxAlloc-m {
		panic(newError("Buffer.Grow", 0, n, ErrSizeTooLarge, errBufferTooLarge.Error()))
	}
	want := max(2*cap(b.buf), m+n, minBufferCap)
	if b.off > 0 {
		copy(b.buf, b.buf[b.off:])
		b.buf, b.off = b.buf[:m], 0
	}
	nb := Realloc(b.buf, want) // keeps the first m bytes; mremap for large blocks
	b.buf = nb[:m:cap(nb)]
	return m
}

// Write appends p. It always returns len(p), nil (io.Writer).
func (b *Buffer) Write(p []byte) (int, error) {
	m := b.grow(len(p))
	b.buf = b.buf[:m+len(p)]
	return copy(b.buf[m:], p), nil
}

// WriteString appends s (io.StringWriter).
func (b *Buffer) WriteString(s string) (int, error) {
	m := b.grow(len(s))
	b.buf = b.buf[:m+len(s)]
	return copy(b.buf[m:], s), nil
}

// WriteByte appends c (io.ByteWriter).
func (b *Buffer) WriteByte(c byte) error {
	m := b.grow(1)
	b.buf = b.buf[:m+1]
	b.buf[m] = c
	return nil
}

// WriteRune appends the UTF-8 encoding of r.
func (b *Buffer) WriteRune(r rune) (int, error) {
	m := b.grow(utf8.UTFMax)
	b.buf = utf8.AppendRune(b.buf[:m], r)
	return len(b.buf) - m, nil
}

// readFromMin is the room ReadFrom makes before each Read.
const readFromMin = 512

// ReadFrom appends what r yields until io.EOF (io.ReaderFrom) and returns
// how many bytes it read; any other error of r is returned.
func (b *Buffer) ReadFrom(r io.Reader) (int64, error) {
	var n int64
	for {
		m := b.grow(readFromMin)
		k, err := r.Read(b.buf[m:cap(b.buf)])
		if k < 0 || k > cap(b.buf)-m {
			panic("hakmem.Buffer: the reader returned an impossible count")
		}
		b.buf = b.buf[:m+k]
		n += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// WriteTo writes the unread bytes to w and consumes what w took
// (io.WriterTo).
func (b *Buffer) WriteTo(w io.Writer) (int64, error) {
	m := b.Len()
	if m == 0 {
		return 0, nil
	}
	k, err := w.Write(b.buf[b.off:])
	if k > m {
		panic("hakmem.Buffer: the writer returned an impossible count")
	}
	b.off += k
	if err == nil && k != m {
		err = io.ErrShortWrite
	}
	if b.Len() == 0 {
		b.Reset()
	}
	return int64(k), err
}

// Read consumes up to len(p) unread bytes into p (io.Reader); it returns
// io.EOF when the buffer is empty and len(p) > 0.
func (b *Buffer) Read(p []byte) (int, error) {
	if b.Len() == 0 {
		b.Reset()
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	k := copy(p, b.buf[b.off:])
	b.off += k
	return k, nil
}

// ReadByte consumes one byte (io.ByteReader).
func (b *Buffer) ReadByte() (byte, error) {
	if b.Len() == 0 {
		b.Reset()
		return 0, io.EOF
	}
	c := b.buf[b.off]
	b.off++
	return c, nil
}

// Truncate keeps the first n unread bytes. It panics if n is negative or
// beyond Len.
func (b *Buffer) Truncate(n int) {
	if n < 0 || n > b.Len() {
		panic("hakmem.Buffer: truncation out of range")
	}
	if n == 0 {
		b.Reset()
		return
	}
	b.buf = b.buf[:b.off+n]
}
