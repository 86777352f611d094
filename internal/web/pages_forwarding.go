package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/privox/privox/internal/store"
)

// Forwarding: the portal's "My forwarding and do-not-disturb", a form per extension of the
// signed-in user. Reads and changes go through the API's forwarding routes, so the
// owner-or-admin check, the validation and the audit entry apply as they do to REST clients.

type myForwardingView struct {
	Items []store.Forwarding
	// ErrExt is the extension whose form a refused change came from (its values are shown
	// as entered).
	ErrExt int64
}

func (s *Server) myForwarding(w http.ResponseWriter, r *http.Request, v *view) {
	s.renderMyForwarding(w, r, v, http.StatusOK, 0)
}

func (s *Server) renderMyForwarding(w http.ResponseWriter, r *http.Request, v *view, status int, errExt int64) {
	var l list[store.Forwarding]
	if ae := s.call(r, "GET", tpath(v, "/users/%d/forwarding", v.S.P.UserID), nil, "", &l); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	if v.Flash == "" {
		v.Flash = flash(r, v)
	}
	if v.Form == nil {
		v.Form = url.Values{}
	}
	mv := myForwardingView{Items: l.Items, ErrExt: errExt}
	if errExt != 0 {
		for i := range mv.Items {
			if mv.Items[i].ExtensionID == errExt {
				mv.Items[i] = formForwarding(mv.Items[i], v.Form)
			}
		}
	}
	v.Data = mv
	s.render(w, r, status, "my_forwarding", v)
}

// formForwarding reads a form's values over a setting.
func formForwarding(f store.Forwarding, form url.Values) store.Forwarding {
	f.Always = strings.TrimSpace(form.Get("always"))
	f.Busy = strings.TrimSpace(form.Get("busy"))
	f.NoAnswer = strings.TrimSpace(form.Get("no_answer"))
	f.NoAnswerRingS, _ = strconv.Atoi(strings.TrimSpace(form.Get("no_answer_ring_s")))
	f.Unreachable = strings.TrimSpace(form.Get("unreachable"))
	f.DND = form.Get("dnd") == "on"
	return f
}

func (s *Server) myForwardingSave(w http.ResponseWriter, r *http.Request, v *view) {
	ext, ok := s.pathID(w, r, v, "extension")
	if !ok {
		return
	}
	f := formForwarding(store.Forwarding{}, v.Form)
	if raw := strings.TrimSpace(v.Form.Get("no_answer_ring_s")); raw != "" {
		if _, err := strconv.Atoi(raw); err != nil {
			v.Error, v.Field = "no_answer_ring_s: "+v.T("fwd.err.ring"), "no_answer_ring_s"
			s.renderMyForwarding(w, r, v, http.StatusBadRequest, ext)
			return
		}
	}
	body := map[string]any{"always": f.Always, "busy": f.Busy, "no_answer": f.NoAnswer, "no_answer_ring_s": f.NoAnswerRingS,
		"unreachable": f.Unreachable, "dnd": f.DND}
	if ae := s.call(r, "PUT", tpath(v, "/extensions/%d/forwarding", ext), body, v.Form.Get("csrf"), nil); ae != nil {
		if ae.Status == http.StatusBadRequest {
			v.Error, v.Field = ae.Message, ae.Field
			s.renderMyForwarding(w, r, v, ae.Status, ext)
			return
		}
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/me/forwarding?done=fwd_saved", v.Tenant), http.StatusSeeOther)
}

// The admin's forwarding page: the tenant's feature codes and forwarding hop limit (the API's
// forward settings) and every extension that forwards or is on do-not-disturb.

// featureCodes are the names of the tenant's feature codes, in the order the API stores them.
var featureCodes = []string{"always", "busy", "no_answer", "unreachable", "dnd_on", "dnd_off"}

type forwardingView struct {
	Items []store.Forwarding
	Codes []string
}

func (s *Server) forwardingPage(w http.ResponseWriter, r *http.Request, v *view) {
	if v.Form == nil {
		var fs store.ForwardSettings
		if ae := s.call(r, "GET", tpath(v, "/forward-settings"), nil, "", &fs); ae != nil {
			s.fail(w, r, v, ae)
			return
		}
		v.Form = url.Values{}
		if fs.MaxHops != 0 {
			v.Form.Set("max_hops", strconv.Itoa(fs.MaxHops))
		}
		for _, kv := range strings.Split(fs.Codes, ",") {
			if name, code, ok := strings.Cut(kv, "="); ok {
				v.Form.Set("code_"+name, code)
			}
		}
	}
	s.renderForwarding(w, r, v, http.StatusOK)
}

func (s *Server) renderForwarding(w http.ResponseWriter, r *http.Request, v *view, status int) {
	var l list[store.Forwarding]
	if ae := s.call(r, "GET", tpath(v, "/forwarding"), nil, "", &l); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	if v.Flash == "" {
		v.Flash = flash(r, v)
	}
	v.Data = forwardingView{Items: l.Items, Codes: featureCodes}
	s.render(w, r, status, "forwarding", v)
}

func (s *Server) forwardSettingsSave(w http.ResponseWriter, r *http.Request, v *view) {
	again := func(status int) { s.renderForwarding(w, r, v, status) }
	hops, ok := formInt(v, "max_hops")
	if !ok {
		again(http.StatusBadRequest)
		return
	}
	// Codes left empty keep their default.
	var codes []string
	for _, name := range featureCodes {
		if c := strings.TrimSpace(v.Form.Get("code_" + name)); c != "" {
			codes = append(codes, name+"="+c)
		}
	}
	body := map[string]any{"max_hops": hops, "codes": strings.Join(codes, ",")}
	if ae := s.call(r, "PUT", tpath(v, "/forward-settings"), body, v.Form.Get("csrf"), nil); ae != nil {
		if ae.Field == "codes" {
			ae.Field = codeField(ae.Message)
		}
		s.saveErr(w, r, v, ae, again)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/forwarding?done=fwd_settings", v.Tenant), http.StatusSeeOther)
}

// codeField is the form field of the feature code the API's message names: "busy=…" for a
// malformed code, "always and busy share …" for the second of two that clash.
func codeField(msg string) string {
	name := msg
	if a, _, ok := strings.Cut(msg, " share "); ok {
		_, name, _ = strings.Cut(a, " and ")
	} else {
		name, _, _ = strings.Cut(msg, "=")
	}
	for _, c := range featureCodes {
		if name == c {
			return "code_" + c
		}
	}
	return "code_always"
}
