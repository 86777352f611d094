package sip

import (
	"cmp"
	"slices"
	"time"
)

// What admins see of the server's live state: the contacts registered now and the calls
// running now, per tenant. Both are read from memory (the location service and the call
// table), never from the store, and bounded by what the server holds.

// RegisteredContact is one contact registered for an extension.
type RegisteredContact struct {
	Extension   string `json:"extension"`
	ExtensionID int64  `json:"extension_id"`
	UserID      int64  `json:"user_id,omitempty"`
	Contact     string `json:"contact"`
	// Source is the address the REGISTER came from (personal data: connection metadata).
	Source    string `json:"source"`
	Transport string `json:"transport"`
	UserAgent string `json:"user_agent"`
	// ExpiresAt and UpdatedAt are Unix seconds.
	ExpiresAt int64 `json:"expires_at"`
	UpdatedAt int64 `json:"updated_at"`
}

// Registrations lists a tenant's registered contacts, by extension number and then by
// contact; userID > 0 keeps those of that user's extensions only.
func (s *Server) Registrations(tenantID, userID int64) []RegisteredContact {
	l := s.loc
	now := l.now().Unix()
	var out []RegisteredContact
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.RLock()
		for k, e := range sh.aors {
			if k.tenant != tenantID || userID > 0 && e.userID != userID {
				continue
			}
			for _, b := range e.bindings {
				if b.expires <= now {
					continue
				}
				out = append(out, RegisteredContact{Extension: k.number, ExtensionID: e.extID, UserID: e.userID, Contact: b.contact,
					Source: b.source.String(), Transport: b.transport, UserAgent: b.userAgent(), ExpiresAt: b.expires, UpdatedAt: b.updated})
			}
		}
		sh.mu.RUnlock()
	}
	slices.SortFunc(out, func(a, b RegisteredContact) int {
		return cmp.Or(cmp.Compare(len(a.Extension), len(b.Extension)), cmp.Compare(a.Extension, b.Extension), cmp.Compare(a.Contact, b.Contact))
	})
	return out
}

// ActiveCall is a call running now.
type ActiveCall struct {
	// Caller is the calling extension, or the caller's number for a call from a trunk.
	Caller string `json:"caller"`
	// Callee is the number dialled.
	Callee string `json:"callee"`
	// State is routing, ringing or answered.
	State string `json:"state"`
	// Trunk names the trunk of a call to or from outside ("" for internal calls).
	Trunk string `json:"trunk,omitempty"`
	// StartedAt and AnsweredAt are Unix milliseconds (AnsweredAt 0 until answered).
	StartedAt  int64 `json:"started_at"`
	AnsweredAt int64 `json:"answered_at,omitempty"`
}

var stateNames = [...]string{stRouting: "routing", stRinging: "ringing", stAnswered: "answered", stEnded: "ended"}

// TenantCalls lists a tenant's calls that have not ended, oldest first.
func (s *Server) TenantCalls(tenantID int64) []ActiveCall {
	var out []ActiveCall
	for _, c := range s.calls.all() {
		if c.tenant.ID != tenantID {
			continue
		}
		c.mu.Lock()
		ac := ActiveCall{Callee: c.dialed, State: stateNames[c.state], StartedAt: msOf(c.startAt), AnsweredAt: msOf(c.answerAt), Trunk: c.trunk}
		if c.caller != nil {
			ac.Caller = c.caller.number
			if ac.Trunk == "" {
				ac.Trunk = c.caller.trunk
			}
		}
		ended := c.state == stEnded
		c.mu.Unlock()
		if !ended {
			out = append(out, ac)
		}
	}
	slices.SortFunc(out, func(a, b ActiveCall) int { return cmp.Compare(a.StartedAt, b.StartedAt) })
	return out
}

func msOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
