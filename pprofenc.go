package hakmem

import (
	"compress/gzip"
	"io"
	"math"
	"os"
	"runtime"
	"time"
)

// A small writer of the pprof profile format (profile.proto of
// github.com/google/pprof), as runtime/pprof has its own: the root package
// depends on nothing beyond golang.org/x/sys. It writes the fields a heap
// profile needs, in the numbering of profile.proto:
//
//	Profile: sample_type 1, sample 2, mapping 3, location 4, function 5,
//	         string_table 6, time_nanos 9, period_type 11, period 12,
//	         default_sample_type 14
//	ValueType: type 1, unit 2 (string indices)
//	Sample: location_id 1 (packed), value 2 (packed)
//	Mapping: id 1, memory_start 2, memory_limit 3, filename 5, has_functions 7
//	Location: id 1, mapping_id 2, address 3, line 4
//	Line: function_id 1, line 2
//	Function: id 1, name 2, system_name 3, filename 4

// protoBuf is an append-only protobuf encoder.
type protoBuf struct{ b []byte }

func (e *protoBuf) varint(x uint64) {
	for x >= 0x80 {
		e.b = append(e.b, byte(x)|0x80)
		x >>= 7
	}
	e.b = append(e.b, byte(x))
}

func (e *protoBuf) tag(field, wire int) { e.varint(uint64(field)<<3 | uint64(wire)) }

// uint64Field writes a varint field (omitted when zero, as proto3 does).
func (e *protoBuf) uint64Field(field int, x uint64) {
	if x != 0 {
		e.tag(field, 0)
		e.varint(x)
	}
}

func (e *protoBuf) int64Field(field int, x int64) { e.uint64Field(field, uint64(x)) }

func (e *protoBuf) boolField(field int, x bool) {
	if x {
		e.uint64Field(field, 1)
	}
}

func (e *protoBuf) bytesField(field int, b []byte) {
	e.tag(field, 2)
	e.varint(uint64(len(b)))
	e.b = append(e.b, b...)
}

func (e *protoBuf) stringField(field int, s string) {
	e.tag(field, 2)
	e.varint(uint64(len(s)))
	e.b = append(e.b, s...)
}

// packed writes a packed repeated varint field.
func (e *protoBuf) packed(field int, xs []uint64) {
	var inner protoBuf
	for _, x := range xs {
		inner.varint(x)
	}
	e.bytesField(field, inner.b)
}

// message writes a nested message built by f.
func (e *protoBuf) message(field int, f func(m *protoBuf)) {
	var m protoBuf
	f(&m)
	e.bytesField(field, m.b)
}

// profileWriter builds one profile: the string table and the locations
// and functions of the PCs it is given.
type profileWriter struct {
	out     protoBuf
	strings map[string]int
	strs    []string
	locs    map[uintptr]uint64 // pc -> location id
	funcs   map[string]uint64  // function name -> function id
}

func newProfileWriter() *profileWriter {
	return &profileWriter{strings: map[string]int{"": 0}, strs: []string{""}, locs: map[uintptr]uint64{}, funcs: map[string]uint64{}}
}

func (w *profileWriter) str(s string) int64 {
	if i, ok := w.strings[s]; ok {
		return int64(i)
	}
	w.strings[s] = len(w.strs)
	w.strs = append(w.strs, s)
	return int64(len(w.strs) - 1)
}

func (w *profileWriter) valueType(field int, typ, unit string) {
	w.out.message(field, func(m *protoBuf) {
		m.int64Field(1, w.str(typ))
		m.int64Field(2, w.str(unit))
	})
}

// location returns the location id of the return address pc, writing
// the location (and its functions, inlined ones included) the first time.
func (w *profileWriter) location(pc uintptr) uint64 {
	if id, ok := w.locs[pc]; ok {
		return id
	}
	id := uint64(len(w.locs) + 1)
	w.locs[pc] = id
	type line struct {
		fn   uint64
		line int64
	}
	var lines []line
	frames := runtime.CallersFrames([]uintptr{pc})
	for {
		f, more := frames.Next()
		name := f.Function
		if name == "" {
			name = "?"
		}
		fid, ok := w.funcs[name]
		if !ok {
			fid = uint64(len(w.funcs) + 1)
			w.funcs[name] = fid
			w.out.message(5, func(m *protoBuf) {
				m.uint64Field(1, fid)
				m.int64Field(2, w.str(name))
				m.int64Field(3, w.str(name))
				m.int64Field(4, w.str(f.File))
			})
		}
		lines = append(lines, line{fid, int64(f.Line)})
		if !more {
			break
		}
	}
	w.out.message(4, func(m *protoBuf) {
		m.uint64Field(1, id)
		m.uint64Field(2, 1)
		m.uint64Field(3, uint64(pc))
		for _, l := range lines {
			m.message(4, func(ln *protoBuf) {
				ln.uint64Field(1, l.fn)
				ln.int64Field(2, l.line)
			})
		}
	})
	return id
}

// heapSample is one stack's values, in the order of heapSampleTypes.
type heapSample struct {
	stack  []uintptr
	values [4]int64
}

var heapSampleTypes = [4][2]string{{"alloc_objects", "count"}, {"alloc_space", "bytes"}, {"inuse_objects", "count"}, {"inuse_space", "bytes"}}

// writeHeapProto writes samples as a gzipped pprof heap profile (period:
// the sampling rate in bytes).
func writeHeapProto(out io.Writer, samples []heapSample, period int64) error {
	w := newProfileWriter()
	for _, t := range heapSampleTypes {
		w.valueType(1, t[0], t[1])
	}
	for _, s := range samples {
		ids := make([]uint64, 0, len(s.stack))
		for _, pc := range s.stack {
			ids = append(ids, w.location(pc))
		}
		vals := make([]uint64, len(s.values))
		for i, v := range s.values {
			vals[i] = uint64(v)
		}
		w.out.message(2, func(m *protoBuf) {
			m.packed(1, ids)
			m.packed(2, vals)
		})
	}
	exe, _ := os.Executable()
	w.out.message(3, func(m *protoBuf) {
		m.uint64Field(1, 1)
		m.uint64Field(3, math.MaxUint64)
		m.int64Field(5, w.str(exe))
		m.boolField(7, true)
	})
	w.out.int64Field(9, time.Now().UnixNano())
	w.valueType(11, "space", "bytes")
	w.out.int64Field(12, period)
	w.out.int64Field(14, w.str("inuse_space"))
	for _, s := range w.strs { // last: every string is known by now
		w.out.stringField(6, s)
	}
	zw := gzip.NewWriter(out)
	if _, err := zw.Write(w.out.b); err != nil {
		return err
	}
	return zw.Close()
}
