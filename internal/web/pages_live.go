package web

import (
	"net/http"
	"time"
)

// The SIP server's live state through the API: registered contacts and running calls for
// admins, and a user's own devices in the portal.

type registration struct {
	Extension string `json:"extension"`
	Contact   string `json:"contact"`
	Source    string `json:"source"`
	Transport string `json:"transport"`
	UserAgent string `json:"user_agent"`
	ExpiresAt int64  `json:"expires_at"`
	UpdatedAt int64  `json:"updated_at"`
}

// Expires is the registration's expiry in the page's format (UTC).
func (r registration) Expires() string {
	return time.Unix(r.ExpiresAt, 0).UTC().Format("2006-01-02 15:04:05")
}

type activeCall struct {
	Caller     string `json:"caller"`
	Callee     string `json:"callee"`
	State      string `json:"state"`
	Trunk      string `json:"trunk"`
	StartedAt  int64  `json:"started_at"`
	AnsweredAt int64  `json:"answered_at"`
}

type liveView struct {
	Registrations []registration
	Calls         []activeCall
	// Down: SIP is not running, so nothing is registered and no call runs.
	Down bool
}

func (s *Server) live(w http.ResponseWriter, r *http.Request, v *view) {
	var lv liveView
	var regs list[registration]
	var calls list[activeCall]
	for _, q := range []struct {
		path string
		out  any
	}{{tpath(v, "/registrations"), &regs}, {tpath(v, "/active-calls"), &calls}} {
		if ae := s.call(r, "GET", q.path, nil, "", q.out); ae != nil {
			if ae.Status != http.StatusServiceUnavailable {
				s.fail(w, r, v, ae)
				return
			}
			lv.Down = true
		}
	}
	lv.Registrations, lv.Calls = regs.Items, calls.Items
	v.Data = lv
	s.render(w, r, http.StatusOK, "live", v)
}

func (s *Server) myDevices(w http.ResponseWriter, r *http.Request, v *view) {
	var lv liveView
	var regs list[registration]
	if ae := s.call(r, "GET", tpath(v, "/users/%d/registrations", v.S.P.UserID), nil, "", &regs); ae != nil {
		if ae.Status != http.StatusServiceUnavailable {
			s.fail(w, r, v, ae)
			return
		}
		lv.Down = true
	}
	lv.Registrations = regs.Items
	v.Data = lv
	s.render(w, r, http.StatusOK, "my_devices", v)
}
