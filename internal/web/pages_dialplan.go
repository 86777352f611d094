package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/privox/privox/internal/store"
)

// Trunks, inbound numbers (DIDs) and ring/hunt groups of a tenant, through the API's dial
// plan routes: the same admin check, the same validation (the dial plan's field errors shown
// at their field) and the same audit entries as REST clients get.

// trunkState is a registering trunk's registration as the API reports it.
type trunkState struct {
	Trunk     string `json:"trunk"`
	State     string `json:"state"`
	Failures  int    `json:"failures"`
	LastError string `json:"last_error"`
}

type trunkRow struct {
	store.Trunk
	// State is the registration state ("" when unknown: SIP not running or not yet tried).
	State     string
	LastError string
}

func (s *Server) trunks(w http.ResponseWriter, r *http.Request, v *view) {
	var l list[store.Trunk]
	if ae := s.call(r, "GET", tpath(v, "/trunks"), nil, "", &l); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	var st list[trunkState]
	states := map[string]trunkState{}
	// The states need the SIP server; without it the list stays, the states are unknown.
	if ae := s.call(r, "GET", tpath(v, "/trunk-states"), nil, "", &st); ae == nil {
		for _, t := range st.Items {
			states[t.Trunk] = t
		}
	} else if ae.Status != http.StatusServiceUnavailable {
		s.fail(w, r, v, ae)
		return
	}
	rows := make([]trunkRow, 0, len(l.Items))
	for _, t := range l.Items {
		row := trunkRow{Trunk: t}
		if ts, ok := states[t.Name]; ok {
			row.State, row.LastError = ts.State, ts.LastError
		}
		rows = append(rows, row)
	}
	v.Data = rows
	s.render(w, r, http.StatusOK, "trunks", v)
}

// didKinds are the destinations a DID may name (the dial plan's kinds).
var didKinds = []string{"extension", "group", "application", "mailbox", "outbound"}

type didsView struct {
	DIDs  []store.DID
	Kinds []string
}

func (s *Server) dids(w http.ResponseWriter, r *http.Request, v *view) {
	if v.Form == nil {
		v.Form = url.Values{"dest_kind": {"extension"}}
	}
	s.renderDIDs(w, r, v, http.StatusOK)
}

func (s *Server) renderDIDs(w http.ResponseWriter, r *http.Request, v *view, status int) {
	var l list[store.DID]
	if ae := s.call(r, "GET", tpath(v, "/dids"), nil, "", &l); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	if v.Flash == "" {
		v.Flash = flash(r, v)
	}
	v.Data = didsView{DIDs: l.Items, Kinds: didKinds}
	s.render(w, r, status, "dids", v)
}

func (s *Server) didCreate(w http.ResponseWriter, r *http.Request, v *view) {
	f := v.Form
	body := map[string]string{"number": strings.TrimSpace(f.Get("number")), "last": strings.TrimSpace(f.Get("last")),
		"dest_kind": f.Get("dest_kind"), "dest_number": strings.TrimSpace(f.Get("dest_number"))}
	if ae := s.call(r, "POST", tpath(v, "/dids"), body, f.Get("csrf"), nil); ae != nil {
		if ae.Status == http.StatusBadRequest || ae.Status == http.StatusConflict {
			v.Error, v.Field = ae.Message, ae.Field
			s.renderDIDs(w, r, v, ae.Status)
			return
		}
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/dids?done=did_saved", v.Tenant), http.StatusSeeOther)
}

func (s *Server) didDelete(w http.ResponseWriter, r *http.Request, v *view) {
	id, ok := s.pathID(w, r, v, "did")
	if !ok {
		return
	}
	if ae := s.call(r, "DELETE", tpath(v, "/dids/%d", id), nil, v.Form.Get("csrf"), nil); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/dids?done=did_deleted", v.Tenant), http.StatusSeeOther)
}

func (s *Server) groups(w http.ResponseWriter, r *http.Request, v *view) {
	var l list[store.RingGroup]
	if ae := s.call(r, "GET", tpath(v, "/groups"), nil, "", &l); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	v.Data = l.Items
	s.render(w, r, http.StatusOK, "groups", v)
}
