package native

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Peer is a C allocator the harness can run under.
type Peer struct {
	Name      string // glibc, mimalloc, jemalloc or tcmalloc
	Lib       string // path of the library given to LD_PRELOAD ("" for glibc); the soname when not found
	Installed bool   // the library was found (glibc: always)
}

// peerLibs are the preloadable peers and their Debian sonames
// (libmimalloc2.0, libjemalloc2, libtcmalloc-minimal4).
var peerLibs = []struct{ name, soname string }{
	{"mimalloc", "libmimalloc.so.2"},
	{"jemalloc", "libjemalloc.so.2"},
	{"tcmalloc", "libtcmalloc_minimal.so.4"},
}

// Peers lists glibc (always installed, nothing preloaded) and the preloadable
// peers, each with the library found for it.
func Peers() []Peer {
	cache := ldconfigCache()
	peers := []Peer{{Name: "glibc", Installed: true}}
	for _, pl := range peerLibs {
		p := Peer{Name: pl.name, Lib: pl.soname}
		if path := findLib(pl.soname, cache); path != "" {
			p.Lib, p.Installed = path, true
		}
		peers = append(peers, p)
	}
	return peers
}

// lookupPeer returns the peer of that name from Peers.
func lookupPeer(name string) (Peer, bool) {
	for _, p := range Peers() {
		if p.Name == name {
			return p, true
		}
	}
	return Peer{}, false
}

// peerNames lists the names Peers knows, for error messages.
func peerNames() string {
	names := []string{"glibc"}
	for _, pl := range peerLibs {
		names = append(names, pl.name)
	}
	return strings.Join(names, ", ")
}

// ldconfigArch is the ldconfig -p flag of this architecture's libraries
// (ldconfig lists every architecture's libraries it knows).
var ldconfigArch = map[string]string{
	"amd64":   "x86-64",
	"arm64":   "AArch64",
	"riscv64": "riscv64",
	"ppc64le": "64bit",
	"s390x":   "64bit",
}

// debianTriplet is the multiarch directory name, used when no compiler can
// tell it with -dumpmachine.
var debianTriplet = map[string]string{
	"amd64":   "x86_64-linux-gnu",
	"arm64":   "aarch64-linux-gnu",
	"386":     "i386-linux-gnu",
	"riscv64": "riscv64-linux-gnu",
	"ppc64le": "powerpc64le-linux-gnu",
	"s390x":   "s390x-linux-gnu",
}

// ldconfigCache returns the output of `ldconfig -p`, or nil.
func ldconfigCache() []byte {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, name := range []string{"ldconfig", "/sbin/ldconfig", "/usr/sbin/ldconfig"} {
		path, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		if out, err := exec.CommandContext(ctx, path, "-p").Output(); err == nil {
			return out
		}
	}
	return nil
}

// findLib returns the path of the library with that soname for this
// architecture: from ldconfig's cache, else from the usual directories.
func findLib(soname string, cache []byte) string {
	arch := ldconfigArch[runtime.GOARCH]
	sc := bufio.NewScanner(bytes.NewReader(cache))
	for sc.Scan() {
		// "	libmimalloc.so.2 (libc6,x86-64) => /lib/x86_64-linux-gnu/libmimalloc.so.2"
		line := strings.TrimSpace(sc.Text())
		name, rest, ok := strings.Cut(line, " ")
		if !ok || name != soname {
			continue
		}
		flags, path, ok := strings.Cut(rest, "=>")
		if !ok || (arch != "" && !strings.Contains(flags, arch)) {
			continue
		}
		if path = strings.TrimSpace(path); isFile(path) {
			return path
		}
	}
	for _, dir := range libDirs() {
		if path := filepath.Join(dir, soname); isFile(path) {
			return path
		}
	}
	return ""
}

// libDirs are the directories searched when ldconfig does not know a library.
func libDirs() []string {
	var triplets []string
	if cc, err := compiler(); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := exec.CommandContext(ctx, cc[0], append(cc[1:], "-dumpmachine")...).Output()
		cancel()
		if t := strings.TrimSpace(string(out)); err == nil && t != "" {
			triplets = append(triplets, t)
		}
	}
	if t := debianTriplet[runtime.GOARCH]; t != "" {
		triplets = append(triplets, t)
	}
	var dirs []string
	for _, t := range triplets {
		dirs = append(dirs, "/usr/lib/"+t, "/lib/"+t)
	}
	return append(dirs, "/usr/local/lib", "/usr/lib64", "/lib64", "/usr/lib", "/lib")
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

func goarch() string { return runtime.GOARCH }
