package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/privox/privox/internal/store"
)

// Voicemail to e-mail, the admin's page: the tenant's own SMTP relay and the e-mail deliveries
// of voice messages (failed ones first of all). Every read and change is the API's: its admin
// check, its validation (the relay's field errors shown at their field) and its audit entries.
// The relay's password goes to the API only and is never sent back into the form.

// mailStates are the delivery states the list filters by ("all": every state).
var mailStates = []string{"failed", "pending", "sent", "suppressed", "dropped", "all"}

type emailView struct {
	// Relay is the tenant's own relay; nil when the installation's is used.
	Relay      *store.MailRelay
	Deliveries []store.VoicemailMail
	State      string
	States     []string
}

// emailState is the delivery state the list shows: ?state=, failed when absent.
func emailState(r *http.Request) string {
	if st := r.URL.Query().Get("state"); st != "" {
		return st
	}
	return "failed"
}

func (s *Server) email(w http.ResponseWriter, r *http.Request, v *view) {
	s.renderEmail(w, r, v, http.StatusOK)
}

func (s *Server) renderEmail(w http.ResponseWriter, r *http.Request, v *view, status int) {
	d := emailView{State: emailState(r), States: mailStates}
	var relay store.MailRelay
	switch ae := s.call(r, "GET", tpath(v, "/mail-relay"), nil, "", &relay); {
	case ae == nil:
		d.Relay = &relay
	case ae.Status == http.StatusNotFound && ae.Field == "":
		// no relay of the tenant's own: the installation's is used
	default:
		s.fail(w, r, v, ae)
		return
	}
	if v.Form == nil {
		v.Form = url.Values{"mode": {"starttls"}}
		if d.Relay != nil {
			v.Form = url.Values{"host": {relay.Host}, "port": {strconv.Itoa(relay.Port)}, "mode": {relay.Mode}, "username": {relay.Username},
				"ca_pem": {relay.CAPEM}, "from": {relay.From}}
			if relay.Enabled {
				v.Form.Set("enabled", "on")
			}
		}
	}
	var extra url.Values
	if d.State != "all" {
		extra = url.Values{"state": {d.State}}
	}
	// A state the API does not know (from the URL) is said over an empty list.
	l, ok := listPage[store.VoicemailMail](s, w, r, v, tpath(v, "/voicemail/deliveries"), extra)
	if !ok {
		return
	}
	d.Deliveries = l.Items
	if v.Flash == "" {
		v.Flash = flash(r, v)
	}
	v.Data = d
	s.render(w, r, status, "email", v)
}

func (s *Server) emailRelaySave(w http.ResponseWriter, r *http.Request, v *view) {
	f := v.Form
	again := func(status int) {
		r.URL.RawQuery = ""
		s.renderEmail(w, r, v, status)
	}
	port, ok := formInt(v, "port")
	if !ok {
		f.Del("password")
		again(http.StatusBadRequest)
		return
	}
	body := map[string]any{"enabled": f.Get("enabled") == "on", "host": strings.TrimSpace(f.Get("host")), "port": port, "mode": f.Get("mode"),
		"username": strings.TrimSpace(f.Get("username")), "ca_pem": strings.TrimSpace(f.Get("ca_pem")), "from": strings.TrimSpace(f.Get("from"))}
	// An empty password field keeps the stored password; the box below it removes it.
	switch {
	case f.Get("clear_password") == "on":
		body["password"] = ""
	case f.Get("password") != "":
		body["password"] = f.Get("password")
	}
	f.Del("password") // never sent back to the browser
	if ae := s.call(r, "PUT", tpath(v, "/mail-relay"), body, f.Get("csrf"), nil); ae != nil {
		s.saveErr(w, r, v, ae, again)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/email?done=relay_saved", v.Tenant), http.StatusSeeOther)
}

func (s *Server) emailRelayDelete(w http.ResponseWriter, r *http.Request, v *view) {
	if ae := s.call(r, "DELETE", tpath(v, "/mail-relay"), nil, v.Form.Get("csrf"), nil); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/email?done=relay_deleted", v.Tenant), http.StatusSeeOther)
}

// emailRetry sends a failed delivery again (the API's retry: admin only, the tenant's own
// deliveries, failed ones only) and shows every delivery, so that the retried one is seen
// pending or sent.
func (s *Server) emailRetry(w http.ResponseWriter, r *http.Request, v *view) {
	id, ok := s.pathID(w, r, v, "delivery")
	if !ok {
		return
	}
	if ae := s.call(r, "POST", tpath(v, "/voicemail/deliveries/%d/retry", id), nil, v.Form.Get("csrf"), nil); ae != nil {
		if ae.Status == http.StatusConflict {
			// retried meanwhile (a second click, another admin): say so over the list
			v.Error, v.Form = ae.Message, nil
			r.URL.RawQuery = "state=all"
			s.renderEmail(w, r, v, ae.Status)
			return
		}
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/email?state=all&done=mail_retried#delivery-%d", v.Tenant, id), http.StatusSeeOther)
}
