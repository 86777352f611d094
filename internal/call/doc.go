// Package call is Privox's call model: legs, bridges and the applications that run against a
// leg.
//
// A Leg is one endpoint of a call: today a SIP dialog with its media (the sip package creates
// it and implements its Signalling), later also endpoints inside Privox. A leg is always in
// one bridge:
//
//   - an application bridge (KindApp): the far end is an App — a menu, later a mailbox, a
//     conference or a parking slot — that answers, plays, records and collects digits through
//     a Handle. Its audio is paced on a shared 20 ms clock (Pacer) and injected into the
//     leg's media session; what the caller sends is tapped, decoded and run through the
//     in-band DTMF detector; RFC 4733 events arrive from the session's DTMF hook.
//   - a relay bridge (KindRelay): two SIP legs joined by media.Session's relay, the two-party
//     path that carries almost every call and costs nothing extra here.
//
// Moving a leg from an application bridge to a relay bridge (Handle.Bridge: the menu connects
// the caller to an extension) is signalled by sip: it rings the target through the dial plan
// and re-INVITEs the leg when its media description changes. A mixer bridge for N legs
// (conferences) fits the same shape: it would own one Endpoint per leg, as the application
// bridge owns one.
//
// Features never see SIP messages, and sip never knows which application runs: the dial
// plan names an application and its argument, and a Runner (wired by app) starts it.
package call
