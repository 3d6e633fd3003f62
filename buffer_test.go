package hakmem_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/hakmem-go/hakmem"
)

// The interfaces the issue asks of a Buffer.
var (
	_ io.Writer       = (*hakmem.Buffer)(nil)
	_ io.ReaderFrom   = (*hakmem.Buffer)(nil)
	_ io.WriterTo     = (*hakmem.Buffer)(nil)
	_ io.ByteWriter   = (*hakmem.Buffer)(nil)
	_ io.StringWriter = (*hakmem.Buffer)(nil)
	_ io.Reader       = (*hakmem.Buffer)(nil)
)

// bufferOps plays ops (one byte each, with data drawn from the rest of the
// input) on a hakmem.Buffer and a bytes.Buffer and fails at the first
// difference in results or contents.
func bufferOps(t *testing.T, ops []byte) {
	var hb hakmem.Buffer // the zero value is ready to use
	var bb bytes.Buffer
	defer hb.Free()
	data := func(i int) []byte {
		n := int(ops[i%len(ops)]) * 37 % 3000
		if ops[i%len(ops)]%17 == 0 {
			n += 1 << 20 // now and then a large write: the mremap path
		}
		return bytes.Repeat([]byte{ops[i%len(ops)], byte(i)}, n/2+1)[:n]
	}
	for i, op := range ops {
		switch op % 11 {
		case 0:
			d := data(i)
			n1, err1 := hb.Write(d)
			n2, err2 := bb.Write(d)
			if n1 != n2 || err1 != err2 {
				t.Fatalf("op %d Write: %d %v, bytes.Buffer %d %v", i, n1, err1, n2, err2)
			}
		case 1:
			s := string(data(i))
			hb.WriteString(s)
			bb.WriteString(s)
		case 2:
			hb.WriteByte(op)
			bb.WriteByte(op)
		case 3:
			p := make([]byte, int(op)%700)
			n1, err1 := hb.Read(p)
			q := make([]byte, len(p))
			n2, err2 := bb.Read(q)
			if n1 != n2 || err1 != err2 || !bytes.Equal(p[:n1], q[:n2]) {
				t.Fatalf("op %d Read: %d %v, bytes.Buffer %d %v", i, n1, err1, n2, err2)
			}
		case 4:
			var w1, w2 bytes.Buffer
			n1, err1 := hb.WriteTo(&w1)
			n2, err2 := bb.WriteTo(&w2)
			if n1 != n2 || err1 != err2 || !bytes.Equal(w1.Bytes(), w2.Bytes()) {
				t.Fatalf("op %d WriteTo: %d %v, bytes.Buffer %d %v", i, n1, err1, n2, err2)
			}
		case 5:
			d := data(i)
			n1, err1 := hb.ReadFrom(iotest.HalfReader(bytes.NewReader(d)))
			n2, err2 := bb.ReadFrom(iotest.HalfReader(bytes.NewReader(d)))
			if n1 != n2 || err1 != err2 {
				t.Fatalf("op %d ReadFrom: %d %v, bytes.Buffer %d %v", i, n1, err1, n2, err2)
			}
		case 6:
			hb.Reset()
			bb.Reset()
		case 7:
			hb.Grow(int(op) * 100)
			bb.Grow(int(op) * 100)
		case 8:
			c1, err1 := hb.ReadByte()
			c2, err2 := bb.ReadByte()
			if c1 != c2 || err1 != err2 {
				t.Fatalf("op %d ReadByte: %d %v, bytes.Buffer %d %v", i, c1, err1, c2, err2)
			}
		case 9:
			if hb.Len() > 0 {
				n := int(op) % hb.Len()
				hb.Truncate(n)
				bb.Truncate(n)
			}
		case 10:
			hb.WriteRune(rune(op) * 301)
			bb.WriteRune(rune(op) * 301)
		}
		if hb.Len() != bb.Len() || !bytes.Equal(hb.Bytes(), bb.Bytes()) {
			t.Fatalf("op %d (%d): contents differ: len %d, bytes.Buffer %d", i, op%11, hb.Len(), bb.Len())
		}
	}
	if hb.String() != bb.String() {
		t.Fatal("String differs")
	}
}

func FuzzBufferAgainstBytesBuffer(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	f.Add([]byte{17, 0, 4, 34, 3, 3, 8, 5, 9, 6, 0})
	f.Add(bytes.Repeat([]byte{11, 22, 33, 44, 55, 66, 77}, 10))
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) == 0 || len(ops) > 200 {
			return
		}
		bufferOps(t, ops)
	})
}

// TestBufferLifecycle: the zero value works, memory is hakmem's (held in
// Stats while the buffer lives, back after Free), a large buffer grows, Free
// leaves a usable empty buffer, errors of the reader come back.
func TestBufferLifecycle(t *testing.T) {
	before := hakmem.ReadStats().InUseBytes
	var b hakmem.Buffer
	for i := range 100000 {
		b.WriteString("line ")
		b.WriteByte(byte('0' + i%10))
	}
	if b.Len() != 600000 || b.Cap() < b.Len() {
		t.Fatalf("Len %d Cap %d", b.Len(), b.Cap())
	}
	if got := hakmem.ReadStats().InUseBytes - before; got < uint64(b.Cap()) {
		t.Errorf("in use grew by %d for a buffer of capacity %d", got, b.Cap())
	}
	b.Grow(5 << 20) // a large block now
	remaps := hakmem.ReadStats().Mremaps
	b.Grow(b.Cap()) // a large block grows by mremap where the OS has it
	if hakmem.OSRemapSupported && hakmem.ReadStats().Mremaps == remaps {
		t.Error("a large Buffer grew without mremap")
	}
	if b.Cap()-b.Len() < 5<<20 || !strings.HasPrefix(b.String(), "line 0line 1") {
		t.Fatalf("after Grow: Len %d Cap %d", b.Len(), b.Cap())
	}
	b.Free()
	if b.Len() != 0 || b.Cap() != 0 || hakmem.ReadStats().InUseBytes != before {
		t.Errorf("after Free: Len %d Cap %d, in use %d (before %d)", b.Len(), b.Cap(), hakmem.ReadStats().InUseBytes, before)
	}
	b.WriteString("again")
	defer b.Free()
	boom := errors.New("boom")
	if n, err := b.ReadFrom(iotest.ErrReader(boom)); n != 0 || !errors.Is(err, boom) {
		t.Errorf("ReadFrom of a failing reader: %d %v", n, err)
	}
	if _, err := b.Write(nil); err != nil || b.String() != "again" {
		t.Errorf("contents %q", b.String())
	}
	mustPanic(t, hakmem.ErrNegativeSize, "Grow(-1)", func() { b.Grow(-1) })
}

// ExampleBuffer: an off-heap buffer filled through io interfaces.
func ExampleBuffer() {
	var b hakmem.Buffer // usable as it is
	defer b.Free()
	b.WriteString("hello, ")
	io.Copy(&b, strings.NewReader("off-heap world"))
	b.WriteByte('\n')
	b.WriteTo(os.Stdout)
	// Output: hello, off-heap world
}
