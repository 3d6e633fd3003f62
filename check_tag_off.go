//go:build !hakmem_check

package hakmem

// checkDefault is HAKMEM_CHECK's default: off, unless built with -tags
// hakmem_check (check_tag_on.go).
const checkDefault = 0
