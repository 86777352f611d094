package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/privox/privox/internal/attendant"
	"github.com/privox/privox/internal/store"
)

// Auto-attendant menus through the API's menu routes: the attendant validates every change
// (with the tenant's other menus, so that fallbacks cannot loop) and names the field at
// fault. A menu's options are written one per line: "1 = extension 401".

type menuRow struct {
	store.Menu
	Spec attendant.Menu
}

// OptionLines are the menu's options in key order, as the form writes them.
func (m menuRow) OptionLines() []string { return optionLines(m.Spec.Options) }

type menusView struct {
	Menus     []menuRow
	Calendars []string
	Editing   string
}

func optionLines(opts map[string]attendant.Destination) []string {
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+" = "+destText(opts[k]))
	}
	return out
}

func destText(d attendant.Destination) string { return strings.TrimSpace(d.Type + " " + d.Target) }

// parseDest reads "type target" ("hangup" has no target); nil for an empty text.
func parseDest(s string) *attendant.Destination {
	f := strings.Fields(s)
	switch len(f) {
	case 0:
		return nil
	case 1:
		return &attendant.Destination{Type: f[0]}
	}
	return &attendant.Destination{Type: f[0], Target: strings.Join(f[1:], " ")}
}

func (s *Server) menus(w http.ResponseWriter, r *http.Request, v *view) {
	if v.Form == nil {
		v.Form = url.Values{"retries": {"2"}, "timeout_s": {"5"}}
		if name := r.URL.Query().Get("edit"); name != "" {
			var m store.Menu
			if ae := s.call(r, "GET", tpath(v, "/menus/%s", url.PathEscape(name)), nil, "", &m); ae != nil {
				s.fail(w, r, v, ae)
				return
			}
			var spec attendant.Menu
			_ = json.Unmarshal(m.Spec, &spec)
			v.Form = url.Values{"name": {m.Name}, "number": {m.Number}, "editing": {m.Name}, "language": {spec.Language}, "greeting": {spec.Greeting},
				"options": {strings.Join(optionLines(spec.Options), "\n")}, "retries": {strconv.Itoa(spec.Retries)},
				"timeout_s": {strconv.Itoa(spec.TimeoutMS / 1000)}, "calendar": {spec.Calendar}, "closed_greeting": {spec.ClosedGreeting}}
			if spec.DialByExtension {
				v.Form.Set("dial_by_extension", "on")
			}
			if spec.Fallback != nil {
				v.Form.Set("fallback", destText(*spec.Fallback))
			}
			if spec.Closed != nil {
				v.Form.Set("closed", destText(*spec.Closed))
			}
		}
	}
	s.renderMenus(w, r, v, http.StatusOK)
}

func (s *Server) renderMenus(w http.ResponseWriter, r *http.Request, v *view, status int) {
	var l list[store.Menu]
	if ae := s.call(r, "GET", tpath(v, "/menus"), nil, "", &l); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	var cl list[store.Calendar]
	if ae := s.call(r, "GET", tpath(v, "/calendars"), nil, "", &cl); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	mv := menusView{Editing: v.Form.Get("editing")}
	for _, m := range l.Items {
		row := menuRow{Menu: m}
		_ = json.Unmarshal(m.Spec, &row.Spec)
		mv.Menus = append(mv.Menus, row)
	}
	for _, c := range cl.Items {
		mv.Calendars = append(mv.Calendars, c.Name)
	}
	if v.Flash == "" {
		v.Flash = flash(r, v)
	}
	v.Data = mv
	s.render(w, r, status, "menus", v)
}

func (s *Server) menuSave(w http.ResponseWriter, r *http.Request, v *view) {
	f := v.Form
	again := func(status int) { s.renderMenus(w, r, v, status) }
	name := strings.TrimSpace(f.Get("name"))
	if name == "" {
		formError(v, "name", v.T("err.required"))
		again(http.StatusBadRequest)
		return
	}
	retries, ok := formInt(v, "retries")
	if !ok {
		again(http.StatusBadRequest)
		return
	}
	timeout, ok := formInt(v, "timeout_s")
	if !ok {
		again(http.StatusBadRequest)
		return
	}
	spec := attendant.Menu{Language: f.Get("language"), Greeting: strings.TrimSpace(f.Get("greeting")), DialByExtension: f.Get("dial_by_extension") == "on",
		Retries: retries, TimeoutMS: timeout * 1000, Calendar: strings.TrimSpace(f.Get("calendar")), ClosedGreeting: strings.TrimSpace(f.Get("closed_greeting")),
		Fallback: parseDest(f.Get("fallback")), Closed: parseDest(f.Get("closed"))}
	for i, line := range strings.Split(f.Get("options"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		key, dest, found := strings.Cut(line, "=")
		d := parseDest(dest)
		if !found || d == nil {
			formError(v, "options", fmt.Sprintf(v.T("menu.options.bad"), i+1, line))
			again(http.StatusBadRequest)
			return
		}
		if spec.Options == nil {
			spec.Options = map[string]attendant.Destination{}
		}
		spec.Options[strings.TrimSpace(key)] = *d
	}
	body := map[string]any{"number": strings.TrimSpace(f.Get("number")), "spec": spec}
	if ae := s.call(r, "PUT", tpath(v, "/menus/%s", url.PathEscape(name)), body, f.Get("csrf"), nil); ae != nil {
		if f, _, ok := strings.Cut(ae.Field, "."); ok && f == "options" {
			ae.Field = "options"
		}
		s.saveErr(w, r, v, ae, again)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/menus?done=menu_saved", v.Tenant), http.StatusSeeOther)
}
