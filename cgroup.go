package hakmem

import (
	"errors"
	"os"
	"path"
	"strconv"
	"strings"
)

// The budget of HAKMEM_MEMORY_LIMIT=auto, read once at first use: Go's
// memory limit when one is set (GOMEMLIMIT, or debug.SetMemoryLimit before
// first use), else the memory limit of the process's cgroup. cgroup v2
// (the unified hierarchy, "0::/path" in /proc/self/cgroup) keeps it in
// memory.max ("max": none); v1 in the memory controller's
// memory.limit_in_bytes (a huge number: none). A limit on any ancestor
// applies too, so the smallest one from the process's cgroup up to the
// mount's root is taken. Mount points come from /proc/self/mountinfo, so
// a cgroup namespace (a container's "0::/" mounted at /sys/fs/cgroup)
// and a host's nested path both resolve.

// cgroupNoLimit: v1 writes "no limit" as the largest multiple of the page
// size below 2^63; anything from 2^62 up is taken as none.
const cgroupNoLimit = int64(1) << 62

// autoMemoryTotal returns the budget for HAKMEM_MEMORY_LIMIT=auto and
// where it was found, or 0 when there is none.
func autoMemoryTotal() (total int64, from string) {
	if lim := goMemoryLimitSet(); lim > 0 {
		return lim, "GOMEMLIMIT"
	}
	lim, file, err := cgroupMemoryLimit("/")
	if err != nil || lim <= 0 {
		return 0, ""
	}
	return lim, file
}

// errNoCgroup: the process's memory cgroup could not be found.
var errNoCgroup = errors.New("no memory cgroup found")

// cgroupMemoryLimit returns the smallest memory limit on the process's
// cgroup and its ancestors, and the file it was read from, reading /proc
// and the cgroup file systems under root ("/" but in tests). 0 when no
// limit is set. cgroup v2 is tried first, then v1's memory controller.
func cgroupMemoryLimit(root string) (int64, string, error) {
	cg, err := os.ReadFile(path.Join(root, "proc/self/cgroup"))
	if err != nil {
		return 0, "", err
	}
	mi, err := os.ReadFile(path.Join(root, "proc/self/mountinfo"))
	if err != nil {
		return 0, "", err
	}
	var v2, v1 string // the process's cgroup path in each hierarchy
	has2, has1 := false, false
	for _, line := range strings.Split(string(cg), "\n") {
		id, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		ctrls, p, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		if id == "0" && ctrls == "" {
			v2, has2 = p, true
		}
		for _, c := range strings.Split(ctrls, ",") {
			if c == "memory" {
				v1, has1 = p, true
			}
		}
	}
	mounts := parseMountinfo(string(mi))
	if has2 {
		for _, m := range mounts {
			if m.fstype == "cgroup2" {
				if lim, file, ok := smallestLimit(root, m, v2, "memory.max"); ok {
					return lim, file, nil
				}
			}
		}
	}
	if has1 {
		for _, m := range mounts {
			if m.fstype == "cgroup" && hasOption(m.superOpts, "memory") {
				if lim, file, ok := smallestLimit(root, m, v1, "memory.limit_in_bytes"); ok {
					return lim, file, nil
				}
			}
		}
	}
	return 0, "", errNoCgroup
}

// mount is one line of /proc/self/mountinfo, the fields used here.
type mount struct {
	root, point, fstype, superOpts string
}

// parseMountinfo reads the lines of /proc/self/mountinfo: "id parent
// major:minor root mount-point options [optional fields] - fstype source
// super-options", with spaces and the like escaped as octal (\040).
func parseMountinfo(s string) []mount {
	var out []mount
	for _, line := range strings.Split(s, "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 3 {
			continue
		}
		out = append(out, mount{root: unescapeOctal(f[3]), point: unescapeOctal(f[4]), fstype: g[0], superOpts: g[2]})
	}
	return out
}

// unescapeOctal undoes mountinfo's \ooo escapes.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func hasOption(opts, name string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == name {
			return true
		}
	}
	return false
}

// smallestLimit walks from the directory of cgroup path p under mount m up
// to the mount point, reading file in each, and returns the smallest limit
// (0: none), the file it came from, and whether any file was there (a v2
// hierarchy without the memory controller has none).
func smallestLimit(root string, m mount, p, file string) (int64, string, bool) {
	rel, ok := strings.CutPrefix(p, m.root)
	if !ok || rel != "" && rel[0] != '/' && !strings.HasSuffix(m.root, "/") {
		// The process's cgroup is outside what is mounted (a cgroup
		// namespace shows its root as "/"): the mount is the cgroup.
		rel = ""
	}
	dir := path.Join(m.point, rel)
	var best int64
	var from string
	found := false
	for {
		name := path.Join(dir, file)
		if b, err := os.ReadFile(path.Join(root, name)); err == nil {
			found = true
			if lim := parseCgroupLimit(string(b)); lim > 0 && (best == 0 || lim < best) {
				best, from = lim, name
			}
		}
		if dir == m.point || dir == "/" || dir == "." {
			break
		}
		dir = path.Dir(dir)
	}
	return best, from, found
}

// parseCgroupLimit reads a memory.max or memory.limit_in_bytes value:
// bytes, or 0 for "max" and v1's "no limit".
func parseCgroupLimit(s string) int64 {
	s = strings.TrimSpace(s)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n >= cgroupNoLimit {
		return 0
	}
	return n
}
