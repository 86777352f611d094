package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/privox/privox/internal/store"
)

// The tenant's dialling settings: the country national numbers are read in, the main number,
// the destination classes the toll-fraud guard lets through, the per-extension limits of
// outside calls and the calendar outside calls are allowed in, with the extensions whose
// outside calls are suspended. Read and saved through the API's dial-settings routes: its
// validation (shown at the field it names) and its audit entry.

type diallingView struct {
	Calendars   []store.Calendar
	Suspensions []store.OutsideSuspension
}

// diallingLimits are the whole-number fields of the form, named as the API names them.
var diallingLimits = []string{"max_concurrent", "minutes_per_day", "burst_calls", "burst_window_s"}

func (s *Server) dialling(w http.ResponseWriter, r *http.Request, v *view) {
	var d store.DialSettings
	if ae := s.call(r, "GET", tpath(v, "/dial-settings"), nil, "", &d); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	v.Form = url.Values{"country": {d.Country}, "main_number": {d.MainNumber}, "outside_calendar": {d.OutsideCalendar},
		"max_concurrent": {strconv.Itoa(d.MaxConcurrent)}, "minutes_per_day": {strconv.Itoa(d.MinutesPerDay)},
		"burst_calls": {strconv.Itoa(d.BurstCalls)}, "burst_window_s": {strconv.Itoa(d.BurstWindowS)}}
	if d.AllowInternational {
		v.Form.Set("allow_international", "on")
	}
	if d.AllowPremium {
		v.Form.Set("allow_premium", "on")
	}
	s.renderDialling(w, r, v, http.StatusOK)
}

func (s *Server) renderDialling(w http.ResponseWriter, r *http.Request, v *view, status int) {
	var cals list[store.Calendar]
	if ae := s.call(r, "GET", tpath(v, "/calendars"), nil, "", &cals); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	var sus list[store.OutsideSuspension]
	if ae := s.call(r, "GET", tpath(v, "/outside-suspensions"), nil, "", &sus); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	if v.Flash == "" {
		v.Flash = flash(r, v)
	}
	v.Data = diallingView{Calendars: cals.Items, Suspensions: sus.Items}
	s.render(w, r, status, "dialling", v)
}

func (s *Server) diallingSave(w http.ResponseWriter, r *http.Request, v *view) {
	f := v.Form
	again := func(status int) { s.renderDialling(w, r, v, status) }
	body := map[string]any{"country": strings.TrimSpace(f.Get("country")), "main_number": strings.TrimSpace(f.Get("main_number")),
		"allow_international": f.Get("allow_international") == "on", "allow_premium": f.Get("allow_premium") == "on",
		"outside_calendar": f.Get("outside_calendar")}
	for _, name := range diallingLimits {
		n, ok := formInt(v, name)
		if !ok {
			again(http.StatusBadRequest)
			return
		}
		body[name] = n
	}
	if ae := s.call(r, "PUT", tpath(v, "/dial-settings"), body, f.Get("csrf"), nil); ae != nil {
		s.saveErr(w, r, v, ae, again)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/dialling?done=dialling_saved", v.Tenant), http.StatusSeeOther)
}
