//go:build hakmem_cgo && cgo

package cgopeers

/*
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

typedef void *(*hk_malloc_fn)(size_t);
typedef void (*hk_free_fn)(void *);
typedef void *(*hk_mallocx_fn)(size_t, int);
typedef void (*hk_dallocx_fn)(void *, int);

static hk_malloc_fn hk_mi_malloc;
static hk_free_fn hk_mi_free;
static hk_mallocx_fn hk_je_mallocx;
static hk_dallocx_fn hk_je_dallocx;

// dlsym returns void *; storing it through a void ** (the idiom POSIX gives)
// avoids converting an object pointer to a function pointer.
static void *hk_sym(void *h, const char *name) { return dlsym(h, name); }

// Each returns NULL on success, else a static message.
static const char *hk_load_mimalloc(void) {
	void *h = dlopen("libmimalloc.so.2", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) return dlerror();
	*(void **)&hk_mi_malloc = hk_sym(h, "mi_malloc");
	*(void **)&hk_mi_free = hk_sym(h, "mi_free");
	if (hk_mi_malloc == NULL || hk_mi_free == NULL) return "mi_malloc or mi_free not found in libmimalloc.so.2";
	return NULL;
}

static const char *hk_load_jemalloc(void) {
	void *h = dlopen("libjemalloc.so.2", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) return dlerror();
	*(void **)&hk_je_mallocx = hk_sym(h, "mallocx");
	*(void **)&hk_je_dallocx = hk_sym(h, "dallocx");
	if (hk_je_mallocx == NULL || hk_je_dallocx == NULL) return "mallocx or dallocx not found in libjemalloc.so.2";
	return NULL;
}

// hk_lib_of writes the path of the object defining symbol name (global
// lookup, as the process's own calls see it) into buf.
static void hk_lib_of(const char *name, char *buf, size_t len) {
	Dl_info info;
	void *sym = dlsym(RTLD_DEFAULT, name);
	buf[0] = 0;
	if (sym != NULL && dladdr(sym, &info) != 0 && info.dli_fname != NULL) {
		strncpy(buf, info.dli_fname, len - 1);
		buf[len - 1] = 0;
	}
}

// hk_loaded_lib writes the path of the library mimalloc (which 0) or jemalloc
// (which 1) was loaded from into buf.
static void hk_loaded_lib(int which, char *buf, size_t len) {
	Dl_info info;
	void *fn = which == 0 ? *(void **)&hk_mi_malloc : *(void **)&hk_je_mallocx;
	buf[0] = 0;
	if (fn != NULL && dladdr(fn, &info) != 0 && info.dli_fname != NULL) {
		strncpy(buf, info.dli_fname, len - 1);
		buf[len - 1] = 0;
	}
}

// The calls Go makes: one C call each, straight to the allocator.
static void *hk_glibc_malloc(size_t n) { return malloc(n); }
static void hk_glibc_free(void *p) { free(p); }
static void *hk_mimalloc_malloc(size_t n) { return hk_mi_malloc(n); }
static void hk_mimalloc_free(void *p) { hk_mi_free(p); }
// mallocx(0) is undefined behaviour in jemalloc: ask for 1 byte instead.
static void *hk_jemalloc_malloc(size_t n) { return hk_je_mallocx(n ? n : 1, 0); }
static void hk_jemalloc_free(void *p) { if (p) hk_je_dallocx(p, 0); }
*/
import "C"

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

// Enabled reports whether the package was built with its cgo peers
// (build tag hakmem_cgo, cgo enabled).
const Enabled = true

var (
	loadOnce sync.Once
	peers    []Peer
)

// Peers returns cgo-glibc, cgo-mimalloc and cgo-jemalloc, in that order. The
// libraries are opened on the first call; the result is the same afterwards.
// cgo-glibc is not installed when malloc in this process is not glibc's
// (for example under LD_PRELOAD), so that it never measures another allocator.
func Peers() []Peer {
	loadOnce.Do(load)
	return append([]Peer(nil), peers...)
}

func load() {
	glibc := Peer{Name: "cgo-glibc", Lib: libOf("malloc")}
	if base := filepath.Base(glibc.Lib); strings.HasPrefix(base, "libc.so") || strings.HasPrefix(base, "libc-") {
		glibc.Installed = true
		glibc.Malloc = func(n uintptr) unsafe.Pointer { return C.hk_glibc_malloc(C.size_t(n)) }
		glibc.Free = func(p unsafe.Pointer) { C.hk_glibc_free(p) }
	} else {
		glibc.Lib = "malloc is not glibc's in this process (it comes from " + glibc.Lib + ")"
	}

	mi := Peer{Name: "cgo-mimalloc", Lib: "libmimalloc.so.2"}
	if msg := C.hk_load_mimalloc(); msg != nil {
		mi.Lib = C.GoString(msg)
	} else {
		mi.Installed, mi.Lib = true, loadedLib(0)
		mi.Malloc = func(n uintptr) unsafe.Pointer { return C.hk_mimalloc_malloc(C.size_t(n)) }
		mi.Free = func(p unsafe.Pointer) { C.hk_mimalloc_free(p) }
	}

	je := Peer{Name: "cgo-jemalloc", Lib: "libjemalloc.so.2"}
	if msg := C.hk_load_jemalloc(); msg != nil {
		je.Lib = C.GoString(msg)
		if strings.Contains(je.Lib, "static TLS") {
			je.Lib += "; start the program with GLIBC_TUNABLES=" + StaticTLSTunable +
				" (see ReexecWithStaticTLS)"
		}
	} else {
		je.Installed, je.Lib = true, loadedLib(1)
		je.Malloc = func(n uintptr) unsafe.Pointer { return C.hk_jemalloc_malloc(C.size_t(n)) }
		je.Free = func(p unsafe.Pointer) { C.hk_jemalloc_free(p) }
	}
	peers = []Peer{glibc, mi, je}
}

// loadedLib returns the path mimalloc (0) or jemalloc (1) was loaded from.
func loadedLib(which C.int) string {
	var buf [512]C.char
	C.hk_loaded_lib(which, &buf[0], C.size_t(len(buf)))
	return C.GoString(&buf[0])
}

// libOf returns the path of the shared object that defines the C symbol name.
func libOf(name string) string {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var buf [512]C.char
	C.hk_lib_of(cname, &buf[0], C.size_t(len(buf)))
	return C.GoString(&buf[0])
}

// StaticTLSTunable is the glibc tunable that lets libjemalloc.so.2 be opened
// with dlopen. Debian's jemalloc keeps 2.6 KiB of initial-exec thread-local
// storage, more than the 512 bytes glibc reserves by default for libraries
// opened late, so without it dlopen fails with "cannot allocate memory in
// static TLS block". It must be in the environment when the process starts.
const StaticTLSTunable = "glibc.rtld.optional_static_tls=16384"

// ReexecWithStaticTLS re-executes the running program, with the same
// arguments and environment plus StaticTLSTunable in GLIBC_TUNABLES, unless
// that tunable is already set. Call it first thing in main (or TestMain),
// before Peers: on success it does not return.
func ReexecWithStaticTLS() error {
	cur := os.Getenv("GLIBC_TUNABLES")
	if strings.Contains(cur, "glibc.rtld.optional_static_tls=") {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	val := StaticTLSTunable
	if cur != "" {
		val = cur + ":" + val
	}
	env := []string{"GLIBC_TUNABLES=" + val}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GLIBC_TUNABLES=") {
			env = append(env, kv)
		}
	}
	return syscall.Exec(exe, os.Args, env)
}
