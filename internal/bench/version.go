package bench

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// CoreModule is the module path of the hakmem library.
const CoreModule = "github.com/hakmem-go/hakmem"

// BuildVersion is what a binary knows of its own build
// (debug.ReadBuildInfo): the main module's path and version, the hakmem
// library module's version (with its replacement, when one is used), and
// the commit (from the VCS stamp, else git at run time).
type BuildVersion struct {
	Main          string // main module path
	MainVersion   string // its version: a tag, a pseudo-version, or "(devel)"
	Hakmem        string // the hakmem library's version: a tag, "(devel)" in a workspace, or "unknown"
	HakmemReplace string // where a replace directive points the library ("" for none)
	Commit        string // commit, or "unknown"
	Dirty         bool   // the working tree had uncommitted changes
	CommitSource  string // "buildinfo", "git" or "none"
	GoVersion     string // runtime.Version()
}

// ReadBuildVersion reads the binary's BuildVersion.
func ReadBuildVersion() BuildVersion {
	v := BuildVersion{Main: "unknown", MainVersion: "unknown", Hakmem: "unknown", GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v.Main, v.MainVersion = bi.Main.Path, bi.Main.Version
		for _, d := range append([]*debug.Module{&bi.Main}, bi.Deps...) {
			if d.Path != CoreModule {
				continue
			}
			v.Hakmem = d.Version
			if d.Replace != nil {
				v.HakmemReplace = d.Replace.Path
				if d.Replace.Version != "" {
					v.HakmemReplace += "@" + d.Replace.Version
				}
			}
		}
	}
	v.Commit, v.Dirty, v.CommitSource = gitCommit()
	return v
}

// String is the version on one line: "hakmem (devel), commit 0123abc (dirty)".
func (v BuildVersion) String() string {
	s := "hakmem " + v.Hakmem
	if v.HakmemReplace != "" {
		s += " => " + v.HakmemReplace
	}
	s += ", commit " + v.Commit
	if v.Dirty {
		s += " (dirty)"
	}
	return s
}

// Write prints v for people, one fact a line.
func (v BuildVersion) Write(w io.Writer) {
	fmt.Fprintf(w, "hakmem library: %s %s", CoreModule, v.Hakmem)
	if v.HakmemReplace != "" {
		fmt.Fprintf(w, " => %s", v.HakmemReplace)
	}
	fmt.Fprintf(w, "\ncommand:        %s %s\n", v.Main, v.MainVersion)
	dirty := ""
	if v.Dirty {
		dirty = " (uncommitted changes)"
	}
	fmt.Fprintf(w, "commit:         %s%s (from %s)\n", v.Commit, dirty, v.CommitSource)
	fmt.Fprintf(w, "go:             %s %s/%s\n", v.GoVersion, runtime.GOOS, runtime.GOARCH)
}
