package api

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/prompts"
	"github.com/privox/privox/internal/store"
)

func init() { registerRoutes(promptRoutes) }

type promptList struct {
	Items []prompts.Entry `json:"items"`
}

// promptUploadTypes are the bodies a prompt upload may have: a WAV file, or headerless G.711
// (audio/basic and audio/PCMU are µ-law, audio/PCMA A-law; ?format=pcmu|pcma says the same).
var promptUploadTypes = []string{"audio/wav", "audio/basic", "audio/PCMU", "audio/PCMA", "application/octet-stream"}

func promptRoutes(s *Server) []Route {
	const one = "/api/v1/tenants/{tenant}/prompts/{lang}/{name}"
	return []Route{
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/prompts", Summary: "Every system prompt (English and German) and whether the tenant replaced it", Auth: Admin, Result: promptList{}, Handler: s.listPrompts},
		{Method: "PUT", Path: one, Summary: fmt.Sprintf("Replace a prompt (or upload a custom-… one) with an uploaded WAV (8-48 kHz, mono or stereo, 16-bit PCM or G.711) or raw 8 kHz G.711 (?format=pcmu|pcma); at most %d MiB and %s", prompts.MaxUploadBytes>>20, prompts.MaxUploadDuration),
			Auth: Admin, Upload: promptUploadTypes, MaxBody: prompts.MaxUploadBytes + 1<<16, Result: store.TenantPrompt{}, Handler: s.putPrompt},
		{Method: "DELETE", Path: one, Summary: "Remove the tenant's replacement: callers hear the system prompt again", Auth: Admin, Handler: s.resetPrompt},
		{Method: "GET", Path: one + "/audio", Summary: "The prompt as the tenant's callers hear it, as 8 kHz G.711 WAV (audited)", Auth: Admin, Result: "", Raw: true, Handler: s.getPromptAudio},
	}
}

var errNoPrompts = &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "prompts are not available on this node"}

func (s *Server) listPrompts(r *Request) (any, error) {
	if s.Prompts == nil {
		return nil, errNoPrompts
	}
	es, err := s.Prompts.List(r.Context(), r.TenantID)
	if err != nil {
		return nil, err
	}
	return promptList{Items: es}, nil
}

func promptKey(r *Request) (lang, name string, err error) {
	lang, name = r.PathValue("lang"), r.PathValue("name")
	if !prompts.Valid(lang, name) {
		return "", "", &Error{Status: http.StatusNotFound, Code: "not_found", Message: fmt.Sprintf("no prompt %q in language %q", name, lang)}
	}
	return lang, name, nil
}

// uploadError maps a refused upload to a status and a stable code; the message says what was
// wrong with the file.
func uploadError(err error) error {
	var mbe *http.MaxBytesError
	for _, m := range []struct {
		target error
		status int
		code   string
	}{
		{audio.ErrTooLarge, http.StatusRequestEntityTooLarge, "audio_too_large"},
		{audio.ErrNotWAV, http.StatusUnsupportedMediaType, "not_wav"},
		{audio.ErrUnsupported, http.StatusUnsupportedMediaType, "unsupported_audio"},
		{audio.ErrMalformed, http.StatusBadRequest, "malformed_audio"},
		{audio.ErrTooLong, http.StatusBadRequest, "audio_too_long"},
		{audio.ErrEmpty, http.StatusBadRequest, "no_audio"},
	} {
		if errors.Is(err, m.target) {
			msg := err.Error()
			if i := strings.Index(msg, "refused: "); i >= 0 {
				msg = msg[i+len("refused: "):]
			}
			return &Error{Status: m.status, Code: m.code, Message: msg}
		}
	}
	if errors.As(err, &mbe) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "audio_too_large", Message: fmt.Sprintf("uploads are limited to %d bytes", prompts.MaxUploadBytes)}
	}
	return err
}

func (s *Server) putPrompt(r *Request) (any, error) {
	if s.Prompts == nil {
		return nil, errNoPrompts
	}
	lang, name, err := promptKey(r)
	if err != nil {
		return nil, err
	}
	up := prompts.Upload{Body: r.Body}
	format := strings.ToLower(r.URL.Query().Get("format"))
	if format == "" {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil {
			switch strings.ToLower(mt) {
			case "audio/basic", "audio/pcmu":
				format = "pcmu"
			case "audio/pcma":
				format = "pcma"
			}
		}
	}
	switch format {
	case "":
	case "pcmu":
		c := audio.PCMU
		up.Raw = &c
	case "pcma":
		c := audio.PCMA
		up.Raw = &c
	default:
		return nil, &Error{Status: 400, Code: "invalid_query", Field: "format", Message: "format must be pcmu or pcma (raw G.711); omit it for WAV"}
	}
	p, err := s.Prompts.Replace(r.Context(), r.TenantID, lang, name, up)
	if err != nil {
		return nil, uploadError(err)
	}
	r.Audit("prompt.replace", "prompt", lang+"/"+name, "")
	return p, nil
}

func (s *Server) resetPrompt(r *Request) (any, error) {
	if s.Prompts == nil {
		return nil, errNoPrompts
	}
	lang, name, err := promptKey(r)
	if err != nil {
		return nil, err
	}
	if err := s.Prompts.Reset(r.Context(), r.TenantID, lang, name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "the tenant has not replaced this prompt"}
		}
		return nil, err
	}
	r.Audit("prompt.reset", "prompt", lang+"/"+name, "")
	return nil, nil
}

func (s *Server) getPromptAudio(r *Request) (any, error) {
	if s.Prompts == nil {
		return nil, errNoPrompts
	}
	lang, name, err := promptKey(r)
	if err != nil {
		return nil, err
	}
	c, err := s.Prompts.Clip(r.Context(), r.TenantID, lang, name)
	if errors.Is(err, prompts.ErrMissing) {
		return nil, &Error{Status: http.StatusNotFound, Code: "not_generated", Message: "the system prompts have not been generated (espeak-ng missing)"}
	}
	if err != nil {
		return nil, err
	}
	r.Audit("prompt.download", "prompt", lang+"/"+name, "")
	b := audio.ClipWAV(c)
	r.W.Header().Set("Content-Type", "audio/wav")
	r.W.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", lang+"-"+name+".wav"))
	r.W.Header().Set("Cache-Control", "no-store")
	r.W.WriteHeader(http.StatusOK)
	_, err = r.W.Write(b)
	return nil, err
}
