module github.com/hakmem-go/hakmem

go 1.26.0

require golang.org/x/sys v0.50.0
