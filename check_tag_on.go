//go:build hakmem_check

package hakmem

// checkDefault is HAKMEM_CHECK's default: -tags hakmem_check runs checked
// mode without setting the variable (check.go).
const checkDefault = 1
