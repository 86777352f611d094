//go:build !linux

package sip

import (
	"net"
	"net/netip"
	"runtime"

	"golang.org/x/net/ipv4"
)

// udpSock is the SIP UDP socket elsewhere than on Linux: a net.UDPConn, read in batches
// where the platform has them (see udpsock_linux.go for why Linux does without the netpoller).
type udpSock struct {
	conn *net.UDPConn
	pc   *ipv4.PacketConn
}

func udpReaders() int { return min(max(runtime.GOMAXPROCS(0), 1), 4) }

func listenUDPSock(addr string) (*udpSock, error) {
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	uc := c.(*net.UDPConn)
	_ = uc.SetReadBuffer(4 << 20)
	_ = uc.SetWriteBuffer(4 << 20)
	return &udpSock{conn: uc, pc: ipv4.NewPacketConn(uc)}, nil
}

func (s *udpSock) localAddr() *net.UDPAddr { return s.conn.LocalAddr().(*net.UDPAddr) }

type rxBatch struct {
	n    []int
	src  []netip.AddrPort
	msgs []ipv4.Message
}

func newRxBatch(count, size int) *rxBatch {
	rx := &rxBatch{n: make([]int, count), src: make([]netip.AddrPort, count), msgs: make([]ipv4.Message, count)}
	mem := make([]byte, count*size)
	for i := range rx.msgs {
		rx.msgs[i].Buffers = [][]byte{mem[i*size : (i+1)*size]}
	}
	return rx
}

func (rx *rxBatch) data(i int) []byte { return rx.msgs[i].Buffers[0][:rx.n[i]] }

func (s *udpSock) read(rx *rxBatch) (int, error) {
	n, err := s.pc.ReadBatch(rx.msgs, 0)
	if err != nil {
		return 0, err
	}
	k := 0
	for i := 0; i < n; i++ {
		ua, ok := rx.msgs[i].Addr.(*net.UDPAddr)
		if !ok {
			continue
		}
		src := ua.AddrPort()
		rx.n[k], rx.src[k] = rx.msgs[i].N, netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		if k != i {
			rx.msgs[k], rx.msgs[i] = rx.msgs[i], rx.msgs[k]
		}
		k++
	}
	return k, nil
}

func (s *udpSock) writeTo(b []byte, dst netip.AddrPort) error {
	_, err := s.conn.WriteToUDPAddrPort(b, dst)
	return err
}

type txSys struct{ msgs []ipv4.Message }

func (s *udpSock) writeBatch(b *udpBatch) error {
	b.sys.msgs = b.sys.msgs[:0]
	start := 0
	for i, dst := range b.dsts {
		end := b.ends[i]
		b.sys.msgs = append(b.sys.msgs, ipv4.Message{Buffers: [][]byte{b.arena[start:end:end]}, Addr: net.UDPAddrFromAddrPort(dst)})
		start = end
	}
	for sent := 0; sent < len(b.sys.msgs); {
		n, err := s.pc.WriteBatch(b.sys.msgs[sent:], 0)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		sent += n
	}
	return nil
}

func (s *udpSock) close() error { return s.conn.Close() }
