//go:build !linux

package realtime

import "net"

// detachSocket returns nc: off Linux a parked stream keeps the net.Conn it was accepted as.
func detachSocket(nc net.Conn) net.Conn { return nc }
