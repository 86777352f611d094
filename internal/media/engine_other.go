//go:build !linux

package media

import "net/netip"

// sockaddr is only needed by the epoll engine.
type sockaddr struct{}

func makeSockaddr(netip.AddrPort) sockaddr { return sockaddr{} }

func newEpollEngine(*Relay) (engine, error) { return nil, errNoEpoll }
