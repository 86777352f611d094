package call

import (
	"github.com/privox/privox/internal/media"
)

// MOHSource picks the music on hold of a tenant (nil: Privox's default).
type MOHSource interface {
	MusicOnHold(tenantID int64) Source
}

// SetMOH sets where tenants' music on hold comes from.
func (a *Apps) SetMOH(m MOHSource) {
	a.mu.Lock()
	a.moh = m
	a.mu.Unlock()
}

// Hold plays the tenant's music on hold to leg `to` of a session (the peer of a leg that put
// the call on hold) in format f, on the pacer, until stop is called. The call's relay is
// untouched: the signalling layer mutes the holding leg while the music plays. When cont is
// set, the music continues the stream the held peer was receiving (its SSRC, the next
// sequence number, a timestamp that follows the clock), which phones take more gracefully
// than a new stream.
func (a *Apps) Hold(tenantID int64, ms *media.Session, to media.LegID, f media.Format, cont *media.StreamState) (stop func()) {
	a.mu.RLock()
	m := a.moh
	a.mu.RUnlock()
	var src Source
	if m != nil {
		src = m.MusicOnHold(tenantID)
	}
	if src == nil {
		src = DefaultMusicOnHold()
	}
	ep := newEndpoint(ms, to, f, a.pacer)
	if cont != nil {
		ep.continueStream(*cont)
	}
	ep.play(src)
	return ep.close
}
