package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/privox/privox/internal/store"
)

// Voicemail: the portal's "My voicemail" (the signed-in user's boxes: messages to play,
// download, mark and delete, the greetings, the PIN, the e-mail copy and the objection to
// e-mail copies) and the admin's list of every box of the tenant.
// Every read and change is the API's voicemail route, so its owner-or-admin check and its
// audit entries (download, delete, PIN) apply here as they do to REST clients.

// vmBox is a box as the API describes it.
type vmBox struct {
	store.VoicemailBox
	Summary struct {
		Total  int `json:"total"`
		Unread int `json:"unread"`
	} `json:"summary"`
	PINSet    bool                      `json:"pin_set"`
	Greetings []store.VoicemailGreeting `json:"greetings"`
}

// greetingSlots are a box's greetings in the order callers may hear them.
var greetingSlots = []string{"unavailable", "busy", "name"}

// greetingRow is one slot of a box as the portal shows it.
type greetingRow struct {
	Slot       string
	Recorded   bool
	DurationMS int64
	UpdatedAt  int64
}

// GreetingRows lists every slot, recorded or not.
func (b vmBox) GreetingRows() []greetingRow {
	out := make([]greetingRow, 0, len(greetingSlots))
	for _, slot := range greetingSlots {
		row := greetingRow{Slot: slot}
		for _, g := range b.Greetings {
			if g.Slot == slot {
				row.Recorded, row.DurationMS, row.UpdatedAt = true, g.DurationMS, g.UpdatedAt
			}
		}
		out = append(out, row)
	}
	return out
}

type myVoicemailView struct {
	Boxes    []vmBox
	Box      *vmBox
	Messages []store.VoicemailMessage
	// Email is the e-mail copy form of the box: as stored, or as entered when refused.
	Email emailCopy
	// Objected: the user objected to e-mail copies of their voice messages.
	Objected bool
}

// emailCopy is a box's e-mail copy settings as the form shows them.
type emailCopy struct {
	Copy, Attach, Delete bool
}

// pathID is a positive id path parameter; false (and a not-found page) otherwise.
func (s *Server) pathID(w http.ResponseWriter, r *http.Request, v *view, name string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		s.notFound(w, r, v)
		return 0, false
	}
	return id, true
}

// myBoxes are the signed-in user's boxes, and the one ?box= (an extension id) names, or
// the first.
func (s *Server) myBoxes(w http.ResponseWriter, r *http.Request, v *view) (myVoicemailView, bool) {
	var out myVoicemailView
	var l list[vmBox]
	if ae := s.call(r, "GET", tpath(v, "/users/%d/voicemail/boxes", v.S.P.UserID), nil, "", &l); ae != nil {
		s.fail(w, r, v, ae)
		return out, false
	}
	out.Boxes = l.Items
	want := r.URL.Query().Get("box")
	for i := range out.Boxes {
		if want == "" || want == strconv.FormatInt(out.Boxes[i].ExtensionID, 10) {
			out.Box = &out.Boxes[i]
			break
		}
	}
	if want != "" && out.Box == nil {
		s.notFound(w, r, v)
		return out, false
	}
	return out, true
}

func (s *Server) myVoicemail(w http.ResponseWriter, r *http.Request, v *view) {
	s.renderMyVoicemail(w, r, v, http.StatusOK)
}

func (s *Server) renderMyVoicemail(w http.ResponseWriter, r *http.Request, v *view, status int) {
	mv, ok := s.myBoxes(w, r, v)
	if !ok {
		return
	}
	if mv.Box != nil {
		l, ok := listPage[store.VoicemailMessage](s, w, r, v, tpath(v, "/extensions/%d/voicemail/messages", mv.Box.ExtensionID), nil)
		if !ok {
			return
		}
		mv.Messages = l.Items
		mv.Email = formEmailCopy(mv.Box.VoicemailBox, v.Form)
		var obj struct {
			Objected bool `json:"objected"`
		}
		if ae := s.call(r, "GET", tpath(v, "/users/%d/objections/email-copy", v.S.P.UserID), nil, "", &obj); ae != nil {
			s.fail(w, r, v, ae)
			return
		}
		mv.Objected = obj.Objected
	}
	if v.Flash == "" {
		v.Flash = flash(r, v)
	}
	if v.Form == nil {
		v.Form = url.Values{}
	}
	v.Data = mv
	s.render(w, r, status, "my_voicemail", v)
}

// boxMessage is the message of a voicemail action's path: /{extension}/{message}.
func (s *Server) boxMessage(w http.ResponseWriter, r *http.Request, v *view) (int64, int64, bool) {
	ext, ok := s.pathID(w, r, v, "extension")
	if !ok {
		return 0, 0, false
	}
	msg, ok := s.pathID(w, r, v, "message")
	return ext, msg, ok
}

func myVoicemailURL(v *view, ext int64, done string) string {
	return fmt.Sprintf("/t/%d/me/voicemail?box=%d&done=%s", v.Tenant, ext, done)
}

// myVoicemailAudio plays (or, with ?download=1, saves) a message: the API's audited download.
func (s *Server) myVoicemailAudio(w http.ResponseWriter, r *http.Request, v *view) {
	ext, msg, ok := s.boxMessage(w, r, v)
	if !ok {
		return
	}
	s.stream(w, r, v, tpath(v, "/extensions/%d/voicemail/messages/%d/audio", ext, msg), r.URL.Query().Get("download") == "")
}

func (s *Server) myVoicemailRead(w http.ResponseWriter, r *http.Request, v *view) {
	ext, msg, ok := s.boxMessage(w, r, v)
	if !ok {
		return
	}
	read := v.Form.Get("read") == "true"
	if ae := s.call(r, "PATCH", tpath(v, "/extensions/%d/voicemail/messages/%d", ext, msg), map[string]bool{"read": read}, v.Form.Get("csrf"), nil); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	done := "vm_unread"
	if read {
		done = "vm_read"
	}
	http.Redirect(w, r, myVoicemailURL(v, ext, done), http.StatusSeeOther)
}

func (s *Server) myVoicemailDelete(w http.ResponseWriter, r *http.Request, v *view) {
	ext, msg, ok := s.boxMessage(w, r, v)
	if !ok {
		return
	}
	if ae := s.call(r, "DELETE", tpath(v, "/extensions/%d/voicemail/messages/%d", ext, msg), nil, v.Form.Get("csrf"), nil); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, myVoicemailURL(v, ext, "vm_deleted"), http.StatusSeeOther)
}

// myVoicemailPIN changes the box's PIN; the API checks the current PIN and the new one's
// length and names the field, which the form marks.
func (s *Server) myVoicemailPIN(w http.ResponseWriter, r *http.Request, v *view) {
	ext, ok := s.pathID(w, r, v, "extension")
	if !ok {
		return
	}
	f := v.Form
	cur, pin, again := f.Get("current_pin"), f.Get("pin"), f.Get("pin_again")
	csrf := f.Get("csrf")
	// PINs are never sent back into the form.
	v.Form = url.Values{}
	q := r.URL.Query()
	q.Set("box", strconv.FormatInt(ext, 10))
	r.URL.RawQuery = q.Encode()
	if pin != again {
		v.Error, v.Field = "pin_again: "+v.T("err.pinmatch"), "pin_again"
		s.renderMyVoicemail(w, r, v, http.StatusBadRequest)
		return
	}
	body := map[string]string{"pin": pin}
	if cur != "" {
		body["current_pin"] = cur
	}
	if ae := s.call(r, "PUT", tpath(v, "/extensions/%d/voicemail/pin", ext), body, csrf, nil); ae != nil {
		if ae.Status == http.StatusBadRequest || ae.Status == http.StatusTooManyRequests {
			v.Error, v.Field = ae.Message, ae.Field
			if ae.Field == "" && ae.Status == http.StatusBadRequest {
				v.Field = "pin"
			}
			s.renderMyVoicemail(w, r, v, ae.Status)
			return
		}
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, myVoicemailURL(v, ext, "vm_pin"), http.StatusSeeOther)
}

// The admin's list of the tenant's boxes, with the switch that lets a box take calls, and
// (?edit= an extension id) the form of a box's e-mail copy.

type mailboxesView struct {
	Boxes []vmBox
	// Edit is the box whose e-mail copy the form changes (nil: none).
	Edit  *vmBox
	Email emailCopy
}

func (s *Server) mailboxes(w http.ResponseWriter, r *http.Request, v *view) {
	s.renderMailboxes(w, r, v, http.StatusOK)
}

func (s *Server) renderMailboxes(w http.ResponseWriter, r *http.Request, v *view, status int) {
	l, ok := listPage[vmBox](s, w, r, v, tpath(v, "/voicemail/boxes"), nil)
	if !ok {
		return
	}
	d := mailboxesView{Boxes: l.Items}
	if ext := r.URL.Query().Get("edit"); ext != "" {
		id, err := strconv.ParseInt(ext, 10, 64)
		if err != nil || id <= 0 {
			s.notFound(w, r, v)
			return
		}
		var b vmBox
		if ae := s.call(r, "GET", tpath(v, "/extensions/%d/voicemail", id), nil, "", &b); ae != nil {
			s.fail(w, r, v, ae)
			return
		}
		d.Edit, d.Email = &b, formEmailCopy(b.VoicemailBox, v.Form)
		if v.Form == nil {
			v.Form = url.Values{}
		}
		if v.Form.Get("settings_form") == "" { // else the settings as entered, refused
			for k, val := range map[string]string{"language": b.Language, "max_message_secs": strconv.Itoa(b.MaxMessageSecs),
				"max_messages": strconv.Itoa(b.MaxMessages), "retention_days": strconv.Itoa(b.RetentionDays), "operator": b.Operator} {
				v.Form.Set(k, val)
			}
		}
	}
	if v.Flash == "" {
		v.Flash = flash(r, v)
	}
	v.Data = d
	s.render(w, r, status, "mailboxes", v)
}

// mailboxEmail changes a box's e-mail copy from the admin's list.
func (s *Server) mailboxEmail(w http.ResponseWriter, r *http.Request, v *view) {
	ext, ok := s.pathID(w, r, v, "extension")
	if !ok {
		return
	}
	r.URL.RawQuery = url.Values{"edit": {strconv.FormatInt(ext, 10)}}.Encode()
	switch saved, ok := s.saveEmailCopy(w, r, v, ext); {
	case !ok:
	case saved:
		http.Redirect(w, r, fmt.Sprintf("/t/%d/mailboxes?done=vm_email", v.Tenant), http.StatusSeeOther)
	default:
		s.renderMailboxes(w, r, v, http.StatusBadRequest)
	}
}

// mailboxSettings changes how a box takes and keeps messages: its language, the longest
// message, how many it holds, for how many days, and whom 0 reaches.
func (s *Server) mailboxSettings(w http.ResponseWriter, r *http.Request, v *view) {
	ext, ok := s.pathID(w, r, v, "extension")
	if !ok {
		return
	}
	r.URL.RawQuery = url.Values{"edit": {strconv.FormatInt(ext, 10)}}.Encode()
	f := v.Form
	f.Set("settings_form", "1")
	lang, op := f.Get("language"), strings.TrimSpace(f.Get("operator"))
	body := map[string]any{"language": lang, "operator": op}
	for _, k := range []string{"max_message_secs", "max_messages", "retention_days"} {
		n, err := strconv.Atoi(strings.TrimSpace(f.Get(k)))
		if err != nil {
			formError(v, k, v.T("err.number"))
			s.renderMailboxes(w, r, v, http.StatusBadRequest)
			return
		}
		body[k] = n
	}
	ae := s.call(r, "PATCH", tpath(v, "/extensions/%d/voicemail", ext), body, f.Get("csrf"), nil)
	switch {
	case ae == nil:
		http.Redirect(w, r, fmt.Sprintf("/t/%d/mailboxes?done=mailbox", v.Tenant), http.StatusSeeOther)
	case ae.Status == http.StatusBadRequest:
		v.Error, v.Field = ae.Message, ae.Field
		s.renderMailboxes(w, r, v, http.StatusBadRequest)
	default:
		s.fail(w, r, v, ae)
	}
}

func (s *Server) mailboxEnable(w http.ResponseWriter, r *http.Request, v *view) {
	ext, ok := s.pathID(w, r, v, "extension")
	if !ok {
		return
	}
	on := v.Form.Get("enabled") == "on"
	if ae := s.call(r, "PATCH", tpath(v, "/extensions/%d/voicemail", ext), map[string]bool{"enabled": on}, v.Form.Get("csrf"), nil); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/mailboxes?done=mailbox", v.Tenant), http.StatusSeeOther)
}

// myGreetingUpload replaces one of the box's greetings with an uploaded WAV: the API checks
// and converts it (format, rate, length) and refuses anything else with its reason.
func (s *Server) myGreetingUpload(w http.ResponseWriter, r *http.Request, v *view) {
	ext, ok := s.pathID(w, r, v, "extension")
	if !ok {
		return
	}
	csrf, slot := v.Form.Get("csrf"), v.Form.Get("slot")
	q := r.URL.Query()
	q.Set("box", strconv.FormatInt(ext, 10))
	r.URL.RawQuery = q.Encode()
	again := func(field, msg string, status int) {
		v.Error, v.Field = msg, field
		s.renderMyVoicemail(w, r, v, status)
	}
	if !slices.Contains(greetingSlots, slot) {
		again("slot", "slot: "+v.T("err.required"), http.StatusBadRequest)
		return
	}
	f, _, err := r.FormFile("greeting")
	if err != nil {
		again("greeting", "greeting: "+v.T("vm.greeting.nofile"), http.StatusBadRequest)
		return
	}
	defer f.Close()
	rec := s.do(r, "PUT", tpath(v, "/extensions/%d/voicemail/greetings/%s", ext, slot), rawBody{r: f, contentType: "audio/wav"}, csrf)
	if ae := rec.apiError(); ae != nil {
		if ae.Status == http.StatusBadRequest || ae.Status == http.StatusRequestEntityTooLarge || ae.Status == http.StatusUnsupportedMediaType {
			again("greeting", ae.Message, ae.Status)
			return
		}
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, myVoicemailURL(v, ext, "vm_greeting"), http.StatusSeeOther)
}

func (s *Server) myGreetingDelete(w http.ResponseWriter, r *http.Request, v *view) {
	ext, ok := s.pathID(w, r, v, "extension")
	if !ok {
		return
	}
	slot := r.PathValue("slot")
	if !slices.Contains(greetingSlots, slot) {
		s.notFound(w, r, v)
		return
	}
	if ae := s.call(r, "DELETE", tpath(v, "/extensions/%d/voicemail/greetings/%s", ext, slot), nil, v.Form.Get("csrf"), nil); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, myVoicemailURL(v, ext, "vm_greeting_deleted"), http.StatusSeeOther)
}

// myVoicemailEmail changes the e-mail copy of one's own box (the API's box settings, of which
// the box's user may change these).
func (s *Server) myVoicemailEmail(w http.ResponseWriter, r *http.Request, v *view) {
	ext, ok := s.pathID(w, r, v, "extension")
	if !ok {
		return
	}
	q := r.URL.Query()
	q.Set("box", strconv.FormatInt(ext, 10))
	r.URL.RawQuery = q.Encode()
	switch saved, ok := s.saveEmailCopy(w, r, v, ext); {
	case !ok:
	case saved:
		http.Redirect(w, r, myVoicemailURL(v, ext, "vm_email"), http.StatusSeeOther)
	default:
		s.renderMyVoicemail(w, r, v, http.StatusBadRequest)
	}
}

// saveEmailCopy sends a box's e-mail copy form to the API. A refusal is left in v.Error and
// v.Field with the form marked to show what was entered; ok is false when the request has
// been answered (an error page).
func (s *Server) saveEmailCopy(w http.ResponseWriter, r *http.Request, v *view, ext int64) (saved, ok bool) {
	f := v.Form
	f.Set("email_form", "1")
	attach := f.Get("email_attach")
	if !slices.Contains([]string{"wav", "notice"}, attach) {
		formError(v, "email_attach", v.T("err.required"))
		return false, true
	}
	body := map[string]bool{"email_copy": f.Get("email_copy") == "on", "email_attach": attach == "wav", "email_delete": f.Get("email_delete") == "on"}
	ae := s.call(r, "PATCH", tpath(v, "/extensions/%d/voicemail", ext), body, f.Get("csrf"), nil)
	switch {
	case ae == nil:
		return true, true
	case ae.Status == http.StatusBadRequest:
		v.Error, v.Field = ae.Message, ae.Field
		return false, true
	}
	s.fail(w, r, v, ae)
	return false, false
}

// formEmailCopy is the e-mail copy form of a box: as stored, or as entered when refused.
func formEmailCopy(b store.VoicemailBox, f url.Values) emailCopy {
	if f.Get("email_form") != "" {
		return emailCopy{Copy: f.Get("email_copy") == "on", Attach: f.Get("email_attach") == "wav", Delete: f.Get("email_delete") == "on"}
	}
	return emailCopy{Copy: b.EmailCopy, Attach: b.EmailAttach, Delete: b.EmailDelete}
}

// myEmailObjection sets or withdraws the signed-in user's objection to e-mail copies.
func (s *Server) myEmailObjection(w http.ResponseWriter, r *http.Request, v *view) {
	on := v.Form.Get("objected") == "true"
	if ae := s.call(r, "PUT", tpath(v, "/users/%d/objections/email-copy", v.S.P.UserID), map[string]bool{"objected": on}, v.Form.Get("csrf"), nil); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	done := "vm_objection_withdrawn"
	if on {
		done = "vm_objection_set"
	}
	u := fmt.Sprintf("/t/%d/me/voicemail?done=%s", v.Tenant, done)
	if b := r.URL.Query().Get("box"); b != "" {
		u += "&box=" + url.QueryEscape(b)
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
}
