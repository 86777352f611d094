package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/voicemail"
)

func init() { registerRoutes(voicemailRoutes) }

// The voicemail box of an extension: its user (or an admin of the tenant) lists, downloads,
// marks and deletes messages, uploads greetings and changes the PIN; admins change the box's
// settings, reset its PIN and see every box of the tenant.

type voicemailBox struct {
	store.VoicemailBox
	Summary   voicemail.Summary         `json:"summary"`
	Greetings []store.VoicemailGreeting `json:"greetings"`
	PINSet    bool                      `json:"pin_set"`
}

type voicemailPIN struct {
	PIN string `json:"pin"`
	// CurrentPIN is required when users change their own PIN (not for admins).
	CurrentPIN string `json:"current_pin,omitempty"`
}

type voicemailRead struct {
	Read *bool `json:"read"`
}

func voicemailRoutes(s *Server) []Route {
	const box = "/api/v1/tenants/{tenant}/extensions/{extension}/voicemail"
	const msg = box + "/messages/{message}"
	return []Route{
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/voicemail/boxes", Summary: "Every voicemail box of the tenant with its message counts", Auth: Admin, Result: List[voicemailBox]{}, Handler: s.listVoicemailBoxes},
		{Method: "GET", Path: box, Summary: "An extension's voicemail box: settings, message counts, greetings (the extension's user or an admin)", Auth: Member, Result: voicemailBox{}, Handler: s.getVoicemailBox},
		{Method: "PATCH", Path: box, Summary: fmt.Sprintf("Change a box's settings: language (en, de or empty), max_message_secs (%d-%d), max_messages (1-%d), retention_days (1-%d; the tenant's user-content rule stays the ceiling); the box's user may change language and the e-mail copy (email_copy, email_attach, email_delete), the rest is an admin's", voicemail.MinMessageSecs, voicemail.MaxMessageSecs, voicemail.MaxMessagesPerBox, voicemail.MaxRetentionDays),
			Auth: Member, Body: voicemail.Settings{}, Result: voicemailBox{}, Handler: s.patchVoicemailBox},
		{Method: "PUT", Path: box + "/pin", Summary: fmt.Sprintf("Set the box's PIN (%d-%d digits); users changing their own PIN give current_pin", voicemail.MinPINLength, voicemail.MaxPINLength), Auth: Member, Body: voicemailPIN{}, Handler: s.putVoicemailPIN},
		{Method: "DELETE", Path: box + "/pin", Summary: "Reset the box's PIN (none set) and lift a lock-out", Auth: Admin, Handler: s.resetVoicemailPIN},
		{Method: "GET", Path: box + "/messages", Summary: "The box's messages, oldest first", Auth: Member, Result: List[store.VoicemailMessage]{}, Handler: s.listVoicemailMessages},
		{Method: "GET", Path: msg, Summary: "One message", Auth: Member, Result: store.VoicemailMessage{}, Handler: s.getVoicemailMessage},
		{Method: "GET", Path: msg + "/audio", Summary: "A message as 8 kHz 16-bit WAV (audited)", Auth: Member, Result: "", Raw: true, Handler: s.getVoicemailAudio},
		{Method: "PATCH", Path: msg, Summary: "Mark a message read or unread", Auth: Member, Body: voicemailRead{}, Result: store.VoicemailMessage{}, Handler: s.patchVoicemailMessage},
		{Method: "DELETE", Path: msg, Summary: "Delete a message, file and row (audited)", Auth: Member, Handler: s.deleteVoicemailMessage},
		{Method: "PUT", Path: box + "/greetings/{slot}", Summary: "Upload a greeting (slot unavailable, busy or name) as WAV (8-48 kHz, mono or stereo, 16-bit PCM or G.711), at most 2 minutes",
			Auth: Member, Upload: []string{"audio/wav", "application/octet-stream"}, MaxBody: 17 << 20, Result: store.VoicemailGreeting{}, Handler: s.putVoicemailGreeting},
		{Method: "DELETE", Path: box + "/greetings/{slot}", Summary: "Remove a greeting: callers hear the next one (unavailable, then the generated one)", Auth: Member, Handler: s.deleteVoicemailGreeting},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/voicemail/settings", Summary: "The tenant's voicemail defaults: the operator number callers reach by pressing 0 while leaving a message", Auth: Admin, Result: store.VoicemailSettings{}, Handler: s.getVoicemailSettings},
		{Method: "PUT", Path: "/api/v1/tenants/{tenant}/voicemail/settings", Summary: "Set the tenant's voicemail defaults: operator, an extension or group number (\"\" for none: 0 is then ignored); a box's own operator overrides it (audited)",
			Auth: Admin, Body: voicemailSettings{}, Result: store.VoicemailSettings{}, Handler: s.putVoicemailSettings},
	}
}

type voicemailSettings struct {
	Operator *string `json:"operator"`
}

func (s *Server) getVoicemailSettings(r *Request) (any, error) {
	if s.Voicemail == nil {
		return nil, errNoVoicemail
	}
	return s.Voicemail.TenantSettings(r.Context(), r.TenantID)
}

func (s *Server) putVoicemailSettings(r *Request) (any, error) {
	if s.Voicemail == nil {
		return nil, errNoVoicemail
	}
	var in voicemailSettings
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	if in.Operator == nil {
		return nil, FieldError("operator", "is required (\"\" for none)")
	}
	v, err := s.Voicemail.SetTenantOperator(r.Context(), r.vmActor(), r.TenantID, *in.Operator)
	if err != nil {
		return nil, vmErr(err)
	}
	return v, nil
}

var errNoVoicemail = &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "voicemail is not running on this node"}

func (r *Request) vmActor() voicemail.Actor {
	a := voicemail.Actor{Name: "anonymous", IP: clientIP(r.Request)}
	if r.Principal != nil {
		uid := r.Principal.UserID
		a.UserID, a.Name = &uid, "user:"+strconv.FormatInt(uid, 10)
	}
	return a
}

// vmErr maps the engine's validation errors to field errors.
func vmErr(err error) error {
	var fe *voicemail.FieldError
	switch {
	case errors.As(err, &fe):
		return FieldError(fe.Field, "%s", fe.Msg)
	case errors.Is(err, voicemail.ErrLocked):
		return &Error{Status: http.StatusTooManyRequests, Code: "locked", Message: "too many wrong PINs: the box is locked for a while"}
	}
	return err
}

// vmBox returns the box of the path's extension for its user or an admin.
func (s *Server) vmBox(r *Request) (store.VoicemailBox, error) {
	if s.Voicemail == nil {
		return store.VoicemailBox{}, errNoVoicemail
	}
	id, err := r.ID("extension")
	if err != nil {
		return store.VoicemailBox{}, err
	}
	e, err := s.DB.Extension(r.Context(), r.TenantID, id)
	if err != nil {
		return store.VoicemailBox{}, err
	}
	if !r.Principal.IsAdmin() && (e.UserID == nil || *e.UserID != r.Principal.UserID) {
		return store.VoicemailBox{}, errForbidden
	}
	return s.DB.EnsureVoicemailBox(r.Context(), r.TenantID, e.ID)
}

func (s *Server) describeBox(r *Request, b store.VoicemailBox) (voicemailBox, error) {
	out := voicemailBox{VoicemailBox: b, Greetings: []store.VoicemailGreeting{}}
	var err error
	if out.Summary, err = s.Voicemail.Summary(r.Context(), b); err != nil {
		return out, err
	}
	gs, err := s.DB.VoicemailGreetings(r.Context(), b.TenantID, b.ID)
	if err != nil {
		return out, err
	}
	out.Greetings = append(out.Greetings, gs...)
	pin, err := s.DB.VoicemailPIN(r.Context(), b.TenantID, b.ID)
	out.PINSet = pin.Hash != ""
	return out, err
}

func (s *Server) listVoicemailBoxes(r *Request) (any, error) {
	if s.Voicemail == nil {
		return nil, errNoVoicemail
	}
	p, err := r.Page()
	if err != nil {
		return nil, err
	}
	bs, err := s.DB.VoicemailBoxes(r.Context(), r.TenantID, p)
	if err != nil {
		return nil, err
	}
	out := make([]voicemailBox, 0, len(bs))
	for _, b := range bs {
		d, err := s.describeBox(r, b)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return page(out, p, func(b voicemailBox) int64 { return b.ID }), nil
}

func (s *Server) getVoicemailBox(r *Request) (any, error) {
	b, err := s.vmBox(r)
	if err != nil {
		return nil, err
	}
	return s.describeBox(r, b)
}

func (s *Server) patchVoicemailBox(r *Request) (any, error) {
	b, err := s.vmBox(r)
	if err != nil {
		return nil, err
	}
	var set voicemail.Settings
	if err := r.Decode(&set); err != nil {
		return nil, err
	}
	if !r.Principal.IsAdmin() {
		// The box's user keeps their own language and e-mail copy; how the box takes calls,
		// how long and how much it keeps, and whom 0 reaches are the admin's.
		for _, f := range []struct {
			name string
			set  bool
		}{{"enabled", set.Enabled != nil}, {"max_message_secs", set.MaxMessageSecs != nil}, {"max_messages", set.MaxMessages != nil},
			{"retention_days", set.RetentionDays != nil}, {"mwi_unsolicited", set.MWIUnsolicited != nil}, {"operator", set.Operator != nil}} {
			if f.set {
				return nil, &Error{Status: http.StatusForbidden, Code: "forbidden", Field: f.name, Message: f.name + " is changed by an admin"}
			}
		}
	}
	if b, err = s.Voicemail.Configure(r.Context(), r.vmActor(), b, set); err != nil {
		return nil, vmErr(err)
	}
	return s.describeBox(r, b)
}

func (s *Server) putVoicemailPIN(r *Request) (any, error) {
	b, err := s.vmBox(r)
	if err != nil {
		return nil, err
	}
	var in voicemailPIN
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	if in.PIN == "" {
		return nil, FieldError("pin", "must be %d to %d digits", voicemail.MinPINLength, voicemail.MaxPINLength)
	}
	self := b.UserID != nil && *b.UserID == r.Principal.UserID
	if self && !r.Principal.IsAdmin() {
		pin, err := s.DB.VoicemailPIN(r.Context(), b.TenantID, b.ID)
		if err != nil {
			return nil, err
		}
		if pin.Hash != "" {
			if in.CurrentPIN == "" {
				return nil, FieldError("current_pin", "is required to change your own PIN")
			}
			return nil, vmErr(s.Voicemail.ChangePIN(r.Context(), r.vmActor(), b, in.CurrentPIN, in.PIN))
		}
	}
	return nil, vmErr(s.Voicemail.SetPIN(r.Context(), r.vmActor(), b, in.PIN))
}

func (s *Server) resetVoicemailPIN(r *Request) (any, error) {
	b, err := s.vmBox(r)
	if err != nil {
		return nil, err
	}
	return nil, s.Voicemail.SetPIN(r.Context(), r.vmActor(), b, "")
}

func (s *Server) listVoicemailMessages(r *Request) (any, error) {
	b, err := s.vmBox(r)
	if err != nil {
		return nil, err
	}
	p, err := r.Page()
	if err != nil {
		return nil, err
	}
	ms, err := s.Voicemail.Messages(r.Context(), b, p)
	if err != nil {
		return nil, err
	}
	return page(ms, p, func(m store.VoicemailMessage) int64 { return m.ID }), nil
}

func (s *Server) vmMessage(r *Request) (store.VoicemailBox, int64, error) {
	b, err := s.vmBox(r)
	if err != nil {
		return b, 0, err
	}
	id, err := r.ID("message")
	return b, id, err
}

func (s *Server) getVoicemailMessage(r *Request) (any, error) {
	b, id, err := s.vmMessage(r)
	if err != nil {
		return nil, err
	}
	return s.Voicemail.Message(r.Context(), b, id)
}

func (s *Server) getVoicemailAudio(r *Request) (any, error) {
	b, id, err := s.vmMessage(r)
	if err != nil {
		return nil, err
	}
	wav, err := s.Voicemail.Audio(r.Context(), r.vmActor(), b, id)
	if err != nil {
		return nil, err
	}
	r.W.Header().Set("Content-Type", "audio/wav")
	r.W.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=\"voicemail-%d.wav\"", id))
	r.W.Header().Set("Cache-Control", "no-store")
	r.W.WriteHeader(http.StatusOK)
	_, err = r.W.Write(wav)
	return nil, err
}

func (s *Server) patchVoicemailMessage(r *Request) (any, error) {
	b, id, err := s.vmMessage(r)
	if err != nil {
		return nil, err
	}
	var in voicemailRead
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	if in.Read == nil {
		return nil, FieldError("read", "must be true or false")
	}
	return s.Voicemail.MarkRead(r.Context(), b, id, *in.Read)
}

func (s *Server) deleteVoicemailMessage(r *Request) (any, error) {
	b, id, err := s.vmMessage(r)
	if err != nil {
		return nil, err
	}
	return nil, s.Voicemail.Delete(r.Context(), r.vmActor(), b, id)
}

func (s *Server) putVoicemailGreeting(r *Request) (any, error) {
	b, err := s.vmBox(r)
	if err != nil {
		return nil, err
	}
	g, err := s.Voicemail.PutGreeting(r.Context(), r.vmActor(), b, r.PathValue("slot"), r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: "audio_too_large", Message: "greetings are limited to 16 MiB"}
		}
		return nil, vmErr(err)
	}
	return g, nil
}

func (s *Server) deleteVoicemailGreeting(r *Request) (any, error) {
	b, err := s.vmBox(r)
	if err != nil {
		return nil, err
	}
	return nil, s.Voicemail.DeleteGreeting(r.Context(), r.vmActor(), b, r.PathValue("slot"))
}
