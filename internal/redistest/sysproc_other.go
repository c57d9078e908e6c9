//go:build !linux

package redistest

import "syscall"

// sysProcAttr returns nil: Pdeathsig exists only on Linux.
func sysProcAttr() *syscall.SysProcAttr { return nil }
