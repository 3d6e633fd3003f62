module github.com/hakmem-go/hakmem/internal/cgopeers

go 1.26.0
