package datacat

import (
	"net"
	"net/netip"
	"strings"
)

// The two anonymisation rules of SPEC §2, here at the bottom of the layers so that the store
// can apply them to a record as it is written (a call with an erased person) and the privacy
// engine to records already stored.

// MaskNumber keeps the leading digits of a phone number, which say where it is (country, area,
// exchange), and masks the rest: at least half of its digits, and at least four, become "x".
// Digits masked before count as masked, so masking twice changes nothing. A value that is not
// a phone number (a SIP URI, "anonymous", a name) is removed entirely.
func MaskNumber(s string) string {
	s = strings.TrimSpace(s)
	n, masked := 0, 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			n++
		case r == 'x':
			n++
			masked++
		case strings.ContainsRune("+ -()/.*#", r):
		default:
			return ""
		}
	}
	if n == 0 {
		return ""
	}
	mask := max(4, (n+1)/2) - masked
	b := []byte(s)
	for i := len(b) - 1; i >= 0 && mask > 0; i-- {
		if b[i] >= '0' && b[i] <= '9' {
			b[i] = 'x'
			mask--
		}
	}
	return string(b)
}

// TruncateIP keeps the network of an address and drops the host: IPv4 to its /24, IPv6 to its
// /48. A port, brackets or a zone are dropped; anything that is not an address is removed.
func TruncateIP(s string) string {
	s = strings.TrimSpace(s)
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return ""
	}
	a = a.WithZone("").Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.Addr().String()
}
