// Package benchmarks compares AirsSys-RT with a raw goroutine and channel
// baseline, protoactor-go and suture on the workloads of issues 3 and 10 (restarts by returned error and by
// panic alike). It is a
// module of its own so that the main module does not depend on the libraries
// it is compared with. The benchmarks are in the _test.go files; run.sh runs
// them and prints the table (see README.md).
package benchmarks
