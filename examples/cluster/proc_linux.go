package main

import "syscall"

// procAttr makes the kernel kill a node process when the coordinator's
// thread that started it exits, however it exits (SIGKILL included): no
// node outlives its coordinator.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
