package hakmem

// Temporary skeleton so that other packages can build against the API.

func Alloc(size int) []byte                         { return make([]byte, size) }
func Calloc(size int) []byte                        { return make([]byte, size) }
func Realloc(b []byte, size int) []byte             { n := make([]byte, size); copy(n, b); return n }
func Free(b []byte)                                 {}
func TryAlloc(size int) ([]byte, error)             { return Alloc(size), nil }
func TryCalloc(size int) ([]byte, error)            { return Calloc(size), nil }
func TryRealloc(b []byte, size int) ([]byte, error) { return Realloc(b, size), nil }
func TryFree(b []byte) error                        { return nil }
func UsableSize(b []byte) int                       { return cap(b) }
func Release()                                      {}
func ReadStats() Stats                              { return Stats{} }

type Site struct{ name string }

func NewSite(name string) *Site                   { return &Site{name: name} }
func (s *Site) Alloc(size int) []byte             { return Alloc(size) }
func (s *Site) Calloc(size int) []byte            { return Calloc(size) }
func (s *Site) TryAlloc(size int) ([]byte, error) { return TryAlloc(size) }
