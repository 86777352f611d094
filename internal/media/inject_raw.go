package media

import "fmt"

// InjectRaw is Inject for a packet already marshalled (a [Stream]'s Send hands it one): it
// sends pkt to the remote of leg `to`, SRTP-protected when the leg uses SRTP, without parsing
// or copying it on the plain path. It must not keep pkt.
//
//	s, _ := pacer.Open(media.StreamConfig{Codec: audio.PCMA,
//		Send: func(pkt []byte) error { return session.InjectRaw(media.LegA, pkt) }})
func (s *Session) InjectRaw(to LegID, pkt []byte) error {
	if !to.valid() {
		return ErrBadLeg
	}
	if s.closed.Load() {
		return ErrClosed
	}
	if len(pkt) < 12 || pkt[0]>>6 != 2 {
		return fmt.Errorf("media: inject: not an RTP packet")
	}
	l := &s.legs[to]
	s.ioMu.RLock()
	defer s.ioMu.RUnlock()
	if s.closed.Load() {
		return ErrClosed
	}
	p := l.rtp.peer.Load()
	if p == nil || l.hold.Load() {
		return ErrNoRemote
	}
	buf := pkt
	if c := l.crypto.Load(); c != nil {
		var err error
		c.rtpOutMu.Lock()
		buf, err = c.rtpOut.EncryptRTP(nil, pkt, nil)
		c.rtpOutMu.Unlock()
		if err != nil {
			return fmt.Errorf("media: inject: srtp: %w", err)
		}
	} else if l.secure.Load() {
		return ErrNotReady
	}
	if err := l.rtp.sock.writeTo(buf, p); err != nil {
		if s.closed.Load() {
			return ErrClosed
		}
		return fmt.Errorf("media: inject: %w", err)
	}
	l.injected.Add(1)
	return nil
}
