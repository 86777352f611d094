// Package media owns the media plane of every Privox call: the RTP relay that anchors each
// call's audio between its two legs. A [Relay] hands out UDP port pairs (RTP on an even port,
// RTCP on the next one) from the configured range; a [Session] joins two legs, A (caller side)
// and B (callee side), rewrites the SDP offers and answers that the SIP B2BUA passes through it
// so that both endpoints send their media to Privox, and then relays RTP and RTCP between them.
//
// What the relay does per packet:
//   - symmetric RTP behind NAT: a leg's remote is first taken from its SDP and then latched to
//     the source of the first packet actually received on that leg; packets from other sources
//     are dropped and counted. A re-INVITE that changes the SDP address re-arms the latch.
//   - SRTP with SDES (RFC 4568): when a leg negotiates a=crypto, Privox terminates SRTP on that
//     leg with keys of its own, so each leg has independent keys (and a plain leg can be bridged
//     to an encrypted one).
//   - RFC 4733 telephone-events are reported once per digit through [Session.OnDTMF] and still
//     relayed.
//   - codecs pass through unchanged: the relay never transcodes and keeps payload types.
//
// Later subsystems (voicemail, recording, prompts, fax) hook in through [Session.Tap], which
// sees every relayed RTP packet in the clear, and [Session.Inject], which sends a packet to a
// leg. The package stores nothing: no packet content is kept or logged, and the only personal
// data it handles are the endpoints' addresses (connection data, held in memory for the call's
// lifetime and logged only at debug level).
//
// The hot path (read, latch check, forward) takes no lock and allocates nothing, for plain RTP
// and for SRTP alike (SRTP takes an uncontended per-leg lock shared with Inject). On Linux the
// default [EngineEpoll] serves all sockets from one level-triggered epoll loop per CPU over raw
// sockets kept out of the Go netpoller, so that a packet costs one recvfrom and one sendto;
// [EngineGoroutines] (one goroutine per socket) is the portable alternative. The per-leg state
// the hot path consults (latched address, SRTP contexts, payload-type table) is swapped
// atomically by the signalling side. See relay_bench_test.go and the medialoadtest package for
// measurements.
//
// Media applications (prompts, tones, recording, DTMF collection) live in the call model
// (package call): its endpoints send on their own pacer through [Session.Inject] and hear a
// leg through [Session.Tap].
package media
