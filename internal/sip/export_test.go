package sip

import "net/netip"

// Hooks for the tests of package sip_test.

// KillTCPListenerForTest closes the SIP TCP listener's socket under sipgo, as a fatal
// accept error would end its accept loop.
func (s *Server) KillTCPListenerForTest() {
	if s.tcpListener != nil {
		s.tcpListener.Close()
	}
}

// VouchedForTest reports whether the guard counts src as a source that authenticated.
func (s *Server) VouchedForTest(src netip.AddrPort) bool { return s.guard.vouched(src) }

// TrunkSourceKnownForTest reports whether the UDP read loop knows addr as a trunk's.
func (s *Server) TrunkSourceKnownForTest(addr string) bool {
	return s.trunkIn.mayBeTrunk(netip.MustParseAddr(addr))
}
