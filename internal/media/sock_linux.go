package media

import (
	"errors"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sockaddr is a peer address in the kernel's form, built once per peer so that sendto needs
// no conversion (and no allocation) per packet.
type sockaddr struct {
	v4  unix.RawSockaddrInet4
	v6  unix.RawSockaddrInet6
	is6 bool
}

func makeSockaddr(a netip.AddrPort) sockaddr {
	var sa sockaddr
	port := a.Port()
	if a.Addr().Is4() {
		sa.v4.Family = unix.AF_INET
		sa.v4.Addr = a.Addr().As4()
		p := (*[2]byte)(unsafe.Pointer(&sa.v4.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		// The v4-mapped form, for sockets bound to an IPv6 address.
		sa.v6.Family = unix.AF_INET6
		sa.v6.Addr = netip.AddrFrom16(a.Addr().As16()).As16()
		p = (*[2]byte)(unsafe.Pointer(&sa.v6.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		return sa
	}
	sa.is6 = true
	sa.v6.Family = unix.AF_INET6
	sa.v6.Addr = a.Addr().As16()
	p := (*[2]byte)(unsafe.Pointer(&sa.v6.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	return sa
}

var errAddrFamily = errors.New("media: address family does not match the socket")

// rawSock is a non-blocking UDP socket the Go netpoller does not know about: only the epoll
// engine waits on it, so a packet costs one wake-up and one read.
type rawSock struct {
	fd  int
	is6 bool
}

func newRawSock(ip netip.Addr, port int) (*rawSock, error) {
	family := unix.AF_INET
	if ip.Is6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	var sa unix.Sockaddr
	if ip.Is6() {
		sa = &unix.SockaddrInet6{Port: port, Addr: ip.As16()}
	} else {
		sa = &unix.SockaddrInet4{Port: port, Addr: ip.As4()}
	}
	if err := unix.Bind(fd, sa); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	return &rawSock{fd: fd, is6: ip.Is6()}, nil
}

func (s *rawSock) writeTo(b []byte, p *peer) error {
	if len(b) == 0 {
		return nil
	}
	var (
		ptr unsafe.Pointer
		n   uintptr
	)
	switch {
	case s.is6:
		ptr, n = unsafe.Pointer(&p.sa.v6), unix.SizeofSockaddrInet6
	case !p.sa.is6:
		ptr, n = unsafe.Pointer(&p.sa.v4), unix.SizeofSockaddrInet4
	default:
		return errAddrFamily
	}
	_, _, e := syscall.RawSyscall6(unix.SYS_SENDTO, uintptr(s.fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, uintptr(ptr), n)
	if e != 0 {
		return e
	}
	return nil
}

// recvFrom reads one datagram without blocking; unix.EAGAIN when there is none.
func (s *rawSock) recvFrom(b []byte) (int, netip.AddrPort, error) {
	var rsa unix.RawSockaddrInet6 // large enough for either family
	l := uint32(unix.SizeofSockaddrInet6)
	n, _, e := syscall.RawSyscall6(unix.SYS_RECVFROM, uintptr(s.fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0,
		uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&l)))
	if e != 0 {
		return 0, netip.AddrPort{}, e
	}
	var src netip.AddrPort
	switch rsa.Family {
	case unix.AF_INET:
		v4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&rsa))
		p := (*[2]byte)(unsafe.Pointer(&v4.Port))
		src = netip.AddrPortFrom(netip.AddrFrom4(v4.Addr), uint16(p[0])<<8|uint16(p[1]))
	case unix.AF_INET6:
		p := (*[2]byte)(unsafe.Pointer(&rsa.Port))
		src = netip.AddrPortFrom(netip.AddrFrom16(rsa.Addr).Unmap(), uint16(p[0])<<8|uint16(p[1]))
	}
	return int(n), src, nil
}

func (s *rawSock) close() error { return unix.Close(s.fd) }
