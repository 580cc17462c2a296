//go:build !linux

package main

import "syscall"

// procAttr sets nothing: outside Linux a node process notices the end of
// its coordinator when its stdin closes.
func procAttr() *syscall.SysProcAttr { return nil }
