//go:build linux

package sip

import (
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// udpSock is the SIP UDP socket on Linux: a blocking socket that the Go netpoller does not
// know about, read with recvmmsg by readers that wait in the kernel as Kamailio's workers do.
// Through the netpoller every wake-up of an idle reader went epoll → scheduler → goroutine,
// and every datagram also woke the runtime's poller thread; at a few thousand packets a
// second that scheduling cost more CPU than answering the REGISTERs. A reader blocked in
// recvmmsg keeps its P while the wait is short and another P is idle, so a datagram costs
// one system call to read and a share of one to answer.
type udpSock struct {
	fd    int
	is6   bool
	laddr *net.UDPAddr
	// mu is held for reading around every system call on fd; close takes it for writing to
	// close fd once no call can still be using the number.
	mu      sync.RWMutex
	closing atomic.Bool
}

// udpReaders is how many read loops share the socket: each waits in the kernel holding a P,
// so one P is always left for the rest of the server (on two CPUs: one reader, which
// answers a REGISTER in a few microseconds and reads up to udpBatchSize datagrams a call).
func udpReaders() int { return min(max(runtime.GOMAXPROCS(0)-1, 1), 4) }

// listenUDPSock binds a UDP socket as net.ListenPacket("udp", addr) does: a wildcard
// address listens on both IPv4 and IPv6 where the host has IPv6.
func listenUDPSock(addr string) (*udpSock, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	opErr := func(call string, err error) error {
		return &net.OpError{Op: "listen", Net: "udp", Addr: ua, Err: os.NewSyscallError(call, err)}
	}
	var fd int
	is6 := false
	switch {
	case ua.IP == nil || ua.IP.IsUnspecified():
		fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			is6 = true
			if err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0); err != nil {
				_ = unix.Close(fd)
				return nil, opErr("setsockopt", err)
			}
		} else {
			fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		}
	case ua.IP.To4() != nil:
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	default:
		is6 = true
		fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	}
	if err != nil {
		return nil, opErr("socket", err)
	}
	var sa unix.Sockaddr
	if is6 {
		sa6 := &unix.SockaddrInet6{Port: ua.Port}
		if ua.IP != nil && !ua.IP.IsUnspecified() {
			copy(sa6.Addr[:], ua.IP.To16())
			if ua.Zone != "" {
				if ifi, err := net.InterfaceByName(ua.Zone); err == nil {
					sa6.ZoneId = uint32(ifi.Index)
				}
			}
		}
		sa = sa6
	} else {
		sa4 := &unix.SockaddrInet4{Port: ua.Port}
		if ua.IP != nil {
			copy(sa4.Addr[:], ua.IP.To4())
		}
		sa = sa4
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1) // as Go's own UDP sockets
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	// A reader wakes at least this often to notice close even if shutdown did not wake it.
	tv := unix.NsecToTimeval(int64(500 * 1e6))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if err := unix.Bind(fd, sa); err != nil {
		_ = unix.Close(fd)
		return nil, opErr("bind", err)
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		_ = unix.Close(fd)
		return nil, opErr("getsockname", err)
	}
	s := &udpSock{fd: fd, is6: is6}
	switch b := bound.(type) {
	case *unix.SockaddrInet4:
		s.laddr = &net.UDPAddr{IP: net.IP(b.Addr[:]).To16(), Port: b.Port}
	case *unix.SockaddrInet6:
		s.laddr = &net.UDPAddr{IP: append(net.IP(nil), b.Addr[:]...), Port: b.Port, Zone: ua.Zone}
	}
	return s, nil
}

func (s *udpSock) localAddr() *net.UDPAddr { return s.laddr }

// rxBatch holds the buffers of one recvmmsg and what it read.
type rxBatch struct {
	bufs  [][]byte
	n     []int
	src   []netip.AddrPort
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for either family
}

func newRxBatch(count, size int) *rxBatch {
	rx := &rxBatch{bufs: make([][]byte, count), n: make([]int, count), src: make([]netip.AddrPort, count),
		hdrs: make([]unix.Mmsghdr, count), iovs: make([]unix.Iovec, count), names: make([]unix.RawSockaddrInet6, count)}
	mem := make([]byte, count*size)
	for i := range rx.bufs {
		rx.bufs[i] = mem[i*size : (i+1)*size : (i+1)*size]
		rx.iovs[i].Base = &rx.bufs[i][0]
		rx.iovs[i].SetLen(size)
		rx.hdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&rx.names[i]))
		rx.hdrs[i].Hdr.Iov = &rx.iovs[i]
		rx.hdrs[i].Hdr.SetIovlen(1)
	}
	return rx
}

func (rx *rxBatch) data(i int) []byte { return rx.bufs[i][:rx.n[i]] }

// read waits for at least one datagram and returns how many it read (at most len(rx.bufs)).
func (s *udpSock) read(rx *rxBatch) (int, error) {
	for {
		s.mu.RLock()
		if s.closing.Load() {
			s.mu.RUnlock()
			return 0, net.ErrClosed
		}
		for i := range rx.hdrs {
			rx.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
			rx.hdrs[i].Hdr.Flags = 0
			rx.hdrs[i].Len = 0
		}
		// MSG_WAITFORONE: block for the first datagram only, then take what is queued.
		r, _, e := syscall.Syscall6(unix.SYS_RECVMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&rx.hdrs[0])), uintptr(len(rx.hdrs)),
			unix.MSG_WAITFORONE, 0, 0)
		s.mu.RUnlock()
		switch {
		case s.closing.Load(): // shut down: recvmmsg returns an empty "datagram"
			return 0, net.ErrClosed
		case e == unix.EINTR || e == unix.EAGAIN: // EAGAIN: SO_RCVTIMEO passed
			continue
		case e != 0:
			return 0, e
		case r == 0:
			continue
		}
		n := int(r)
		for i := 0; i < n; i++ {
			rx.n[i] = int(rx.hdrs[i].Len)
			rx.src[i] = sockaddrAddrPort(&rx.names[i])
		}
		return n, nil
	}
}

// sockaddrAddrPort reads a sockaddr_in or sockaddr_in6 (IPv4-mapped addresses unmapped).
func sockaddrAddrPort(rsa *unix.RawSockaddrInet6) netip.AddrPort {
	switch rsa.Family {
	case unix.AF_INET:
		v4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		p := (*[2]byte)(unsafe.Pointer(&v4.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(v4.Addr), uint16(p[0])<<8|uint16(p[1]))
	case unix.AF_INET6:
		p := (*[2]byte)(unsafe.Pointer(&rsa.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(rsa.Addr).Unmap(), uint16(p[0])<<8|uint16(p[1]))
	}
	return netip.AddrPort{}
}

// putSockaddr writes dst in the socket's family into rsa and returns its length.
func (s *udpSock) putSockaddr(rsa *unix.RawSockaddrInet6, dst netip.AddrPort) (uint32, error) {
	port := dst.Port()
	a := dst.Addr()
	if !s.is6 {
		a = a.Unmap()
		if !a.Is4() {
			return 0, errUDPFamily
		}
		v4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		*v4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.As4()}
		p := (*[2]byte)(unsafe.Pointer(&v4.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		return unix.SizeofSockaddrInet4, nil
	}
	*rsa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16()} // an IPv4 address as ::ffff:a.b.c.d
	p := (*[2]byte)(unsafe.Pointer(&rsa.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	return unix.SizeofSockaddrInet6, nil
}

// writeTo sends one datagram.
func (s *udpSock) writeTo(b []byte, dst netip.AddrPort) error {
	var rsa unix.RawSockaddrInet6
	l, err := s.putSockaddr(&rsa, dst)
	if err != nil {
		return err
	}
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closing.Load() {
		return net.ErrClosed
	}
	for {
		_, _, e := syscall.Syscall6(unix.SYS_SENDTO, uintptr(s.fd), uintptr(p), uintptr(len(b)), 0, uintptr(unsafe.Pointer(&rsa)), uintptr(l))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

// txSys is the system part of an answer batch: the mmsghdrs for sendmmsg.
type txSys struct {
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
}

// writeBatch sends the datagrams of b (arena slices ends, to dsts) with sendmmsg.
func (s *udpSock) writeBatch(b *udpBatch) error {
	n := len(b.dsts)
	if cap(b.sys.hdrs) < n {
		b.sys.hdrs = make([]unix.Mmsghdr, n)
		b.sys.iovs = make([]unix.Iovec, n)
		b.sys.names = make([]unix.RawSockaddrInet6, n)
	}
	hdrs, iovs, names := b.sys.hdrs[:n], b.sys.iovs[:n], b.sys.names[:n]
	k := 0
	start := 0
	for i := 0; i < n; i++ {
		end := b.ends[i]
		l, err := s.putSockaddr(&names[k], b.dsts[i])
		if err != nil || end == start {
			start = end
			continue // a destination of the other family: nothing to send it through
		}
		iovs[k].Base = &b.arena[start]
		iovs[k].SetLen(end - start)
		hdrs[k] = unix.Mmsghdr{}
		hdrs[k].Hdr.Name = (*byte)(unsafe.Pointer(&names[k]))
		hdrs[k].Hdr.Namelen = l
		hdrs[k].Hdr.Iov = &iovs[k]
		hdrs[k].Hdr.SetIovlen(1)
		k++
		start = end
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closing.Load() {
		return net.ErrClosed
	}
	for sent := 0; sent < k; {
		r, _, e := syscall.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&hdrs[sent])), uintptr(k-sent), 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		if r == 0 {
			return unix.EIO
		}
		sent += int(r)
	}
	return nil
}

// close wakes the readers (shutdown), waits until no system call uses the descriptor, and
// closes it.
func (s *udpSock) close() error {
	if s.closing.Swap(true) {
		return nil
	}
	_ = unix.Shutdown(s.fd, unix.SHUT_RDWR) // ENOTCONN for an unconnected socket, but it wakes recvmmsg
	s.mu.Lock()
	err := unix.Close(s.fd)
	s.fd = -1
	s.mu.Unlock()
	return err
}
