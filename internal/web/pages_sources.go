package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/privox/privox/internal/directory"
	"github.com/privox/privox/internal/store"
)

// Directory sources through the API's source routes: LDAP/AD servers and vCard or CSV files
// over HTTPS replicated into a company or group phonebook. The bind password is written,
// never shown: the form's field starts empty and an empty field keeps the stored password.
// The attribute mapping is written one "field = attribute" per line, the number rules one
// "match = replacement" per line; the other settings (StartTLS, key attribute, server name)
// are kept as the API stores them.

type sourceRow struct {
	store.DirectorySource
	Book string
	// File is an HTTPS source (a vCard or CSV file); otherwise LDAP.
	File bool
}

// EveryMinutes is the schedule in whole minutes (0 when it is not a whole number of them).
func (r sourceRow) EveryMinutes() int64 {
	if r.IntervalS%60 != 0 {
		return 0
	}
	return r.IntervalS / 60
}

type sourcesView struct {
	Sources []sourceRow
	// Books are the company and group phonebooks a source may fill.
	Books   []store.Phonebook
	Editing int64
	// BookName is the phonebook of the source being changed.
	BookName string
	// Fields are the contact fields a mapping may name.
	Fields string
}

func (s *Server) sources(w http.ResponseWriter, r *http.Request, v *view) {
	if v.Form == nil {
		v.Form = url.Values{}
		if id := r.URL.Query().Get("edit"); id != "" {
			var src store.DirectorySource
			if ae := s.call(r, "GET", tpath(v, "/directory/sources/%s", url.PathEscape(id)), nil, "", &src); ae != nil {
				s.fail(w, r, v, ae)
				return
			}
			st, _ := directory.ParseSettings(src.Settings)
			v.Form = url.Values{"editing": {strconv.FormatInt(src.ID, 10)}, "phonebook_id": {strconv.FormatInt(src.PhonebookID, 10)}, "name": {src.Name},
				"url": {src.URL}, "bind_dn": {src.BindDN}, "base_dn": {src.BaseDN}, "filter": {src.Filter}, "interval_s": {strconv.FormatInt(src.IntervalS, 10)},
				"priority": {strconv.Itoa(src.Priority)}, "mapping": {mappingText(st.Mapping)}, "number_rules": {rulesText(st.NumberRules)}, "ca_cert": {st.CACert}}
			if st.Insecure {
				v.Form.Set("insecure", "on")
			}
			if src.Enabled {
				v.Form.Set("enabled", "on")
			}
		}
	}
	s.renderSources(w, r, v, http.StatusOK)
}

func mappingText(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	lines := make([]string, 0, len(keys))
	for _, k := range keys {
		lines = append(lines, k+" = "+m[k])
	}
	return strings.Join(lines, "\n")
}

func rulesText(rs []directory.NumberRule) string {
	lines := make([]string, 0, len(rs))
	for _, r := range rs {
		lines = append(lines, r.Match+" = "+r.Replace)
	}
	return strings.Join(lines, "\n")
}

func (s *Server) renderSources(w http.ResponseWriter, r *http.Request, v *view, status int) {
	var l list[store.DirectorySource]
	if ae := s.call(r, "GET", tpath(v, "/directory/sources"), nil, "", &l); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	var bl list[store.Phonebook]
	if ae := s.call(r, "GET", tpath(v, "/phonebooks"), nil, "", &bl); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	sv := sourcesView{}
	sv.Editing, _ = strconv.ParseInt(v.Form.Get("editing"), 10, 64)
	names := map[int64]string{}
	for _, b := range bl.Items {
		names[b.ID] = b.Name
		if b.Kind != store.BookPersonal {
			sv.Books = append(sv.Books, b)
		}
	}
	for _, src := range l.Items {
		sv.Sources = append(sv.Sources, sourceRow{DirectorySource: src, Book: names[src.PhonebookID], File: strings.HasPrefix(src.URL, "https://")})
		if src.ID == sv.Editing {
			sv.BookName = names[src.PhonebookID]
		}
	}
	fields := make([]string, 0, len(directory.DefaultMapping))
	for f, a := range directory.DefaultMapping {
		fields = append(fields, f+" = "+a)
	}
	slices.Sort(fields)
	sv.Fields = strings.Join(fields, ", ")
	if v.Flash == "" {
		v.Flash = flash(r, v)
		if n, err := strconv.Atoi(r.URL.Query().Get("entries")); err == nil && r.URL.Query().Get("done") == "source_synced" {
			v.Flash = fmt.Sprintf(v.T("src.synced"), n)
		}
	}
	v.Data = sv
	s.render(w, r, status, "directory_sources", v)
}

// formPairs reads "key = value" lines; the line number of the first without "=" is bad.
func formPairs(v *view, field string) ([][2]string, bool) {
	var out [][2]string
	for i, line := range strings.Split(v.Form.Get(field), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, val, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			formError(v, field, fmt.Sprintf(v.T("src.pairs.bad"), i+1, line))
			return nil, false
		}
		out = append(out, [2]string{strings.TrimSpace(k), strings.TrimSpace(val)})
	}
	return out, true
}

func (s *Server) sourceSave(w http.ResponseWriter, r *http.Request, v *view) {
	f := v.Form
	again := func(status int) {
		f.Del("password") // never sent back to the browser
		s.renderSources(w, r, v, status)
	}
	editing := f.Get("editing")
	interval, ok := formInt(v, "interval_s")
	if !ok {
		again(http.StatusBadRequest)
		return
	}
	prio, ok := formInt(v, "priority")
	if !ok {
		again(http.StatusBadRequest)
		return
	}
	mapping, ok := formPairs(v, "mapping")
	if !ok {
		again(http.StatusBadRequest)
		return
	}
	rules, ok := formPairs(v, "number_rules")
	if !ok {
		again(http.StatusBadRequest)
		return
	}
	// A change keeps the settings the form does not show.
	var st directory.SourceSettings
	if editing != "" {
		var old store.DirectorySource
		if ae := s.call(r, "GET", tpath(v, "/directory/sources/%s", url.PathEscape(editing)), nil, "", &old); ae != nil {
			s.fail(w, r, v, ae)
			return
		}
		st, _ = directory.ParseSettings(old.Settings)
	}
	st.Mapping, st.NumberRules = nil, nil
	for _, m := range mapping {
		if st.Mapping == nil {
			st.Mapping = map[string]string{}
		}
		st.Mapping[m[0]] = m[1]
	}
	for _, nr := range rules {
		st.NumberRules = append(st.NumberRules, directory.NumberRule{Match: nr[0], Replace: nr[1]})
	}
	st.CACert, st.Insecure = strings.TrimSpace(f.Get("ca_cert")), f.Get("insecure") == "on"
	book, _ := strconv.ParseInt(f.Get("phonebook_id"), 10, 64)
	body := map[string]any{"phonebook_id": book, "name": strings.TrimSpace(f.Get("name")), "url": strings.TrimSpace(f.Get("url")),
		"bind_dn": strings.TrimSpace(f.Get("bind_dn")), "password": f.Get("password"), "base_dn": strings.TrimSpace(f.Get("base_dn")),
		"filter": strings.TrimSpace(f.Get("filter")), "settings": st, "priority": prio, "interval_s": interval}
	method, path := "POST", tpath(v, "/directory/sources")
	if editing != "" {
		method, path = "PUT", tpath(v, "/directory/sources/%s", url.PathEscape(editing))
		body["enabled"] = f.Get("enabled") == "on"
	}
	if ae := s.call(r, method, path, body, f.Get("csrf"), nil); ae != nil {
		// The settings' checks name no field; their message starts with the setting's name.
		if ae.Field == "" && strings.HasPrefix(ae.Message, "mapping") {
			ae.Field = "mapping"
		}
		s.saveErr(w, r, v, ae, again)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/directory-sources?done=source_saved", v.Tenant), http.StatusSeeOther)
}

func (s *Server) sourceSync(w http.ResponseWriter, r *http.Request, v *view) {
	id, ok := s.pathID(w, r, v, "source")
	if !ok {
		return
	}
	var res struct {
		Entries int `json:"entries"`
	}
	if ae := s.call(r, "POST", tpath(v, "/directory/sources/%d/sync", id), nil, v.Form.Get("csrf"), &res); ae != nil {
		// A source that is down: its last error shows in the table, the phonebook stays as it was.
		if ae.Status == http.StatusBadGateway || ae.Status == http.StatusServiceUnavailable {
			v.Form = url.Values{}
			v.Error = v.T("src.syncfailed") + " " + ae.Message
			s.renderSources(w, r, v, ae.Status)
			return
		}
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/directory-sources?done=source_synced&entries=%d", v.Tenant, res.Entries), http.StatusSeeOther)
}

func (s *Server) sourceDelete(w http.ResponseWriter, r *http.Request, v *view) {
	id, ok := s.pathID(w, r, v, "source")
	if !ok {
		return
	}
	if ae := s.call(r, "DELETE", tpath(v, "/directory/sources/%d", id), nil, v.Form.Get("csrf"), nil); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/directory-sources?done=source_deleted", v.Tenant), http.StatusSeeOther)
}
