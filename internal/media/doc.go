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
// Media applications (prompts, tones, recording) use the paced sender and the recorder:
//   - [Pacer]: one goroutine serves many outgoing streams on one absolute 20 ms schedule taken
//     from a monotonic start (a timing wheel of [PacerConfig].Slots instants per period, streams
//     spread evenly over them); after a stall it catches up at most MaxCatchUp frames and skips
//     the rest. NewPacer → Start → Open … → Stop; Stats counts packets, late ones and skips.
//   - [Stream] (Pacer.Open with a [StreamConfig]: codec, Send func): every period one G.711
//     frame from the current [Playback] or silence, RTP timestamps +160 per period (they jump
//     with the clock after a skip), sequence +1 per packet, marker on the first packet of each
//     talkspurt. Play(audio.Sound) returns a Playback (Done, Stop for barge-in, Stopped);
//     Stream.Stop, SetCodec, Close. Session.InjectRaw(leg, pkt) is the Send that puts a
//     stream on a relay leg (SRTP-protected when the leg uses SRTP).
//   - [Recorder]: WriteRTP/WritePCM collect a leg's audio (bounded length, gaps as silence),
//     Save stores it as an encrypted G.711 WAV content file through filestore in one step.
//   - [DigitDetector]: one per received leg; FeedRTP(pt, payload) runs in-band DTMF detection
//     on G.711 audio, FeedEvent(DTMFEvent) takes RFC 4733 events (from Session.OnDTMF); after
//     the first event the leg's in-band detection is off, so no press counts twice.
//   - [CollectDigits]: key presses from a channel (RFC 4733 and in-band, merged by the leg)
//     until Max digits, a terminator, a first-digit or inter-digit time-out, or hang-up; never
//     more than [MaxCollect].
package media
