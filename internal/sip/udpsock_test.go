package sip

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestUDPSock checks the SIP UDP socket: datagrams from IPv4 peers read in a batch with their
// sources, answers sent one by one and in a batch, and close ending a read that waits.
func TestUDPSock(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", ":0", "0.0.0.0:0"} {
		t.Run(addr, func(t *testing.T) {
			s, err := listenUDPSock(addr)
			if err != nil {
				t.Fatal(err)
			}
			port := s.localAddr().Port
			if port == 0 {
				t.Fatal("no port bound")
			}
			peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
			for _, m := range []string{"one", "two", "three"} {
				if _, err := peer.WriteToUDP([]byte(m), to); err != nil {
					t.Fatal(err)
				}
			}
			rx := newRxBatch(4, 2048)
			var got []string
			want := peer.LocalAddr().(*net.UDPAddr).AddrPort()
			for len(got) < 3 {
				n, err := s.read(rx)
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < n; i++ {
					if rx.src[i] != want {
						t.Fatalf("source %v, want %v", rx.src[i], want)
					}
					got = append(got, string(rx.data(i)))
				}
			}
			if got[0] != "one" || got[1] != "two" || got[2] != "three" {
				t.Fatalf("read %q", got)
			}

			if err := s.writeTo([]byte("single"), want); err != nil {
				t.Fatal(err)
			}
			b := &udpBatch{}
			b.send([]byte("first"), want)
			b.send([]byte("second"), want)
			if err := s.writeBatch(b); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 100)
			_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
			for _, w := range []string{"single", "first", "second"} {
				n, from, err := peer.ReadFromUDP(buf)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(buf[:n], []byte(w)) || from.Port != port {
					t.Fatalf("peer got %q from %v, want %q from port %d", buf[:n], from, w, port)
				}
			}

			done := make(chan error, 1)
			go func() { _, err := s.read(rx); done <- err }()
			time.Sleep(20 * time.Millisecond) // let the reader block (not a timing assertion)
			if err := s.close(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; !errors.Is(err, net.ErrClosed) {
				t.Fatalf("read after close: %v", err)
			}
			if err := s.writeTo([]byte("late"), want); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("write after close: %v", err)
			}
		})
	}
}

// TestUDPSockIPv6 checks an IPv6 peer on the wildcard socket, where the host has IPv6.
func TestUDPSockIPv6(t *testing.T) {
	peer, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	defer peer.Close()
	s, err := listenUDPSock(":0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if _, err := peer.WriteToUDP([]byte("v6"), &net.UDPAddr{IP: net.IPv6loopback, Port: s.localAddr().Port}); err != nil {
		t.Fatal(err)
	}
	rx := newRxBatch(2, 2048)
	n, err := s.read(rx)
	if err != nil || n != 1 || string(rx.data(0)) != "v6" {
		t.Fatalf("read %d %v", n, err)
	}
	want := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	if rx.src[0] != want {
		t.Fatalf("source %v, want %v", rx.src[0], want)
	}
	if err := s.writeTo([]byte("back"), netip.AddrPortFrom(want.Addr(), want.Port())); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _, err := peer.ReadFromUDP(buf); err != nil || string(buf[:n]) != "back" {
		t.Fatalf("peer read %q %v", buf[:n], err)
	}
}
