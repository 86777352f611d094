package sip

// Hooks for the tests of package sip_test.

// KillTCPListenerForTest closes the SIP TCP listener's socket under sipgo, as a fatal
// accept error would end its accept loop.
func (s *Server) KillTCPListenerForTest() {
	if s.tcpListener != nil {
		s.tcpListener.Close()
	}
}
