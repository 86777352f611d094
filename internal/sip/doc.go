// Package sip owns Privox's SIP core: the listeners (UDP, TCP, TLS and SIP over WebSocket),
// the registrar with digest authentication and its in-memory location service, the
// back-to-back user agent that carries every call between extensions with its media anchored
// in the relay of package media, the routing stages a call passes through, the call detail
// records, and the protections against malformed input, floods and scanners.
//
// The SIP stack underneath is github.com/emiago/sipgo: its parser, message types, transports
// and transaction layer. Two paths lead into this package:
//
//   - UDP datagrams are read by this package first (see udp.go). Each one passes the source
//     guard (bans, per-source rate limit), the size limit and the parser; a malformed request
//     gets a stateless 400, REGISTER and out-of-dialog OPTIONS are answered right there
//     (statelessly, as a registrar may), and everything else is handed on to sipgo's
//     transaction layer.
//   - TCP, TLS and WebSocket connections are served by sipgo directly; the guard filters
//     their bytes and accepted connections, and requests reach the same handlers through
//     sipgo server transactions.
//
// Personal data held here: registrations (connection category: contact, source address, user
// agent) live in memory and are written behind to the store's registrations table; CDRs
// (traffic) and journal entries (usage) are written when a call ends. Logs carry call-id,
// tenant, extension and peer attributes but never passwords, HA1 values, digest responses or
// message bodies.
package sip
