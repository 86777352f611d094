package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
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

type trunksView struct {
	Rows []trunkRow
	// Editing names the trunk the form changes ("" for a new one).
	Editing string
}

func (s *Server) trunks(w http.ResponseWriter, r *http.Request, v *view) {
	if v.Form == nil {
		v.Form = url.Values{"kind": {"register"}, "transport": {"udp"}, "did_from": {"ruri"}}
		if name := r.URL.Query().Get("edit"); name != "" {
			var t store.Trunk
			if ae := s.call(r, "GET", tpath(v, "/trunks/%s", url.PathEscape(name)), nil, "", &t); ae != nil {
				s.fail(w, r, v, ae)
				return
			}
			v.Form = url.Values{"name": {t.Name}, "kind": {t.Kind}, "transport": {t.Transport}, "server": {t.Server}, "failover": {t.Failover},
				"register_expires": {strconv.Itoa(t.RegisterExpires)}, "allowed_sources": {strings.Join(t.AllowedSources, ", ")},
				"did_from": {t.DIDFrom}, "username": {t.Username}, "editing": {t.Name}}
			if t.Trusted {
				v.Form.Set("trusted", "on")
			}
		}
	}
	s.renderTrunks(w, r, v, http.StatusOK)
}

func (s *Server) renderTrunks(w http.ResponseWriter, r *http.Request, v *view, status int) {
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
	if v.Flash == "" {
		v.Flash = flash(r, v)
	}
	v.Data = trunksView{Rows: rows, Editing: v.Form.Get("editing")}
	s.render(w, r, status, "trunks", v)
}

// deleteNamed deletes what a page lists by name (a route, a group, a menu):
// the API's DELETE of apiPath (a format taking the escaped {param} of the URL), then back
// to the tenant's page with the done message.
func (s *Server) deleteNamed(apiPath, param, page, done string) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, v *view) {
		if ae := s.call(r, "DELETE", tpath(v, apiPath, url.PathEscape(r.PathValue(param))), nil, v.Form.Get("csrf"), nil); ae != nil {
			s.fail(w, r, v, ae)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/t/%d/%s?done=%s", v.Tenant, page, done), http.StatusSeeOther)
	}
}

// formError shows a field error found before the API is asked.
func formError(v *view, field, msg string) {
	v.Error, v.Field = field+": "+msg, field
}

// formInt reads a whole number of a form; "" is 0.
func formInt(v *view, field string) (int, bool) {
	raw := strings.TrimSpace(v.Form.Get(field))
	if raw == "" {
		return 0, true
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		formError(v, field, v.T("err.number"))
		return 0, false
	}
	return n, true
}

// formList splits a form field at commas and white space.
func formList(v *view, field string) []string {
	return strings.FieldsFunc(v.Form.Get(field), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// saveErr shows the API's refusal of a form at its field and reports whether it did; other
// errors end the request.
func (s *Server) saveErr(w http.ResponseWriter, r *http.Request, v *view, ae *apiError, again func(status int)) {
	if ae.Status == http.StatusBadRequest || ae.Status == http.StatusConflict || ae.Status == http.StatusNotFound && ae.Field != "" {
		v.Error, v.Field = ae.Message, ae.Field
		again(ae.Status)
		return
	}
	s.fail(w, r, v, ae)
}

func (s *Server) trunkSave(w http.ResponseWriter, r *http.Request, v *view) {
	f := v.Form
	again := func(status int) { s.renderTrunks(w, r, v, status) }
	name := strings.TrimSpace(f.Get("name"))
	if name == "" {
		formError(v, "name", v.T("err.required"))
		again(http.StatusBadRequest)
		return
	}
	expires, ok := formInt(v, "register_expires")
	if !ok {
		again(http.StatusBadRequest)
		return
	}
	body := map[string]any{"kind": f.Get("kind"), "transport": f.Get("transport"), "server": strings.TrimSpace(f.Get("server")),
		"failover": strings.TrimSpace(f.Get("failover")), "register_expires": expires, "allowed_sources": formList(v, "allowed_sources"),
		"did_from": f.Get("did_from"), "trusted": f.Get("trusted") == "on", "username": strings.TrimSpace(f.Get("username")), "password": f.Get("password")}
	if f.Get("kind") == "ip" {
		body["username"], body["password"], body["register_expires"] = "", "", 0
	} else {
		body["allowed_sources"] = []string{}
	}
	f.Del("password") // never sent back to the browser
	if ae := s.call(r, "PUT", tpath(v, "/trunks/%s", url.PathEscape(name)), body, f.Get("csrf"), nil); ae != nil {
		s.saveErr(w, r, v, ae, again)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/trunks?done=trunk_saved", v.Tenant), http.StatusSeeOther)
}

func (s *Server) trunkDelete(w http.ResponseWriter, r *http.Request, v *view) {
	if ae := s.call(r, "DELETE", tpath(v, "/trunks/%s", url.PathEscape(r.PathValue("trunk"))), nil, v.Form.Get("csrf"), nil); ae != nil {
		if ae.Status == http.StatusConflict {
			v.Form = url.Values{"kind": {"register"}, "transport": {"udp"}, "did_from": {"ruri"}}
			v.Error = ae.Message
			s.renderTrunks(w, r, v, ae.Status)
			return
		}
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/trunks?done=trunk_deleted", v.Tenant), http.StatusSeeOther)
}

// Outbound routes.

type routesView struct {
	Routes  []store.OutboundRoute
	Trunks  []string
	Editing string
}

func (s *Server) routesPage(w http.ResponseWriter, r *http.Request, v *view) {
	if v.Form == nil {
		v.Form = url.Values{"e164": {"on"}}
		if name := r.URL.Query().Get("edit"); name != "" {
			var rt store.OutboundRoute
			if ae := s.call(r, "GET", tpath(v, "/outbound-routes/%s", url.PathEscape(name)), nil, "", &rt); ae != nil {
				s.fail(w, r, v, ae)
				return
			}
			v.Form = url.Values{"name": {rt.Name}, "position": {strconv.Itoa(rt.Position)}, "pattern": {rt.Pattern}, "strip": {strconv.Itoa(rt.Strip)},
				"prepend": {rt.Prepend}, "trunks": {strings.Join(rt.Trunks, ", ")}, "editing": {rt.Name}}
			if rt.E164 {
				v.Form.Set("e164", "on")
			}
		}
	}
	s.renderRoutes(w, r, v, http.StatusOK)
}

func (s *Server) renderRoutes(w http.ResponseWriter, r *http.Request, v *view, status int) {
	var l list[store.OutboundRoute]
	if ae := s.call(r, "GET", tpath(v, "/outbound-routes"), nil, "", &l); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	var tl list[store.Trunk]
	if ae := s.call(r, "GET", tpath(v, "/trunks"), nil, "", &tl); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	names := make([]string, 0, len(tl.Items))
	for _, t := range tl.Items {
		names = append(names, t.Name)
	}
	if v.Flash == "" {
		v.Flash = flash(r, v)
	}
	v.Data = routesView{Routes: l.Items, Trunks: names, Editing: v.Form.Get("editing")}
	s.render(w, r, status, "routes", v)
}

func (s *Server) routeSave(w http.ResponseWriter, r *http.Request, v *view) {
	f := v.Form
	again := func(status int) { s.renderRoutes(w, r, v, status) }
	name := strings.TrimSpace(f.Get("name"))
	if name == "" {
		formError(v, "name", v.T("err.required"))
		again(http.StatusBadRequest)
		return
	}
	pos, ok := formInt(v, "position")
	if !ok {
		again(http.StatusBadRequest)
		return
	}
	strip, ok := formInt(v, "strip")
	if !ok {
		again(http.StatusBadRequest)
		return
	}
	body := map[string]any{"position": pos, "pattern": strings.TrimSpace(f.Get("pattern")), "strip": strip,
		"prepend": strings.TrimSpace(f.Get("prepend")), "e164": f.Get("e164") == "on", "trunks": formList(v, "trunks")}
	if ae := s.call(r, "PUT", tpath(v, "/outbound-routes/%s", url.PathEscape(name)), body, f.Get("csrf"), nil); ae != nil {
		s.saveErr(w, r, v, ae, again)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/routes?done=route_saved", v.Tenant), http.StatusSeeOther)
}

// didKinds are the destinations a DID may name (the dial plan's kinds).
var didKinds = []string{"extension", "group", "application", "mailbox", "outbound"}

type didsView struct {
	DIDs  []store.DID
	Kinds []string
	// Calendars are the tenant's calendars a time rule may name.
	Calendars []string
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
	var cl list[store.Calendar]
	if ae := s.call(r, "GET", tpath(v, "/calendars"), nil, "", &cl); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	if v.Flash == "" {
		v.Flash = flash(r, v)
	}
	// The default destination's form shows what is stored, unless it is the form refused.
	if v.Form.Get("def_form") == "" {
		var def store.DIDDefault
		if ae := s.call(r, "GET", tpath(v, "/did-default"), nil, "", &def); ae != nil {
			s.fail(w, r, v, ae)
			return
		}
		kind := def.DestKind
		if kind == "" {
			kind = "none"
		}
		for k, val := range map[string]string{"def_dest_kind": kind, "def_dest_number": def.DestNumber, "def_calendar": def.Calendar,
			"def_closed_kind": def.ClosedKind, "def_closed_number": def.ClosedNumber} {
			v.Form.Set(k, val)
		}
	}
	dv := didsView{DIDs: l.Items, Kinds: didKinds}
	for _, c := range cl.Items {
		dv.Calendars = append(dv.Calendars, c.Name)
	}
	v.Data = dv
	s.render(w, r, status, "dids", v)
}

// didDefaultSave sets where calls to numbers no DID covers go, and its time rule. Its
// fields are named def_… on the page, beside the DID form's.
func (s *Server) didDefaultSave(w http.ResponseWriter, r *http.Request, v *view) {
	f := v.Form
	body := map[string]string{"dest_kind": f.Get("def_dest_kind"), "dest_number": strings.TrimSpace(f.Get("def_dest_number")),
		"calendar": f.Get("def_calendar"), "closed_kind": f.Get("def_closed_kind"), "closed_number": strings.TrimSpace(f.Get("def_closed_number"))}
	if body["dest_kind"] == "none" {
		body = map[string]string{"dest_kind": ""}
	}
	if body["calendar"] == "" && body["closed_number"] == "" {
		body["closed_kind"] = "" // the kind's select always has a value; without a calendar there is no rule
	}
	if ae := s.call(r, "PUT", tpath(v, "/did-default"), body, f.Get("csrf"), nil); ae != nil {
		if ae.Field != "" {
			ae.Field = "def_" + ae.Field
		}
		s.saveErr(w, r, v, ae, func(status int) { s.renderDIDs(w, r, v, status) })
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/dids?done=did_default_saved", v.Tenant), http.StatusSeeOther)
}

func (s *Server) didCreate(w http.ResponseWriter, r *http.Request, v *view) {
	f := v.Form
	body := map[string]string{"number": strings.TrimSpace(f.Get("number")), "last": strings.TrimSpace(f.Get("last")),
		"dest_kind": f.Get("dest_kind"), "dest_number": strings.TrimSpace(f.Get("dest_number")),
		"calendar": f.Get("calendar"), "closed_kind": f.Get("closed_kind"), "closed_number": strings.TrimSpace(f.Get("closed_number"))}
	if body["calendar"] == "" && body["closed_number"] == "" {
		body["closed_kind"] = "" // the kind's select always has a value; without a calendar there is no rule
	}
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

type groupsView struct {
	Groups  []store.RingGroup
	Editing string
	// Kinds are the destinations a group falls through to; Calendars the tenant's
	// calendars the fall-through's time rule may name.
	Kinds     []string
	Calendars []string
}

// fallthroughKinds are the destinations a group falls through to (the dial plan's).
var fallthroughKinds = []string{"extension", "mailbox", "application"}

func (s *Server) groups(w http.ResponseWriter, r *http.Request, v *view) {
	if v.Form == nil {
		v.Form = url.Values{"strategy": {"simultaneous"}, "ring_time_s": {"20"}}
		if num := r.URL.Query().Get("edit"); num != "" {
			var g store.RingGroup
			if ae := s.call(r, "GET", tpath(v, "/groups/%s", url.PathEscape(num)), nil, "", &g); ae != nil {
				s.fail(w, r, v, ae)
				return
			}
			members := make([]string, 0, len(g.Members))
			for _, m := range g.Members {
				if m.RingTimeS > 0 {
					members = append(members, fmt.Sprintf("%s:%d", m.Extension, m.RingTimeS))
				} else {
					members = append(members, m.Extension)
				}
			}
			v.Form = url.Values{"number": {g.Number}, "name": {g.Name}, "strategy": {g.Strategy}, "ring_time_s": {strconv.Itoa(g.RingTimeS)},
				"members": {strings.Join(members, ", ")}, "fallthrough_kind": {g.FallthroughKind}, "fallthrough_number": {g.FallthroughNumber},
				"calendar": {g.Calendar}, "closed_kind": {g.ClosedKind}, "closed_number": {g.ClosedNumber}, "editing": {g.Number}}
		}
	}
	s.renderGroups(w, r, v, http.StatusOK)
}

func (s *Server) renderGroups(w http.ResponseWriter, r *http.Request, v *view, status int) {
	var l list[store.RingGroup]
	if ae := s.call(r, "GET", tpath(v, "/groups"), nil, "", &l); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	if v.Flash == "" {
		v.Flash = flash(r, v)
	}
	var cl list[store.Calendar]
	if ae := s.call(r, "GET", tpath(v, "/calendars"), nil, "", &cl); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	gv := groupsView{Groups: l.Items, Editing: v.Form.Get("editing"), Kinds: fallthroughKinds}
	for _, c := range cl.Items {
		gv.Calendars = append(gv.Calendars, c.Name)
	}
	v.Data = gv
	s.render(w, r, status, "groups", v)
}

func (s *Server) groupSave(w http.ResponseWriter, r *http.Request, v *view) {
	f := v.Form
	again := func(status int) { s.renderGroups(w, r, v, status) }
	number := strings.TrimSpace(f.Get("number"))
	if number == "" {
		formError(v, "number", v.T("err.required"))
		again(http.StatusBadRequest)
		return
	}
	ring, ok := formInt(v, "ring_time_s")
	if !ok {
		again(http.StatusBadRequest)
		return
	}
	// Members: extensions in order, each optionally with its own ring time ("402:10").
	var members []store.RingGroupMember
	for _, m := range formList(v, "members") {
		ext, secs, timed := strings.Cut(m, ":")
		gm := store.RingGroupMember{Extension: ext}
		if timed {
			n, err := strconv.Atoi(secs)
			if err != nil {
				formError(v, "members", fmt.Sprintf("%q: %s", m, v.T("grp.members.hint")))
				again(http.StatusBadRequest)
				return
			}
			gm.RingTimeS = n
		}
		members = append(members, gm)
	}
	fall := strings.TrimSpace(f.Get("fallthrough_number"))
	kind := f.Get("fallthrough_kind")
	switch {
	case fall == "":
		kind = ""
	case kind == "":
		kind = "extension"
	}
	calendar, closedKind, closed := f.Get("calendar"), f.Get("closed_kind"), strings.TrimSpace(f.Get("closed_number"))
	if calendar == "" && closed == "" {
		closedKind = "" // the kind's select always has a value; without a calendar there is no rule
	}
	body := map[string]any{"name": strings.TrimSpace(f.Get("name")), "strategy": f.Get("strategy"), "ring_time_s": ring,
		"members": members, "fallthrough_kind": kind, "fallthrough_number": fall, "calendar": calendar, "closed_kind": closedKind, "closed_number": closed}
	if ae := s.call(r, "PUT", tpath(v, "/groups/%s", url.PathEscape(number)), body, f.Get("csrf"), nil); ae != nil {
		if ae.Field == "fallthrough_kind" {
			ae.Field = "fallthrough_number"
		}
		s.saveErr(w, r, v, ae, again)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/groups?done=group_saved", v.Tenant), http.StatusSeeOther)
}
