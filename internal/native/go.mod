module github.com/hakmem-go/hakmem/internal/native

go 1.26.0
