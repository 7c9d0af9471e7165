//go:build unix

package testnum

import (
	"syscall"
	"time"
)

// ProcessCPU is the process's user + system CPU time so far, for
// benchmarks on a shared machine (where wall time counts other processes'
// turns on the cores); ok is false where the platform has no getrusage.
func ProcessCPU() (d time.Duration, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
